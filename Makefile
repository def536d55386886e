# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test install install-test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/groundstation demo

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check orbital groundstation dsp ingest api tests bench

typecheck: install-test
	$(BIN)/mypy

# Full suite: installs and starts the services the integration tests need,
# then runs ruff, mypy and pytest (scripts/test.sh).
test: install-test
	bash scripts/test.sh

bench: install-test
	$(BIN)/python bench/passes.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dsp.py
	$(BIN)/python bench/planning.py
	$(BIN)/python bench/downlink.py
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

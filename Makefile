# The README's commands: `make demo`, `make test` (everything, with the
# services) and `make check` (fast and local: no service needed).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test check install install-test lint typecheck pytest bench dist clean

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

# Fast local check: ruff, mypy and every test that needs no service. Tests
# marked postgres, kafka, s3, grsat, browser, hamlib or soapy are left out (tests/conftest.py marks
# them); the service variables are unset, and GS_TEST_SERVICES=none makes a
# test that asks for a service without its mark fail instead of running.
SERVICE_MARKS := not postgres and not kafka and not s3 and not grsat and not browser \
	and not hamlib and not soapy

check: lint typecheck
	env -u GS_TEST_POSTGRES_URL -u GS_TEST_KAFKA_BOOTSTRAP -u GS_TEST_S3_ENDPOINT -u GS_GRSAT \
	  -u GS_TEST_CHROMIUM -u GS_TEST_CHROMEDRIVER \
	  GS_TEST_SERVICES=none $(BIN)/pytest -m "$(SERVICE_MARKS)" -q $(PYTEST_ARGS)

# The sdist and the wheel, in dist/ (README "Installing";
# tests/packaging/test_packaging_wheel.py installs and runs the wheel).
# Without PYTHONDONTWRITEBYTECODE, under which setuptools warns that it
# skips byte-compiling (the wheel is the same).
dist: install-test
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m build --outdir dist

bench: install-test
	$(BIN)/python bench/passes.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dsp.py
	$(BIN)/python bench/planning.py
	$(BIN)/python bench/downlink.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/reserve.py
	$(BIN)/python bench/products.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist build

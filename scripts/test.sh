#!/usr/bin/env bash
# Test driver behind `make test`: lint, type-check, start the services the
# integration tests need (each script under scripts/services/ installs and
# starts one; they are stopped on exit), then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

echo "== ruff"
$BIN/ruff check .
$BIN/ruff format --check orbital groundstation dsp ingest api tests bench
echo "== mypy"
$BIN/mypy

STARTED=()
cleanup() {
  for svc in "${STARTED[@]:-}"; do
    [ -n "$svc" ] && bash "scripts/services/$svc.sh" stop || true
  done
}
trap cleanup EXIT

if [ -d scripts/services ]; then
  for f in scripts/services/*.sh; do
    [ -e "$f" ] || continue
    svc=$(basename "$f" .sh)
    echo "== starting $svc"
    # Each service script prints `export VAR=...` lines for the tests.
    eval "$(bash "$f" start)"
    STARTED+=("$svc")
  done
fi

# tests/packaging/test_packaging_systemd.py checks the systemd unit with
# systemd-analyze (Debian's systemd package; it fails under CI=true without it).
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing systemd (systemd-analyze, for the unit check)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -o DPkg::Lock::Timeout=600
    apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends systemd
  else
    echo "== systemd-analyze missing and cannot apt-get install systemd (need root on Debian)"
  fi
fi

echo "== pytest"
# --durations=30: the slowest tests in the CI log, to see where the time goes
# (and which tests slow down late in the run, when leaks would pile up).
$BIN/pytest --durations=30 "$@"

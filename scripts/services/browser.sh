#!/usr/bin/env bash
# "Service" for the console's browser tests (tests/console/): nothing runs in
# the background (each test starts its own headless Chromium through
# chromedriver); `start` makes sure Debian's chromium and chromium-driver are
# installed (apt-get, as root; CI runs as root) and prints
#   export GS_TEST_ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
AXE_VERSION=4.14.1
AXE_DIR="$ROOT/.cache/axe-core-$AXE_VERSION"
AXE_JS="$AXE_DIR/node_modules/axe-core/axe.min.js"
CHROMIUM=/usr/bin/chromium
#   export GS_TEST_CHROMEDRIVER=/usr/bin/chromedriver
# on stdout when both answer --version, and installs axe-core (the
# accessibility checker, pinned, from the npm registry) under .cache/ for the
# accessibility test, printing
#   export GS_TEST_AXE=<repo>/.cache/axe-core-<version>/node_modules/axe-core/axe.min.js
# `stop` does nothing.
#
# Only `export` lines go to stdout; everything else goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
AXE_VERSION=4.14.1
AXE_DIR="$ROOT/.cache/axe-core-$AXE_VERSION"
AXE_JS="$AXE_DIR/node_modules/axe-core/axe.min.js"
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

log() { echo "browser.sh: $*" >&2; }

have_browser() {
  [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ] \
    && "$CHROMIUM" --version >/dev/null 2>&1 && "$CHROMEDRIVER" --version >/dev/null 2>&1
}

case "${1:-}" in
  start)
    if ! have_browser; then
      if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "chromium/chromedriver missing and cannot apt-get install them (need root on Debian); browser tests will not run"
        exit 0
      fi
      log "installing chromium and chromium-driver (apt)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -o DPkg::Lock::Timeout=600 >&2
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends chromium chromium-driver >&2
    fi
    if have_browser; then
      log "$("$CHROMIUM" --version 2>/dev/null); $("$CHROMEDRIVER" --version 2>/dev/null | head -n 1)"
      echo "export GS_TEST_CHROMIUM=$CHROMIUM"
      echo "export GS_TEST_CHROMEDRIVER=$CHROMEDRIVER"
    else
      log "chromium or chromedriver still not working after install"
    fi
    if [ ! -f "$AXE_JS" ]; then
      if command -v npm >/dev/null 2>&1; then
        log "installing axe-core@$AXE_VERSION (npm) into $AXE_DIR"
        npm install --prefix "$AXE_DIR" --no-audit --no-fund --no-save "axe-core@$AXE_VERSION" >&2 \
          || log "npm install axe-core failed"
      else
        log "npm missing: the accessibility test will not run"
      fi
    fi
    if [ -f "$AXE_JS" ]; then
      echo "export GS_TEST_AXE=$AXE_JS"
    fi
    ;;
  stop)
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# "Service" for the console's browser tests (tests/console/): nothing runs in
# the background (each test starts its own headless Chromium through
# chromedriver); `start` makes sure Debian's chromium and chromium-driver are
# installed (apt-get, as root; CI runs as root) and prints
#   export GS_TEST_CHROMIUM=/usr/bin/chromium
#   export GS_TEST_CHROMEDRIVER=/usr/bin/chromedriver
# on stdout when both answer --version. `stop` does nothing.
#
# Only `export` lines go to stdout; everything else goes to stderr.
set -euo pipefail

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
    ;;
  stop)
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# "Service" for the station hardware tests (tests/station/): nothing runs in
# the background (each test starts its own `rotctld -m 1` / `rigctld -m 1` on a
# free loopback port); `start` makes sure Debian's libhamlib-utils is installed
# (apt, as root) and prints `export GS_HAMLIB=1` on stdout when both daemons
# are there. `stop` does nothing.
set -euo pipefail

log() { echo "hamlib: $*" >&2; }

have_hamlib() {
  command -v rotctld >/dev/null 2>&1 && command -v rigctld >/dev/null 2>&1
}

case "${1:-}" in
  start)
    if ! have_hamlib; then
      if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "rotctld/rigctld missing and cannot apt-get install libhamlib-utils (need root on Debian); station tests will not run"
        exit 0
      fi
      log "installing libhamlib-utils (apt)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -o DPkg::Lock::Timeout=600 >&2
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends libhamlib-utils >&2
    fi
    if have_hamlib; then
      echo "export GS_HAMLIB=1"
    else
      log "rotctld/rigctld still missing after install"
    fi
    ;;
  stop)
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

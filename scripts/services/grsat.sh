#!/usr/bin/env bash
# "Service" for the gr-satellites interoperability test (tests/dsp/test_dsp_grsat.py):
# nothing runs in the background; `start` makes sure the Debian packages
# gnuradio and gr-satellites are installed (apt, as root) and prints
# `export GS_GRSAT=1` on stdout when gr_satellites works. `stop` does nothing.
set -euo pipefail

log() { echo "grsat: $*" >&2; }

have_grsat() {
  [ -x /usr/bin/gr_satellites ] && /usr/bin/python3 -c "import satellites, gnuradio.pdu" >/dev/null 2>&1
}

case "${1:-}" in
  start)
    if ! have_grsat; then
      if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "gr-satellites missing and cannot apt-get install it (need root on Debian); interop test will not run"
        exit 0
      fi
      log "installing gnuradio and gr-satellites (apt)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -o DPkg::Lock::Timeout=600 >&2
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends gnuradio gr-satellites >&2
    fi
    if have_grsat; then
      echo "export GS_GRSAT=1"
    else
      log "gr-satellites still not importable after install"
    fi
    ;;
  stop)
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# "Service" for the SoapySDR front end test (tests/station/): nothing runs in
# the background; `start` makes sure Debian's python3-soapysdr and
# soapysdr-tools are installed (apt, as root; SoapySDR's built-in `null`
# driver needs no hardware) and prints `export GS_SOAPY=1` on stdout when
# Debian's python3 imports SoapySDR. `stop` does nothing.
set -euo pipefail

log() { echo "soapy: $*" >&2; }

have_soapy() {
  command -v SoapySDRUtil >/dev/null 2>&1 && /usr/bin/python3 -c "import SoapySDR" >/dev/null 2>&1
}

case "${1:-}" in
  start)
    if ! have_soapy; then
      if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "SoapySDR missing and cannot apt-get install python3-soapysdr (need root on Debian); soapy test will not run"
        exit 0
      fi
      log "installing python3-soapysdr and soapysdr-tools (apt)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -o DPkg::Lock::Timeout=600 >&2
      apt-get install -y -o DPkg::Lock::Timeout=600 --no-install-recommends python3-soapysdr soapysdr-tools >&2
    fi
    if have_soapy; then
      echo "export GS_SOAPY=1"
    else
      log "SoapySDR still not importable by /usr/bin/python3 after install"
    fi
    ;;
  stop)
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

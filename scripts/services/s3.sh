#!/usr/bin/env bash
# moto's standalone S3 server on a loopback port, for the object-store tests.
#
#   start   start moto_server (from the project venv's test extras, or a
#           private venv under .cache/moto when that is missing), wait until it
#           answers, and print the endpoint and dummy credentials as exports.
#   stop    stop it.
#
# Only `export` lines go to stdout; everything else goes to stderr.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
RUN="$ROOT/.cache/moto/run"
PIDFILE="$RUN/moto.pid"
PORTFILE="$RUN/port"
LOG="$RUN/moto.log"

log() { echo "s3.sh: $*" >&2; }
alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

moto_bin() {
  if [ -x "$ROOT/.venv/bin/moto_server" ]; then echo "$ROOT/.venv/bin/moto_server"; return; fi
  local venv="$ROOT/.cache/moto/venv"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "installing moto[server] into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet 'moto[server]>=5.0' >&2
  fi
  echo "$venv/bin/moto_server"
}

exports() {
  echo "export GS_TEST_S3_ENDPOINT=http://127.0.0.1:$(cat "$PORTFILE")"
  echo "export AWS_ACCESS_KEY_ID=testing"
  echo "export AWS_SECRET_ACCESS_KEY=testing"
  echo "export AWS_DEFAULT_REGION=us-east-1"
}

case "${1:-}" in
  start)
    if alive; then exports; exit 0; fi
    bin="$(moto_bin)"
    mkdir -p "$RUN"
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    echo "$port" >"$PORTFILE"
    nohup "$bin" -H 127.0.0.1 -p "$port" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    deadline=$((SECONDS + 60))
    until python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=2)" 2>/dev/null; do
      if ! alive; then log "moto_server exited:"; tail -n 20 "$LOG" >&2; exit 1; fi
      if [ $SECONDS -ge $deadline ]; then log "moto_server not ready after 60 s"; exit 1; fi
      sleep 0.3
    done
    log "moto S3 server ready on 127.0.0.1:$port"
    exports
    ;;
  stop)
    if alive; then
      pid="$(cat "$PIDFILE")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$RUN"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac

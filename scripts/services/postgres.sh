#!/usr/bin/env bash
# PostgreSQL for the test suite: `start` installs Debian's postgresql when
# missing, initializes a private cluster under .cache/postgres (not the system
# cluster), starts it on a loopback port, creates a database and user, and
# prints ONLY `export GS_TEST_POSTGRES_URL=...` on stdout (logs go to stderr).
# `stop` stops that cluster. Both verbs are idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BASE="$ROOT/.cache/postgres"
DATA="$BASE/data"
LOG="$BASE/server.log"
DB=groundstation_test
USER_NAME=groundstation
PASSWORD=groundstation

log() { echo "[postgres.sh] $*" >&2; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

install_postgres() {
  if [ -z "$(pg_bindir || true)" ]; then
    log "installing Debian's postgresql"
    if [ "$(id -u)" -ne 0 ]; then
      log "postgresql is missing and we are not root: install it with apt-get install postgresql"
      exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql postgresql-contrib >&2 ||
      apt-get install -y --no-install-recommends postgresql >&2
  fi
}

# Run a command as the cluster owner: `postgres` when we are root (initdb
# refuses root), the current user otherwise.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  return 1
}

is_running() {
  local bin=$1
  [ -f "$DATA/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
  install_postgres
  local bin
  bin=$(pg_bindir)
  mkdir -p "$BASE"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$BASE"
    # The cluster owner must be able to reach the data directory.
    local p="$BASE"
    while [ "$p" != "/" ]; do
      p=$(dirname "$p")
      chmod o+x "$p" 2>/dev/null || true
    done
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initializing cluster in $DATA"
    as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >&2 ||
      as_owner "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >&2
  fi
  local port
  if is_running "$bin"; then
    port=$(cat "$BASE/port")
    log "already running on port $port"
  else
    port=${GS_TEST_POSTGRES_PORT:-55432}
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "$port" >"$BASE/port"
    log "starting on 127.0.0.1:$port"
    as_owner "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$BASE -c max_connections=200 -c fsync=off" \
      start >&2
  fi
  for _ in $(seq 1 60); do
    as_owner "$bin/pg_isready" -h 127.0.0.1 -p "$port" >/dev/null 2>&1 && break
    sleep 0.5
  done
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$(as_owner "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$USER_NAME'")" != "1" ]; then
    as_owner "${psql[@]}" -d postgres -c "CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD'" >&2
  fi
  # Test suites may create their own scratch databases.
  as_owner "${psql[@]}" -d postgres -c "ALTER ROLE $USER_NAME CREATEDB" >&2
  # DROP DATABASE ... WITH (FORCE) on a scratch database also terminates an
  # autovacuum worker that happens to run there; PostgreSQL 15 lets a
  # non-superuser do that only as a member of pg_signal_backend.
  as_owner "${psql[@]}" -d postgres -c "GRANT pg_signal_backend TO $USER_NAME" >&2
  if [ "$(as_owner "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" != "1" ]; then
    as_owner "${psql[@]}" -d postgres -c "CREATE DATABASE $DB OWNER $USER_NAME" >&2
  fi
  # btree_gist backs the no-double-booking exclusion constraint; creating an
  # extension needs a superuser, so do it here once.
  as_owner "${psql[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS btree_gist" >&2
  echo "export GS_TEST_POSTGRES_URL=postgresql+psycopg://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB"
}

stop() {
  local bin
  bin=$(pg_bindir || true)
  if [ -n "$bin" ] && is_running "$bin"; then
    log "stopping cluster in $DATA"
    as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >&2
  else
    log "not running"
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

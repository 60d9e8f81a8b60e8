#!/usr/bin/env bash
# A throw-away local PostgreSQL 15 for the test suite (and benchmarks): its own data directory
# (under /var/tmp, which the postgres user can reach; one per checkout), listening on 127.0.0.1
# on a port derived from the checkout's path (so two checkouts never collide); no systemd.
#
# Usage: scripts/lib/postgres.sh start|stop|status|url
#   start  install what is missing (postgresql), initdb on first start, start, create role and database
#   stop   stop the server (fast shutdown); the data directory stays for the next start
#   url    print the DATABASE_URL (postgres://cardpki:...@127.0.0.1:PORT/cardpki)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/ensure.sh

TAG=$(pwd | sha1sum | cut -c1-8)
DIR=$(realpath -m "${CARDPKI_PG_DIR:-/var/tmp/cardpki-pg-$TAG}")
PORT=${CARDPKI_PG_PORT:-$((55000 + 16#${TAG:0:4} % 1000))}
BIN=/usr/lib/postgresql/15/bin
PASS_FILE=$DIR/password
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

url() { printf 'postgres://cardpki:%s@127.0.0.1:%s/cardpki\n' "$(cat "$PASS_FILE")" "$PORT"; }

start() {
  [ -x "$BIN/initdb" ] || ensure_apt postgresql >&2
  mkdir -p "$DIR"
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PASS_FILE"
    chmod 600 "$PASS_FILE"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 >/dev/null
  fi
  if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/data/server.log" -w -t 30 \
      -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
  fi
  local pw; pw=$(cat "$PASS_FILE")
  as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -qtA -c "SELECT 1 FROM pg_roles WHERE rolname='cardpki'" | grep -q 1 \
    || as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -q -c "CREATE ROLE cardpki LOGIN CREATEDB PASSWORD '$pw'"
  as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -qtA -c "SELECT 1 FROM pg_database WHERE datname='cardpki'" | grep -q 1 \
    || as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -q -c "CREATE DATABASE cardpki OWNER cardpki"
  # Databases the previous test run made (t_*) go.
  for d in $(as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -qtA -c "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'"); do
    as_pg "$BIN/psql" -h "$DIR" -p "$PORT" -U postgres -q -c "DROP DATABASE $d" >/dev/null
  done
  echo "[postgres] ready on 127.0.0.1:$PORT ($DIR)" >&2
}

stop() {
  [ -f "$DIR/data/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) as_pg "$BIN/pg_ctl" -D "$DIR/data" status ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac

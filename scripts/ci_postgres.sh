#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the job-store tests and print its URL on stdout.
#
#   export GEOECO_TEST_POSTGRES_URL="$(scripts/ci_postgres.sh)"
#   python -m pytest tests/test_jobs.py
#
# Installs Debian's `postgresql` package when no server binaries are found (needs root and
# apt), creates a cluster in a fresh temporary folder owned by the `postgres` user, starts it
# on a free loopback port (trust authentication, loopback only, fsync off: for tests only) and
# creates the database `geoeco_test`. Everything but the URL goes to standard error, including
# the command that stops the server again.
set -euo pipefail

log() { echo "ci_postgres: $*" >&2; }

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

BIN="$(find_bin || true)"
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "no PostgreSQL server binaries and no root/apt-get to install them"; exit 1
  fi
  log "installing postgresql with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends postgresql >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends postgresql >&2; }
  BIN="$(find_bin)"
fi

PORT="${PGTEST_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}"
DIR="$(mktemp -d /tmp/geoeco-pg.XXXXXX)"
chmod 755 "$DIR"

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "$1"
  else
    sh -c "$1"
  fi
}
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi

log "cluster in $DIR, port $PORT ($BIN)"
as_pg "'$BIN/initdb' -D '$DIR/data' -U postgres -A trust -E UTF8 --no-sync" >&2
as_pg "'$BIN/pg_ctl' -D '$DIR/data' -l '$DIR/server.log' -w -t 60 \
  -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off\" start" >&2
as_pg "'$BIN/createdb' -h 127.0.0.1 -p $PORT -U postgres geoeco_test" >&2
if [ "$(id -u)" -eq 0 ]; then
  log "stop with: su postgres -s /bin/sh -c \"'$BIN/pg_ctl' -D '$DIR/data' -m fast stop\""
else
  log "stop with: '$BIN/pg_ctl' -D '$DIR/data' -m fast stop"
fi
echo "postgresql://postgres@127.0.0.1:$PORT/geoeco_test"

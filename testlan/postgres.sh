#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the store's tests, on 127.0.0.1 only.
#
#   sudo testlan/postgres.sh up     initdb (trust auth, no fsync) and start on port $PGPORT (55432)
#   sudo testlan/postgres.sh down   stop it and remove its files
#   testlan/postgres.sh url         print the URL the tests use (SCANOPY_PG_URL)
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=${SCANOPY_PG_DIR:-/run/scanopy-pg}
PORT=${PGPORT:-55432}
die() { echo "postgres.sh: $*" >&2; exit 1; }

url() { echo "postgres://postgres@127.0.0.1:$PORT/postgres"; }

up() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  [ -x "$PGBIN/initdb" ] || die "missing PostgreSQL 15 in $PGBIN (install: postgresql-15)"
  down >/dev/null 2>&1 || true
  mkdir -p "$DIR"
  chown postgres "$DIR"
  runuser -u postgres -- "$PGBIN/initdb" -D "$DIR/data" --auth=trust --no-sync -U postgres >/dev/null
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgres.sh: up at $(url)"
}

down() {
  if [ -d "$DIR/data" ]; then
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  echo "postgres.sh: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  url) url ;;
  *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac

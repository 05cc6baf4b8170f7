#!/usr/bin/env bash
# Open311 GeoReport v2 through a real third-party client.
#   ./scripts/open311.sh test   makes a Python virtualenv (.venv) with the `georeport` and
#                               `civicbot` clients from PyPI (tests/open311/requirements.txt),
#                               starts target/debug/signalons over a fresh PostGIS database
#                               (migrated, the whole Boston demo as run.sh loads it: catalog,
#                               gazetteer and the 2015 cases; one API key), runs tests/open311/
#                               against it, then stops the server and drops the database.
# Idempotent and non-interactive. SIGNALONS_BIN overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

DB="signalons_open311_$$"
SERVER_PID=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists --force "$DB" 2>/dev/null || true
}

run_tests() {
  local bin=${SIGNALONS_BIN:-target/debug/signalons}
  if [ -z "${SIGNALONS_BIN:-}" ]; then
    ensure_rust
    cargo build --locked -q -p signalons-server
  fi
  local port
  port=$(free_port)
  trap cleanup EXIT
  createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$DB"
  export SIGNALONS_DATABASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$DB"
  # Expected 4xx answers are logged as warnings by the server: keep the output to the results.
  export SIGNALONS_BIND="127.0.0.1:$port" SIGNALONS_LOG=${SIGNALONS_LOG:-error} SIGNALONS_HTTP_WORKERS=2
  SIGNALONS_JWT_SECRET=$(random_secret)
  export SIGNALONS_JWT_SECRET
  "$bin" migrate
  # The demo as run.sh loads it, history included (about 15 s on 2 cores).
  "$bin" seed demo
  local key
  key=$("$bin" api-key create --name "georeport test suite" --scope open311:write)
  "$bin" serve >/dev/null &
  SERVER_PID=$!
  local ready=""
  for _ in $(seq 1 100); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
        "http://127.0.0.1:$port/readyz" 2>/dev/null; then
      ready=yes
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { log "the server did not become ready on 127.0.0.1:$port"; exit 1; }
  log "Open311 through the georeport and civicbot clients (PyPI) on 127.0.0.1:$port"
  .venv/bin/python tests/open311/test_georeport.py \
    --base "http://127.0.0.1:$port/open311/v2" --api-key "$key"
}

case "${1:-}" in
  test)
    ensure_postgres
    ensure_venv tests/open311/requirements.txt
    run_tests
    ;;
  *)
    echo "usage: $0 test" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Runs Signalons with the Boston demo on http://127.0.0.1:8080 (SIGNALONS_BIND to change).
# Installs PostGIS if missing, starts PostgreSQL if needed, creates the database, migrates,
# loads the demo (idempotent) and serves the API, its documentation and the PWA.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_postgres
export SIGNALONS_DATABASE_URL=${SIGNALONS_DATABASE_URL:-postgres://$PG_USER@$PG_HOST:$PG_PORT/signalons}
# The database named at the end of the URL is created on the local server when missing.
database=${SIGNALONS_DATABASE_URL##*/}
ensure_database "${database%%\?*}"

# Access tokens are signed with a key kept in var/ (created once), so sessions survive restarts.
if [ -z "${SIGNALONS_JWT_SECRET:-}" ]; then
  mkdir -p var
  [ -s var/jwt-secret ] || (umask 077 && random_secret > var/jwt-secret)
  SIGNALONS_JWT_SECRET=$(cat var/jwt-secret)
  export SIGNALONS_JWT_SECRET
fi

log "building (release)"
cargo build --release --locked -q -p signalons-server
bin=target/release/signalons

log "migrating"
"$bin" migrate
log "loading the Boston demo"
"$bin" seed demo
./scripts/pwa.sh build
log "serving on http://${SIGNALONS_BIND:-127.0.0.1:8080}"
exec "$bin" serve

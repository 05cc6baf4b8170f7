#!/usr/bin/env bash
# The PWA (pwa/): build it, or test it in a real browser against the real server.
#   ./scripts/pwa.sh build   npm ci when node_modules is missing or package-lock.json changed,
#                            then npm run build (types from openapi/, tsc, vite, JS budget)
#   ./scripts/pwa.sh test    also installs Debian's chromium if missing, then unit tests, build
#                            and the end-to-end suite (pwa/e2e/) on a fresh PostGIS database
# Idempotent and non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

export CI=true
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

npm_install() {
  local sum stamp=pwa/node_modules/.signalons-lock.sha256
  sum=$(sha256sum pwa/package-lock.json | cut -d' ' -f1)
  if [ ! -d pwa/node_modules ] || [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
    log "installing the PWA's node modules (npm ci)"
    (cd pwa && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$sum" >"$stamp"
  fi
}

build() {
  log "building the PWA (pwa/dist)"
  (cd pwa && npm run --silent build </dev/null)
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
}

ensure_server_binary() {
  if [ -z "${SIGNALONS_BIN:-}" ] && [ ! -x target/debug/signalons ]; then
    ensure_rust
    log "building the server for the end-to-end suite (debug)"
    cargo build --locked -q -p signalons-server
  fi
}

case "${1:-}" in
  build)
    ensure_node
    npm_install
    build
    ;;
  test)
    ensure_node
    ensure_chromium
    ensure_postgres
    npm_install
    log "PWA unit tests (vitest)"
    (cd pwa && npm run --silent test </dev/null)
    build
    ensure_server_binary
    log "PWA end-to-end tests (chromium, real server and database)"
    (cd pwa && npm run --silent e2e </dev/null)
    ;;
  *)
    echo "usage: $0 build|test" >&2
    exit 2
    ;;
esac

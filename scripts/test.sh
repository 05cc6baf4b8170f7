#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests and the black-box suites against a
# real PostGIS and the real HTTP server. Installs what it needs first (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust
ensure_postgres
export TEST_PG_ADMIN_URL=${TEST_PG_ADMIN_URL:-postgres://$PG_USER@$PG_HOST:$PG_PORT/postgres}

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --locked --workspace --all-targets -q -- -D warnings
log "cargo test"
cargo test --locked --workspace --no-fail-fast
./scripts/pwa.sh test
./scripts/open311.sh test
./scripts/s3.sh test

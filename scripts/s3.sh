#!/usr/bin/env bash
# The photo store's S3 option against a real S3-compatible server.
#   ./scripts/s3.sh test   installs moto's server from PyPI into .venv (tests/s3/requirements.txt),
#                          starts it on a free port of 127.0.0.1, creates a bucket and runs the
#                          ignored S3 tests of crates/media against it, then stops the server.
# Idempotent and non-interactive.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

MOTO_PID=""
cleanup() {
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}

run_tests() {
  ensure_rust
  ensure_venv tests/s3/requirements.txt
  local port log
  port=$(free_port)
  log=$(mktemp)
  trap cleanup EXIT
  .venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  local endpoint=http://127.0.0.1:$port bucket=signalons-photos
  # Creating the bucket is also the readiness probe: retried while the server starts.
  AWS_ACCESS_KEY_ID=signalons-test AWS_SECRET_ACCESS_KEY=signalons-test-secret \
    .venv/bin/python - "$endpoint" "$bucket" <<'PY' || { cat "$log"; log "the S3 server did not start"; exit 1; }
import sys, time
import boto3
client = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for attempt in range(100):
    try:
        client.create_bucket(Bucket=sys.argv[2])
        break
    except Exception:
        if attempt == 99:
            raise
        time.sleep(0.1)
PY
  log "photo store on S3 ($endpoint, moto)"
  # --workspace, not -p: the same features as test.sh's cargo test, so nothing is rebuilt.
  SIGNALONS_TEST_S3_ENDPOINT=$endpoint SIGNALONS_TEST_S3_BUCKET=$bucket \
    cargo test --locked -q --workspace --test store -- --ignored
}

case "${1:-}" in
  test) run_tests ;;
  *)
    echo "usage: $0 test" >&2
    exit 2
    ;;
esac

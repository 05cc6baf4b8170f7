#!/usr/bin/env bash
# Measures the API against the raw SQL ceiling, in one run on this machine:
#   scripts/bench.sh [--reports N] [--duration SECONDS] [--connections C]
# Creates or reuses the database signalons_bench_<N> (N synthetic reports, `seed synthetic`),
# starts the release server on a free port, drives each scenario with wrk (C connections,
# inputs drawn per request) and runs the same SQL with pgbench (prepared statements; the better
# of pool-size and C clients is the ceiling), then prints one table: requests/s, p50/p99/max
# latency, errors, the ratio API / SQL ceiling and the server's peak memory (VmHWM, reset before
# each scenario), and the map's latency and answer size at every zoom. Not part of test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

reports=10000
duration=15
connections=32
while [ $# -gt 0 ]; do
  case $1 in
    --reports) reports=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "usage: $0 [--reports N] [--duration SECONDS] [--connections C]" >&2; exit 2 ;;
  esac
done

ensure_rust
ensure_postgres
command -v wrk >/dev/null || apt_install wrk
command -v pgbench >/dev/null || apt_install postgresql-contrib

database=signalons_bench_$reports
export SIGNALONS_DATABASE_URL=postgres://$PG_USER@$PG_HOST:$PG_PORT/$database
export SIGNALONS_LOG=${SIGNALONS_LOG:-warn}
# The bench's own server: a throwaway signing key, and room for one client creating hundreds
# of reports a second (the limiter still runs: its cost is part of what is measured).
export SIGNALONS_JWT_SECRET=${SIGNALONS_JWT_SECRET:-bench-only-$(head -c 24 /dev/urandom | base64 | tr -d '/+=')}
export SIGNALONS_RATE_LIMIT_REPORTS_PER_MINUTE=${SIGNALONS_RATE_LIMIT_REPORTS_PER_MINUTE:-100000000}
psql_bench() { psql -X -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$database" -v ON_ERROR_STOP=1 "$@"; }

log "building (release)"
cargo build --release --locked -q -p signalons-server
bin=target/release/signalons
ensure_database "$database"
"$bin" migrate
log "loading $reports synthetic reports into $database (kept for the next run)"
"$bin" seed synthetic --reports "$reports"
psql_bench -c "VACUUM ANALYZE"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

psql_bench -f scripts/bench/points.sql
psql_bench -tA -F, -c "SELECT * FROM bench_points ORDER BY n" > "$work/points.csv"
npoints=$(wc -l < "$work/points.csv")
read -r min_id max_id < <(psql_bench -tA -F' ' -c "SELECT min(id), max(id) FROM reports")

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
SIGNALONS_BIND=127.0.0.1:$port "$bin" serve > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "$base/readyz" >/dev/null || { cat "$work/server.log"; log "the server did not start"; exit 1; }

cores=$(nproc)
pool=${SIGNALONS_DATABASE_POOL_SIZE:-$((2 * cores))}
printf '\n%s reports, %s connections, %ss per scenario, %s cores, PostgreSQL %s, server pool %s\n\n' \
  "$reports" "$connections" "$duration" "$cores" "$(pg_major)" "$pool"
printf '| %-10s | %9s | %8s | %8s | %8s | %6s | %9s | %7s | %7s | %8s |\n' \
  scenario 'API req/s' 'p50 ms' 'p99 ms' 'max ms' errors 'SQL tps' 'SQL at' 'API/SQL' 'peak RSS'
printf '|%s|\n' '------------|-----------|----------|----------|----------|--------|-----------|---------|---------|----------'

ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

run_scenario() {
  local name=$1 sql=$2
  shift 2
  echo 5 > "/proc/$server_pid/clear_refs" 2>/dev/null || true
  local result
  result=$(BENCH_SCENARIO=$name BENCH_POINTS="$work/points.csv" BENCH_MIN_ID=$min_id BENCH_MAX_ID=$max_id \
    wrk -t2 -c"$connections" -d"${duration}s" --timeout 10s -s scripts/bench/api.lua "$base" | grep '^RESULT')
  local requests micros p50 p99 max errors
  read -r _ requests micros p50 p99 max errors <<< "$result"
  local rss
  rss=$(awk '/VmHWM/ { printf "%.0f MB", $2 / 1024 }' "/proc/$server_pid/status")
  # The ceiling is the better of two runs: as many clients as the server's pool (PostgreSQL
  # gives its best with few backends per core) and as many as wrk's connections.
  local tps=0 ceiling_clients=$pool clients measured
  for clients in $(printf '%s\n' "$pool" "$connections" | sort -nu); do
    measured=$(pgbench -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -n -M prepared -c "$clients" \
      -j "$(( clients < 2 ? clients : 2 ))" -T "$duration" -D npoints="$npoints" -D min_id="$min_id" \
      -D max_id="$max_id" "$@" -f "scripts/bench/$sql.sql" "$database" 2>&1 | awk '/^tps/ { print $3 }')
    if awk -v a="${measured:-0}" -v b="$tps" 'BEGIN { exit !(a > b) }'; then
      tps=$measured ceiling_clients=$clients
    fi
  done
  local rps
  rps=$(awk -v r="$requests" -v us="$micros" 'BEGIN { printf "%.0f", r / (us / 1e6) }')
  printf '| %-10s | %9s | %8s | %8s | %8s | %6s | %9.0f | %7s | %7s | %8s |\n' "$name" "$rps" \
    "$(ms "$p50")" "$(ms "$p99")" "$(ms "$max")" "$errors" "$tps" "$ceiling_clients" \
    "$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" "$rss"
}

run_scenario get get
run_scenario nearby nearby
run_scenario bbox bbox
run_scenario duplicates duplicates
# The server plans each map query for its own view (an unprepared statement); a prepared one
# falls back after five runs to a generic plan that cannot see how small a view is.
PGOPTIONS='-c plan_cache_mode=force_custom_plan' run_scenario clusters clusters
# The map at every zoom, one client: printed after the table.
python3 scripts/bench/zooms.py "$base" "$work/points.csv" 40 > "$work/zooms.md"
# Crew queue: a crew of the department with the most open incidents, signed in.
crew_email=bench-crew@example.org crew_password=bench-crew-password-1
read -r department < <(psql_bench -tA -c "SELECT d.code FROM incidents i JOIN departments d \
  ON d.id = i.department_id WHERE i.closed_at IS NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
if ! psql_bench -tA -c "SELECT 1 FROM users WHERE email = '$crew_email'" | grep -q 1; then
  echo "$crew_password" | "$bin" admin create --email "$crew_email" --role crew --department "$department" >/dev/null
fi
read -r uid jid dept < <(psql_bench -tA -F' ' -c "SELECT u.id, u.jurisdiction_id, s.department_id \
  FROM users u JOIN staff_departments s ON s.user_id = u.id WHERE u.email = '$crew_email' LIMIT 1")
export BENCH_TOKEN
BENCH_TOKEN=$(curl -sf -X POST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$crew_email\",\"password\":\"$crew_password\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
run_scenario queue queue -D uid="$uid" -D jid="$jid" -D dept="$dept"
# Last: it writes (each run adds reports to the database it reuses).
run_scenario create create
printf '\nThe map at every zoom (one client, a phone'"'"'s 3 x 4 tiles around 40 points, warm):\n\n'
cat "$work/zooms.md"
echo

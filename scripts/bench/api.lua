-- wrk script for every API scenario of scripts/bench.sh: BENCH_SCENARIO names it, BENCH_POINTS
-- is the CSV export of bench_points (see points.sql), BENCH_MIN_ID/BENCH_MAX_ID bound report
-- ids. Each request draws its own inputs, so no two consecutive requests hit the same URL.
local scenario = os.getenv("BENCH_SCENARIO")
local points = {}
local min_id = tonumber(os.getenv("BENCH_MIN_ID") or "1")
local max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1")
local thread_number = 0
local counter = 0

local threads = {}
function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0))
  for line in io.lines(os.getenv("BENCH_POINTS")) do
    local f = {}
    for field in string.gmatch(line, "([^,]+)") do table.insert(f, field) end
    table.insert(points, {
      lon = f[2], lat = f[3], code = f[4],
      w = f[8], s = f[9], e = f[10], n = f[11],
      zoom = f[12], tw = tonumber(f[13]), ts = tonumber(f[14]), te = tonumber(f[15]), tn = tonumber(f[16]),
    })
  end
end

local function pick() return points[math.random(#points)] end

function request()
  local p = pick()
  if scenario == "get" then
    return wrk.format("GET", "/api/v1/reports/" .. math.random(min_id, max_id))
  elseif scenario == "nearby" then
    return wrk.format("GET", "/api/v1/reports?lat=" .. p.lat .. "&long=" .. p.lon .. "&radius=250&limit=20")
  elseif scenario == "bbox" then
    return wrk.format("GET", "/api/v1/reports?bbox=" .. p.w .. "," .. p.s .. "," .. p.e .. "," .. p.n .. "&limit=50")
  elseif scenario == "duplicates" then
    return wrk.format("GET", "/api/v1/reports/duplicates?lat=" .. p.lat .. "&long=" .. p.lon .. "&category=" .. p.code)
  elseif scenario == "clusters" then
    -- the tiles in view, shrunk by a hair so that edges do not spill into the next cells
    local bbox = string.format("%.6f,%.6f,%.6f,%.6f", p.tw + 1e-6, p.ts + 1e-6, p.te - 1e-6, p.tn - 1e-6)
    return wrk.format("GET", "/api/v1/map/clusters?bbox=" .. bbox .. "&zoom=" .. p.zoom)
  elseif scenario == "queue" then
    -- a crew in the field: its department's queue, nearer jobs first within a priority
    return wrk.format("GET", "/api/v1/queue?lat=" .. p.lat .. "&long=" .. p.lon,
      { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") })
  elseif scenario == "create" then
    counter = counter + 1
    local body = '{"category":"' .. p.code .. '","latitude":' .. p.lat .. ',"longitude":' .. p.lon ..
      ',"description":"Benchmark report"}'
    local headers = {
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = string.format("wrk-%d-%d-%d", os.time(), thread_id or 0, counter),
    }
    return wrk.format("POST", "/api/v1/reports", headers, body)
  end
  error("unknown BENCH_SCENARIO " .. tostring(scenario))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end

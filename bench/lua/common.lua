-- Shared by the load scripts (loaded with dofile from the repository root, where bench/run.py starts wrk).
-- Each wrk thread has its own Lua state: per-thread counters live in globals that done() collects with t:get.

threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- "a<TAB>b" lines of a data file written by bench/seed.py.
function load_rows(path)
  local rows = {}
  for line in io.lines(path) do
    local a, b = line:match("^([^\t]+)\t(.+)$")
    if a then rows[#rows + 1] = { a, b } end
  end
  return rows
end

function split_commas(s)
  local out = {}
  for item in s:gmatch("[^,]+") do out[#out + 1] = item end
  return out
end

statuses = {}
retries = 0
events_sent = 0

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function json_headers(key)
  return { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
end

-- One JSON line on stdout, parsed by bench/run.py.
function done(summary, latency, requests)
  local by_status, total_retries, total_events = {}, 0, 0
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      by_status[code] = (by_status[code] or 0) + n
    end
    total_retries = total_retries + (t:get("retries") or 0)
    total_events = total_events + (t:get("events_sent") or 0)
  end
  local parts = {}
  for code, n in pairs(by_status) do parts[#parts + 1] = string.format('"%d": %d', code, n) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"mean_us": %.1f, "statuses": {%s}, "retries_sent": %d, "events_sent": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(parts, ", "), total_retries, total_events,
    e.connect, e.read, e.write, e.status, e.timeout))
end

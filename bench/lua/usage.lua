-- POST /api/v1/usage, one event per request, for a random (API key, member) pair from a data file.
-- Idempotency keys are unique: run tag (random, per run and scenario) + thread id + per-thread counter.
-- A fraction of requests (args[3], e.g. 0.1) are deliberate retries: an earlier request re-sent verbatim,
-- which must be answered 200 with the first answer and charged once (checked by bench/run.py afterwards).
dofile("bench/lua/common.lua")

local rows, tag, retry_rate
local ring, ring_size, counter = {}, 256, 0
local models = { "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-20250514" }
local products = { "chat", "claude_code", "cowork" }

function init(args)
  rows = load_rows(args[1])
  tag = args[2] .. "-" .. tid
  retry_rate = tonumber(args[3] or "0.1")
  math.randomseed(tonumber(args[4] or "1") * 1000 + tid)
end

function request()
  if counter >= 16 and math.random() < retry_rate then
    local earlier = ring[math.random(math.min(counter, ring_size))]
    retries = retries + 1
    return wrk.format("POST", "/api/v1/usage", earlier[1], earlier[2])
  end
  counter = counter + 1
  events_sent = events_sent + 1
  local row = rows[math.random(#rows)]
  local body = string.format(
    '{"idempotency_key": "%s-%d", "member": "%s", "product": "%s", "model": "%s", "usage": ' ..
    '{"input_tokens": %d, "output_tokens": %d, "cache_creation_input_tokens": %d, "cache_read_input_tokens": %d}}',
    tag, counter, row[2], products[math.random(#products)], models[math.random(#models)],
    math.random(1, 5000), math.random(1, 2000), math.random(0, 1000), math.random(0, 20000))
  local headers = json_headers(row[1])
  ring[(counter - 1) % ring_size + 1] = { headers, body }
  return wrk.format("POST", "/api/v1/usage", headers, body)
end

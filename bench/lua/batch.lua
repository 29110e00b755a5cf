-- POST /api/v1/usage/batch with 1,000 events for one organization (a random line of the data file:
-- "key<TAB>email,email,..."), spread over its members. Keys: run tag + thread id + per-thread counter.
dofile("bench/lua/common.lua")

local orgs, tag, counter, size = nil, nil, 0, 1000
local models = { "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-20250514" }

function init(args)
  local rows = load_rows(args[1])
  orgs = {}
  for i, row in ipairs(rows) do orgs[i] = { row[1], split_commas(row[2]) } end
  tag = args[2] .. "-" .. tid
  size = tonumber(args[3] or "1000")
  math.randomseed(tonumber(args[4] or "1") * 1000 + tid)
end

function request()
  local org = orgs[math.random(#orgs)]
  local members = org[2]
  local events = {}
  for i = 1, size do
    counter = counter + 1
    events[i] = string.format(
      '{"idempotency_key": "%s-%d", "member": "%s", "product": "chat", "model": "%s", "usage": ' ..
      '{"input_tokens": %d, "output_tokens": %d, "cache_read_input_tokens": %d}}',
      tag, counter, members[math.random(#members)], models[math.random(#models)],
      math.random(1, 5000), math.random(1, 2000), math.random(0, 20000))
  end
  events_sent = events_sent + size
  return wrk.format("POST", "/api/v1/usage/batch", json_headers(org[1]),
    '{"events": [' .. table.concat(events, ", ") .. ']}')
end

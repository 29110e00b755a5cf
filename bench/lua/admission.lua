-- POST /api/v1/admission for a random (API key, member) pair from a data file (args: file, seed).
dofile("bench/lua/common.lua")

local rows
local models = { "claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5-20250929" }

function init(args)
  rows = load_rows(args[1])
  math.randomseed(tonumber(args[2] or "1") * 1000 + tid)
end

function request()
  local row = rows[math.random(#rows)]
  local body = string.format('{"member": "%s", "product": "chat", "model": "%s"}', row[2],
    models[math.random(#models)])
  return wrk.format("POST", "/api/v1/admission", json_headers(row[1]), body)
end

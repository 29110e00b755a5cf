-- Baseline: the one-SELECT Django view (billing_portal/bench_views.py), a JSON POST per request.
dofile("bench/lua/common.lua")

local org_count

function init(args)
  org_count = tonumber(args[1] or "1000")
  math.randomseed(tonumber(args[2] or "1") * 1000 + tid)
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  return wrk.format("POST", "/bench/select", headers, string.format('{"id": %d}', math.random(org_count)))
end

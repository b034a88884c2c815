-- wrk script: the requests of bench/directory_lookup.lua, with every answer read: answers other
-- than 200, or without 128 chunks, are counted and printed at the end. For a short check before
-- the timed rounds (reading the answers in Lua costs wrk more CPU than the lookup itself).

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "directory_lookup.lua")

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")
failed, short = 0, 0  -- globals: done() reads them with thread:get

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif not string.find(body, '"chunks":128', 1, true) then
    short = short + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("lookups checked: %d, failed %d, without 128 chunks %d\n",
    summary.requests, common.sum("failed"), common.sum("short")))
end

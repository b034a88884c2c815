-- wrk script: POST /directory/lookup by token_ids, 32,768 tokens (128 chunks of 256) at world
-- size 8, so every request hashes the BLAKE3 chain of 128 chunks and looks 1,024 keys up.
-- Each wrk thread builds 8 bodies of random tokens once and sends them in turn. Answers other
-- than 200, or without 1,024 results, are counted and printed at the end.

local tokens = 32768
local bodies = {}
local counter = 0
failed, short = 0, 0  -- globals: done() reads them with thread:get

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

function init(args)
  math.randomseed(3000 + thread_id)
  for b = 1, 8 do
    local ids = {}
    for i = 1, tokens do ids[i] = math.random(0, 151935) end
    bodies[b] = '{"model_name":"meta-llama/Llama-3.1-8B-Instruct","world_size":8,' ..
      '"cache_salt":"tenant-0","token_ids":[' .. table.concat(ids, ",") .. ']}'
  end
  common.post_json()
end

function request()
  counter = counter + 1
  return wrk.format(nil, "/directory/lookup", nil, bodies[counter % #bodies + 1])
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif not string.find(body, '"chunks":128', 1, true) then
    short = short + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("lookups: failed %d, without 128 chunks %d\n", common.sum("failed"),
    common.sum("short")))
end

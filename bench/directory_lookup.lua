-- wrk script: POST /directory/lookup by token_ids, 32,768 tokens (128 chunks of 256) at world
-- size 8, so every request hashes the BLAKE3 chain of 128 chunks and looks 1,024 keys up.
-- Each wrk thread builds 8 bodies of random tokens once and sends them in turn.
--
-- This script leaves the answers unread by Lua: handing each ~230 KB answer to a Lua response()
-- cost wrk ~350 us of CPU a lookup, more than the coordinator spends on it, on the same cores.
-- wrk still counts answers other than 2xx ("Non-2xx or 3xx responses"). The answers' content is
-- checked by bench/directory_lookup_check.lua, which directory_lookup_load.sh runs first.

local tokens = 32768
local bodies = {}
local counter = 0

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

-- wrk script: POST /l2/events with 256 store/lookup events per batch.
--
-- Keys come from a space of 1,000,000 distinct keys (64 hex chars, a model name, kv_rank 0..7,
-- 4 tenant salts). Each wrk thread pre-builds 128 event lists of 256 events drawn at random from
-- that space (32,768 events) and sends them in turn, so building a request costs one short
-- concatenation: the load generator shares the machine's 2 cores with the coordinator.
-- Every batch carries an instance_id and a seq that increases per instance: a thread spreads
-- its requests over `slots` instance ids, so two batches of one instance are `slots` requests
-- apart and (with far fewer connections per thread than slots) arrive in order: none should be
-- a duplicate. Duplicates, rejections and errors are counted and printed at the end.

local batch = 256
local key_space = 1000000
local lists = 128
local slots = 64

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

local pool = {}  -- pool[i]: the JSON text of 256 events, without the brackets
local counter = 0
duplicates, rejected, failed = 0, 0, 0  -- globals: done() reads them with thread:get

local function event_json(k, is_store)
  local key = common.key_json(k, k % 8)
  if is_store then
    return '{"type":"store","key":' .. key .. ',"bytes":' .. common.size_bytes(k) .. '}'
  end
  return '{"type":"lookup","key":' .. key .. '}'
end

function init(args)
  math.randomseed(1000 + thread_id)
  pool = common.json_lists(lists, batch, function()
    return event_json(math.random(0, key_space - 1), math.random() < 0.7)
  end)
  common.post_json()
end

function request()
  local instance, seq = common.instance_and_seq(counter, slots)
  local events = pool[counter % lists + 1]
  counter = counter + 1
  local body = '{"instance_id":"' .. instance .. '","seq":' .. seq .. ',"events":[' ..
    events .. ']}'
  return wrk.format(nil, "/l2/events", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif string.find(body, "duplicate", 1, true) then
    duplicates = duplicates + 1
  elseif string.find(body, "rejected", 1, true) then
    rejected = rejected + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("batches: duplicate %d, with rejections %d, failed %d\n",
    common.sum("duplicates"), common.sum("rejected"), common.sum("failed")))
end

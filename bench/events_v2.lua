-- wrk script: POST /events (the v2 dialect) with one 256-entry batch per request, 70 % store
-- batches and 30 % access batches, tier l2.
--
-- Keys come from a space of 1,000,000 distinct keys (64 hex chars, a model name, kv_rank of
-- world size 8, 4 tenant salts). Each wrk thread pre-builds 128 entry lists of 256 entries drawn
-- at random from that space and sends them in turn, so building a request costs one short
-- concatenation: the load generator shares the machine's 2 cores with the coordinator.
-- Every batch carries an instance_id, one incarnation and a seq that grows by one per batch of
-- its instance: a thread spreads its requests over `slots` instance ids, so two batches of one
-- instance are `slots` requests apart and arrive in order (none should be a duplicate or open a
-- gap; wrk drops the body of a thread's first request() call, so the coordinator logs one gap
-- per thread at the start). Entries carry no token_ids (what a server with blend off sends). Duplicates, stale,
-- rejected and failed batches are counted and printed at the end.

local batch = 256
local key_space = 1000000
local lists = 128
local slots = 64
local incarnation = 1788000000

local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")

local stores = {}    -- stores[i]: the JSON text of 256 store entries, without the brackets
local accesses = {}  -- accesses[i]: the same for access entries
local counter = 0
duplicates, stale, rejected, failed = 0, 0, 0, 0  -- globals: done() reads them with thread:get

-- kv_rank of worker w in world size 8, as the MP servers pack it.
local function kv_rank(w)
  return 8 * 16777216 + w * 65536 + 8 * 256 + w
end

local function entry_json(k, is_store)
  local key = common.key_json(k, kv_rank(k % 8))
  if is_store then
    return '{"key":' .. key .. ',"size_bytes":' .. common.size_bytes(k) .. '}'
  end
  return '{"key":' .. key .. '}'
end

function init(args)
  math.randomseed(2000 + thread_id)
  stores = common.json_lists(lists, batch, function()
    return entry_json(math.random(0, key_space - 1), true)
  end)
  accesses = common.json_lists(lists, batch, function()
    return entry_json(math.random(0, key_space - 1), false)
  end)
  common.post_json()
end

function request()
  local instance, seq = common.instance_and_seq(counter, slots)
  local list = counter % lists + 1
  -- 7 store batches, then 3 access batches, in every run of 10.
  local is_store = counter % 10 < 7
  counter = counter + 1
  local head = '{"batches":[{"instance_id":"' .. instance .. '","incarnation":' .. incarnation .. ',"seq":' .. seq .. ',"tier":"l2","backend":"fs",' ..
    '"shared":false,"ts":' .. (1788000000 + counter) .. ','
  local body
  if is_store then
    body = head .. '"event_type":"store","entries":[' .. stores[list] .. ']}]}'
  else
    body = head .. '"event_type":"access","entries":[' .. accesses[list] .. ']}]}'
  end
  return wrk.format(nil, "/events", nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    failed = failed + 1
  elseif string.find(body, '"rejected"', 1, true) then
    rejected = rejected + 1
  elseif not string.find(body, '"duplicates":0', 1, true) then
    duplicates = duplicates + 1
  elseif not string.find(body, '"stale":0', 1, true) then
    stale = stale + 1
  end
end

function done(summary, latency, requests)
  io.write(string.format("batches: duplicate %d, stale %d, rejected %d, failed %d\n",
    common.sum("duplicates"), common.sum("stale"), common.sum("rejected"), common.sum("failed")))
end

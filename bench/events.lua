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

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

local pool = {}  -- pool[i]: the JSON text of 256 events, without the brackets
local counter = 0
duplicates, rejected, failed = 0, 0, 0  -- globals: done() reads them with thread:get

-- 32 hash bytes of key k as 64 hex chars (a fixed mix of k; exact in doubles for k < 2^20).
local primes = {2654435761, 2246822519, 3266489917, 668265263,
                374761393, 1181783497, 2870177450, 3734741057}
local function chunk_hash_hex(k)
  local parts = {}
  for i = 1, 8 do
    parts[i] = string.format("%08x", (k * primes[i] + i * 40503) % 4294967296)
  end
  return table.concat(parts)
end

local function event_json(k, is_store)
  local key = string.format(
    '{"chunk_hash_hex":"%s","model_name":"meta-llama/Llama-3.1-8B-Instruct",' ..
    '"kv_rank":%d,"object_group_id":0,"cache_salt":"tenant-%d"}',
    chunk_hash_hex(k), k % 8, k % 4)
  if is_store then
    return '{"type":"store","key":' .. key .. ',"bytes":' .. (2097152 + (k % 64) * 4096) .. '}'
  end
  return '{"type":"lookup","key":' .. key .. '}'
end

function init(args)
  math.randomseed(1000 + thread_id)
  for i = 1, lists do
    local events = {}
    for j = 1, batch do
      events[j] = event_json(math.random(0, key_space - 1), math.random() < 0.7)
    end
    pool[i] = table.concat(events, ",")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local slot = counter % slots
  local seq = math.floor(counter / slots) + 1
  local events = pool[counter % lists + 1]
  counter = counter + 1
  local body = '{"instance_id":"bench-' .. thread_id .. '-' .. slot .. '","seq":' .. seq ..
    ',"events":[' .. events .. ']}'
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
  local d, r, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    d = d + thread:get("duplicates")
    r = r + thread:get("rejected")
    f = f + thread:get("failed")
  end
  io.write(string.format("batches: duplicate %d, with rejections %d, failed %d\n", d, r, f))
end

-- Shared pieces of the wrk scripts (bench/*.lua). A script loads it with
--   local common = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk_common.lua")
-- which also defines wrk's setup(): it numbers the threads (the global thread_id of each) and
-- keeps them, so done() can add up a counter over all threads with common.sum.

local common = {}

local threads = {}
local next_thread = 0

function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

-- The sum over all threads of the global counter `name` (for done()).
function common.sum(name)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get(name) end
  return total
end

-- Requests are JSON POSTs (for init()).
function common.post_json()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

-- `count` JSON lists (without their brackets) of `size` items each, made by calling item().
function common.json_lists(count, size, item)
  local lists = {}
  for i = 1, count do
    local items = {}
    for j = 1, size do items[j] = item() end
    lists[i] = table.concat(items, ",")
  end
  return lists
end

-- 32 hash bytes of key k as 64 hex chars (a fixed mix of k; exact in doubles for k < 2^20).
local primes = {2654435761, 2246822519, 3266489917, 668265263,
                374761393, 1181783497, 2870177450, 3734741057}
function common.chunk_hash_hex(k)
  local parts = {}
  for i = 1, 8 do
    parts[i] = string.format("%08x", (k * primes[i] + i * 40503) % 4294967296)
  end
  return table.concat(parts)
end

-- The stored size of key k: 2 MiB plus up to 63 pages.
function common.size_bytes(k)
  return 2097152 + (k % 64) * 4096
end

-- The instance id and seq of the n-th request (from 0) of this thread, which spreads its
-- requests over `slots` instance ids: seq grows by one per batch of an instance, and two batches
-- of one instance are `slots` requests apart, so they arrive in order.
function common.instance_and_seq(n, slots)
  return "bench-" .. thread_id .. "-" .. (n % slots), math.floor(n / slots) + 1
end

-- The JSON key object of key k: a model name, kv_rank `rank` and one of 4 tenant salts.
function common.key_json(k, rank)
  return string.format(
    '{"chunk_hash_hex":"%s","model_name":"meta-llama/Llama-3.1-8B-Instruct",' ..
    '"kv_rank":%d,"object_group_id":0,"cache_salt":"tenant-%d"}',
    common.chunk_hash_hex(k), rank, k % 4)
end

return common

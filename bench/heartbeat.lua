-- wrk script: PUT /instances/bench-<n>/heartbeat over 1,000 registered ids.
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/instances/bench-" .. (counter % 1000) .. "/heartbeat")
end

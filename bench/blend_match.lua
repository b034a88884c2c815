-- wrk script: POST /blend/match with the body in the file named by
-- $BLEND_MATCH_BODY (written by bench/tools/blend_http_bodies.cpp).
local path = os.getenv("BLEND_MATCH_BODY")
local file = assert(io.open(path, "rb"), "cannot open BLEND_MATCH_BODY " .. tostring(path))
wrk.method = "POST"
wrk.path = "/blend/match"
wrk.body = file:read("*a")
wrk.headers["Content-Type"] = "application/json"
file:close()

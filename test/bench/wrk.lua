-- wrk script for make bench (test/bench/run.sh): POST one JSON body again
-- and again, and check every response.
--
-- Environment:
--   BENCH_BODY   the request body (required)
--   BENCH_AUTH   the Authorization header (default "Bearer app-chat")
--   BENCH_END    a string that must appear in the last BENCH_TAIL bytes of
--                each response body: "data: [DONE]" for a proxy stream,
--                "message_end" for a raw Dify stream, the last word for a
--                whole answer (optional)
--   BENCH_TAIL   bytes searched for BENCH_END (default 2048)
--
-- done() prints one line for run.sh:
--   BENCH requests=N duration_us=N connect=N read=N write=N timeout=N
--         status=N bad_status=N bad_end=N
-- (wrk's own error counts, then responses that were not 200 and 200s whose
-- body did not end as it should).

local body = os.getenv("BENCH_BODY")
if body == nil or body == "" then
	io.stderr:write("wrk.lua: BENCH_BODY is not set\n")
	os.exit(2)
end

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH") or "Bearer app-chat"

local want_end = os.getenv("BENCH_END")
if want_end == "" then
	want_end = nil
end
local tail = -(tonumber(os.getenv("BENCH_TAIL") or "") or 2048)

local threads = {}

-- Runs in the main state once per thread: keep them for done().
function setup(thread)
	table.insert(threads, thread)
end

-- Runs in each thread's own state.
function init(args)
	bad_status = 0
	bad_end = 0
end

-- Every response: count the ones that are not whole 200s.
function response(status, headers, rbody)
	if status ~= 200 then
		bad_status = bad_status + 1
	elseif want_end ~= nil and
	    string.find(rbody, want_end, tail, true) == nil then
		bad_end = bad_end + 1
	end
end

function done(summary, latency, requests)
	local bs, be = 0, 0
	for _, t in ipairs(threads) do
		bs = bs + (t:get("bad_status") or 0)
		be = be + (t:get("bad_end") or 0)
	end
	local e = summary.errors
	io.write(string.format("BENCH requests=%d duration_us=%d connect=%d " ..
	    "read=%d write=%d timeout=%d status=%d bad_status=%d bad_end=%d\n",
	    summary.requests, summary.duration, e.connect, e.read, e.write,
	    e.timeout, e.status, bs, be))
end

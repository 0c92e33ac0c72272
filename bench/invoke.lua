-- wrk script: POST the Functions host's invocation of RunCompleted (the event double-encoded in
-- Data.event, as the host sends it), a new event each time.
--
--   wrk ... -s bench/invoke.lua http://127.0.0.1:PORT/RunCompleted -- BODY_FILE [RUN]
--
-- BODY_FILE (or $BENCH_BODY) holds the invocation JSON; bench/run.sh generates it from
-- tests/fixtures/event_grid/run_completed.json. Every request carries its own event id (same
-- length as the fixture's, so every body has the same size): aml-handlers remembers the last
-- 10,000 event ids it completed and acknowledges a redelivery without acting again (docs/actions.md),
-- so one id sent over and over would measure that shortcut instead of the function. RUN (a
-- number) keeps the ids of one wrk run (warm-up, measured run) apart from another's; RUN
-- "static" sends the fixture's invocation unchanged every time (for nginx, which reads no id).
--
-- The request is built once; per request only the id changes, by one string concatenation of
-- three pieces, so the load generator spends its core on the network, not on Lua.
-- done() prints one machine-readable line for bench/run.sh, beside wrk's usual report.

local FIXTURE_ID = "831e1650-001e-001b-66ab-eeb76e069631"
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_index", threads)
end

local before, after, id_head
local counter = 0

function init(args)
   local path = args[1] or os.getenv("BENCH_BODY")
   assert(path, "invoke.lua: give the invocation body file after --, or set BENCH_BODY")
   local file = assert(io.open(path, "rb"))
   local body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["X-Azure-Functions-InvocationId"] = "3f6a2e1c-8c1b-4a8e-9d2f-0b7c5e4a1d90"
   wrk.headers["X-Azure-Functions-HostVersion"] = "4.1036.1.23224"
   if args[2] == "static" then
      -- The same request every time (nginx's ceiling: it reads no id), built once by wrk itself:
      -- the load generator then has the most headroom.
      request = nil
      return
   end
   local request = wrk.format()
   local at = assert(request:find(FIXTURE_ID, 1, true), "invoke.lua: the body does not hold the fixture's event id")
   before = request:sub(1, at - 1)
   after = request:sub(at + #FIXTURE_ID)
   -- 8-4-4-4-12 hex digits, like the fixture's id: run, thread, then a counter.
   id_head = string.format("%08x-%04x-4000-8000-", tonumber(args[2] or "0") % 0x100000000, (thread_index or 1) % 0x10000)
end

function request()
   counter = counter + 1
   return before .. id_head .. string.format("%012x", counter) .. after
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max,
      e.connect, e.read, e.write, e.status, e.timeout))
end

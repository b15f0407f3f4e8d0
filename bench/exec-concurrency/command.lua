-- wrk script for bench/exec-concurrency: every request is POST /run/command {"command":"true"} with the agent's
-- bearer token (BENCH_TOKEN in the environment); every response is checked. A response counts as an error when its
-- status is not 200 or its body lacks "exit_code":0. done() prints one machine-readable line (read by run.sh):
--   requests=R seconds=S p50_us=A p99_us=B max_us=C bad_status=D bad_body=E socket_errors=F
-- (socket_errors: wrk's connect + read + write + timeout errors; wrk counts statuses > 399 itself as well, ours are
-- in bad_status).
local token = os.getenv("BENCH_TOKEN") or error("BENCH_TOKEN is not set")
wrk.method = "POST"
wrk.path = "/run/command"
wrk.body = '{"command":"true"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0
  bad_body = 0
  first_bad = ""
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif not string.find(body, '"exit_code":0', 1, true) then
    bad_body = bad_body + 1
  else
    return
  end
  if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 200) end
end

function done(summary, latency, requests)
  local status, body, first = 0, 0, ""
  for _, t in ipairs(threads) do
    status = status + t:get("bad_status")
    body = body + t:get("bad_body")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format("requests=%d seconds=%.6f p50_us=%d p99_us=%d max_us=%d bad_status=%d bad_body=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), latency.max,
    status, body, e.connect + e.read + e.write + e.timeout))
  if first ~= "" then io.write("first bad response: " .. first .. "\n") end
end

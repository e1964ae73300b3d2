-- wrk script for llmux load tests.
--
--   wrk -t1 -c64 -d10s --latency -s loadtest/post.lua http://127.0.0.1:PORT/v1/chat/completions [-- stream]
--
-- init() builds one ready-made request per model alias with wrk.format(); request()
-- rotates through them, so consecutive requests alternate between the `fast` and the
-- `powerful` alias (both configured as targets in llmux). Passing `stream` after `--`
-- asks for an SSE stream ("stream": true). done() prints one JSON object after a marker
-- line, for loadtest/report.py: the summary, the error counts and latency percentiles
-- (microseconds) at HdrHistogram's reporting ticks (5 per halving of 1/(1-p)).

local aliases = { "fast", "powerful" }
local requests_ready = {}
local counter = 0

function init(args)
   local stream = false
   for _, a in ipairs(args) do
      if a == "stream" then stream = true end
   end
   local path = wrk.path
   if path == nil or path == "" or path == "/" then path = "/v1/chat/completions" end
   local headers = {
      ["Content-Type"] = "application/json",
      -- The `secured` target's consumer key (run.sh's API_KEY); the other targets ignore it.
      ["apikey"] = "loadtest-consumer-key",
      ["Accept"] = stream and "text/event-stream" or "application/json",
   }
   for i, alias in ipairs(aliases) do
      local body = string.format(
         '{"model":"%s","messages":[{"role":"user","content":"Say hello from load test request %d."}],"stream":%s}',
         alias, i, stream and "true" or "false")
      requests_ready[i] = wrk.format("POST", path, headers, body)
   end
end

function request()
   counter = counter + 1
   return requests_ready[(counter % #requests_ready) + 1]
end

-- HdrHistogram's percentile iteration (Java PercentileIterator, 5 ticks per half distance).
local function hdr_ticks(total)
   local ticks = {}
   local p = 0.0
   while true do
      ticks[#ticks + 1] = p
      local half = math.floor(math.log(100.0 / (100.0 - p)) / math.log(2))
      p = p + 100.0 / (5 * 2 ^ (half + 1))
      -- Beyond 1/(1-p) > total requests a percentile says nothing new.
      if p >= 100.0 or 100.0 / (100.0 - p) > math.max(total, 1) then break end
   end
   ticks[#ticks + 1] = 100.0
   return ticks
end

function done(summary, latency, requests)
   local e = summary.errors
   local parts = {}
   for _, p in ipairs(hdr_ticks(summary.requests)) do
      local v = (p >= 100.0) and latency.max or latency:percentile(p)
      parts[#parts + 1] = string.format('[%.10f,%d]', p, v)
   end
   io.write("--- wrk-json ---\n")
   io.write(string.format(
      '{"duration_us":%d,"requests":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"min":%d,"max":%d,"mean":%.3f,"stdev":%.3f,' ..
      '"p50":%d,"p90":%d,"p99":%d,"p99.9":%d},"percentiles_us":[%s]}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.max, latency.mean, latency.stdev,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), table.concat(parts, ",")))
end

-- wrk script for bench/guard_bench.sh: one non-streaming chat completion per request, the body
-- read from the file BENCH_BODY names (bench/guard_ttft.mjs --bodies writes them: a 1 KB or
-- 100 KB prompt, 8 answer tokens), the bearer key from BENCH_KEY. done() prints the BENCH line
-- (as post.lua does).
local key = os.getenv("BENCH_KEY") or "missing-key"
local path = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "mean_us=%.1f err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end

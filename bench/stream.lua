-- wrk script: one small streaming chat completion per request (SSE, 32 token chunks + [DONE]).
-- wrk counts a request when the whole chunked response has arrived, so req/s here is
-- "complete streams per second". See post.lua for BENCH_KEY and the BENCH line.
local key = os.getenv("BENCH_KEY") or "missing-key"

wrk.method = "POST"
wrk.body = '{"model":"chat-small","messages":[{"role":"user","content":"Summarise the ' ..
           'benchmark plan in one short sentence, please; this padding makes the body ' ..
           'about two hundred bytes."}],"stream":true,"mock":{"tokens":32}}'
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

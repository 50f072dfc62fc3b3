-- Shared by every bench script: prints one machine-readable JSON line when wrk finishes.
-- Loaded with dofile() relative to the calling script (see the header of each script).
-- Output line: BENCH_JSON {...}; latencies are in microseconds.
-- A script may define elapsed_s() returning the seconds it really ran (create.lua does when its
-- threads stop at a request cap: wrk itself always reports the whole -d).
function done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  if elapsed_s ~= nil then
    secs = elapsed_s(summary) or secs
  end
  local ok = summary.requests - e.status
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"rps":%.2f,"ok_rps":%.2f,"bytes":%d,' ..
    '"non2xx":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_max_us":%d,"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, secs, summary.requests / secs, ok / secs, summary.bytes,
    e.status, e.connect, e.read, e.write, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end

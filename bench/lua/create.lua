-- POST a new record with a unique body each time (durable create).
-- Usage: wrk ... -s create.lua URL -- <collection> <author-ids-file> [body-bytes] [max-per-thread]
-- With body-bytes > 0 each record also gets a `body` text of that length (scale mode; the same
-- filler text as LOREM in bench/harness.py). With max-per-thread > 0 each thread stops after
-- sending that many requests (scale mode bounds the rows a run adds; wrk then reports the
-- time until the last thread stopped).
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

-- Capped runs: wrk always sleeps the whole -d, so the time until the threads stopped is measured
-- here (CLOCK_MONOTONIC through LuaJIT's ffi) and reported by common.lua's done().
local has_ffi, ffi = pcall(require, "ffi")
local now_us = nil
if has_ffi then
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  now_us = function()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end
end

local counter, threads = 0, {}
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  threads[#threads + 1] = thread
end

-- Seconds from the first request until the last thread stopped (a thread that never reached its
-- cap ran for wrk's whole -d); nil for uncapped runs.
function elapsed_s(summary)
  local first, last = nil, nil
  for _, t in ipairs(threads) do
    local a, b = t:get("t_first"), t:get("t_stop")
    if a == nil then return nil end
    b = b or (a + summary.duration)
    first = (first == nil or a < first) and a or first
    last = (last == nil or b > last) and b or last
  end
  if first == nil then return nil end
  return (last - first) / 1e6
end

local LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " ..
  "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud " ..
  "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat duis aute irure " ..
  "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur "

local path, authors, seq, body_bytes, filler, max_requests = nil, {}, 0, 0, "", 0
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  path = "/api/collections/" .. args[1] .. "/records"
  for line in io.lines(args[2]) do
    if #line > 0 then authors[#authors + 1] = line end
  end
  if #authors == 0 then error("no author ids in " .. args[2]) end
  body_bytes = tonumber(args[3] or "0") or 0
  filler = string.rep(LOREM, math.floor(body_bytes / #LOREM) + 2)
  max_requests = tonumber(args[4] or "0") or 0
  if max_requests > 0 and not has_ffi then
    error("a request cap needs wrk built with LuaJIT (ffi) to time the run")
  end
end
function request()
  seq = seq + 1
  if max_requests > 0 then
    t_first = t_first or now_us()  -- globals: read by elapsed_s() through thread:get
    if seq >= max_requests and t_stop == nil then
      t_stop = now_us()
      wrk.thread:stop()
    end
  end
  local t = tid or 0
  local n = (seq * 7919 + t * 104729) % 1000
  local extra = ""
  if body_bytes > 0 then
    local off = (seq * 37) % #LOREM
    extra = string.format(',"body":"%s"', filler:sub(off + 1, off + body_bytes))
  end
  local body = string.format(
    '{"title":"bench post t%d-%d","n":%d,"cat":"c%d","author":"%s"%s}',
    t, seq, n, n % 50, authors[(seq % #authors) + 1], extra)
  return wrk.format("POST", path, headers, body)
end

-- POST a new record with a unique body each time (durable create).
-- Usage: wrk ... -s create.lua URL -- <collection> <author-ids-file>
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local path, authors, seq = nil, {}, 0
local headers = { ["Content-Type"] = "application/json" }
function init(args)
  path = "/api/collections/" .. args[1] .. "/records"
  for line in io.lines(args[2]) do
    if #line > 0 then authors[#authors + 1] = line end
  end
  if #authors == 0 then error("no author ids in " .. args[2]) end
end
function request()
  seq = seq + 1
  local t = tid or 0
  local n = (seq * 7919 + t * 104729) % 1000
  local body = string.format(
    '{"title":"bench post t%d-%d","n":%d,"cat":"c%d","author":"%s"}',
    t, seq, n, n % 50, authors[(seq % #authors) + 1])
  return wrk.format("POST", path, headers, body)
end

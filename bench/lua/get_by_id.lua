-- GET one record by a random id from a prepared file (one id per line).
-- Usage: wrk ... -s get_by_id.lua URL -- <collection> <ids-file>
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

local ids, prefix = {}, nil
function init(args)
  prefix = "/api/collections/" .. args[1] .. "/records/"
  for line in io.lines(args[2]) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  if #ids == 0 then error("no ids in " .. args[2]) end
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end
function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end

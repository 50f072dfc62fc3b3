-- GET a fixed path (list scenarios). Usage: wrk ... -s get.lua URL -- <path-with-query>
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local req
function init(args)
  req = wrk.format("GET", args[1])
end
function request() return req end

-- POST a new record with one uploaded file each time (multipart, durable create + file write).
-- Usage: wrk ... -s upload.lua URL -- <collection> <file-bytes> <token>
-- The same multipart body is sent every time (the server names each upload anew).
local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "common.lua")

local path, body, headers = nil, nil, nil
function init(args)
  path = "/api/collections/" .. args[1] .. "/records"
  local size = tonumber(args[2] or "1048576")
  -- Incompressible-looking bytes (a repeated 251-byte cycle), text so any MIME check passes.
  local chunk = {}
  for i = 1, 251 do chunk[i] = string.char(97 + (i * 7) % 26) end
  local cycle = table.concat(chunk)
  local data = string.rep(cycle, math.floor(size / #cycle) + 1):sub(1, size)
  local boundary = "----benchboundary7MA4YWxkTrZu0gW"
  body = "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="title"\r\n\r\nbench upload\r\n' ..
    "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="doc"; filename="upload.txt"\r\n' ..
    "Content-Type: text/plain\r\n\r\n" .. data .. "\r\n" ..
    "--" .. boundary .. "--\r\n"
  headers = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }
  if args[3] and #args[3] > 0 then headers["Authorization"] = args[3] end
end
function request()
  return wrk.format("POST", path, headers, body)
end

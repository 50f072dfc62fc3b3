#!/usr/bin/env bash
# One command: build and start Ferrobase (fresh data dir, free port), create a "notes" collection,
# start the verifying receiver, register a webhook pointing at it, create a note, and keep running
# so you can watch verified events while you add notes (dashboard or curl). Ctrl-C stops both.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
export FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true   # the receiver is on 127.0.0.1
fb_start
fb_apply_schema "$here/schema.json"

export WEBHOOK_SECRET="whsec_$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
port="${RECEIVER_PORT:-$(fb_free_port)}"
python3 -u "$here/receiver.py" --port "$port" &
receiver_pid=$!
trap 'kill $receiver_pid 2>/dev/null; fb_stop' EXIT
sleep 0.3

token="$(python3 - "$FB_URL" "$FB_EMAIL" "$FB_PASSWORD" <<'PY'
import json, sys, urllib.request
url, email, password = sys.argv[1:]
req = urllib.request.Request(url + "/api/collections/_superusers/auth-with-password",
    data=json.dumps({"identity": email, "password": password}).encode(),
    headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req))["token"])
PY
)"
curl -fsS -X POST "$FB_URL/api/webhooks" -H "Authorization: $token" -H 'content-type: application/json' \
  -d "{\"name\":\"example\",\"url\":\"http://127.0.0.1:$port/\",\"secret\":\"$WEBHOOK_SECRET\",\"collections\":[\"notes\"]}" >/dev/null
curl -fsS -X POST "$FB_URL/api/collections/notes/records" -H "Authorization: $token" \
  -H 'content-type: application/json' -d '{"text":"hello from run.sh"}' >/dev/null

cat <<MSG

Ferrobase:   $FB_URL  (dashboard $FB_URL/_/ : $FB_EMAIL / $FB_PASSWORD)
Receiver:    http://127.0.0.1:$port/  (secret $WEBHOOK_SECRET)
Add a note and watch the receiver print it:
  curl -X POST $FB_URL/api/collections/notes/records -H 'content-type: application/json' \\
       -H 'Authorization: $token' -d '{"text":"hi"}'
A forged request is refused (401):
  curl -i -X POST http://127.0.0.1:$port/ -H 'webhook-id: x' -H "webhook-timestamp: \$(date +%s)" \\
       -H 'webhook-signature: v1,Zm9yZ2Vk' -d '{}'
Ctrl-C to stop.

MSG
wait "$receiver_pid"

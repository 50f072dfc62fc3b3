#!/usr/bin/env bash
# One command: build and start Ferrobase (fresh data dir) serving this app from public/ (no CDN,
# works offline), with the todos collection and its per-user rules applied. Open the printed URL,
# sign up, add todos; open a second tab to see live updates. Ctrl-C stops the server.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
FB_PORT="${FB_PORT:-$(fb_port_prefer 8090)}"
fb_start --public "$here/public"
fb_apply_schema "$here/schema.json"
cat <<MSG

Todo app:   $FB_URL/
Dashboard:  $FB_URL/_/  ($FB_EMAIL / $FB_PASSWORD)
Sign up two users in two browsers (or a private window): each sees only their own todos.
Ctrl-C to stop (the data dir is temporary; FB_KEEP_DATA=1 keeps it).

MSG
wait "$FB_PID"

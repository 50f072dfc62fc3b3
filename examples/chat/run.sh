#!/usr/bin/env bash
# One command: build and start Ferrobase (fresh data dir, free port), create the rooms and
# messages collections, sign up alice and bob, and open the chat as alice in #general. The
# command to join as bob from another terminal is printed. Type messages; /quit or Ctrl-D leaves.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
(cd "$here" && { [ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error; })
fb_start
fb_apply_schema "$here/schema.json"
for who in alice bob; do
  curl -fsS -X POST "$FB_URL/api/collections/users/records" -H 'content-type: application/json' \
    -d "{\"email\":\"$who@example.com\",\"password\":\"$who-Passw0rd\",\"passwordConfirm\":\"$who-Passw0rd\",\"name\":\"${who^}\"}" >/dev/null
done
cat <<MSG

Ferrobase: $FB_URL  (dashboard $FB_URL/_/ : $FB_EMAIL / $FB_PASSWORD)
Join as bob from another terminal:
  node $here/chat.mjs --url $FB_URL --email bob@example.com --password bob-Passw0rd
Or sign up someone new:
  node $here/chat.mjs --url $FB_URL --email you@example.com --password 'your-Passw0rd' --signup --name You

MSG
node "$here/chat.mjs" --url "$FB_URL" --email alice@example.com --password alice-Passw0rd

#!/usr/bin/env bash
# One command: build and start Ferrobase (fresh data dir), apply schema.json twice (the second
# run changes nothing), list the collections, and keep the server running so you can look at
# them in the dashboard. Ctrl-C stops it. Against your own server, run apply.py directly:
#   python3 examples/schema-import/apply.py schema.json --url URL --email EMAIL --password PASSWORD
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
fb_start
echo "\$ python3 examples/schema-import/apply.py examples/schema-import/schema.json --url $FB_URL ..."
fb_apply_schema "$here/schema.json"
echo
echo "\$ (again: idempotent)"
fb_apply_schema "$here/schema.json"
cat <<MSG

Dashboard: $FB_URL/_/  ($FB_EMAIL / $FB_PASSWORD). Edit schema.json and run
  python3 $here/apply.py $here/schema.json --url $FB_URL --email $FB_EMAIL --password '$FB_PASSWORD'
to apply the change. Ctrl-C to stop.

MSG
wait "$FB_PID"

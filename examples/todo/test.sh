#!/usr/bin/env bash
# The todo app's browser test: Ferrobase serving public/ with the schema applied, then test.mjs in
# headless Chromium (/usr/bin/chromium or $CHROMIUM; installs playwright-core on first run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
(cd "$here" && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; })
fb_start --public "$here/public"
fb_apply_schema "$here/schema.json" >/dev/null
cd "$here" && FB_URL="$FB_URL" node test.mjs

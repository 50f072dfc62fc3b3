#!/usr/bin/env bash
# One command: build and start Ferrobase (fresh data dir, free port), apply schema.json, generate
# src/ferrobase-types.ts with `ferrobase typegen --url …`, compile with `tsc --strict` (which also
# proves src/type-errors.ts's mistakes are rejected) and run the program against the server.
# Needs node >= 20 and npm (installs pocketbase + typescript on first run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
(cd "$here" && { [ -d node_modules/typescript ] && [ -d node_modules/pocketbase ] || npm ci --no-audit --no-fund --loglevel=error >&2; })
fb_start
fb_apply_schema "$here/schema.json" >&2
"$FB_BIN" typegen --url "$FB_URL" --email "$FB_EMAIL" --password "$FB_PASSWORD" \
  --out "$here/src/ferrobase-types.ts" >&2
cd "$here"
rm -rf build
npx --no-install tsc -p . >&2
echo "tsc --strict: ok" >&2
FB_URL="$FB_URL" FB_EMAIL="$FB_EMAIL" FB_PASSWORD="$FB_PASSWORD" node build/main.js

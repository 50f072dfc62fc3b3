#!/usr/bin/env bash
# The chat example's test (test.mjs): live messages, resume after a killed socket and after a
# server restart, exact sequences. Needs node >= 20 and npm (installs `ws` on first run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
fb_build
cd "$here"
[ -d node_modules/ws ] || npm ci --no-audit --no-fund --loglevel=error
FB_BIN="$FB_BIN" node test.mjs

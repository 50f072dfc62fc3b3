#!/usr/bin/env bash
# apply.py's tests (test_apply.py) against a fresh Ferrobase.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
fb_start
export FB_URL FB_EMAIL FB_PASSWORD
cd "$here" && python3 -B -m unittest -v test_apply 2>&1

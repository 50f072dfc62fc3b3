#!/usr/bin/env bash
# The webhook receiver's tests: signature checks offline, then Ferrobase -> receiver end to end.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../lib/server.sh"
# The receiver listens on 127.0.0.1, a private target.
export FERROBASE_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true
fb_start
fb_apply_schema "$here/schema.json" >/dev/null
export FB_URL FB_EMAIL FB_PASSWORD
cd "$here" && python3 -B -m unittest -v test_receiver 2>&1

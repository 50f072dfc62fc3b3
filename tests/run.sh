#!/usr/bin/env bash
# The whole Ferrobase test suite: unit tests beside the code, then the integration tests that drive
# the real binary over HTTP/WS (tests/integration), the bundled plugins' Python tests (plugins/*),
# PocketBase filter compatibility (tests/compat), the PocketBase JS SDK (tests/sdk), the generated
# TypeScript types (tests/typegen), the dashboard (admin-ui/check-dist.sh, tests/ui), then the
# examples (tests/examples).
# Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from your distribution or rustup first" >&2
  exit 1
fi

# Integration tests spawn many servers at once; make sure the fd limit is not the bottleneck.
ulimit -n 20000 2>/dev/null || true

# Includes tests/integration/files_s3.rs, which installs npm s3rver into tests/s3/node_modules
# (npm ci) and runs file storage against it; it skips with a message only without node/npm.
cargo test --all-targets -- --test-threads "${FERROBASE_TEST_THREADS:-4}"

# The bundled plugins' own tests (Python standard library only).
for plugin in plugins/*/; do
  if compgen -G "${plugin}test_*.py" >/dev/null; then
    (cd "$plugin" && python3 -B -m unittest discover -p 'test_*.py')
  fi
done

# Filter/sort compatibility with the real PocketBase (~10 s); fails on differences not listed in
# tests/compat/known.txt.
bash tests/compat/run.sh

# The real PocketBase JS SDK against the server (realtime over SSE); needs node + npm.
bash tests/sdk/run.sh

# `ferrobase typegen`: the generated types pass `tsc --strict` with a program using the JS SDK
# (run against a server) and a file of `@ts-expect-error` mistakes; needs node + npm.
bash tests/typegen/run.sh

# The API description: the vendored docs UI is RapiDoc's npm dist (needs npm), /api/openapi.json
# and .yaml validate (openapi-spec-validator), and schemathesis fuzzing from the document as a
# superuser and as a guest finds no 5xx and no response outside the document (~3 min).
bash src/openapi/ui/check.sh
bash tests/openapi/run.sh

# The dashboard: the committed admin-ui/dist must be what its sources build to (the binary embeds
# it; cargo never runs Node), then a browser smoke test against the real (debug) binary in
# headless Chromium from Debian's package.
bash admin-ui/check-dist.sh
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error \
  && FERROBASE_BIN="$PWD/../../target/debug/ferrobase" node smoke.mjs)

# The examples (examples/*/test.sh: todo in Chromium, chat, webhook receiver, schema import,
# TypeScript), each against a fresh server of the debug build above; after the dashboard step,
# which installs Chromium. Bounded to 3 minutes.
FERROBASE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/ferrobase" bash tests/examples/run.sh

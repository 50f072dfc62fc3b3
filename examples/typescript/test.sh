#!/usr/bin/env bash
# The TypeScript example's test: run.sh end to end (typegen, tsc --strict with the expected type
# errors, the program against the server), its output compared with expected.txt; then the same
# program against a schema where `genre` has a new option must fail to compile (the exhaustive
# switch), which shows the types follow the server's schema.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(bash "$here/run.sh")"
if ! diff -u "$here/expected.txt" <(printf '%s\n' "$out"); then
  echo "FAILED: the program's output differs from expected.txt" >&2
  exit 1
fi
echo "typescript: program output ok"

# A schema change the program does not handle: regenerate and expect tsc to refuse.
source "$here/../lib/server.sh"
fb_start
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"; fb_stop' EXIT
python3 - "$here/schema.json" "$tmp/schema.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
books = next(c for c in doc["collections"] if c["name"] == "books")
next(f for f in books["fields"] if f["name"] == "genre")["values"].append("cookbook")
json.dump(doc, open(sys.argv[2], "w"))
PY
fb_apply_schema "$tmp/schema.json" >/dev/null
cp -r "$here/src" "$here/tsconfig.json" "$tmp/"
ln -s "$here/node_modules" "$tmp/node_modules"
"$FB_BIN" typegen --url "$FB_URL" --email "$FB_EMAIL" --password "$FB_PASSWORD" --out "$tmp/src/ferrobase-types.ts" >/dev/null
if (cd "$tmp" && npx --no-install tsc -p . --noEmit) >"$tmp/tsc.log" 2>&1; then
  echo "FAILED: tsc accepted a program that does not handle the new genre" >&2
  exit 1
fi
grep -q "main.ts.*TS2366\|main.ts.*TS2322\|main.ts.*lacks ending return" "$tmp/tsc.log" || {
  echo "FAILED: unexpected tsc errors:" >&2; cat "$tmp/tsc.log" >&2; exit 1; }
echo "typescript: a new select option is a compile error in the exhaustive switch"

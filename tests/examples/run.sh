#!/usr/bin/env bash
# Every example's own test (examples/*/test.sh), each against a fresh server; needs python3, node
# >= 20 + npm, and Chromium for the todo app. Bounded: each example gets at most 90 s, all of them 3 minutes.
# FERROBASE_BIN reuses a built binary (tests/run.sh passes the debug build); otherwise each test
# runs `cargo build` (a no-op when up to date).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
failed=()
deadline=$(( $(date +%s) + 180 ))
for t in examples/*/test.sh; do
  name="$(basename "$(dirname "$t")")"
  start=$(date +%s)
  budget=$(( deadline - start < 90 ? deadline - start : 90 ))
  echo "== examples/$name"
  if [ "$budget" -gt 0 ] && timeout --kill-after=5 "$budget" bash "$t"; then
    echo "== examples/$name: ok ($(( $(date +%s) - start )) s)"
  else
    echo "== examples/$name: FAILED ($(( $(date +%s) - start )) s)"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed examples: ${failed[*]}" >&2
  exit 1
fi

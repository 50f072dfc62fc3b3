#!/usr/bin/env bash
# sled alone on Ferrobase's key and value sizes (issue 13): is a write bound sled's or ours?
#
#   bash bench/sled_micro/run.sh [ROWS] [flags for sled_micro]    # default 1,000,000 rows
#
# Builds the crate (release, its own target dir bench/sled_micro/target) and runs it twice on a
# fresh directory under that target dir (same disk as the repo, so fsync costs what it costs the
# server): groups of 32 rows per batch + flush (what durable creates under `wrk -c32` commit per
# group) and of 1000 (one /api/batch of 1000 creates). SLED_MICRO_GROUPS="32 1000" overrides.
# Prints rows/s over the last ~10k rows at 10k / 100k / 1M rows, disk bytes and bytes per row,
# then the logical volume written per key kind. Flags: --value-bytes B (400), --cache-mb M (64),
# --no-flush (sled's 500 ms timer instead of a flush per group).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rows="${1:-1000000}"
[[ $# -gt 0 ]] && shift

cargo build --release --quiet --manifest-path "$HERE/Cargo.toml" --target-dir "$HERE/target"
data="$HERE/target/run-data"
trap 'rm -rf "$data"' EXIT
for group in ${SLED_MICRO_GROUPS:-32 1000}; do
  rm -rf "$data"
  mkdir -p "$data"
  echo
  "$HERE/target/release/sled_micro" "$rows" --group "$group" --dir "$data" "$@"
done

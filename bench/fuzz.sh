#!/usr/bin/env bash
# The long fuzz job (not run in CI, which runs a 3,000-case smoke of the same harness):
#   1. the parsers' property tests with many cases (filters, sort, fields, expand, encodings);
#   2. tests/fuzz against the real release binary: random filters, sorts, fields, expand, JSON,
#      multipart and batch bodies, collection definitions and realtime frames as guest, user and
#      superuser. Passes only with zero 5xx, every error in the envelope, and a healthy server.
# Usage: bash bench/fuzz.sh [CASES] [SEED]      (defaults: 1000000 cases, seed 1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ulimit -n 20000 2>/dev/null || true

cases="${1:-1000000}"
seed="${2:-1}"

echo "== parser property tests (${PROPTEST_CASES:=100000} cases each)"
PROPTEST_CASES="$PROPTEST_CASES" cargo test --release --lib -- never_panics

echo "== server fuzz: $cases cases, seed $seed"
FERROBASE_FUZZ_CASES="$cases" FERROBASE_FUZZ_SEED="$seed" \
  cargo test --release --test fuzz -- --nocapture

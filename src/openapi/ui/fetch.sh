#!/usr/bin/env bash
# Vendors RapiDoc (the docs UI at /api/docs) from npm into this folder, pre-gzipped
# (`gzip -9 -n`: no name or timestamp, so the output only depends on the input). The binary
# embeds rapidoc-min.js.gz; cargo never needs Node. Bump VERSION to upgrade, run this, commit.
set -euo pipefail
VERSION=9.3.8
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "rapidoc@$VERSION" --silent >/dev/null && tar xzf "rapidoc-$VERSION.tgz")
gzip -9 -n -c "$tmp/package/dist/rapidoc-min.js" > rapidoc-min.js.gz
cp "$tmp/package/LICENSE.txt" LICENSE.rapidoc.txt 2>/dev/null || cp "$tmp/package/LICENSE" LICENSE.rapidoc.txt
echo "$VERSION" > rapidoc.version
echo "vendored rapidoc $VERSION"

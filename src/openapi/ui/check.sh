#!/usr/bin/env bash
# CI check: the vendored RapiDoc is exactly what npm serves for the pinned version (compares the
# decompressed script, so a different gzip build cannot make it fail).
set -euo pipefail
cd "$(dirname "$0")"
VERSION=$(cat rapidoc.version)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack "rapidoc@$VERSION" --silent >/dev/null && tar xzf "rapidoc-$VERSION.tgz")
want=$(sha256sum < "$tmp/package/dist/rapidoc-min.js")
have=$(gzip -dc rapidoc-min.js.gz | sha256sum)
if [ "$want" != "$have" ]; then
  echo "src/openapi/ui/rapidoc-min.js.gz is not rapidoc $VERSION's dist/rapidoc-min.js: run src/openapi/ui/fetch.sh" >&2
  exit 1
fi
echo "src/openapi/ui: rapidoc $VERSION is up to date."

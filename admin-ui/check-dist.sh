#!/usr/bin/env bash
# CI check: rebuild the dashboard from a clean install and fail if the committed dist/ is stale.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm run build
if [ -n "$(git status --porcelain -- dist)" ]; then
  echo "admin-ui/dist is stale: run 'npm ci && npm run build' in admin-ui/ and commit dist/." >&2
  git status --porcelain -- dist >&2
  exit 1
fi
echo "admin-ui/dist is up to date."

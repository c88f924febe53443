#!/usr/bin/env bash
# Refresh the vendored front-end files from the npm registry (run by hand when upgrading;
# the results are committed, so neither CI nor `make run` needs npm or any CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund
mkdir -p static/vendor/htmx
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx/htmx.min.js
cp node_modules/htmx.org/LICENSE static/vendor/htmx/LICENSE
node -p "require('htmx.org/package.json').version" > static/vendor/htmx/VERSION
echo "vendored htmx $(cat static/vendor/htmx/VERSION)"

#!/usr/bin/env bash
# Installs the browser page's JS (livekit-client) from npm into omnivoice_rtc/web/static/vendor.
# No CDN at run time: the page loads the copy we serve.
set -euo pipefail
cd "$(dirname "$0")/.."
WEB=web-client
OUT=omnivoice_rtc/web/static/vendor
[ -f "$WEB/package.json" ] || exit 0
if [ -f "$OUT/livekit-client.umd.js" ] && [ "$OUT/livekit-client.umd.js" -nt "$WEB/package-lock.json" ]; then
  exit 0
fi
(cd "$WEB" && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --silent; else npm install --no-audit --no-fund --silent; fi)
mkdir -p "$OUT"
cp "$WEB/node_modules/livekit-client/dist/livekit-client.umd.js" "$OUT/livekit-client.umd.js"

#!/usr/bin/env bash
# Installs the browser page's JS (livekit-client, pinned in web-client/package-lock.json)
# from npm into omnivoice_rtc/web/static/vendor/ (gitignored). No CDN at run time: the
# page loads the copy our web server serves. Idempotent: does nothing when the vendored
# file is newer than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
WEB=web-client
OUT=omnivoice_rtc/web/static/vendor
TARGET="$OUT/livekit-client.umd.js"
[ -f "$WEB/package.json" ] || { echo "install-web: $WEB/package.json is missing" >&2; exit 1; }
if [ -f "$TARGET" ] && [ "$TARGET" -nt "$WEB/package-lock.json" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "install-web: npm is missing (scripts/install-debian.sh installs it)" >&2; exit 1; }
# --ignore-scripts: nothing from the registry runs at install time; we only copy a dist file.
(cd "$WEB" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
mkdir -p "$OUT"
cp "$WEB/node_modules/livekit-client/dist/livekit-client.umd.js" "$TARGET.tmp"
mv "$TARGET.tmp" "$TARGET"
echo "install-web: livekit-client $(node -p "require('./$WEB/node_modules/livekit-client/package.json').version" 2>/dev/null || echo '?') -> $TARGET"

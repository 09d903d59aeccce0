#!/usr/bin/env bash
# Installs the Debian packages the local stack and the test suite need, only if missing.
set -euo pipefail
# postgresql: the call ledger's tests run against a real PostgreSQL too (tests/plugins/postgres.py)
pkgs=(redis-server espeak-ng sox sip-tester baresip chromium libopus-dev libopusfile-dev libsoxr-dev pkg-config postgresql)
# GStreamer 1.22: LiveKit Egress (call recording) builds with cgo against these and records
# with their plugins (scripts/install-egress.sh, docs/calls.md)
pkgs+=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm builds the page's JS (livekit-client). Machines of this kind ship Node.js + npm
# already; take Debian's only when there is none, so we never shadow a newer install.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

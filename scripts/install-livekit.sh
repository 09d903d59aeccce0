#!/usr/bin/env bash
# Installs pinned LiveKit Go binaries into ./bin (project-local) if missing.
#
# livekit-server: `go install github.com/livekit/livekit-server/cmd/server@v1.13.5`.
# v1.13.5 is the newest release that builds here: v1.13.6..v1.13.11 replace pion's
# webrtc/dtls/ice with LiveKit forks (`-warp.N` versions) that the module proxy does
# not serve (403), and `go install` refuses modules with replace directives anyway.
# The Go build cache makes the second run a no-op (the stamp file skips it entirely).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
mkdir -p "$BIN"

LIVEKIT_SERVER_VERSION="${LIVEKIT_SERVER_VERSION:-v1.13.5}"

install_go_binary() {  # package version output-name
  local pkg=$1 version=$2 out=$3
  local stamp="$BIN/.$out.version"
  if [ -x "$BIN/$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg@$version" ]; then
    return 0
  fi
  echo "go install $pkg@$version -> bin/$out"
  local tmp
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install "$pkg@$version"
  mv "$tmp/$(basename "$pkg")" "$BIN/$out"
  rmdir "$tmp"
  echo "$pkg@$version" > "$stamp"
}

install_go_binary github.com/livekit/livekit-server/cmd/server "$LIVEKIT_SERVER_VERSION" livekit-server
if [ "${1:-}" = "--sip" ] && [ -f scripts/install-livekit-sip.sh ]; then
  bash scripts/install-livekit-sip.sh
fi

#!/usr/bin/env bash
# Builds bin/omnivoice-media, the shim's native media participant (native/omnivoice-media,
# Go + cgo libopus), if missing or if its sources changed. Its dependencies are pinned by
# native/omnivoice-media/go.sum (the same server-sdk-go v2.5.0 / pion v4.0.9 set that
# livekit-sip v1.0.0 builds with) and come from the Go module proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
SRC=native/omnivoice-media
OUT="$BIN/omnivoice-media"
STAMP="$BIN/.omnivoice-media.version"
mkdir -p "$BIN"

hash=$(cat "$SRC"/go.mod "$SRC"/go.sum "$SRC"/*.go | sha1sum | cut -c1-16)
if [ -x "$OUT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$hash" ]; then
  exit 0
fi
if ! pkg-config --exists opus; then
  echo "install-native: pkg-config cannot find 'opus' (apt-get install libopus-dev pkg-config)" >&2
  exit 1
fi
echo "go build $SRC -> bin/omnivoice-media"
(cd "$SRC" && CGO_ENABLED=1 go build -mod=readonly -trimpath -o "$OUT.tmp" .)
mv "$OUT.tmp" "$OUT"
echo "$hash" > "$STAMP"

#!/usr/bin/env bash
# Installs livekit-sip (github.com/livekit/sip, cmd/livekit-sip) at a pinned version into ./bin.
#
# Why v1.0.0 and not `go install ...@latest`: measured on the Go module proxy this project uses,
#   - the version list (@v/list) of github.com/livekit/sip answers 403, so `go install pkg@vX`
#     fails before building ("loading deprecation ... @v/list: 403"), whatever the version;
#   - v1.1.0, v1.2.0, v1.3.0 serve .info/.mod but their .zip answers 403 ("not available");
#   - v1.0.0 serves .info/.mod/.zip, its go.mod has no replace directives, and it builds.
# So we `go mod download` the module zip and `go build` it in a writable copy of the module,
# with the module's own go.mod/go.sum (every dependency is still checked against go.sum).
#
# GONOSUMDB: the checksum database lookup for github.com/livekit/sip itself answers 404
# through the proxy (".../sumdb/sum.golang.org/lookup/github.com/livekit/sip@v1.0.0: 404"),
# so that one module (only) is exempted from the sumdb check. Its dependencies are not.
#
# cgo: needs pkg-config with opus, opusfile and soxr (Debian: libopus-dev libopusfile-dev
# libsoxr-dev pkg-config; scripts/install-debian.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
mkdir -p "$BIN"

MODULE=github.com/livekit/sip
LIVEKIT_SIP_VERSION="${LIVEKIT_SIP_VERSION:-v1.0.0}"
OUT="$BIN/livekit-sip"
STAMP="$BIN/.livekit-sip.version"

if [ -x "$OUT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$MODULE@$LIVEKIT_SIP_VERSION" ]; then
  exit 0
fi

for lib in opus opusfile soxr; do
  if ! pkg-config --exists "$lib"; then
    echo "install-livekit-sip: pkg-config cannot find '$lib'" \
      "(apt-get install libopus-dev libopusfile-dev libsoxr-dev pkg-config)" >&2
    exit 1
  fi
done

echo "go build $MODULE/cmd/livekit-sip@$LIVEKIT_SIP_VERSION -> bin/livekit-sip"
dir=$(GONOSUMDB="$MODULE" GOFLAGS=-mod=mod go mod download -json "$MODULE@$LIVEKIT_SIP_VERSION" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); print(e, file=sys.stderr) if e else print(d["Dir"]); sys.exit(1 if e else 0)')

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
(cd "$work" && CGO_ENABLED=1 GOFLAGS=-mod=readonly go build -trimpath -o "$OUT.tmp" ./cmd/livekit-sip)
mv "$OUT.tmp" "$OUT"
echo "$MODULE@$LIVEKIT_SIP_VERSION" > "$STAMP"

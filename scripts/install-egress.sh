#!/usr/bin/env bash
# Installs LiveKit Egress (github.com/livekit/egress, cmd/server) at a pinned version into
# ./bin/livekit-egress, for call recording (docs/calls.md).
#
# Why v1.8.6 and `go mod download` + `go build` (not `go install ...@latest`): on the Go
# module proxy this project uses, egress v1.8.0 and v1.8.6 download, newer ones are
# refused and the version list answers 403 (see ../shared notes; the same as livekit-sip).
# The module zip lacks cmd/server/templates, which main.go embeds (`//go:embed templates`;
# only room-composite web recording uses them), so an empty folder is created before the
# build. cgo: GStreamer 1.22 development packages from Debian (scripts/install-debian.sh
# installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/bin"
mkdir -p "$BIN"

MODULE=github.com/livekit/egress
EGRESS_VERSION="${EGRESS_VERSION:-v1.8.6}"
OUT="$BIN/livekit-egress"
STAMP="$BIN/.livekit-egress.version"

# Egress starts each recording's handler as `egress run-handler ...` from PATH (a fixed
# name in pkg/server/server_rpc.go): bin/egress-handler/egress is that name, and the
# stack (omnivoice_rtc/stack/egress.py) puts the folder first on Egress's PATH.
link_handler() {
  mkdir -p "$BIN/egress-handler"
  ln -sfn ../livekit-egress "$BIN/egress-handler/egress"
}

if [ -x "$OUT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$MODULE@$EGRESS_VERSION" ]; then
  link_handler
  exit 0
fi

for lib in gstreamer-1.0 gstreamer-app-1.0 gstreamer-pbutils-1.0; do
  if ! pkg-config --exists "$lib"; then
    echo "install-egress: pkg-config cannot find '$lib' (bash scripts/install-debian.sh)" >&2
    exit 1
  fi
done

echo "go build $MODULE/cmd/server@$EGRESS_VERSION -> bin/livekit-egress"
dir=$(GONOSUMDB="$MODULE" GOFLAGS=-mod=mod go mod download -json "$MODULE@$EGRESS_VERSION" \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); e=d.get("Error"); print(e, file=sys.stderr) if e else print(d["Dir"]); sys.exit(1 if e else 0)')

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
mkdir -p "$work/cmd/server/templates"
echo "<!-- room-composite templates are not part of this build -->" > "$work/cmd/server/templates/index.html"
(cd "$work" && CGO_ENABLED=1 GOFLAGS=-mod=mod go build -trimpath -o "$OUT.tmp" ./cmd/server)
mv "$OUT.tmp" "$OUT"
echo "$MODULE@$EGRESS_VERSION" > "$STAMP"
link_handler

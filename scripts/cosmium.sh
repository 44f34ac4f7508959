#!/usr/bin/env bash
# The Cosmos DB test server for the integration tests: cosmium (a Go server speaking the Cosmos DB REST API),
# built from the Go module proxy. Everything (module cache, build cache, binary) stays under .ci/work/.
#   scripts/cosmium.sh build     -> .ci/work/cosmium/cosmium (about 2 minutes cold)
#   scripts/cosmium.sh start P   -> a server on port P (TLS, self-signed; auth off); send it traffic on 127.0.0.1 only
# Tests start and stop their own server (tests/integration/cosmium.py); DATAFLIX_COSMIUM names another binary.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v0.1.20
WORK="$PWD/.ci/work"
BIN="$WORK/cosmium/cosmium"

case "${1:-}" in
  build)
    # One build at a time: a second one (a test that needs the server while .ci/run's build is still going) waits
    # for the first, then finds its binary.
    mkdir -p "$WORK" && exec 9>"$WORK/cosmium-build.lock" && flock 9
    if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
    command -v go >/dev/null || { echo "cosmium.sh: Go is not installed (apt-get install golang-go)" >&2; exit 2; }
    export GOPATH="$WORK/go" GOMODCACHE="$WORK/go/mod" GOCACHE="$WORK/go/cache" GOFLAGS=-mod=mod
    dir=$(go mod download -json "github.com/pikami/cosmium@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] || { echo "cosmium.sh: go mod download gave no module directory" >&2; exit 1; }
    rm -rf "$WORK/cosmium/src" && mkdir -p "$WORK/cosmium" && cp -r "$dir" "$WORK/cosmium/src" && chmod -R u+w "$WORK/cosmium/src"
    # Built beside, then renamed: a test never sees half a binary.
    (cd "$WORK/cosmium/src" && go build -o "$BIN.partial" ./cmd/server) && mv "$BIN.partial" "$BIN"
    echo "$BIN"
    ;;
  start)
    exec "${DATAFLIX_COSMIUM:-$BIN}" -Port "${2:-8081}" -Host localhost -DisableAuth -LogLevel error
    ;;
  *)
    echo "usage: scripts/cosmium.sh build | start PORT" >&2; exit 2
    ;;
esac

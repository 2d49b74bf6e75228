#!/usr/bin/env bash
# Prints the directory holding oauth2-proxy and vegeta at the pinned versions, for
# bench/proxy-cost.ts. Each is built once from its Go module (through the Go module proxy) into
# a cache outside the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after.
# Build output goes to stderr; the only line on stdout is the directory.
set -euo pipefail

OAUTH2_PROXY_VERSION="v7.15.6"
VEGETA_VERSION="v12.13.0"

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
dir="$cache_root/bench-tools"
mkdir -p "$dir"
command -v go >/dev/null || { echo "bench-tools: Go >= 1.25 is needed to build oauth2-proxy and vegeta" >&2; exit 1; }

build() { # name module version
  local target="$dir/$1-$3"
  if [[ ! -x "$target/$1" ]]; then
    echo "bench-tools: building $1 $3 into $target (once)" >&2
    GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$target.partial" \
      go install -ldflags "-s -w" "$2@$3" >&2
    mkdir -p "$target" && mv "$target.partial/$1" "$target/$1" && rmdir "$target.partial"
  fi
  ln -sfn "$target/$1" "$dir/$1"
}
build oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 "$OAUTH2_PROXY_VERSION"
build vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION"
echo "$dir"

#!/usr/bin/env bash
# Prints the directory holding oauth2-proxy and vegeta at the pinned versions, for
# bench/proxy-cost.ts. Each is built once from its Go module (through the Go module proxy) into
# a cache outside the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after.
# Build output goes to stderr; the only line on stdout is the directory.
set -euo pipefail

OAUTH2_PROXY_VERSION="v7.15.6"
VEGETA_VERSION="v12.13.0"

source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"
dir="$cache_root/bench-tools"
mkdir -p "$dir"

build() { # name package version
  go_install_once "$1" "$2" "$3" "$dir/$1-$3"
  ln -sfn "$dir/$1-$3/$1" "$dir/$1"
}
build oauth2-proxy github.com/oauth2-proxy/oauth2-proxy/v7 "$OAUTH2_PROXY_VERSION"
build vegeta github.com/tsenart/vegeta/v12 "$VEGETA_VERSION"
echo "$dir"

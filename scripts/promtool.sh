#!/usr/bin/env bash
# Prints the path of a promtool binary at the pinned version (for `promtool check rules` and
# `promtool test rules` on the chart's alerts).
#
# PROMTOOL_BIN wins when it is set and runs. Otherwise promtool is built once from its Go
# module (github.com/prometheus/prometheus, through the Go module proxy) into a cache outside
# the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after. Build output
# goes to stderr; the only line on stdout is the binary's path.
set -euo pipefail

# Prometheus v3.x is published as Go module version v0.3xx.
PROMETHEUS_MODULE_VERSION="v0.316.0"

if [[ -n "${PROMTOOL_BIN:-}" ]]; then
  if "$PROMTOOL_BIN" --version >/dev/null 2>&1; then
    echo "$PROMTOOL_BIN"
    exit 0
  fi
  echo "promtool: PROMTOOL_BIN=$PROMTOOL_BIN does not run" >&2
  exit 1
fi

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
dir="$cache_root/promtool/$PROMETHEUS_MODULE_VERSION"
if [[ -x "$dir/promtool" ]]; then
  echo "$dir/promtool"
  exit 0
fi

command -v go >/dev/null || { echo "promtool: Go >= 1.25 is needed to build promtool $PROMETHEUS_MODULE_VERSION (or set PROMTOOL_BIN to a promtool binary)" >&2; exit 1; }

echo "promtool: building promtool (github.com/prometheus/prometheus $PROMETHEUS_MODULE_VERSION) into $dir (once)" >&2
mkdir -p "$dir"
GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$dir.partial" \
  go install -ldflags "-s -w" "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_MODULE_VERSION" >&2
mv "$dir.partial/promtool" "$dir/promtool"
rmdir "$dir.partial"
echo "$dir/promtool"

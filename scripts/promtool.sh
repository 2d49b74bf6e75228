#!/usr/bin/env bash
# Prints the path of a promtool binary at the pinned version (for `promtool check rules` and
# `promtool test rules` on the chart's alerts).
#
# PROMTOOL_BIN wins when it is set and runs. Otherwise promtool is built once from its Go
# module (github.com/prometheus/prometheus, through the Go module proxy) into a cache outside
# the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after. Build output
# goes to stderr; the only line on stdout is the binary's path.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

# Prometheus v3.x is published as Go module version v0.3xx.
PROMETHEUS_MODULE_VERSION="v0.316.0"

use_given_binary promtool "${PROMTOOL_BIN:-}" --version
dir="$cache_root/promtool/$PROMETHEUS_MODULE_VERSION"
go_install_once promtool github.com/prometheus/prometheus/cmd/promtool "$PROMETHEUS_MODULE_VERSION" "$dir"
echo "$dir/promtool"

#!/usr/bin/env bash
# Prints the path of a helm binary at the pinned version.
#
# HELM_BIN wins when it is set and runs. Otherwise helm is built once from its
# Go module (helm.sh/helm/v4, through the Go module proxy) into a cache outside
# the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after.
# Build output goes to stderr; the only line on stdout is the binary's path.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/go-tool.sh"

HELM_VERSION="v4.3.1"

use_given_binary helm "${HELM_BIN:-}" version --short
dir="$cache_root/helm/$HELM_VERSION"
go_install_once helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION" "$dir" \
  "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
echo "$dir/helm"

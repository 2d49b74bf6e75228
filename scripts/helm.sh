#!/usr/bin/env bash
# Prints the path of a helm binary at the pinned version.
#
# HELM_BIN wins when it is set and runs. Otherwise helm is built once from its
# Go module (helm.sh/helm/v4, through the Go module proxy) into a cache outside
# the repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after.
# Build output goes to stderr; the only line on stdout is the binary's path.
set -euo pipefail

HELM_VERSION="v4.3.1"

if [[ -n "${HELM_BIN:-}" ]]; then
  if "$HELM_BIN" version --short >/dev/null 2>&1; then
    echo "$HELM_BIN"
    exit 0
  fi
  echo "helm: HELM_BIN=$HELM_BIN does not run" >&2
  exit 1
fi

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
dir="$cache_root/helm/$HELM_VERSION"
if [[ -x "$dir/helm" ]]; then
  echo "$dir/helm"
  exit 0
fi

command -v go >/dev/null || { echo "helm: Go >= 1.25 is needed to build helm $HELM_VERSION (or set HELM_BIN to a helm binary)" >&2; exit 1; }

echo "helm: building helm $HELM_VERSION into $dir (once)" >&2
mkdir -p "$dir"
version_pkg="helm.sh/helm/v4/internal/version"
GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$dir.partial" \
  go install -ldflags "-s -w -X $version_pkg.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2
mv "$dir.partial/helm" "$dir/helm"
rmdir "$dir.partial"
echo "$dir/helm"

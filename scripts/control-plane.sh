#!/usr/bin/env bash
# Prints a directory holding kube-apiserver, etcd and kubectl (the envtest
# KUBEBUILDER_ASSETS layout) at the pinned versions.
#
# KUBEBUILDER_ASSETS wins when it is set and holds all three binaries.
# Otherwise they are built once from Go modules into a cache outside the
# repository (GATEHOUSE_CACHE, default ~/.cache/gatehouse) and reused after.
# Build output goes to stderr; the only line on stdout is the directory.
set -euo pipefail

KUBERNETES_VERSION="v1.35.4"
ETCD_VERSION="v3.6.6"
BINARIES=(kube-apiserver etcd kubectl)

has_all() {
  local dir="$1"
  for bin in "${BINARIES[@]}"; do [[ -x "$dir/$bin" ]] || return 1; done
}

if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  if has_all "$KUBEBUILDER_ASSETS"; then
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  echo "control-plane: KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks one of: ${BINARIES[*]}" >&2
  exit 1
fi

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"
assets="$cache_root/control-plane/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"
if has_all "$assets"; then
  echo "$assets"
  exit 0
fi

command -v go >/dev/null || { echo "control-plane: Go >= 1.25 is needed to build kube-apiserver and etcd (or set KUBEBUILDER_ASSETS to a directory with kube-apiserver, etcd and kubectl)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-control-plane.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$assets.partial"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

# k8s.io/kubernetes replaces its staging modules with local directories that
# its module zip does not carry: point each one at its published v0.x twin.
build_kubernetes() {
  local dir="$work/kubernetes" staging="v0.${KUBERNETES_VERSION#v1.}"
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init gatehouse.local/control-plane-kubernetes >&2
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
    grep -E '^\s+k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | while read -r module; do
      go mod edit -replace "$module=$module@$staging"
    done
    go mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
    go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" >&2
    local version_pkg="k8s.io/component-base/version"
    local ldflags="-s -w -X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2) -X $version_pkg.gitTreeState=clean"
    ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$KUBERNETES_VERSION"
    go build -ldflags "$ldflags" -o "$assets.partial/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
    go build -ldflags "$ldflags" -o "$assets.partial/kubectl" k8s.io/kubernetes/cmd/kubectl >&2
  )
}

# etcd's server module replaces its sibling modules with ../ paths; a wrapper
# module resolves them from the proxy at the same version.
build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init gatehouse.local/control-plane-etcd >&2
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
    go build -ldflags "-s -w" -o "$assets.partial/etcd" go.etcd.io/etcd/server/v3 >&2
  )
}

echo "control-plane: building kube-apiserver/kubectl $KUBERNETES_VERSION and etcd $ETCD_VERSION into $assets (once)" >&2
build_etcd
build_kubernetes
rm -rf "$assets"
mv "$assets.partial" "$assets"
echo "$assets"

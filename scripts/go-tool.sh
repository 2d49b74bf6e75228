# Sourced by the scripts that provide a Go tool (helm.sh, promtool.sh, bench-tools.sh): builds a
# binary once from its Go module (through the Go module proxy) into a cache outside the
# repository, and reuses it after. Build output goes to stderr.

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}"

# use_given_binary TOOL PATH CHECK_ARG...: when PATH is set (the tool's *_BIN variable), print it
# and exit if it runs with CHECK_ARG..., fail if it does not; return when PATH is empty.
use_given_binary() {
  local tool="$1" path="$2"
  shift 2
  [[ -n "$path" ]] || return 0
  if "$path" "$@" >/dev/null 2>&1; then
    echo "$path"
    exit 0
  fi
  echo "$tool: the given binary $path does not run" >&2
  exit 1
}

# go_install_once TOOL PACKAGE VERSION DIR [LDFLAGS]: DIR/TOOL built from PACKAGE@VERSION unless
# it is there already.
go_install_once() {
  local tool="$1" package="$2" version="$3" dir="$4" ldflags="${5:--s -w}"
  [[ -x "$dir/$tool" ]] && return 0
  command -v go >/dev/null || { echo "$tool: Go >= 1.25 is needed to build $tool $version (or give a $tool binary)" >&2; exit 1; }
  echo "$tool: building $tool ($package $version) into $dir (once)" >&2
  mkdir -p "$dir"
  GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOBIN="$dir.partial" \
    go install -ldflags "$ldflags" "$package@$version" >&2
  mv "$dir.partial/$tool" "$dir/$tool"
  rmdir "$dir.partial"
}

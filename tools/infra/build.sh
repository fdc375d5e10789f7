#!/usr/bin/env bash
# Builds tools/infra/bin/ferretdb-local (FerretDB 1.24 embedded, SQLite backend) if it is missing
# or older than its sources (ferretdb/*.go, go.mod, go.sum). Idempotent; a no-op costs a few stat calls.
# Env: GO (go binary to use; default: go on PATH, else /usr/local/go/bin/go), FORCE=1 to rebuild.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC_DIR="$INFRA_DIR/ferretdb"
BIN_DIR="$INFRA_DIR/bin"
BIN="$BIN_DIR/ferretdb-local"

needs_build() {
  [[ "${FORCE:-}" == 1 ]] && return 0
  [[ -x "$BIN" ]] || return 0
  local f
  for f in "$SRC_DIR"/*.go "$SRC_DIR/go.mod" "$SRC_DIR/go.sum"; do
    [[ -e "$f" && "$f" -nt "$BIN" ]] && return 0
  done
  return 1
}

needs_build || exit 0

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else
    echo "ferretdb: cannot build launcher: no Go toolchain (go not on PATH, no /usr/local/go/bin/go)" >&2
    exit 1
  fi
fi

mkdir -p "$BIN_DIR"

# Serialise concurrent builds (e.g. `make run` and `make test` started together).
if command -v flock >/dev/null 2>&1; then
  exec 8>"$BIN_DIR/.build.lock"
  flock 8
  needs_build || exit 0 # someone else built it while we waited
fi

echo "ferretdb: building launcher with $("$GO" version | awk '{print $3}') (first build takes about a minute)..." >&2
start=$SECONDS
tmp="$BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
  cd "$SRC_DIR"
  GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=mod" "$GO" build -trimpath -o "$tmp" .
)
mv -f "$tmp" "$BIN"
trap - EXIT
echo "ferretdb: built $BIN in $((SECONDS - start))s" >&2

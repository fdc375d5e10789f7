#!/usr/bin/env bash
# Stops the FerretDB launcher started by up.sh (via its pid file). Leaves RabbitMQ alone: it is
# the machine's service, not ours. Idempotent.
# Env: PAYSPEC_DATA_DIR (default <repo>/.data), same as up.sh.
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INFRA_DIR/../.." && pwd)"
DATA_DIR="${PAYSPEC_DATA_DIR:-$REPO_DIR/.data}/ferretdb"
PID_FILE="$DATA_DIR/ferretdb.pid"

if [[ ! -f "$PID_FILE" ]]; then
  echo "ferretdb: not running (no pid file at $PID_FILE)"
  exit 0
fi

pid="$(cat "$PID_FILE" 2>/dev/null || true)"
cmd=""
if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
fi
if [[ "$cmd" != *ferretdb-local* ]]; then
  echo "ferretdb: not running (stale pid file for pid ${pid:-?} removed)"
  rm -f "$PID_FILE"
  exit 0
fi

kill -TERM "$pid"
for _ in $(seq 150); do # up to 15s; the launcher itself gives connections 10s to close
  kill -0 "$pid" 2>/dev/null || break
  # a zombie (parent not reaping yet) counts as stopped
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" == Z ]] && break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]; then
  echo "ferretdb: pid $pid ignored SIGTERM for 15s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
fi
rm -f "$PID_FILE"
echo "ferretdb: stopped (pid $pid)"
echo "rabbitmq: left running (machine service)"

#!/usr/bin/env bash
# Ensures local infrastructure is up (idempotent): FerretDB (MongoDB wire protocol) and RabbitMQ.
# Used by `make infra`, `make run`, `make test` and CI. See tools/infra/README.md.
#
# Env:
#   MONGO_URL         if set, MongoDB is assumed to be provided elsewhere: FerretDB is not touched.
#   AMQP_URL          if set, RabbitMQ is assumed to be provided elsewhere: RabbitMQ is not touched.
#   FERRETDB_PORT     port for FerretDB on 127.0.0.1 (default 27017).
#   PAYSPEC_DATA_DIR  base data dir (default <repo>/.data); FerretDB uses $PAYSPEC_DATA_DIR/ferretdb.
#   FERRETDB_LOG_LEVEL  launcher log level (default warn).
#   RABBITMQ_NODE_PORT  RabbitMQ's own variable; the AMQP port checked/started (default 5672).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$INFRA_DIR/../.." && pwd)"
BIN="$INFRA_DIR/bin/ferretdb-local"

FERRETDB_PORT="${FERRETDB_PORT:-27017}"
DATA_DIR="${PAYSPEC_DATA_DIR:-$REPO_DIR/.data}/ferretdb"
LOG_FILE="$DATA_DIR/ferretdb.log"
PID_FILE="$DATA_DIR/ferretdb.pid"
RABBIT_HOST=127.0.0.1
RABBIT_PORT="${RABBITMQ_NODE_PORT:-5672}" # RabbitMQ's own env var for its AMQP port

# port_open HOST PORT: true if a TCP connection succeeds within 1s.
port_open() {
  timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" >/dev/null 2>&1
}

# is_launcher PID: true if PID is alive and is our ferretdb-local.
is_launcher() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # a zombie (exited, not yet reaped) is not running; its cmdline is empty anyway
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  local cmd
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  [[ "$cmd" == *ferretdb-local* ]]
}

mongo_handshake() { # URL TIMEOUT_S
  node "$INFRA_DIR/wait-mongo.mjs" "$1" "$2"
}

ensure_ferretdb() {
  if [[ -n "${MONGO_URL:-}" ]]; then
    echo "ferretdb: skipped (MONGO_URL is set)"
    return 0
  fi

  local url="mongodb://127.0.0.1:$FERRETDB_PORT/"
  # (errexit does not apply inside `ensure_ferretdb || rc=1`, hence the explicit checks)
  "$INFRA_DIR/build.sh" || { echo "ferretdb: building the launcher failed" >&2; return 1; }
  mkdir -p "$DATA_DIR" || return 1

  # Serialise concurrent up.sh runs so only one launcher gets started.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA_DIR/.up.lock"
    flock -w 120 9 || { echo "ferretdb: timed out waiting for another up.sh" >&2; return 1; }
  fi

  local pid=""
  [[ -f "$PID_FILE" ]] && pid="$(cat "$PID_FILE" 2>/dev/null || true)"

  if port_open 127.0.0.1 "$FERRETDB_PORT"; then
    if ! mongo_handshake "$url" 5 2>/dev/null; then
      echo "ferretdb: port 127.0.0.1:$FERRETDB_PORT is taken by something that does not speak MongoDB; set FERRETDB_PORT or MONGO_URL" >&2
      return 1
    fi
    if is_launcher "$pid"; then
      echo "ferretdb: already running on 127.0.0.1:$FERRETDB_PORT (pid $pid)"
    else
      echo "ferretdb: already running on 127.0.0.1:$FERRETDB_PORT (a MongoDB-compatible server not started by up.sh)"
    fi
    return 0
  fi

  if is_launcher "$pid"; then
    # Our launcher is alive but not listening: still starting up, or wedged. Give it a moment.
    if mongo_handshake "$url" 10 2>/dev/null; then
      echo "ferretdb: already running on 127.0.0.1:$FERRETDB_PORT (pid $pid)"
      return 0
    fi
    echo "ferretdb: pid $pid is alive but not answering; restarting it" >&2
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  elif [[ -n "$pid" ]]; then
    echo "ferretdb: removing stale pid file ($PID_FILE: pid $pid is not a running ferretdb-local)" >&2
  fi
  rm -f "$PID_FILE"

  local start_ns=$(date +%s%N)
  {
    echo "---- $(date -u +%Y-%m-%dT%H:%M:%SZ) up.sh starting ferretdb-local on 127.0.0.1:$FERRETDB_PORT"
  } >>"$LOG_FILE"
  # Detached: own session, no stdin/tty, survives this script and its terminal.
  # DO_NOT_TRACK / FERRETDB_TELEMETRY are not read by the embedded package (which never starts
  # the telemetry reporter); they are set only as a belt-and-braces measure.
  # All inherited descriptors above 2 are closed first, so the launcher never holds our lock or a
  # caller's pipe (which would make e.g. `make infra | tee` or a CI step wait forever).
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd="${fd##*/}"
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    DO_NOT_TRACK=1 FERRETDB_TELEMETRY=disable exec setsid nohup "$BIN" \
      -listen "127.0.0.1:$FERRETDB_PORT" \
      -data-dir "$DATA_DIR" \
      -log-level "${FERRETDB_LOG_LEVEL:-warn}" \
      </dev/null >>"$LOG_FILE" 2>&1
  ) &
  pid=$!
  echo "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + 30))
  until port_open 127.0.0.1 "$FERRETDB_PORT"; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "ferretdb: failed to start on 127.0.0.1:$FERRETDB_PORT; last lines of $LOG_FILE:" >&2
      tail -n 20 "$LOG_FILE" >&2 || true
      kill "$pid" 2>/dev/null || true
      rm -f "$PID_FILE"
      return 1
    fi
    sleep 0.1
  done
  if ! mongo_handshake "$url" $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)); then
    echo "ferretdb: port is open but the MongoDB handshake failed; last lines of $LOG_FILE:" >&2
    tail -n 20 "$LOG_FILE" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -f "$PID_FILE"
    return 1
  fi
  local ms=$((($(date +%s%N) - start_ns) / 1000000))
  echo "ferretdb: started on 127.0.0.1:$FERRETDB_PORT (pid $pid, ready in ${ms}ms, data $DATA_DIR, log $LOG_FILE)"
}

ensure_rabbitmq() {
  if [[ -n "${AMQP_URL:-}" ]]; then
    echo "rabbitmq: skipped (AMQP_URL is set)"
    return 0
  fi
  if port_open "$RABBIT_HOST" "$RABBIT_PORT"; then
    echo "rabbitmq: already running on $RABBIT_HOST:$RABBIT_PORT"
    return 0
  fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "rabbitmq: nothing listens on $RABBIT_HOST:$RABBIT_PORT and rabbitmq-server is not installed; install RabbitMQ or set AMQP_URL" >&2
    return 1
  fi
  local start=$SECONDS
  # Same way the machine starts it: a detached node with the default (guest/guest) config.
  rabbitmq-server -detached >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 60))
  until port_open "$RABBIT_HOST" "$RABBIT_PORT"; do
    if ((SECONDS >= deadline)); then
      echo "rabbitmq: started rabbitmq-server -detached but $RABBIT_HOST:$RABBIT_PORT did not open within 60s" >&2
      local logdir="${RABBITMQ_LOG_BASE:-/var/log/rabbitmq}" newest
      newest="$(ls -t "$logdir"/*.log 2>/dev/null | head -n 1 || true)"
      if [[ -n "$newest" ]]; then
        echo "rabbitmq: last lines of $newest:" >&2
        tail -n 20 "$newest" >&2 || true
      fi
      return 1
    fi
    sleep 0.5
  done
  # The AMQP listener opens late in boot; await_startup confirms the node finished booting.
  if command -v rabbitmqctl >/dev/null 2>&1; then
    local left=$((deadline - SECONDS > 5 ? deadline - SECONDS : 5))
    rabbitmqctl await_startup --timeout "$left" >/dev/null 2>&1 || true
  fi
  echo "rabbitmq: started on $RABBIT_HOST:$RABBIT_PORT (rabbitmq-server -detached, ready in $((SECONDS - start))s)"
}

rc=0
ensure_ferretdb || rc=1
ensure_rabbitmq || rc=1
exit "$rc"

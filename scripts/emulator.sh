#!/usr/bin/env bash
# Manage the local moto AWS emulator used by the tests.
#
#   scripts/emulator.sh start        start it (or reuse a running one); prints its URL
#   scripts/emulator.sh stop         stop it (no error if it is not running)
#   scripts/emulator.sh url          print its URL; exit 1 if it is not running
#   scripts/emulator.sh status       say whether it runs; exit 1 if it does not
#   scripts/emulator.sh calls        table of AWS calls logged since the last reset-calls
#   scripts/emulator.sh reset-calls  empty the call log
#
# Environment:
#   HMS_VENV          virtualenv holding moto (default ~/.cache/hms-infra/venv-moto-5.2.5)
#   HMS_EMULATOR_DIR  state dir: pid, url, server.log, calls.jsonl (default <repo>/.emulator)
#   HMS_EMULATOR_START_TIMEOUT  seconds to wait for it to answer (default 60)
#   MOTO_ACM_VALIDATION_WAIT  seconds before moto issues a DNS-validated ACM certificate (default 3 here,
#                     moto's own is 60): long enough for a test to stop a run while it waits, short for CI
#   MOTO_ECS_SERVICE_RUNNING  tasks a new ECS service reports running (default 2 here)
#   HMS_EMULATOR_LATENCY  SCALE, a number >= 0 (default 0: off): NAT gateways, RDS instances, ALBs, ECS
#                     deployments, ElastiCache replication groups, CloudFront distributions and ACM
#                     certificates stay in their transitional states for SCALE x AWS's typical durations
#                     (the table in emulator/patches/latency.py; e.g. 0.05 for tests, 0.25 for the
#                     benchmark; a certificate's wait is then 120 x SCALE, not MOTO_ACM_VALIDATION_WAIT).
#                     At run time: curl -X POST URL/hms-api/latency -d '{"scale": 0.05}' (add
#                     "account": "123456789012" for one account only); GET URL/hms-api/latency shows it.
#                     A running emulator is reused as it is: stop it to start one with another scale.
#
# Only the URL (start, url) and the calls table go to stdout; all else to stderr.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
MOTO_SPEC='moto[server]==5.2.5'
VENV=${HMS_VENV:-$HOME/.cache/hms-infra/venv-moto-5.2.5}
STATE_DIR=${HMS_EMULATOR_DIR:-$REPO/.emulator}
PID_FILE=$STATE_DIR/pid
URL_FILE=$STATE_DIR/url
LOG_FILE=$STATE_DIR/server.log
CALLS_FILE=$STATE_DIR/calls.jsonl
START_TIMEOUT=${HMS_EMULATOR_START_TIMEOUT:-60}

log() { printf 'emulator: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ensure_venv() {
  local marker=$VENV/.hms-installed
  if [[ -x $VENV/bin/python && -f $marker && $(cat "$marker") == "$MOTO_SPEC" ]]; then
    return 0
  fi
  log "installing $MOTO_SPEC into $VENV (once)"
  mkdir -p "$(dirname "$VENV")"
  # --clear: a half-done earlier install is redone from scratch.
  python3 -m venv --clear "$VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_SPEC" >&2
  printf '%s' "$MOTO_SPEC" >"$marker"
}

# The pid from the pid file, if that process is alive and is our emulator.
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the launcher is `python .../scripts/emulator ...` (the package's
  # __main__.py); `.../scripts/emulator.py ...` is one started before the launcher became a package.
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE '/emulator(\.py|/)? ' || return 1
  fi
  printf '%s\n' "$pid"
}

answers() { # URL
  if command -v curl >/dev/null 2>&1; then
    curl -sf -o /dev/null --max-time 5 "$1/moto-api/"
  else
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=5).read()' "$1" >/dev/null 2>&1
  fi
}

# Prints the URL of a running, answering emulator.
current_url() {
  running_pid >/dev/null || return 1
  [[ -s $URL_FILE ]] || return 1
  local url
  url=$(cat "$URL_FILE")
  answers "$url" || return 1
  printf '%s\n' "$url"
}

# HMS_EMULATOR_LATENCY: a number >= 0 (the launcher checks it too; this says so before installing anything).
check_latency() {
  local v=${HMS_EMULATOR_LATENCY:-}
  [[ -z $v || $v =~ ^[0-9]+(\.[0-9]*)?$|^\.[0-9]+$ ]] ||
    die "HMS_EMULATOR_LATENCY=$v is not a number >= 0 (e.g. 0.05 for tests, 0.25 for the benchmark; 0 or unset: off)"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd_start() {
  check_latency
  mkdir -p "$STATE_DIR"
  # Serialize concurrent starts. fd 9 is closed for the server so it does not hold the lock.
  exec 9>"$STATE_DIR/lock"
  flock 9

  local url
  if url=$(current_url); then
    printf '%s\n' "$url"
    return 0
  fi
  # A stale or unresponsive one: clear it away.
  cmd_stop 2>/dev/null || true

  ensure_venv
  local port pid
  port=$(free_port)
  url="http://127.0.0.1:$port"
  : >"$LOG_FILE"
  touch "$CALLS_FILE"
  log "starting on $url (log: $LOG_FILE)$([[ ${HMS_EMULATOR_LATENCY:-0} =~ ^0*\.?0*$ ]] || echo ", latency x$HMS_EMULATOR_LATENCY")"
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACM_VALIDATION_WAIT=${MOTO_ACM_VALIDATION_WAIT:-3} MOTO_ECS_SERVICE_RUNNING=${MOTO_ECS_SERVICE_RUNNING:-2} HMS_EMULATOR_LATENCY=${HMS_EMULATOR_LATENCY:-0} HMS_EMULATOR_CALL_LOG="$CALLS_FILE" \
    setsid nohup "$VENV/bin/python" "$SCRIPT_DIR/emulator" \
      --host 127.0.0.1 --port "$port" --call-log "$CALLS_FILE" \
      </dev/null >>"$LOG_FILE" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -qx 'ready' "$LOG_FILE"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      log "the emulator exited before it was ready; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      log "the emulator was not ready within ${START_TIMEOUT}s; last lines of $LOG_FILE:"
      tail -n 30 "$LOG_FILE" >&2
      cmd_stop 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
  printf '%s\n' "$url" >"$URL_FILE"
  log "ready (pid $pid)"
  printf '%s\n' "$url"
}

cmd_stop() {
  local pid
  if pid=$(running_pid); then
    log "stopping pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid ignored TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  else
    log "not running"
  fi
  rm -f "$PID_FILE" "$URL_FILE"
}

cmd_url() {
  current_url || die "not running (start it with: scripts/emulator.sh start)"
}

cmd_status() {
  local url
  if url=$(current_url); then
    log "running: $url (pid $(running_pid)), calls logged: $(wc -l <"$CALLS_FILE" 2>/dev/null || echo 0)"
  else
    die "not running"
  fi
}

cmd_reset_calls() {
  mkdir -p "$STATE_DIR"
  : >"$CALLS_FILE"
}

cmd_calls() {
  python3 - "$CALLS_FILE" <<'PY'
import collections, json, sys
counts = collections.Counter()
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            counts[(rec.get("service", "?"), rec.get("operation", "?"))] += 1
except FileNotFoundError:
    pass
rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
sw = max([len("SERVICE")] + [len(s) for (s, _), _ in rows])
print(f"{'COUNT':>7}  {'SERVICE':<{sw}}  OPERATION")
for (s, o), n in rows:
    print(f"{n:>7}  {s:<{sw}}  {o}")
print(f"{sum(counts.values()):>7}  total")
PY
}

usage() {
  sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) cmd_url ;;
  status) cmd_status ;;
  calls) cmd_calls ;;
  reset-calls) cmd_reset_calls ;;
  *) usage ;;
esac

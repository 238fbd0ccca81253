#!/usr/bin/env bash
# The project's test command (CI runs it through .ci/run):
#   fmt check, clippy with -D warnings, then the workspace tests against the moto emulator.
# Extra arguments go to the test runner (cargo nextest run, or cargo test without nextest).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO"

phase() { printf '\n==> %s\n' "$*" >&2; }

phase "emulator"
was_running=false
if bash "$SCRIPT_DIR/emulator.sh" url >/dev/null 2>&1; then
  was_running=true
fi
# One more emulator per integration-test binary (see below), under this root.
TEST_EMULATORS=$REPO/.emulator/tests
stop_test_emulators() {
  local dir
  for dir in "$TEST_EMULATORS"/*/; do
    [[ -d $dir ]] || continue
    HMS_EMULATOR_DIR=${dir%/} bash "$SCRIPT_DIR/emulator.sh" stop 2>/dev/null || true
  done
}
stop_emulator() {
  stop_test_emulators
  if [[ $was_running == false ]]; then
    bash "$SCRIPT_DIR/emulator.sh" stop || true
  fi
}
trap stop_emulator EXIT
url=$(bash "$SCRIPT_DIR/emulator.sh" start)
printf 'emulator at %s%s\n' "$url" "$([[ $was_running == true ]] && echo ' (already running; left running)')" >&2

export AWS_ENDPOINT_URL=$url
export HMS_TEST_ENDPOINT=$url
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hms-infra/target}

phase "emulator self-test (the APIs scripts/emulator/ adds to moto)"
selftest=(--endpoint "$url")
# --check-reset resets the whole emulator: only on one this run started (the tests come after it).
if [[ $was_running == false ]]; then
  selftest+=(--check-reset)
fi
"${HMS_VENV:-$HOME/.cache/hms-infra/venv-moto-5.2.5}/bin/python" "$SCRIPT_DIR/emulator_selftest.py" "${selftest[@]}"

phase "cargo fmt --all --check"
cargo fmt --all --check

phase "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --no-fail-fast)
  # One fresh emulator per integration-test binary: moto answers a describe by scanning everything it
  # holds, so a single emulator shared by the whole suite slows down with every test (the hms-vpc suite
  # took 43 s on a fresh emulator, 1,600 s at the end of a shared run), and separate servers also spread
  # moto's work over the cores. The harness finds a binary's own through HMS_TEST_EMULATORS and
  # NEXTEST_BINARY_ID (hms_tests::endpoint); a binary without one uses the emulator above.
  phase "emulators: one per integration-test binary (under ${TEST_EMULATORS#"$REPO"/})"
  suites=$(cargo nextest list --workspace --message-format json | python3 -c '
import json, sys
for bid, suite in json.load(sys.stdin)["rust-suites"].items():
    if suite["kind"] == "test" and suite["testcases"]:
        print(bid)')
  stop_test_emulators
  rm -rf "$TEST_EMULATORS"
  start_one() { # BINARY_ID: start its emulator, retrying once (two starts may race for a free port)
    local name=${1//::/--}
    local dir=$TEST_EMULATORS/${name//\//-}
    # hms-tests::waits tests the waits: its resources take 0.05 x their AWS durations (NAT 4.5 s, DB 36 s).
    local latency=0
    [[ $1 == hms-tests::waits ]] && latency=0.05
    # Many start at once on a small machine: give each more time than a lone start needs.
    HMS_EMULATOR_LATENCY=$latency HMS_EMULATOR_DIR=$dir HMS_EMULATOR_START_TIMEOUT=180 bash "$SCRIPT_DIR/emulator.sh" start >/dev/null 2>"$dir.log" ||
      HMS_EMULATOR_LATENCY=$latency HMS_EMULATOR_DIR=$dir HMS_EMULATOR_START_TIMEOUT=180 bash "$SCRIPT_DIR/emulator.sh" start >/dev/null 2>>"$dir.log" || {
      cat "$dir.log" >&2
      return 1
    }
  }
  mkdir -p "$TEST_EMULATORS"
  pids=()
  for bid in $suites; do
    start_one "$bid" &
    pids+=($!)
  done
  # Every start is waited for before giving up, so that none is left running behind the EXIT trap.
  failed=0
  for pid in "${pids[@]}"; do
    wait "$pid" || failed=$((failed + 1))
  done
  if ((failed > 0)); then
    echo "$failed of the emulators for the tests did not start" >&2
    exit 1
  fi
  printf '%s emulators started: %s\n' "$(wc -w <<<"$suites")" "$(tr '\n' ' ' <<<"$suites")" >&2
  export HMS_TEST_EMULATORS=$TEST_EMULATORS
else
  runner=(cargo test --workspace --no-fail-fast)
fi
phase "tests: ${runner[*]} $*"
rc=0
"${runner[@]}" "$@" || rc=$?
exit "$rc"

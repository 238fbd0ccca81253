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
stop_emulator() {
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
else
  runner=(cargo test --workspace --no-fail-fast)
fi
phase "tests: ${runner[*]} $*"
rc=0
"${runner[@]}" "$@" || rc=$?
exit "$rc"

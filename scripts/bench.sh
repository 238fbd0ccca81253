#!/usr/bin/env bash
# Benchmarks against the local emulator: cold up, no-op plan, no-op up and down per tool (median of
# BENCH_RUNS runs, default 5), peak RSS, AWS calls by operation, and --version start-up, as one table; the
# same four steps for the whole six-tool pipeline (calls by service) as a second; then
# how hms-ecs grows with the number of services (BENCH_ECS_SCALE, default 2,10,30).
# BENCH_PROFILE=release benchmarks release builds (slower to build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hms-infra/target}
profile=${BENCH_PROFILE:-debug}
if [[ $profile == release ]]; then
  cargo build --workspace --bins --release --quiet
else
  cargo build --workspace --bins --quiet
fi
# A fresh emulator of its own, so that figures do not depend on what earlier runs left in it.
export HMS_EMULATOR_DIR=${HMS_EMULATOR_DIR:-$PWD/.emulator-bench}
bash scripts/emulator.sh stop >/dev/null 2>&1 || true
url=$(bash scripts/emulator.sh start)
trap 'bash scripts/emulator.sh stop >/dev/null 2>&1 || true' EXIT
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "bench: $profile build, emulator $url, $(nproc) cores" >&2
python3 scripts/bench.py --bin "$CARGO_TARGET_DIR/$profile" --calls "$HMS_EMULATOR_DIR/calls.jsonl" \
  --runs "${BENCH_RUNS:-5}" --tools "${BENCH_TOOLS:-hms-vpc,hms-security,hms-db,hms-ecs,hms-backup,hms-observe}" \
  --ecs-scale "${BENCH_ECS_SCALE:-2,10,30}"

#!/usr/bin/env bash
# Benchmarks against the local emulator: cold up, no-op plan, no-op up and down per tool (median of
# BENCH_RUNS runs, default 5), peak RSS, AWS calls by operation, and --version start-up, as one table; the
# same four steps for the whole nine-tool pipeline (scripts/demo.toml; calls by service) as a second; then
# how hms-ecs grows with the number of services (BENCH_ECS_SCALE, default 2,10,30); then the no-op plan and
# up of the first tools with the state on S3 (one object per tool, conditional writes, the lock object)
# instead of local files.
# Last, the stack against AWS-like waits (scripts/bench_latency.py: the emulator's latency mode at
# BENCH_LATENCY_SCALE, default 0.25; the nine-tool and the six-tool stacks side by side, overlapped with
# HMS_OVERLAP=1, each tool's part and the critical path; BENCH_LATENCY_PLAIN=1 adds the nine tools as a
# plain pipeline, BENCH_LATENCY_STACKS=nineplain runs only that one; about 10 minutes). BENCH_ONLY=latency runs only that table; BENCH_LATENCY=0 skips it.
# BENCH_PROFILE=release benchmarks release builds (what `make install` installs; slower to build); the
# --version rows give each binary's start-up time and size.
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
bin=$CARGO_TARGET_DIR/$profile
if [[ ${BENCH_ONLY:-} != latency ]]; then
python3 scripts/bench.py --bin "$bin" --calls "$HMS_EMULATOR_DIR/calls.jsonl" --config scripts/demo.toml \
  --runs "${BENCH_RUNS:-5}" \
  --tools "${BENCH_TOOLS:-hms-vpc,hms-security,hms-dns,hms-db,hms-cache,hms-ecs,hms-edge,hms-backup,hms-observe}" \
  --ecs-scale "${BENCH_ECS_SCALE:-2,10,30}" --title "## Local state (.hms/bench)"
# The same steps with the S3 state store (made once by state bootstrap), for the first three tools.
"$bin/hms-vpc" state bootstrap s3://hms-bench-state/teams </dev/null >/dev/null
python3 scripts/bench.py --bin "$bin" --calls "$HMS_EMULATOR_DIR/calls.jsonl" --config scripts/demo.toml \
  --runs "${BENCH_RUNS:-5}" --tools hms-vpc,hms-security,hms-dns --steps "up (cold),plan (no-op),up (no-op)" \
  --state-base s3://hms-bench-state/teams --title "## S3 state (s3://hms-bench-state/teams)"
fi
if [[ ${BENCH_LATENCY:-1} != 0 ]]; then
  python3 scripts/bench_latency.py --bin "$bin" --calls "$HMS_EMULATOR_DIR/calls.jsonl" --endpoint "$url" \
    --config scripts/demo.toml --scale "${BENCH_LATENCY_SCALE:-0.25}" --state .hms/bench-latency \
    ${BENCH_LATENCY_PLAIN:+--plain} ${BENCH_LATENCY_STACKS:+--stacks "$BENCH_LATENCY_STACKS"}
fi

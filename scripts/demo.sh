#!/usr/bin/env bash
# The main job on a fresh machine: build the tools, start the local AWS emulator, bring the stack up as one
# pipeline, print the stack document, then show that a second look changes nothing
# (`plan --detailed-exitcode` = 0). Safe to run again: the second run is a no-op.
#
# The emulator keeps running afterwards (scripts/emulator.sh stop ends it); state lives in .hms/demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hms-infra/target}

echo "==> building the tools" >&2
cargo build --workspace --bins --quiet
bin=$CARGO_TARGET_DIR/debug

echo "==> starting the emulator" >&2
url=$(bash scripts/emulator.sh start)
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
export HMS_STATE=${HMS_STATE:-.hms/demo}

echo "==> the pipeline: hms-vpc up" >&2
doc=$("$bin/hms-vpc" up)
printf '%s\n' "$doc"

echo "==> plan --detailed-exitcode for every tool (0 = nothing to change)" >&2
rc=0
"$bin/hms-vpc" plan --detailed-exitcode >/dev/null || rc=$?
echo "hms-vpc plan --detailed-exitcode: $rc" >&2

summary=$(printf '%s' "$doc" | python3 -c '
import json, sys
o = json.load(sys.stdin)["outputs"]["vpc"]
print("VPC %s %s over %d AZs: %d private + %d public subnets, %d NAT gateway(s) at %s, S3 endpoint %s, flow log %s" % (
    o["vpc_id"], o["cidr"], len(o["azs"]), len(o["private_subnet_ids"]), len(o["public_subnet_ids"]),
    len(o["nat_gateway_ids"]), ", ".join(o["nat_public_ips"]), o["s3_endpoint_id"], o["flow_log_id"]))
')
echo "==> summary: $summary" >&2
echo "    emulator: $url (stop it with: bash scripts/emulator.sh stop)" >&2
exit "$rc"

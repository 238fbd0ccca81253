#!/usr/bin/env bash
# The main job on a fresh machine: build the tools, start the local AWS emulator, bring the stack up as one
# pipeline, print the stack document, then show that a second look changes nothing
# (`plan --detailed-exitcode` = 0 for every tool). Safe to run again: the second run is a no-op.
#
# The emulator keeps running afterwards (scripts/emulator.sh stop ends it); state lives in .hms/demo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/hms-infra/target}

# The tools in pipeline order, and the demo stack's config (the domain, the cache, the CDN in front).
tools=(hms-vpc hms-security hms-dns hms-db hms-cache hms-ecs hms-edge hms-backup hms-observe)
config=scripts/demo.toml

echo "==> building the tools" >&2
cargo build --workspace --bins --quiet
export PATH=$CARGO_TARGET_DIR/debug:$PATH

echo "==> starting the emulator" >&2
url=$(bash scripts/emulator.sh start)
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
export HMS_STATE=${HMS_STATE:-.hms/demo}

echo "==> the pipeline: $(printf '%s up | ' "${tools[@]}" | sed 's/ | $//') (--config $config)" >&2
# Overlapped (HMS_OVERLAP=1): each tool starts on the early documents of the ones before it. The last
# one writes to a file, so that it holds the final document only.
mkdir -p "$HMS_STATE"
(set -o pipefail; c=(--config "$config"); export HMS_OVERLAP=${HMS_OVERLAP:-1}
  hms-vpc up "${c[@]}" </dev/null | hms-security up "${c[@]}" | hms-dns up "${c[@]}" | hms-db up "${c[@]}" \
    | hms-cache up "${c[@]}" | hms-ecs up "${c[@]}" | hms-edge up "${c[@]}" | hms-backup up "${c[@]}" \
    | hms-observe up "${c[@]}" >"$HMS_STATE/stack.json")
doc=$(cat "$HMS_STATE/stack.json")
printf '%s\n' "$doc"

echo "==> plan --detailed-exitcode for every tool (0 = nothing to change)" >&2
rc=0
for t in "${tools[@]}"; do
  code=0
  "$t" plan --detailed-exitcode --config "$config" </dev/null >/dev/null || code=$?
  echo "$t plan --detailed-exitcode: $code" >&2
  if ((code == 1)); then rc=1; elif ((code == 2 && rc == 0)); then rc=2; fi
done

printf '%s' "$doc" | python3 -c '
import json, sys
d = json.load(sys.stdin)
o = d["outputs"]
v, s, db, ecs, bk, ob = o["vpc"], o["security"], o["db"], o["ecs"], o["backup"], o["observe"]
dns, cache, edge = o["dns"], o["cache"], o["edge"]
print("==> summary", file=sys.stderr)
print("  VPC %s %s over %d AZs: %d private + %d public subnets, NAT at %s, S3 endpoint %s, flow log %s" % (
    v["vpc_id"], v["cidr"], len(v["azs"]), len(v["private_subnet_ids"]), len(v["public_subnet_ids"]),
    ", ".join(v["nat_public_ips"]), v["s3_endpoint_id"], v["flow_log_id"]), file=sys.stderr)
print("  security groups: alb %s, ecs %s, database %s, cache %s" % (
    s["alb_sg_id"], s["ecs_sg_id"], s["database_sg_id"], s["cache_sg_id"]), file=sys.stderr)
print("  roles: execution %s; task roles for %s" % (s["ecs_execution_role_arn"], ", ".join(sorted(s["task_role_arns"]))), file=sys.stderr)
print("  KMS keys: %s" % ", ".join(sorted(s["kms_key_arns"])), file=sys.stderr)
print("  database: %s:%s (PostgreSQL %s, db %s, user %s; password in %s)" % (
    db["endpoint"], db["port"], db["engine_version"], db["db_name"], db["username"], db["master_user_secret_arn"]), file=sys.stderr)
print("  domain %s: zone %s (delegate it to %s), certificates %s (ALB) and %s (CDN, us-east-1), %s" % (
    dns["domain_name"], dns["zone_id"], ", ".join(dns["name_servers"]), dns["certificate_arn"], dns["cdn_certificate_arn"], dns["validation_status"]), file=sys.stderr)
print("  cache: Redis %s %s:%s over TLS, members %s; AUTH token in %s" % (
    cache["engine_version"], cache["primary_endpoint"], cache["port"], ", ".join(cache["member_clusters"]), cache["auth_secret_arn"]), file=sys.stderr)
print("  cluster %s: %s; load balancer %s (HTTPS, reachable from CloudFront only; /api/* to the backend)" % (
    ecs["cluster_name"], ", ".join("%s (%s)" % (k, v["name"]) for k, v in sorted(ecs["services"].items())), ecs["alb_dns_name"]), file=sys.stderr)
print("  the application at %s: CloudFront %s (%s), static assets from s3://%s, web ACL %s" % (
    edge["url"], edge["distribution_id"], edge["distribution_domain_name"], edge["static_bucket"], edge["web_acl_arn"]), file=sys.stderr)
print("  backups: s3://%s (%s, versioned, TLS only, KMS key %s)" % (bk["bucket"], bk["region"], bk["kms_key_arn"] or "SSE-S3"), file=sys.stderr)
print("  monitoring: %d alarms (%s) to %s; dashboard %s; X-Ray rule %s, group %s" % (
    ob["alarm_count"], ", ".join(sorted(ob["alarms"].values())), ob["topic_arn"], ob["dashboard"], ob["sampling_rule"], ob["xray_group"]), file=sys.stderr)
'
echo "    emulator: $url (stop it with: bash scripts/emulator.sh stop)" >&2
exit "$rc"

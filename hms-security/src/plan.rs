//! The desired security resources and the plan against what exists. Pure.

use hms_core::diff::{self, Desired, FoundSet};
use hms_core::plan::{Action, Plan};
use hms_core::policy::normalize;
use serde_json::{json, Value};

use crate::observe::Observed;
use crate::spec::{Peer, Spec};

/// The AWS-managed policy every ECS task execution role needs.
pub const EXECUTION_MANAGED_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// Name of the inline policies the tool writes.
pub const INLINE_POLICY: &str = "hms-permissions";

/// Security group address.
pub fn sg(group: &str) -> String {
    format!("security.sg.{group}")
}
/// The task execution role.
pub const EXECUTION_ROLE: &str = "security.iam.execution_role";
/// Its managed policy attachment.
pub const EXECUTION_MANAGED: &str =
    "security.iam.execution_role.managed[AmazonECSTaskExecutionRolePolicy]";
/// Its inline policy.
pub const EXECUTION_POLICY: &str = "security.iam.execution_role.policy";
/// A service's task role.
pub fn task_role(service: &str) -> String {
    format!("security.iam.task_role[{service}]")
}
/// A task role's inline policy.
pub fn task_policy(service: &str) -> String {
    format!("security.iam.task_role[{service}].policy")
}
/// A KMS key.
pub fn key(name: &str) -> String {
    format!("security.kms.{name}")
}
/// A KMS key's alias.
pub fn alias(name: &str) -> String {
    format!("security.kms.{name}.alias")
}

/// Placeholder for an ARN not known until the resource at `address` exists; apply fills it in.
pub fn arn_of(address: &str) -> String {
    format!("${{{address}.arn}}")
}

/// Replaces `${address.arn}` placeholders with known ARNs.
pub fn render(doc: &Value, arn: &dyn Fn(&str) -> Option<String>) -> Value {
    match doc {
        Value::String(s) if s.starts_with("${") && s.ends_with(".arn}") => {
            let address = &s[2..s.len() - 5];
            arn(address).map(Value::from).unwrap_or_else(|| doc.clone())
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, arn)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), render(v, arn))).collect())
        }
        other => other.clone(),
    }
}

/// Trust policy for ECS tasks, limited to this account.
pub fn ecs_trust(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
}

/// The execution role's inline policy: this stack's RDS-managed master secret, decrypt with its keys.
pub fn execution_policy(spec: &Spec, account: &str) -> Value {
    let db_arn = format!(
        "arn:aws:rds:{}:{account}:db:{}",
        spec.region, spec.db_instance_id
    );
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisStacksDatabaseSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                "Resource": format!("arn:aws:secretsmanager:{}:{account}:secret:rds!db-*", spec.region),
                "Condition": {"StringEquals": {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": db_arn}}
            },
            {
                "Sid": "DecryptWithThisStacksKeys",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [arn_of(&key("rds")), arn_of(&key("logs"))]
            }
        ]
    })
}

/// A task role's inline policy: X-Ray for every service, the backup prefix for those allowed.
pub fn task_policy_doc(spec: &Spec, backup_write: bool) -> Value {
    let mut statements = vec![json!({
        "Sid": "XRay",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
        "Resource": "*"
    })];
    if backup_write {
        statements.push(json!({
            "Sid": "WriteBackups",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": format!("arn:aws:s3:::{}/{}*", spec.backup_bucket, spec.backup_prefix)
        }));
        statements.push(json!({
            "Sid": "EncryptBackups",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
            "Resource": arn_of(&key("backups"))
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A key policy: the account administers the key; the `logs` key also lets CloudWatch Logs use it for
/// this account's log groups.
pub fn key_policy(spec: &Spec, name: &str, account: &str) -> Value {
    let mut statements = vec![json!({
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })];
    if name == "logs" {
        statements.push(json!({
            "Sid": "CloudWatchLogsUse",
            "Effect": "Allow",
            "Principal": {"Service": format!("logs.{}.amazonaws.com", spec.region)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:{}:{account}:log-group:*", spec.region)}}
        }));
    }
    json!({"Version": "2012-10-17", "Id": format!("{}-{name}", spec.tagger.name("key")), "Statement": statements})
}

fn peer_attr(p: &Peer) -> Value {
    match p {
        Peer::Cidr(c) => Value::from(c.to_string()),
        Peer::Group(g) => Value::from(sg(g)),
    }
}

/// Every resource the spec wants. `observed` supplies the account and the ARNs that already exist.
pub fn desired(spec: &Spec, observed: &Observed) -> Vec<Desired> {
    let account = observed.account.as_str();
    let arn = |a: &str| {
        observed
            .found
            .get(a)
            .and_then(|f| f.info.get("arn"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut out = Vec::new();
    let vpc = spec
        .vpc_id
        .clone()
        .unwrap_or_else(|| "(known after hms-vpc up)".into());
    for (group, name) in &spec.groups {
        out.push(
            Desired::new(sg(group))
                .attr("name", name.clone())
                .attr(
                    "description",
                    format!(
                        "HMS {group} ({} {})",
                        spec.tagger.id.stack, spec.tagger.id.env
                    ),
                )
                .attr("vpc", vpc.clone())
                .tags(spec.tags(&sg(group), name))
                .replace_on(&["name", "description", "vpc"]),
        );
    }
    for rule in &spec.rules {
        let mut deps = vec![sg(&rule.group)];
        if let Peer::Group(g) = &rule.peer {
            deps.push(sg(g));
        }
        out.push(
            Desired::new(rule.address())
                .attr("group", sg(&rule.group))
                .attr("egress", rule.egress)
                .attr("protocol", "tcp")
                .attr("ports", format!("{}-{}", rule.port, rule.port))
                .attr("peer", peer_attr(&rule.peer))
                .replace_on(&["group", "egress", "protocol", "ports", "peer"])
                .uses(deps),
        );
    }
    let role = |address: &str, name: &str| {
        Desired::new(address)
            .attr("name", name.to_owned())
            .attr("assume_role_policy", normalize(&ecs_trust(account)))
            .tags(spec.tags(address, name))
            .replace_on(&["name"])
    };
    out.push(role(EXECUTION_ROLE, &spec.execution_role));
    out.push(
        Desired::new(EXECUTION_MANAGED)
            .attr("policy_arn", EXECUTION_MANAGED_POLICY)
            .replace_on(&["policy_arn"])
            .uses([EXECUTION_ROLE]),
    );
    out.push(
        Desired::new(EXECUTION_POLICY)
            .attr(
                "document",
                normalize(&render(&execution_policy(spec, account), &arn)),
            )
            .uses([EXECUTION_ROLE.to_owned(), key("rds"), key("logs")]),
    );
    for t in &spec.task_roles {
        out.push(role(&task_role(&t.service), &t.name));
        let mut deps = vec![task_role(&t.service)];
        if t.backup_write {
            deps.push(key("backups"));
        }
        out.push(
            Desired::new(task_policy(&t.service))
                .attr(
                    "document",
                    normalize(&render(&task_policy_doc(spec, t.backup_write), &arn)),
                )
                .uses(deps),
        );
    }
    for (name, alias_name) in &spec.keys {
        out.push(
            Desired::new(key(name))
                .attr(
                    "description",
                    format!(
                        "HMS {name} key ({} {})",
                        spec.tagger.id.stack, spec.tagger.id.env
                    ),
                )
                .attr("enabled", true)
                .attr("rotation", true)
                .attr("policy", normalize(&key_policy(spec, name, account)))
                .tags(spec.tags(&key(name), alias_name)),
        );
        out.push(
            Desired::new(alias(name))
                .attr("name", alias_name.clone())
                .attr("target", key(name))
                .replace_on(&["name"])
                .uses([key(name)]),
        );
    }
    out
}

/// The plan that makes AWS match the spec. Rules found that the spec does not have are drift: removed by
/// `up` without `--allow-destroy` (or kept with `security.keep_unmanaged_rules`).
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut found: FoundSet = observed.found.clone();
    let wanted: Vec<String> = spec.rules.iter().map(|r| r.address()).collect();
    let unmanaged = |a: &str| {
        a.starts_with("security.rule.")
            && !wanted.iter().any(|w| w == a)
            && !observed.recorded_rules.contains(a)
    };
    if spec.keep_unmanaged_rules {
        found.retain(|a, _| !unmanaged(a));
    }
    let mut plan = diff::diff(&desired(spec, observed), &found);
    for c in &mut plan.changes {
        if c.action == Action::Delete && c.address.starts_with("security.rule.") {
            // Removing a rule loses no data: drift removal, without --allow-destroy.
            c.drift = true;
            c.reason = if unmanaged(&c.address) {
                String::from("added outside hms-security: drift (security.keep_unmanaged_rules=true keeps it)")
            } else {
                String::from("no longer in the config")
            };
        }
    }
    plan
}

/// The plan that deletes everything hms-security owns (keys: scheduled deletion).
pub fn plan_down(observed: &Observed) -> Plan {
    diff::delete_all(&observed.found, "down")
}

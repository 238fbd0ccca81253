//! hms-security against the emulator, behind hms-vpc as in the pipeline; asserts on what the emulator holds.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, SecurityGroup};
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

/// `hms-vpc up`, then `hms-security ARGS` with its document on stdin.
fn after_vpc(s: &Stack, args: &[&str], code: i32) -> (Value, String) {
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    s.run_of("hms-security", args, &vpc.to_string(), code)
}

fn groups(s: &Stack) -> Vec<SecurityGroup> {
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    s.block_on(
        ec2.describe_security_groups()
            .filters(
                Filter::builder()
                    .name("tag:hms:stack")
                    .values(&s.name)
                    .build(),
            )
            .filters(
                Filter::builder()
                    .name("tag:hms:tool")
                    .values("hms-security")
                    .build(),
            )
            .send(),
    )
    .expect("groups")
    .security_groups()
    .to_vec()
}

/// Every rule as "group dir proto/from-to peer", peers named by group key where they are ours.
fn rules(s: &Stack) -> BTreeSet<String> {
    let gs = groups(s);
    let key = |id: &str| {
        gs.iter()
            .find(|g| g.group_id() == Some(id))
            .and_then(|g| {
                g.tags()
                    .iter()
                    .find(|t| t.key() == Some("hms:address"))
                    .and_then(|t| t.value())
            })
            .map(|a| a.trim_start_matches("security.sg.").to_owned())
            .unwrap_or_else(|| id.to_owned())
    };
    let mut out = BTreeSet::new();
    for g in &gs {
        let me = key(g.group_id().expect("id"));
        for (dir, perms) in [
            ("in", g.ip_permissions()),
            ("out", g.ip_permissions_egress()),
        ] {
            for p in perms {
                let ports = format!(
                    "{}/{}-{}",
                    p.ip_protocol().unwrap_or("?"),
                    p.from_port().unwrap_or(-1),
                    p.to_port().unwrap_or(-1)
                );
                for r in p.ip_ranges() {
                    out.insert(format!(
                        "{me} {dir} {ports} {}",
                        r.cidr_ip().unwrap_or_default()
                    ));
                }
                for r in p.ipv6_ranges() {
                    out.insert(format!(
                        "{me} {dir} {ports} {}",
                        r.cidr_ipv6().unwrap_or_default()
                    ));
                }
                for r in p.user_id_group_pairs() {
                    out.insert(format!(
                        "{me} {dir} {ports} sg:{}",
                        key(r.group_id().unwrap_or_default())
                    ));
                }
            }
        }
    }
    out
}

fn reference_rules(extra_port: Option<u16>) -> BTreeSet<String> {
    let mut ports = vec![80, 8000];
    ports.extend(extra_port);
    let mut want: Vec<String> = vec![
        "alb in tcp/80-80 0.0.0.0/0".into(),
        "alb in tcp/80-80 ::/0".into(),
        "alb in tcp/443-443 0.0.0.0/0".into(),
        "alb in tcp/443-443 ::/0".into(),
        "ecs out tcp/443-443 0.0.0.0/0".into(),
        "ecs out tcp/5432-5432 sg:database".into(),
        "ecs out tcp/6379-6379 sg:cache".into(),
        "database in tcp/5432-5432 sg:ecs".into(),
        "cache in tcp/6379-6379 sg:ecs".into(),
    ];
    for p in ports {
        want.push(format!("alb out tcp/{p}-{p} sg:ecs"));
        want.push(format!("ecs in tcp/{p}-{p} sg:alb"));
    }
    want.into_iter().collect()
}

fn role_name(s: &Stack, suffix: &str) -> String {
    format!("{}-{suffix}", s.name)
}

#[test]
fn pipeline_builds_groups_roles_and_keys_and_converges() {
    let s = Stack::new("hms-security", "sec");
    let (doc, err) = after_vpc(&s, &["up"], 0);
    assert!(
        doc["outputs"]["vpc"]["vpc_id"].is_string(),
        "the document keeps outputs.vpc"
    );
    let out = &doc["outputs"]["security"];

    // Four groups, in the VPC, with exactly the rules of the design and nothing else.
    let gs = groups(&s);
    assert_eq!(gs.len(), 4, "{err}");
    let mut names: Vec<&str> = gs.iter().filter_map(|g| g.group_name()).collect();
    names.sort();
    let want_names = ["alb", "cache", "database", "ecs"].map(|g| format!("{}-{g}", s.name));
    assert_eq!(
        names,
        want_names.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(gs
        .iter()
        .all(|g| g.vpc_id() == doc["outputs"]["vpc"]["vpc_id"].as_str()));
    assert_eq!(rules(&s), reference_rules(None));
    for g in ["alb", "ecs", "database", "cache"] {
        let id = out[format!("{g}_sg_id")].as_str().expect("sg id");
        assert!(gs.iter().any(|x| x.group_id() == Some(id)));
    }

    // The execution role: trust for ECS tasks of this account only, the managed policy, and secrets/keys.
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let exec = role_name(&s, "ecs-execution-role");
    let role = s
        .block_on(iam.get_role().role_name(&exec).send())
        .expect("role");
    let trust = hms_core::policy::normalize(&Value::from(
        role.role()
            .and_then(|r| r.assume_role_policy_document())
            .expect("trust"),
    ));
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"][0],
        "ecs-tasks.amazonaws.com"
    );
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"][0],
        "123456789012"
    );
    assert_eq!(
        out["ecs_execution_role_arn"],
        role.role().map(|r| r.arn()).expect("arn")
    );
    let attached = s
        .block_on(iam.list_attached_role_policies().role_name(&exec).send())
        .expect("attached");
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(
        arns,
        vec!["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"]
    );
    let inline = s
        .block_on(
            iam.get_role_policy()
                .role_name(&exec)
                .policy_name("hms-permissions")
                .send(),
        )
        .expect("inline");
    let doc_exec = hms_core::policy::normalize(&Value::from(inline.policy_document()));
    let text = doc_exec.to_string();
    assert!(
        text.contains("secretsmanager:GetSecretValue")
            && text.contains(&format!("db:{}-db", s.name)),
        "{text}"
    );
    assert!(
        text.contains(out["kms_key_arns"]["rds"].as_str().expect("rds arn")),
        "{text}"
    );
    assert!(!text.contains("${"), "no unresolved placeholders: {text}");

    // One task role per service: X-Ray for both, backups only for the backend.
    for (svc, backups) in [("backend", true), ("frontend", false)] {
        let name = role_name(&s, &format!("{svc}-task-role"));
        let p = s
            .block_on(
                iam.get_role_policy()
                    .role_name(&name)
                    .policy_name("hms-permissions")
                    .send(),
            )
            .expect("task policy");
        let text = hms_core::policy::normalize(&Value::from(p.policy_document())).to_string();
        assert!(
            text.contains("xray:PutTraceSegments") && text.contains("xray:PutTelemetryRecords"),
            "{svc}: {text}"
        );
        assert_eq!(text.contains("s3:PutObject"), backups, "{svc}: {text}");
        assert_eq!(
            out["task_role_arns"][svc],
            format!("arn:aws:iam::123456789012:role/{name}")
        );
    }

    // Four keys, rotation on, aliases alias/<stack>-<env>-<name>; the logs key lets CloudWatch Logs in.
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    for k in ["rds", "backups", "logs", "alarms"] {
        let arn = out["kms_key_arns"][k].as_str().expect("key arn");
        let key_id = arn.rsplit('/').next().expect("id");
        let rot = s
            .block_on(kms.get_key_rotation_status().key_id(key_id).send())
            .expect("rotation");
        assert!(rot.key_rotation_enabled(), "{k}");
        let alias = format!("alias/{}-production-{k}", s.name);
        let a = s
            .block_on(kms.describe_key().key_id(&alias).send())
            .expect("alias resolves");
        assert_eq!(a.key_metadata().map(|m| m.key_id()), Some(key_id));
        let policy = s
            .block_on(
                kms.get_key_policy()
                    .key_id(key_id)
                    .policy_name("default")
                    .send(),
            )
            .expect("policy");
        assert_eq!(
            policy
                .policy()
                .expect("policy")
                .contains("logs.us-east-1.amazonaws.com"),
            k == "logs",
            "{k}"
        );
    }

    // A second up changes nothing; plan --detailed-exitcode exits 0.
    let (doc2, _) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0));
    after_vpc(&s, &["plan", "--detailed-exitcode"], 0);
}

/// A policy value that IAM and KMS may hold as a string or a one-element list, as the string.
fn one(v: &Value) -> Value {
    match v.as_array().map(Vec::as_slice) {
        Some([x]) => x.clone(),
        _ => v.clone(),
    }
}

/// The statements of a key's policy, parsed, by Sid.
fn key_statements(s: &Stack, arn: &str) -> std::collections::BTreeMap<String, Value> {
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    let policy = s
        .block_on(
            kms.get_key_policy()
                .key_id(arn)
                .policy_name("default")
                .send(),
        )
        .expect("policy");
    let doc: Value = serde_json::from_str(policy.policy().expect("policy")).expect("policy JSON");
    doc["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|st| {
            (
                st["Sid"].as_str().unwrap_or_default().to_owned(),
                st.clone(),
            )
        })
        .collect()
}

#[test]
fn the_alarm_topic_key_and_the_monitoring_role_are_this_accounts_only() {
    let s = Stack::new("hms-security", "alarmkey");
    let (doc, err) = after_vpc(&s, &["up"], 0);
    let out = &doc["outputs"]["security"];

    // The alarms key: the account administers it; CloudWatch alarms and RDS events may use it, from
    // this account only, and nobody else is named.
    let arn = out["kms_key_arns"]["alarms"].as_str().expect("alarms key");
    let st = key_statements(&s, arn);
    assert_eq!(
        st.keys().cloned().collect::<Vec<_>>(),
        vec!["AccountAdministers", "AlarmTopicPublishers"],
        "{err}"
    );
    assert_eq!(
        one(&st["AccountAdministers"]["Principal"]["AWS"]),
        "arn:aws:iam::123456789012:root"
    );
    let publish = &st["AlarmTopicPublishers"];
    assert_eq!(publish["Effect"], "Allow");
    let mut services: Vec<&str> = publish["Principal"]["Service"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            "cloudwatch.amazonaws.com",
            "events.rds.amazonaws.com",
            "s3.amazonaws.com"
        ]
    );
    let mut actions: Vec<&str> = publish["Action"]
        .as_array()
        .expect("actions")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    actions.sort_unstable();
    assert_eq!(actions, ["kms:Decrypt", "kms:GenerateDataKey*"]);
    assert_eq!(
        publish["Condition"].as_object().map(|c| c.len()),
        Some(1),
        "{publish}"
    );
    assert_eq!(
        publish["Condition"]["StringEquals"]
            .as_object()
            .map(|c| c.len()),
        Some(1),
        "{publish}"
    );
    assert_eq!(
        one(&publish["Condition"]["StringEquals"]["aws:SourceAccount"]),
        "123456789012"
    );
    // The other keys do not let them in.
    let rds = key_statements(&s, out["kms_key_arns"]["rds"].as_str().expect("rds"));
    assert!(!rds.contains_key("AlarmTopicPublishers"));

    // The monitoring role: trusted by RDS enhanced monitoring of this account, the managed policy.
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let name = role_name(&s, "rds-monitoring-role");
    let role = s
        .block_on(iam.get_role().role_name(&name).send())
        .expect("monitoring role");
    let role = role.role().expect("role");
    assert_eq!(out["monitoring_role_arn"], role.arn());
    let trust: Value = serde_json::from_str(
        &role
            .assume_role_policy_document()
            .map(|d| {
                // IAM returns the document URL-encoded.
                let d = d
                    .replace("%22", "\"")
                    .replace("%3A", ":")
                    .replace("%2F", "/");
                d.replace("%7B", "{")
                    .replace("%7D", "}")
                    .replace("%5B", "[")
                    .replace("%5D", "]")
                    .replace("%2C", ",")
                    .replace("%20", " ")
            })
            .expect("trust"),
    )
    .expect("trust JSON");
    let t = &trust["Statement"][0];
    assert_eq!(trust["Statement"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        one(&t["Principal"]["Service"]),
        "monitoring.rds.amazonaws.com"
    );
    assert_eq!(one(&t["Action"]), "sts:AssumeRole");
    assert_eq!(
        t["Condition"]["StringEquals"].as_object().map(|c| c.len()),
        Some(1),
        "{trust}"
    );
    assert_eq!(
        one(&t["Condition"]["StringEquals"]["aws:SourceAccount"]),
        "123456789012"
    );
    let attached = s
        .block_on(iam.list_attached_role_policies().role_name(&name).send())
        .expect("attached");
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(
        arns,
        ["arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]
    );

    // Converged; detaching the managed policy by hand is drift that up restores.
    let (again, _) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.block_on(
        iam.detach_role_policy()
            .role_name(&name)
            .policy_arn("arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
            .send(),
    )
    .expect("detach");
    let (fixed, _) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&fixed), (1, 0, 0));
}

#[test]
fn hand_made_rules_are_drift_and_reordered_policies_are_not() {
    let s = Stack::new("hms-security", "drift");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let ecs = doc["outputs"]["security"]["ecs_sg_id"]
        .as_str()
        .expect("ecs sg")
        .to_owned();
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    s.block_on(
        ec2.authorize_security_group_ingress()
            .group_id(&ecs)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(22)
                    .to_port(22)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .send(),
    )
    .expect("hand-made rule");
    let (_, err) = after_vpc(&s, &["plan", "--detailed-exitcode"], 2);
    assert!(
        err.contains("security.rule.ecs.ingress[tcp/22 from 0.0.0.0/0]")
            && err.contains("1 to delete"),
        "{err}"
    );
    // Kept when asked to.
    after_vpc(
        &s,
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "security.keep_unmanaged_rules=true",
        ],
        0,
    );
    // Removed by a plain up: drift removal needs no --allow-destroy.
    let (doc, _) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 1));
    assert_eq!(rules(&s), reference_rules(None));

    // The same policy with keys reordered and lists as single strings is no change.
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let name = role_name(&s, "frontend-task-role");
    let reordered = r#"{"Statement":[{"Resource":"*","Action":["xray:GetSamplingTargets","xray:PutTelemetryRecords","xray:GetSamplingRules","xray:PutTraceSegments"],"Sid":"XRay","Effect":"Allow"}],"Version":"2012-10-17"}"#;
    s.block_on(
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("hms-permissions")
            .policy_document(reordered)
            .send(),
    )
    .expect("put reordered");
    after_vpc(&s, &["plan", "--detailed-exitcode"], 0);
    // A real change to it is drift the plan shows and up reverts.
    let widened = reordered.replace("xray:GetSamplingTargets", "s3:*");
    s.block_on(
        iam.put_role_policy()
            .role_name(&name)
            .policy_name("hms-permissions")
            .policy_document(widened)
            .send(),
    )
    .expect("put widened");
    let (_, err) = after_vpc(&s, &["plan", "--detailed-exitcode"], 2);
    assert!(
        err.contains("security.iam.task_role[frontend].policy"),
        "{err}"
    );
    after_vpc(&s, &["up"], 0);
    after_vpc(&s, &["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_new_service_port_adds_exactly_its_rule_pair() {
    let s = Stack::new("hms-security", "port");
    after_vpc(&s, &["up"], 0);
    let set = ["--set", "ecs.services.worker.port=9000"];
    let (_, err) = after_vpc(
        &s,
        &[&["plan", "--detailed-exitcode"][..], &set[..]].concat(),
        2,
    );
    assert!(
        err.contains("security.rule.alb.egress[tcp/9000 to sg:ecs]"),
        "{err}"
    );
    assert!(
        err.contains("security.rule.ecs.ingress[tcp/9000 from sg:alb]"),
        "{err}"
    );
    // The worker also gets its task role and policy.
    assert!(
        err.contains("Plan: 4 to create, 0 to update, 0 to replace, 0 to delete."),
        "{err}"
    );
    let (doc, _) = after_vpc(&s, &[&["up"][..], &set[..]].concat(), 0);
    assert_eq!(run_counts(&doc), (4, 0, 0));
    assert_eq!(rules(&s), reference_rules(Some(9000)));
    assert!(doc["outputs"]["security"]["task_role_arns"]["worker"].is_string());
}

#[test]
fn missing_vpc_outputs_exit_64_naming_them() {
    let s = Stack::new("hms-security", "novpc");
    let (doc, err) = s.run(&["up"], 64);
    assert!(
        err.contains("needs outputs.vpc.vpc_id") && err.contains("hms-vpc up | hms-security up"),
        "{err}"
    );
    assert_eq!(doc["runs"][0]["ok"], false);
    assert!(groups(&s).is_empty());
}

#[test]
fn down_removes_everything_and_schedules_key_deletion() {
    let s = Stack::new("hms-security", "down");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let keys: Vec<String> = ["rds", "backups", "logs"]
        .iter()
        .map(|k| {
            doc["outputs"]["security"]["kms_key_arns"][*k]
                .as_str()
                .expect("arn")
                .to_owned()
        })
        .collect();
    // hms-vpc refuses to go first: hms-security still has resources in the state store.
    let (_, err) = s.run_of("hms-vpc", &["down", "--yes"], "", 1);
    assert!(err.contains("hms-security"), "{err}");
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert!(
        err.contains("scheduled for deletion") && err.contains("30-day"),
        "{err}"
    );
    assert!(doc["outputs"].get("security").is_none());
    assert!(groups(&s).is_empty());
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    for r in [
        "ecs-execution-role",
        "backend-task-role",
        "frontend-task-role",
    ] {
        assert!(
            s.block_on(iam.get_role().role_name(role_name(&s, r)).send())
                .is_err(),
            "{r} is gone"
        );
    }
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    for arn in &keys {
        let m = s
            .block_on(kms.describe_key().key_id(arn).send())
            .expect("key still exists, pending deletion");
        let meta = m.key_metadata().expect("meta");
        assert_eq!(
            meta.key_state().map(|x| x.as_str()),
            Some("PendingDeletion"),
            "{arn}"
        );
    }
    let aliases = s.block_on(kms.list_aliases().send()).expect("aliases");
    assert!(!aliases
        .aliases()
        .iter()
        .any(|a| a.alias_name().is_some_and(|n| n.contains(&s.name))));
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert!(err.contains("Nothing to delete"), "{err}");
    s.run_of("hms-vpc", &["down", "--yes"], "", 0);
}

#[test]
fn down_refuses_while_an_interface_uses_a_group() {
    let s = Stack::new("hms-security", "busy");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let db = doc["outputs"]["security"]["database_sg_id"]
        .as_str()
        .expect("db sg")
        .to_owned();
    let subnet = doc["outputs"]["vpc"]["private_subnet_ids"][0]
        .as_str()
        .expect("subnet")
        .to_owned();
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    let eni = s
        .block_on(
            ec2.create_network_interface()
                .subnet_id(&subnet)
                .groups(&db)
                .description("RDSNetworkInterface")
                .send(),
        )
        .expect("eni");
    let eni_id = eni
        .network_interface()
        .and_then(|e| e.network_interface_id())
        .expect("id")
        .to_owned();
    let (_, err) = s.run(&["down", "--yes"], 1);
    assert!(err.contains(&eni_id) && err.contains("database"), "{err}");
    assert_eq!(groups(&s).len(), 4, "nothing deleted");
    s.block_on(
        ec2.delete_network_interface()
            .network_interface_id(&eni_id)
            .send(),
    )
    .expect("delete eni");
    s.run(&["down", "--yes"], 0);
}

#[test]
fn bad_inputs_exit_64_and_create_nothing() {
    let s = Stack::new("hms-security", "bad");
    let (vpc, _) = s.run_of("hms-vpc", &["plan"], "", 0);
    let vpc = vpc.to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", r#"security.alb_ingress_cidrs=["10.0.0.0/33"]"#],
            "security.alb_ingress_cidrs[0]",
        ),
        (
            &["--set", r#"security.alb_ingress_cidrs=["10.0.0.1/8"]"#],
            "host bits",
        ),
        (
            &["--set", "security.alb_ingress_cidrs=[]"],
            "security.alb_ingress_cidrs",
        ),
        (
            &["--set", "ecs.services.backend.port=0"],
            "ecs.services.backend.port",
        ),
        (
            &["--set", "ecs.services.backend.port=70000"],
            "ecs.services.backend.port",
        ),
        (
            &["--set", "security.services.billing.backup_write=true"],
            "unknown service \"billing\"",
        ),
        (
            &["--set", "ecs.services.Bad_Name.port=80"],
            "ecs.services.Bad_Name",
        ),
        (
            &[
                "--set",
                r#"security.extra_ingress=[{group="database",port=5432,cidr="10.0.0.0/8"}]"#,
            ],
            "would open the database group",
        ),
        (
            &[
                "--set",
                r#"security.extra_ingress=[{group="cache",port=6379,cidr="0.0.0.0/0"}]"#,
            ],
            "would open the cache group",
        ),
        (
            &[
                "--set",
                r#"security.extra_ingress=[{group="alb",port=99999,cidr="0.0.0.0/0"}]"#,
            ],
            "port",
        ),
        (
            &["--set", "security.open_everything=true"],
            "unknown field `open_everything`",
        ),
    ];
    for (args, want) in cases {
        let out = s
            .cmd_in(&[&["plan"][..], args].concat())
            .write_stdin(vpc.clone())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert!(groups(&s).is_empty());
}

#[test]
fn plan_after_a_vpc_plan_on_an_empty_account_creates_nothing() {
    let s = Stack::new("hms-security", "plan");
    let (vpc, _) = s.run_of("hms-vpc", &["plan"], "", 0);
    let (doc, err) = s.run_of(
        "hms-security",
        &["plan", "--detailed-exitcode"],
        &vpc.to_string(),
        2,
    );
    assert!(err.contains("Plan: 35 to create"), "{err}");
    let unknown: Vec<&str> = doc["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        unknown.contains(&"outputs.vpc.vpc_id") && unknown.contains(&"outputs.security.alb_sg_id"),
        "{unknown:?}"
    );
    assert!(groups(&s).is_empty());
    // up refuses a document that still holds another tool's unknowns.
    let (_, err) = s.run_of("hms-security", &["up"], &vpc.to_string(), 64);
    assert!(err.contains("outputs.vpc.vpc_id"), "{err}");
}

#[test]
fn a_key_whose_alias_was_deleted_is_kept_not_duplicated() {
    let s = Stack::new("hms-security", "alias");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let arn = doc["outputs"]["security"]["kms_key_arns"]["backups"]
        .as_str()
        .expect("arn")
        .to_owned();
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    s.block_on(
        kms.delete_alias()
            .alias_name(format!("alias/{}-production-backups", s.name))
            .send(),
    )
    .expect("delete alias");
    // Regression: a missing alias used to make a second key and forget the first.
    let (doc, err) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "{err}");
    assert_eq!(
        doc["outputs"]["security"]["kms_key_arns"]["backups"],
        arn.as_str()
    );
    let a = s
        .block_on(
            kms.describe_key()
                .key_id(format!("alias/{}-production-backups", s.name))
                .send(),
        )
        .expect("alias back");
    assert_eq!(a.key_metadata().and_then(|m| m.arn()), Some(arn.as_str()));
}

#[test]
fn a_key_made_by_a_killed_run_is_adopted_by_its_tags() {
    let s = Stack::new("hms-security", "orphan");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let arn = doc["outputs"]["security"]["kms_key_arns"]["rds"]
        .as_str()
        .expect("arn")
        .to_owned();
    // What a run killed between CreateKey and CreateAlias leaves: the tagged key, no alias, no record.
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    s.block_on(
        kms.delete_alias()
            .alias_name(format!("alias/{}-production-rds", s.name))
            .send(),
    )
    .expect("delete alias");
    std::fs::remove_dir_all(s.state_dir()).expect("state gone");
    let (doc, err) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "only the alias is made: {err}");
    assert_eq!(
        doc["outputs"]["security"]["kms_key_arns"]["rds"],
        arn.as_str()
    );
    // No second enabled key: every enabled key tagged for this stack is one of its three.
    assert_eq!(
        enabled_keys(&s),
        4,
        "rds, backups, logs and alarms, none twice"
    );
    after_vpc(&s, &["plan", "--detailed-exitcode"], 0);
}

#[test]
fn non_tcp_drift_is_removed_and_foreign_groups_are_not_taken_over() {
    let s = Stack::new("hms-security", "icmp");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let db = doc["outputs"]["security"]["database_sg_id"]
        .as_str()
        .expect("sg")
        .to_owned();
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    s.block_on(
        ec2.authorize_security_group_ingress()
            .group_id(&db)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("icmp")
                    .from_port(-1)
                    .to_port(-1)
                    .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                    .build(),
            )
            .send(),
    )
    .expect("icmp rule");
    // Regression: an ICMP rule's -1 ports used to fail every up.
    let (doc, err) = after_vpc(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 1), "{err}");
    assert_eq!(rules(&s), reference_rules(None));

    // Another stack's (or a person's) group with our name is refused, not adopted.
    let other = Stack::new("hms-security", "foreign");
    let (vpc, _) = other.run_of("hms-vpc", &["up"], "", 0);
    let vpc_id = vpc["outputs"]["vpc"]["vpc_id"]
        .as_str()
        .expect("vpc")
        .to_owned();
    s.block_on(
        ec2.create_security_group()
            .group_name(format!("{}-alb", other.name))
            .description("by hand")
            .vpc_id(&vpc_id)
            .send(),
    )
    .expect("hand-made group");
    let (_, err) = other.run_of("hms-security", &["up"], &vpc.to_string(), 1);
    assert!(
        err.contains("already exists") && err.contains("not this stack's"),
        "{err}"
    );
}

#[test]
fn stack_tags_converge_on_every_group_role_and_key() {
    let s = Stack::new("hms-security", "tags");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (doc, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let out = doc["outputs"]["security"].clone();
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    let roles = [
        "ecs-execution-role",
        "backend-task-role",
        "frontend-task-role",
        "rds-monitoring-role",
    ]
    .map(|r| role_name(&s, r));
    let keys = ["rds", "backups", "logs", "alarms"]
        .map(|k| out["kms_key_arns"][k].as_str().expect("key arn").to_owned());
    let updated = tag_cycle(&s, "hms-security", &vpc.to_string(), |owner| {
        let owner = owner.map(str::to_owned);
        // (resource, owner tag, whether the hms:* tags are still there)
        let mut seen: Vec<(String, Option<String>, bool)> = Vec::new();
        for g in groups(&s) {
            let tag = |k: &str| {
                g.tags()
                    .iter()
                    .find(|t| t.key() == Some(k))
                    .and_then(|t| t.value())
                    .map(str::to_owned)
            };
            seen.push((
                g.group_name().unwrap_or_default().to_owned(),
                tag("owner"),
                tag("hms:address").is_some(),
            ));
        }
        for r in &roles {
            let got = s
                .block_on(iam.get_role().role_name(r).send())
                .expect("role");
            let tags = got.role().map(|r| r.tags().to_vec()).unwrap_or_default();
            let tag = |k: &str| {
                tags.iter()
                    .find(|t| t.key() == k)
                    .map(|t| t.value().to_owned())
            };
            seen.push((r.clone(), tag("owner"), tag("hms:address").is_some()));
        }
        for k in &keys {
            let got = s
                .block_on(kms.list_resource_tags().key_id(k).send())
                .expect("key tags");
            let tag = |key: &str| {
                got.tags()
                    .iter()
                    .find(|t| t.tag_key() == key)
                    .map(|t| t.tag_value().to_owned())
            };
            seen.push((k.clone(), tag("owner"), tag("hms:address").is_some()));
        }
        assert_eq!(seen.len(), 12, "{seen:?}");
        for (what, got, hms) in &seen {
            assert_eq!(got, &owner, "{what}");
            assert!(hms, "{what} keeps its hms:* tags");
        }
    });
    assert_eq!(updated, 12, "four groups, four roles, four keys");
    // The groups themselves were only retagged: same ids.
    let (doc, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    for g in ["alb", "ecs", "database", "cache"] {
        assert_eq!(
            doc["outputs"]["security"][format!("{g}_sg_id")],
            out[format!("{g}_sg_id")]
        );
    }
}

/// Enabled KMS keys tagged with this stack.
fn enabled_keys(s: &Stack) -> usize {
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    let keys = s
        .block_on(kms.list_keys().limit(1000).send())
        .expect("keys");
    let mut ours = 0;
    for k in keys.keys() {
        let id = k.key_id().unwrap_or_default();
        let tags = s
            .block_on(kms.list_resource_tags().key_id(id).send())
            .expect("tags");
        let mine = tags
            .tags()
            .iter()
            .any(|t| t.tag_key() == "hms:stack" && t.tag_value() == s.name);
        let enabled = s
            .block_on(kms.describe_key().key_id(id).send())
            .expect("key")
            .key_metadata()
            .and_then(|m| m.key_state())
            .map(|x| x.as_str())
            == Some("Enabled");
        if mine && enabled {
            ours += 1;
        }
    }
    ours
}

/// A second key tagged exactly as the key at `arn` (what two killed runs leave).
fn duplicate_of(s: &Stack, arn: &str) {
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    let tags = s
        .block_on(kms.list_resource_tags().key_id(arn).send())
        .expect("tags")
        .tags()
        .to_vec();
    s.block_on(kms.create_key().set_tags(Some(tags)).send())
        .expect("duplicate key");
}

// Issue 18, defect 1: a duplicate key is scheduled for deletion with a warning, and down finds every
// tagged key.
#[test]
fn duplicate_keys_are_scheduled_for_deletion_by_up_and_by_down() {
    let s = Stack::new("hms-security", "dupkey");
    let (doc, _) = after_vpc(&s, &["up"], 0);
    let arn = doc["outputs"]["security"]["kms_key_arns"]["rds"]
        .as_str()
        .expect("arn")
        .to_owned();
    assert_eq!(enabled_keys(&s), 4);
    // Two killed runs: the first key lost its alias and record, a second one was made beside it.
    duplicate_of(&s, &arn);
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    s.block_on(
        kms.delete_alias()
            .alias_name(format!("alias/{}-production-rds", s.name))
            .send(),
    )
    .expect("delete alias");
    std::fs::remove_dir_all(s.state_dir()).expect("state gone");
    let (_, err) = after_vpc(&s, &["plan"], 0);
    assert!(
        err.contains("duplicates security.kms.rds") && err.contains("deletion is scheduled"),
        "{err}"
    );
    // No --allow-destroy needed: nothing encrypts with the duplicate.
    let (doc, err) = after_vpc(&s, &["up"], 0);
    assert_eq!(
        run_counts(&doc),
        (1, 0, 1),
        "the alias made, the duplicate scheduled: {err}"
    );
    assert_eq!(
        doc["outputs"]["security"]["kms_key_arns"]["rds"],
        arn.as_str(),
        "the oldest is kept"
    );
    assert_eq!(enabled_keys(&s), 4);
    after_vpc(&s, &["plan", "--detailed-exitcode"], 0);
    // Another duplicate appears while state records the key: down finds it by its tags too.
    duplicate_of(&s, &arn);
    assert_eq!(enabled_keys(&s), 5);
    let (_, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(enabled_keys(&s), 0, "{err}");
}

/// An IAM policy document as IAM returns it (URL-encoded), parsed.
fn iam_json(text: &str) -> Value {
    serde_json::from_str(&hms_core::policy::url_decode(text)).expect("policy JSON")
}

/// The strings of a string-or-list policy value, sorted.
fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    };
    out.sort();
    out
}

#[test]
fn the_replication_role_and_the_replica_key_follow_backup_replica_region() {
    let s = Stack::new("hms-security", "replica");
    std::fs::write(
        s.dir.path().join("hms.toml"),
        "[backup]\nreplica_region = \"us-west-2\"\n",
    )
    .expect("config");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let vpc = vpc.to_string();
    let (doc, err) = s.run_of("hms-security", &["up"], &vpc, 0);
    let out = &doc["outputs"]["security"];
    let source = format!("{}-backups-production", s.name);
    let replica_key = out["kms_key_arns"]["backups_replica"]
        .as_str()
        .expect("replica key")
        .to_owned();
    assert!(
        replica_key.starts_with("arn:aws:kms:us-west-2:123456789012:key/"),
        "{replica_key}\n{err}"
    );
    let backups_key = out["kms_key_arns"]["backups"]
        .as_str()
        .expect("backups key");

    // The role: S3 of this account assumes it, for the backup bucket only.
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let name = role_name(&s, "s3-replication-role");
    let got = s
        .block_on(iam.get_role().role_name(&name).send())
        .expect("replication role");
    let role = got.role().expect("role");
    assert_eq!(out["replication_role_arn"], role.arn());
    let trust = iam_json(role.assume_role_policy_document().expect("trust"));
    assert_eq!(trust["Statement"].as_array().map(Vec::len), Some(1));
    let t = &trust["Statement"][0];
    assert_eq!(t["Effect"], "Allow");
    assert_eq!(strings(&t["Principal"]["Service"]), ["s3.amazonaws.com"]);
    assert_eq!(strings(&t["Action"]), ["sts:AssumeRole"]);
    assert_eq!(
        strings(&t["Condition"]["StringEquals"]["aws:SourceAccount"]),
        ["123456789012"]
    );
    assert_eq!(
        strings(&t["Condition"]["ArnLike"]["aws:SourceArn"]),
        [format!("arn:aws:s3:::{source}")]
    );

    // Its policy allows exactly what replication needs, on exactly these resources.
    let policy = s
        .block_on(
            iam.get_role_policy()
                .role_name(&name)
                .policy_name("hms-permissions")
                .send(),
        )
        .expect("inline policy");
    let policy = iam_json(policy.policy_document());
    let granted: BTreeSet<(Vec<String>, Vec<String>)> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|st| {
            assert_eq!(st["Effect"], "Allow");
            (strings(&st["Action"]), strings(&st["Resource"]))
        })
        .collect();
    let v = |x: &[&str]| x.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let want: BTreeSet<(Vec<String>, Vec<String>)> = [
        (
            v(&["s3:GetReplicationConfiguration", "s3:ListBucket"]),
            vec![format!("arn:aws:s3:::{source}")],
        ),
        (
            v(&[
                "s3:GetObjectLegalHold",
                "s3:GetObjectRetention",
                "s3:GetObjectVersionAcl",
                "s3:GetObjectVersionForReplication",
                "s3:GetObjectVersionTagging",
            ]),
            vec![format!("arn:aws:s3:::{source}/*")],
        ),
        (
            v(&[
                "s3:ReplicateDelete",
                "s3:ReplicateObject",
                "s3:ReplicateTags",
            ]),
            vec![format!("arn:aws:s3:::{source}-replica/*")],
        ),
        (v(&["kms:Decrypt"]), vec![backups_key.to_owned()]),
        (
            v(&["kms:Encrypt", "kms:GenerateDataKey"]),
            vec![replica_key.clone()],
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(granted, want, "{policy}");

    // The replica key lives in the replica region, enabled, rotated, aliased and tagged like the others.
    let west = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&s.sdk)
            .region(aws_sdk_kms::config::Region::new("us-west-2"))
            .build(),
    );
    let meta = s
        .block_on(west.describe_key().key_id(&replica_key).send())
        .expect("replica key");
    let meta = meta.key_metadata().expect("meta");
    assert_eq!(meta.key_state().map(|x| x.as_str()), Some("Enabled"));
    let rotation = s
        .block_on(west.get_key_rotation_status().key_id(&replica_key).send())
        .expect("rotation");
    assert!(rotation.key_rotation_enabled());
    let alias = format!("alias/{}-production-backups_replica", s.name);
    let aliases = s.block_on(west.list_aliases().send()).expect("aliases");
    assert!(aliases.aliases().iter().any(|a| {
        a.alias_name() == Some(alias.as_str()) && a.target_key_id() == Some(meta.key_id())
    }));
    let tags = s
        .block_on(west.list_resource_tags().key_id(&replica_key).send())
        .expect("tags");
    assert!(tags
        .tags()
        .iter()
        .any(|t| t.tag_key() == "hms:address" && t.tag_value() == "security.kms.backups_replica"));
    let home = aws_sdk_kms::Client::new(&s.sdk);
    let here = s.block_on(home.list_aliases().send()).expect("aliases");
    assert!(!here
        .aliases()
        .iter()
        .any(|a| a.alias_name() == Some(alias.as_str())));

    // Converged.
    let (again, _) = s.run_of("hms-security", &["up"], &vpc, 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.run_of("hms-security", &["plan", "--detailed-exitcode"], &vpc, 0);

    // Without backup.replica_region the plan deletes the role, its policy, the key and its alias; `down`
    // finds the replica key in the region state recorded and schedules its deletion there.
    std::fs::write(s.dir.path().join("hms.toml"), "").expect("config");
    let (_, err) = s.run_of("hms-security", &["plan", "--detailed-exitcode"], &vpc, 2);
    for a in [
        "delete  security.iam.replication_role",
        "delete  security.iam.replication_role.policy",
        "delete  security.kms.backups_replica",
        "delete  security.kms.backups_replica.alias",
    ] {
        assert!(err.contains(a), "{a}:\n{err}");
    }
    assert!(
        err.contains("Plan: 0 to create, 0 to update, 0 to replace, 4 to delete"),
        "{err}"
    );
    s.run(&["down", "--yes"], 0);
    assert!(s.block_on(iam.get_role().role_name(&name).send()).is_err());
    let meta = s
        .block_on(west.describe_key().key_id(&replica_key).send())
        .expect("pending deletion");
    assert_eq!(
        meta.key_metadata()
            .and_then(|m| m.key_state())
            .map(|x| x.as_str()),
        Some("PendingDeletion")
    );
    let aliases = s.block_on(west.list_aliases().send()).expect("aliases");
    assert!(!aliases
        .aliases()
        .iter()
        .any(|a| a.alias_name() == Some(alias.as_str())));
    s.run_of("hms-vpc", &["down", "--yes"], "", 0);
}

#[test]
fn the_vpcs_flow_log_group_is_encrypted_with_the_logs_key() {
    let s = Stack::new("hms-security", "flowkey");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let input = vpc.to_string();
    let group = vpc["outputs"]["vpc"]["flow_log_group"]
        .as_str()
        .expect("outputs.vpc.flow_log_group")
        .to_owned();
    let up = |code: i32| s.run_of("hms-security", &["up"], &input, code);
    let (doc, err) = up(0);
    let logs_key = doc["outputs"]["security"]["kms_key_arns"]["logs"]
        .as_str()
        .expect("logs key")
        .to_owned();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let key_of_group = || {
        s.block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(&group)
                .send(),
        )
        .expect("log groups")
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group.as_str()))
        .expect("the flow-log group")
        .kms_key_id()
        .map(str::to_owned)
    };
    assert_eq!(key_of_group().as_deref(), Some(logs_key.as_str()), "{err}");

    // Converged; the key taken off by hand is drift that up puts back.
    let (again, _) = up(0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.block_on(logs.disassociate_kms_key().log_group_name(&group).send())
        .expect("take the key off");
    assert_eq!(key_of_group(), None);
    let (_, err) = s.run_of("hms-security", &["plan", "--detailed-exitcode"], &input, 2);
    assert!(err.contains("security.flow_logs_encryption"), "{err}");
    let (fixed, err) = up(0);
    assert_eq!(run_counts(&fixed), (1, 0, 0), "{err}");
    assert_eq!(key_of_group().as_deref(), Some(logs_key.as_str()));

    // down takes the key off the group (the group is hms-vpc's, deleted by its down).
    let (_, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(key_of_group(), None, "{err}");
}

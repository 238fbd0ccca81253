//! The six tools as one product: the whole pipeline up, every tool converged, the whole stack down in
//! reverse leaving nothing tagged; the plan pipeline on an empty account; a failure in the middle.

use std::path::Path;

use hms_tests::{bin_dir, endpoint, shell};
use serde_json::Value;

const TOOLS: [&str; 6] = [
    "hms-vpc",
    "hms-security",
    "hms-db",
    "hms-ecs",
    "hms-backup",
    "hms-observe",
];

fn sh(script: &str, dir: &Path) -> (i32, String, String) {
    shell(script, dir, &dir.join("state"))
}

fn stack(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("s{tag}-{}-{}", std::process::id() % 10000, nanos % 10000)
}

/// `t1 VERB --stack s | t2 VERB --stack s | …` for every tool.
fn pipe(verb: &str, s: &str) -> String {
    TOOLS
        .iter()
        .map(|t| format!("{t} {verb} --stack {s}"))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn sdk() -> (tokio::runtime::Runtime, aws_config::SdkConfig) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint())
            .test_credentials()
            .load(),
    );
    (rt, sdk)
}

/// ARNs of every resource tagged `hms:stack = s`, through the Resource Groups Tagging API.
fn tagged(rt: &tokio::runtime::Runtime, sdk: &aws_config::SdkConfig, s: &str) -> Vec<String> {
    let c = aws_sdk_resourcegroupstagging::Client::new(sdk);
    let filter = aws_sdk_resourcegroupstagging::types::TagFilter::builder()
        .key("hms:stack")
        .values(s)
        .build();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = rt
            .block_on(
                c.get_resources()
                    .tag_filters(filter.clone())
                    .set_pagination_token(token.clone())
                    .send(),
            )
            .expect("get resources");
        out.extend(
            page.resource_tag_mapping_list()
                .iter()
                .filter_map(|m| m.resource_arn().map(str::to_owned)),
        );
        token = page
            .pagination_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

#[test]
fn the_whole_stack_comes_up_converges_and_goes_down_in_reverse() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("all");
    let (code, out, err) = sh(&pipe("up", &s), dir.path());
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).expect("one document");
    for section in ["vpc", "security", "db", "ecs", "backup", "observe"] {
        assert!(doc["outputs"][section].is_object(), "outputs.{section}");
    }
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 6);
    assert!(runs.iter().all(|r| r["ok"] == true && r["command"] == "up"));
    assert!(doc
        .get("unknown")
        .is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)));
    let created: u64 = runs.iter().filter_map(|r| r["created"].as_u64()).sum();
    assert_eq!(doc["outputs"]["observe"]["alarm_count"], 9);
    assert_eq!(
        doc["outputs"]["backup"]["kms_key_arn"],
        doc["outputs"]["security"]["kms_key_arns"]["backups"]
    );

    // Every team's tool, run alone from the state store, has nothing to do.
    for t in TOOLS {
        let (code, _, err) = sh(
            &format!("{t} plan --detailed-exitcode --stack {s} < /dev/null"),
            dir.path(),
        );
        assert_eq!(code, 0, "{t} plan: {err}");
    }
    let (rt, sdk) = sdk();
    let before = tagged(&rt, &sdk, &s);
    // Every service's resources carry the stack's tags (the tagging API covers all but IAM and X-Ray).
    for prefix in [
        "arn:aws:ec2:",
        "arn:aws:kms:",
        "arn:aws:rds:",
        "arn:aws:ecs:",
        "arn:aws:elasticloadbalancing:",
        "arn:aws:logs:",
        "arn:aws:s3:::",
        "arn:aws:sns:",
        "arn:aws:cloudwatch:",
    ] {
        assert!(
            before.iter().any(|a| a.starts_with(prefix)),
            "no {prefix}… among the {} tagged of {created} created: {before:?}",
            before.len()
        );
    }

    // Down in reverse order, with the flags production asks for.
    let down = [
        "hms-observe down --yes",
        "hms-backup down --yes",
        "hms-ecs down --yes --delete-logs",
        "hms-db down --yes --disable-deletion-protection --skip-final-snapshot",
        "hms-security down --yes",
        "hms-vpc down --yes",
    ]
    .iter()
    .map(|c| format!("{c} --stack {s} < /dev/null > /dev/null"))
    .collect::<Vec<_>>()
    .join(" && ");
    let (code, _, err) = sh(&down, dir.path());
    assert_eq!(code, 0, "{err}");

    // Nothing tagged with the stack is left but the KMS keys, which wait out their deletion window, the
    // deleted NAT gateway (EC2 lists deleted NAT gateways for a while, as AWS does) and the database's
    // retained automated backups.
    let kms = aws_sdk_kms::Client::new(&sdk);
    let ec2 = aws_sdk_ec2::Client::new(&sdk);
    let left = tagged(&rt, &sdk, &s);
    let mut keys = 0;
    for arn in &left {
        if arn.starts_with("arn:aws:kms:") {
            let key = rt
                .block_on(kms.describe_key().key_id(arn).send())
                .expect("describe key");
            assert_eq!(
                key.key_metadata()
                    .map(|m| m.key_state().map(|s| s.as_str())),
                Some(Some("PendingDeletion")),
                "{arn}"
            );
            keys += 1;
        } else if let Some(id) = arn.split(":natgateway/").nth(1) {
            let nat = rt
                .block_on(ec2.describe_nat_gateways().nat_gateway_ids(id).send())
                .expect("describe nat");
            assert_eq!(
                nat.nat_gateways()
                    .first()
                    .and_then(|n| n.state())
                    .map(|s| s.as_str()),
                Some("deleted"),
                "{arn}"
            );
        } else if let Some(rest) = arn.strip_prefix("arn:aws:ecs:") {
            // Deleted ECS services, clusters and task definitions stay describable as INACTIVE (as in AWS).
            let ecs = aws_sdk_ecs::Client::new(&sdk);
            let status = if rest.contains(":service/") {
                let cluster = rest
                    .split(":service/")
                    .nth(1)
                    .and_then(|x| x.split('/').next())
                    .unwrap_or_default();
                rt.block_on(
                    ecs.describe_services()
                        .cluster(cluster)
                        .services(arn)
                        .send(),
                )
                .expect("describe service")
                .services()
                .first()
                .and_then(|x| x.status().map(str::to_owned))
            } else if rest.contains(":cluster/") {
                rt.block_on(ecs.describe_clusters().clusters(arn).send())
                    .expect("describe cluster")
                    .clusters()
                    .first()
                    .and_then(|x| x.status().map(str::to_owned))
            } else {
                rt.block_on(ecs.describe_task_definition().task_definition(arn).send())
                    .ok()
                    .and_then(|o| {
                        o.task_definition()
                            .and_then(|t| t.status())
                            .map(|x| x.as_str().to_owned())
                    })
            };
            assert!(
                matches!(
                    status.as_deref(),
                    None | Some("INACTIVE" | "DELETE_IN_PROGRESS")
                ),
                "{arn} is {status:?}"
            );
        } else if arn.contains(":snapshot:rds:") {
            // hms-db keeps the automated backups on delete (DeleteAutomatedBackups=false): they expire with
            // the retention period. The emulator shows them as automated snapshots.
        } else {
            panic!("left behind: {arn}");
        }
    }
    assert_eq!(keys, 3, "the 3 keys: {left:?}");
    // X-Ray (not in the tagging API) is gone too.
    let xray = aws_sdk_xray::Client::new(&sdk);
    let rules = rt
        .block_on(xray.get_sampling_rules().send())
        .expect("rules");
    assert!(rules
        .sampling_rule_records()
        .iter()
        .filter_map(|r| r.sampling_rule().and_then(|x| x.rule_name()))
        .all(|n| !n.starts_with(&s)));
    let (code, _, err) = sh(
        &format!("hms-vpc plan --detailed-exitcode --stack {s} < /dev/null"),
        dir.path(),
    );
    assert_eq!(code, 2, "the VPC would be created again: {err}");
}

#[test]
fn the_plan_pipeline_on_an_empty_account_lists_everything_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("plan");
    let (code, out, err) = sh(
        &format!("{} --detailed-exitcode", pipe("plan", &s)),
        dir.path(),
    );
    assert_eq!(code, 2, "changes pending: {err}");
    let doc: Value = serde_json::from_str(&out).expect("document");
    let unknown: Vec<&str> = doc["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for u in [
        "outputs.vpc.vpc_id",
        "outputs.db.endpoint",
        "outputs.ecs.alb_arn",
        "outputs.backup.bucket",
        "outputs.observe.topic_arn",
    ] {
        assert!(unknown.contains(&u), "{u} in {unknown:?}");
    }
    for (tool, n) in [
        ("hms-vpc", 30),
        ("hms-security", 30),
        ("hms-db", 3),
        ("hms-backup", 1),
        ("hms-observe", 13),
    ] {
        assert!(
            err.contains(&format!("{tool}: Plan: {n} to create")),
            "{tool} plans {n}:\n{err}"
        );
    }
    assert!(
        err.contains("hms-observe:    + create  observe.alarm[backend.cpu]"),
        "{err}"
    );
    assert!(err.contains("(known after hms-ecs up)"), "{err}");
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 6);
    // Nothing exists: nothing is tagged with the stack, and up refuses the planned document.
    let (rt, sdk) = sdk();
    assert!(tagged(&rt, &sdk, &s).is_empty());
    let (code, _, err) = sh(
        &format!("hms-vpc plan --stack {s} | hms-security up --stack {s}"),
        dir.path(),
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("not known yet"), "{err}");
}

#[test]
fn a_failing_tool_in_the_middle_stops_the_rest_without_aws_calls() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("mid");
    // hms-db rejects its config; the tools after it see the failed run and call nothing (their endpoint
    // would not even answer).
    let dead = "--endpoint-url http://127.0.0.1:9";
    let (code, out, err) = sh(
        &format!(
            "hms-db up --stack {s} --set db.allocated_storage=5 < /dev/null | hms-ecs up --stack {s} {dead} | hms-backup up --stack {s} {dead} | hms-observe up --stack {s} {dead}; echo \"${{PIPESTATUS[@]}}\" >&2"
        ),
        dir.path(),
    );
    assert_eq!(code, 0, "the echo ran last: {err}");
    assert!(err.trim_end().ends_with("64 1 1 1"), "{err}");
    assert!(err.contains("db.allocated_storage"), "{err}");
    for t in ["hms-ecs", "hms-backup", "hms-observe"] {
        assert!(
            err.contains(&format!("{t}: error: upstream hms-db up failed")),
            "{t}:\n{err}"
        );
    }
    let doc: Value = serde_json::from_str(&out).expect("the failed document is passed on");
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(4));

    // `make up` with the same bad [db] value fails as a whole.
    std::fs::write(
        dir.path().join("hms.toml"),
        format!("[stack]\nname = \"{s}\"\n\n[db]\nallocated_storage = 5\n"),
    )
    .expect("config");
    let makefile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile");
    let (code, _, err) = sh(
        &format!(
            "make -s -f {} -o build up BIN={}",
            makefile.display(),
            bin_dir().display()
        ),
        dir.path(),
    );
    assert_ne!(code, 0, "make up must fail: {err}");
    assert!(err.contains("db.allocated_storage"), "{err}");
    let (rt, sdk) = sdk();
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let clusters = rt.block_on(ecs.list_clusters().send()).expect("clusters");
    assert!(clusters
        .cluster_arns()
        .iter()
        .all(|a| !a.contains(&format!("/{s}-"))));
    assert!(tagged(&rt, &sdk, &s)
        .iter()
        .all(|a| !a.starts_with("arn:aws:s3:::") && !a.contains(":cloudwatch:")));
}

//! hms-cache against the emulator, behind hms-vpc and hms-security as in the pipeline.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use aws_sdk_elasticache::types::{CacheCluster, ReplicationGroup};
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::{json, Value};

/// `hms-vpc up | hms-security up` with the cache key (what `[cache]` in the config asks of hms-security);
/// returns the document hms-cache reads.
fn upstream(s: &Stack) -> Value {
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let args = ["up", "--set", "security.cache=true"];
    let out = s
        .cmd_of("hms-security", &args)
        .write_stdin(vpc.to_string())
        .output()
        .expect("hms-security");
    // hms-security's first run with a new cache key may fail once (its execution role policy names the
    // key before the key exists); a second run converges.
    let out = if out.status.success() {
        out
    } else {
        s.cmd_of("hms-security", &args)
            .write_stdin(vpc.to_string())
            .output()
            .expect("hms-security")
    };
    assert!(
        out.status.success(),
        "hms-security up: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("document");
    assert!(
        doc["outputs"]["security"]["kms_key_arns"]["cache"].is_string(),
        "hms-security has the cache key: {doc}"
    );
    doc
}

/// The document with hms-db's windows, as `hms-db up` passes them on.
fn with_db(doc: &Value) -> Value {
    let mut d = doc.clone();
    d["outputs"]["db"] =
        json!({"backup_window": "03:00-04:00", "maintenance_window": "sun:04:00-sun:05:00"});
    d
}

trait CmdOf {
    fn cmd_of(&self, tool: &str, args: &[&str]) -> assert_cmd::Command;
}

impl CmdOf for Stack {
    fn cmd_of(&self, tool: &str, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd_of(tool, args))
    }
}

fn ec(s: &Stack) -> aws_sdk_elasticache::Client {
    aws_sdk_elasticache::Client::new(&s.sdk)
}

fn id(s: &Stack) -> String {
    format!("{}-cache", s.name)
}

fn secret_name(s: &Stack) -> String {
    format!("{}/production/cache/auth", s.name)
}

fn group(s: &Stack) -> Option<ReplicationGroup> {
    s.block_on(
        ec(s)
            .describe_replication_groups()
            .replication_group_id(id(s))
            .send(),
    )
    .ok()
    .and_then(|o| o.replication_groups().first().cloned())
}

fn members(s: &Stack, g: &ReplicationGroup) -> Vec<CacheCluster> {
    g.member_clusters()
        .iter()
        .map(|m| {
            s.block_on(ec(s).describe_cache_clusters().cache_cluster_id(m).send())
                .expect("member")
                .cache_clusters()[0]
                .clone()
        })
        .collect()
}

fn secrets(s: &Stack) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&s.sdk)
}

fn secret_value(s: &Stack) -> String {
    s.block_on(
        secrets(s)
            .get_secret_value()
            .secret_id(secret_name(s))
            .send(),
    )
    .expect("secret")
    .secret_string()
    .expect("string")
    .to_owned()
}

fn tags_of(s: &Stack, arn: &str) -> Vec<(String, String)> {
    s.block_on(ec(s).list_tags_for_resource().resource_name(arn).send())
        .expect("tags")
        .tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Everything the state directory holds, as text.
fn state_text(s: &Stack) -> String {
    let mut text = String::new();
    let dir = s.state_dir().join(format!("{}-production", s.name));
    for entry in std::fs::read_dir(dir).expect("state dir") {
        text.push_str(&std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default());
    }
    text
}

/// This stack's resources the tagging API knows (any tool).
fn tagged(s: &Stack) -> Vec<String> {
    let t = aws_sdk_resourcegroupstagging::Client::new(&s.sdk);
    let out = s
        .block_on(
            t.get_resources()
                .tag_filters(
                    aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                        .key("hms:stack")
                        .values(&s.name)
                        .build(),
                )
                .tag_filters(
                    aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                        .key("hms:tool")
                        .values("hms-cache")
                        .build(),
                )
                .send(),
        )
        .expect("GetResources");
    out.resource_tag_mapping_list()
        .iter()
        .filter_map(|m| m.resource_arn().map(str::to_owned))
        .collect()
}

#[test]
fn pipeline_builds_the_reference_cache_and_converges() {
    let s = Stack::new("hms-cache", "ref");
    let up = with_db(&upstream(&s));
    let (doc, err) = s.run_of("hms-cache", &["up"], &up.to_string(), 0);
    assert_eq!(run_counts(&doc), (6, 0, 0), "{err}");
    let out = &doc["outputs"]["cache"];
    let sec = &doc["outputs"]["security"];
    let vpc = &doc["outputs"]["vpc"];
    let cache_key = sec["kms_key_arns"]["cache"].as_str().expect("cache key");
    let logs_key = sec["kms_key_arns"]["logs"].as_str().expect("logs key");

    let g = group(&s).expect("replication group");
    assert_eq!(g.status(), Some("available"));
    assert_eq!(g.engine(), Some("redis"));
    assert_eq!(g.cache_node_type(), Some("cache.t4g.small"));
    assert_eq!(g.multi_az().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(g.automatic_failover().map(|m| m.as_str()), Some("enabled"));
    assert_eq!(g.at_rest_encryption_enabled(), Some(true));
    assert_eq!(g.kms_key_id(), Some(cache_key));
    assert_eq!(g.transit_encryption_enabled(), Some(true));
    assert_eq!(
        g.transit_encryption_mode().map(|m| m.as_str()),
        Some("required")
    );
    assert_eq!(g.auth_token_enabled(), Some(true));
    assert_eq!(g.snapshot_retention_limit(), Some(7));
    assert_eq!(g.snapshot_window(), Some("02:00-03:00"));
    assert_eq!(g.auto_minor_version_upgrade(), Some(true));
    let mut logs: Vec<(String, String)> = g
        .log_delivery_configurations()
        .iter()
        .map(|l| {
            (
                l.log_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                l.destination_details()
                    .and_then(|d| d.cloud_watch_logs_details())
                    .and_then(|d| d.log_group())
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    logs.sort();
    let log_group = |kind: &str| format!("/elasticache/{}/{kind}", id(&s));
    assert_eq!(
        logs,
        vec![
            ("engine-log".to_owned(), log_group("engine-log")),
            ("slow-log".to_owned(), log_group("slow-log"))
        ]
    );
    // Two members, a primary and a replica, in two AZs, each with the settings AWS reports on members.
    let m = members(&s, &g);
    assert_eq!(m.len(), 2);
    let mut azs: Vec<&str> = m
        .iter()
        .filter_map(|c| c.preferred_availability_zone())
        .collect();
    azs.dedup();
    assert_eq!(azs.len(), 2, "{azs:?}");
    for c in &m {
        assert_eq!(c.engine_version(), Some("7.1"));
        assert_eq!(
            c.preferred_maintenance_window(),
            Some("sun:05:00-sun:06:00")
        );
        assert_eq!(
            c.cache_parameter_group()
                .and_then(|p| p.cache_parameter_group_name()),
            Some(format!("{}-redis7", id(&s)).as_str())
        );
        assert_eq!(
            c.cache_subnet_group_name(),
            Some(format!("{}-subnets", id(&s)).as_str())
        );
        let sgs: Vec<&str> = c
            .security_groups()
            .iter()
            .filter_map(|g| g.security_group_id())
            .collect();
        assert_eq!(sgs, vec![sec["cache_sg_id"].as_str().expect("cache sg")]);
    }
    // The subnet group spans the private subnets.
    let sn = s
        .block_on(
            ec(&s)
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(format!("{}-subnets", id(&s)))
                .send(),
        )
        .expect("subnet group");
    let mut subnets: Vec<&str> = sn.cache_subnet_groups()[0]
        .subnets()
        .iter()
        .filter_map(|x| x.subnet_identifier())
        .collect();
    subnets.sort();
    let mut private: Vec<&str> = vpc["private_subnet_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    private.sort();
    assert_eq!(subnets, private);
    // The parameter group keeps sessions without a TTL under memory pressure.
    let params = s
        .block_on(
            ec(&s)
                .describe_cache_parameters()
                .cache_parameter_group_name(format!("{}-redis7", id(&s)))
                .source("user")
                .send(),
        )
        .expect("parameters");
    let policy = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("maxmemory-policy"))
        .and_then(|p| p.parameter_value());
    assert_eq!(policy, Some("volatile-lru"));
    // Log groups encrypted with the logs key, kept 30 days.
    let cwl = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let groups = s
        .block_on(
            cwl.describe_log_groups()
                .log_group_name_prefix(format!("/elasticache/{}/", id(&s)))
                .send(),
        )
        .expect("log groups");
    assert_eq!(groups.log_groups().len(), 2);
    for lg in groups.log_groups() {
        assert_eq!(lg.kms_key_id(), Some(logs_key));
        assert_eq!(lg.retention_in_days(), Some(30));
    }
    // The standard tags.
    let tags = tags_of(&s, g.arn().expect("arn"));
    assert_eq!(tag(&tags, "hms:address"), Some("cache.replication_group"));
    assert_eq!(tag(&tags, "hms:stack"), Some(s.name.as_str()));
    assert_eq!(tag(&tags, "Name"), Some(id(&s).as_str()));
    // The secret, encrypted with the cache key; its value nowhere but in Secrets Manager.
    let secret = s
        .block_on(
            secrets(&s)
                .describe_secret()
                .secret_id(secret_name(&s))
                .send(),
        )
        .expect("secret");
    assert_eq!(secret.kms_key_id(), Some(cache_key));
    assert_eq!(out["auth_secret_arn"], secret.arn().expect("arn"));
    let token = secret_value(&s);
    assert_eq!(token.len(), 64);
    // The outputs.
    assert_eq!(out["replication_group_id"], id(&s));
    assert_eq!(out["port"], 6379);
    assert_eq!(out["engine"], "redis");
    assert_eq!(out["engine_version"], "7.1");
    assert_eq!(out["tls"], true);
    assert!(out["primary_endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("master.")));
    assert!(out["reader_endpoint"]
        .as_str()
        .is_some_and(|e| e.starts_with("replica.")));
    assert_eq!(out["member_clusters"], json!(g.member_clusters()));

    // A second up changes nothing; plan --detailed-exitcode exits 0.
    let (doc2, err2) = s.run_of("hms-cache", &["up"], &up.to_string(), 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0), "{err2}");
    let (plan, err3) = s.run_of(
        "hms-cache",
        &["plan", "--detailed-exitcode"],
        &up.to_string(),
        0,
    );
    let haystack = format!("{doc}{err}{doc2}{err2}{plan}{err3}{}", state_text(&s));
    assert!(!haystack.contains(&token), "the AUTH token leaked");
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn changes_are_classified_and_a_key_change_is_a_refused_replace() {
    let s = Stack::new("hms-cache", "chg");
    let up = upstream(&s).to_string();
    s.run_of("hms-cache", &["up"], &up, 0);
    let created = group(&s).and_then(|g| g.replication_group_create_time().cloned());

    // A node type change is one in-place update, in the maintenance window unless asked otherwise.
    let node = ["--set", "cache.node_type=cache.t4g.medium"];
    let (_, err) = s.run_of(
        "hms-cache",
        &[&["plan", "--detailed-exitcode"][..], &node].concat(),
        &up,
        2,
    );
    assert!(
        err.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{err}"
    );
    assert!(
        err.contains("node_type, applied in the maintenance window sun:05:00-sun:06:00"),
        "{err}"
    );
    let (doc, err) = s.run_of("hms-cache", &[&["up"][..], &node].concat(), &up, 0);
    assert_eq!(run_counts(&doc), (0, 1, 0), "{err}");
    assert!(err.contains("pending for the maintenance window"), "{err}");
    let g = group(&s).expect("group");
    assert_eq!(g.cache_node_type(), Some("cache.t4g.small"));
    assert_eq!(
        members(&s, &g)[0]
            .pending_modified_values()
            .and_then(|p| p.cache_node_type()),
        Some("cache.t4g.medium")
    );
    // Pending counts as made; --apply-immediately applies it now.
    s.run_of(
        "hms-cache",
        &[&["plan", "--detailed-exitcode"][..], &node].concat(),
        &up,
        0,
    );
    let (_, err) = s.run_of(
        "hms-cache",
        &[&["up", "--apply-immediately"][..], &node].concat(),
        &up,
        0,
    );
    assert!(err.contains("applied now"), "{err}");
    assert_eq!(
        group(&s)
            .and_then(|g| g.cache_node_type().map(str::to_owned))
            .as_deref(),
        Some("cache.t4g.medium")
    );

    // A second replica, and back: in place.
    let more = [
        "--set",
        "cache.node_type=cache.t4g.medium",
        "--set",
        "cache.replicas=2",
    ];
    let (doc, err) = s.run_of("hms-cache", &[&["up"][..], &more].concat(), &up, 0);
    assert!(err.contains("IncreaseReplicaCount"), "{err}");
    assert_eq!(
        doc["outputs"]["cache"]["member_clusters"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let (doc, _) = s.run_of("hms-cache", &[&["up"][..], &node].concat(), &up, 0);
    assert_eq!(
        doc["outputs"]["cache"]["member_clusters"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(group(&s).map(|g| g.member_clusters().len()), Some(2));
    // A parameter value is the parameter group alone.
    let policy = [
        "--set",
        "cache.node_type=cache.t4g.medium",
        "--set",
        "cache.parameters.maxmemory-policy=allkeys-lru",
    ];
    let (_, err) = s.run_of("hms-cache", &[&["plan"][..], &policy].concat(), &up, 0);
    assert!(
        err.contains("cache.parameter_group[redis7]")
            && err.contains("Plan: 0 to create, 1 to update"),
        "{err}"
    );
    assert_eq!(
        group(&s).and_then(|g| g.replication_group_create_time().cloned()),
        created,
        "nothing was replaced"
    );

    // Another key: a replace, refused without --allow-destroy.
    let kms = aws_sdk_kms::Client::new(&s.sdk);
    let key = s
        .block_on(kms.create_key().description("another cache key").send())
        .expect("key")
        .key_metadata()
        .and_then(|k| k.arn().map(str::to_owned))
        .expect("arn");
    let new_key = [
        "--set",
        "cache.node_type=cache.t4g.medium",
        "--set",
        &format!("cache.kms_key_arn={key}"),
    ];
    let (_, err) = s.run_of("hms-cache", &[&["plan"][..], &new_key].concat(), &up, 0);
    assert!(
        err.contains("replace") && err.contains("kms_key cannot change in place"),
        "{err}"
    );
    let (_, err) = s.run_of("hms-cache", &[&["up"][..], &new_key].concat(), &up, 1);
    assert!(
        err.contains("--allow-destroy") && err.contains("cache.replication_group"),
        "{err}"
    );
    assert_ne!(
        group(&s)
            .and_then(|g| g.kms_key_id().map(str::to_owned))
            .as_deref(),
        Some(key.as_str())
    );
    let snapshots = |s: &Stack| -> Vec<String> {
        s.block_on(
            ec(s)
                .describe_snapshots()
                .replication_group_id(id(s))
                .send(),
        )
        .map(|o| {
            o.snapshots()
                .iter()
                .filter_map(|x| x.snapshot_name().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
    };
    assert!(snapshots(&s).is_empty());
    // With --allow-destroy it takes a final snapshot of the old group first.
    let (doc, err) = s.run_of(
        "hms-cache",
        &[&["up", "--allow-destroy"][..], &new_key].concat(),
        &up,
        0,
    );
    assert_eq!(run_counts(&doc), (1, 1, 1), "{err}");
    let snap = doc["outputs"]["cache"]["final_snapshot_id"]
        .as_str()
        .expect("final snapshot")
        .to_owned();
    assert!(snap.starts_with(&format!("{}-final-", id(&s))), "{snap}");
    let all = s
        .block_on(ec(&s).describe_snapshots().snapshot_name(&snap).send())
        .expect("snapshot");
    assert_eq!(
        all.snapshots()[0].replication_group_id(),
        Some(id(&s).as_str())
    );
    assert_eq!(
        group(&s)
            .and_then(|g| g.kms_key_id().map(str::to_owned))
            .as_deref(),
        Some(key.as_str())
    );
    s.run_of(
        "hms-cache",
        &[&["plan", "--detailed-exitcode"][..], &new_key].concat(),
        &up,
        0,
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
    s.block_on(ec(&s).delete_snapshot().snapshot_name(&snap).send())
        .expect("delete snapshot");
}

#[test]
fn rotate_auth_changes_the_token_in_two_steps_without_a_replace() {
    let s = Stack::new("hms-cache", "rot");
    let up = upstream(&s).to_string();
    let (first, _) = s.run_of("hms-cache", &["up"], &up, 0);
    let before = group(&s).expect("group");
    let old = secret_value(&s);
    let old_version = first["outputs"]["cache"]["auth_secret_version"].clone();
    assert!(old_version.is_string(), "{first}");
    let (doc, err) = s.run(&["rotate-auth"], 0);
    assert_eq!(doc["outputs"]["cache"]["auth_rotation"], "rotating");
    assert!(
        err.contains("rotate-auth --finish") && err.contains("hms-cache up | hms-ecs up"),
        "{err}"
    );
    // The next up reports the new version, which hms-ecs pins: the backend's tasks roll onto it.
    let (again, _) = s.run_of("hms-cache", &["up"], &up, 0);
    let new_version = again["outputs"]["cache"]["auth_secret_version"].clone();
    assert!(
        new_version.is_string() && new_version != old_version,
        "{again}"
    );
    assert_eq!(doc["outputs"]["cache"]["auth_secret_version"], new_version);
    let new = secret_value(&s);
    assert_ne!(new, old, "the secret has a new value");
    let previous = s
        .block_on(
            secrets(&s)
                .get_secret_value()
                .secret_id(secret_name(&s))
                .version_stage("AWSPREVIOUS")
                .send(),
        )
        .expect("previous");
    assert_eq!(previous.secret_string(), Some(old.as_str()));
    let after = group(&s).expect("group");
    assert!(after.auth_token_last_modified_date() > before.auth_token_last_modified_date());
    assert_eq!(after.auth_token_enabled(), Some(true));
    assert_eq!(
        after.replication_group_create_time(),
        before.replication_group_create_time(),
        "no replace"
    );
    let (doc2, err2) = s.run(&["rotate-auth", "--finish"], 0);
    assert_eq!(doc2["outputs"]["cache"]["auth_rotation"], "set");
    assert_eq!(secret_value(&s), new);
    let (_, err3) = s.run_of("hms-cache", &["plan", "--detailed-exitcode"], &up, 0);
    let haystack = format!("{doc}{err}{doc2}{err2}{err3}{}", state_text(&s));
    assert!(
        !haystack.contains(&old) && !haystack.contains(&new),
        "a token leaked"
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn a_killed_up_and_a_lost_state_are_adopted_without_duplicates() {
    let s = Stack::new("hms-cache", "kill");
    let up = upstream(&s).to_string();
    let mut child = s
        .std_cmd(&["up"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(up.as_bytes())
        .expect("write");
    let stderr = child.stderr.take().expect("stderr");
    // Kill as soon as the secret exists: the group is being made, or about to be.
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("cache.auth_secret: created") {
            child.kill().expect("kill");
            break;
        }
    }
    let _ = child.wait().expect("wait");
    let (doc, err) = s.run_of("hms-cache", &["up"], &up, 0);
    let (created, _, _) = run_counts(&doc);
    assert!(
        created < 6 || seen.iter().all(|l| !l.contains("created")),
        "{seen:?}\n{err}"
    );
    let count = |s: &Stack| {
        let groups = s
            .block_on(ec(s).describe_replication_groups().send())
            .expect("groups")
            .replication_groups()
            .iter()
            .filter(|g| g.replication_group_id() == Some(id(s).as_str()))
            .count();
        let secrets = s
            .block_on(
                secrets(s)
                    .list_secrets()
                    .filters(
                        aws_sdk_secretsmanager::types::Filter::builder()
                            .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                            .values(secret_name(s))
                            .build(),
                    )
                    .send(),
            )
            .expect("secrets")
            .secret_list()
            .len();
        (groups, secrets)
    };
    assert_eq!(count(&s), (1, 1));
    s.run_of("hms-cache", &["plan", "--detailed-exitcode"], &up, 0);

    // State lost: everything is found by name and adopted by its tags, nothing made again.
    std::fs::remove_file(
        s.state_dir()
            .join(format!("{}-production", s.name))
            .join("hms-cache.json"),
    )
    .expect("state file");
    let (doc, err) = s.run_of("hms-cache", &["up"], &up, 0);
    assert_eq!(run_counts(&doc), (0, 0, 0), "{err}");
    assert_eq!(count(&s), (1, 1));
    assert_eq!(
        doc["outputs"]["cache"]["member_clusters"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn bad_inputs_exit_64_with_one_line_and_create_nothing() {
    let s = Stack::new("hms-cache", "bad");
    let doc = with_db(&upstream(&s)).to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "cache.engine=memcached"], "cache.engine"),
        (
            &["--set", "cache.node_type=cache.t4g.xlarge"],
            "the t4g family has no xlarge node",
        ),
        (&["--set", "cache.replicas=0"], "nothing to fail over to"),
        (
            &["--set", "cache.snapshot_window=05:30-06:30"],
            "overlaps the maintenance window",
        ),
        (
            &["--set", "cache.snapshot_window=03:30-04:30"],
            "outputs.db.backup_window",
        ),
        (
            &["--set", "cache.maintenance_window=sun:04:30-sun:05:30"],
            "outputs.db.maintenance_window",
        ),
        (
            &["--set", "cache.snapshot_retention_days=36"],
            "cache.snapshot_retention_days",
        ),
        (
            &["--set", "cache.auth_token=Sup3rS3cretT0kenValue"],
            "cache.auth_token: the AUTH token is never read from config",
        ),
        (
            &["--set", "cache.parameters.maxmemory-policy=drop-all"],
            "not an eviction policy",
        ),
        (
            &["--set", "cache.family=valkey8"],
            "does not match redis 7.1",
        ),
        (
            &[
                "--set",
                "cache.multi_az=false",
                "--set",
                "cache.automatic_failover=false",
            ],
            "cache.allow_single_az = true",
        ),
        (
            &["--set", "cache.engine_version=7.3"],
            "use one of 6.2, 7.0, 7.1",
        ),
        (&["--set", "cache.nodes=3"], "unknown field `nodes`"),
    ];
    for (args, want) in cases {
        let out = s
            .cmd_in(&[&["up"][..], args].concat())
            .write_stdin(doc.clone())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(!err.contains("Sup3rS3cret"), "the token was echoed: {err}");
    }
    // Missing outputs.vpc is named.
    let empty =
        json!({"hms": 1, "stack": s.name, "env": "production", "region": "us-east-1"}).to_string();
    let out = s
        .cmd_in(&["plan"])
        .write_stdin(empty)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("needs outputs.vpc.private_subnet_ids") && err.contains("hms-vpc"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(group(&s).is_none());
    assert!(s
        .block_on(
            secrets(&s)
                .describe_secret()
                .secret_id(secret_name(&s))
                .send()
        )
        .is_err());
}

#[test]
fn down_keeps_a_final_snapshot_schedules_the_secret_and_a_later_up_restores_it() {
    let s = Stack::new("hms-cache", "down");
    let up = upstream(&s).to_string();
    let (doc, _) = s.run_of("hms-cache", &["up"], &up, 0);
    let arn = doc["outputs"]["cache"]["auth_secret_arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let token = secret_value(&s);
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc).2, 6, "{err}");
    let snap = doc["outputs"]["cache"]["final_snapshot_id"]
        .as_str()
        .expect("final snapshot")
        .to_owned();
    assert!(snap.starts_with(&format!("{}-final-", id(&s))), "{snap}");
    assert!(s
        .block_on(ec(&s).describe_snapshots().snapshot_name(&snap).send())
        .is_ok());
    assert!(group(&s).is_none());
    let secret = s
        .block_on(secrets(&s).describe_secret().secret_id(&arn).send())
        .expect("secret");
    assert!(secret.deleted_date().is_some(), "scheduled for deletion");
    // Nothing of hms-cache is left tagged but the secret in its recovery window.
    assert_eq!(tagged(&s), vec![arn.clone()]);
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert!(err.contains("Nothing to delete"), "{err}");
    // A later up restores the secret (same token) instead of failing on its name.
    let (doc, err) = s.run_of("hms-cache", &["up"], &up, 0);
    assert!(err.contains("RestoreSecret"), "{err}");
    assert_eq!(doc["outputs"]["cache"]["auth_secret_arn"], arn.as_str());
    assert_eq!(secret_value(&s), token);
    // Without a final snapshot.
    let (doc, _) = s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
    assert!(
        doc["outputs"]["cache"]["final_snapshot_id"].is_null(),
        "{doc}"
    );
    let snaps = s
        .block_on(ec(&s).describe_snapshots().send())
        .expect("snapshots")
        .snapshots()
        .iter()
        .filter(|x| x.replication_group_id() == Some(id(&s).as_str()))
        .count();
    assert_eq!(snaps, 1, "only the first down's snapshot");
    s.block_on(ec(&s).delete_snapshot().snapshot_name(&snap).send())
        .expect("delete snapshot");
}

#[test]
fn stack_tags_converge_on_every_resource_through_the_tagging_apis() {
    let s = Stack::new("hms-cache", "tags");
    let up = upstream(&s).to_string();
    s.run_of("hms-cache", &["up"], &up, 0);
    let g = group(&s).expect("group");
    let sn = s
        .block_on(
            ec(&s)
                .describe_cache_subnet_groups()
                .cache_subnet_group_name(format!("{}-subnets", id(&s)))
                .send(),
        )
        .expect("subnet group");
    let pg = s
        .block_on(
            ec(&s)
                .describe_cache_parameter_groups()
                .cache_parameter_group_name(format!("{}-redis7", id(&s)))
                .send(),
        )
        .expect("parameter group");
    let ec_arns = [
        g.arn().expect("arn").to_owned(),
        sn.cache_subnet_groups()[0].arn().expect("arn").to_owned(),
        pg.cache_parameter_groups()[0]
            .arn()
            .expect("arn")
            .to_owned(),
    ];
    let cwl = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let log_arns: Vec<String> = s
        .block_on(
            cwl.describe_log_groups()
                .log_group_name_prefix(format!("/elasticache/{}/", id(&s)))
                .send(),
        )
        .expect("log groups")
        .log_groups()
        .iter()
        .filter_map(|l| l.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .collect();
    assert_eq!(log_arns.len(), 2);
    let updated = tag_cycle(&s, "hms-cache", &up, |owner| {
        for arn in &ec_arns {
            let tags = tags_of(&s, arn);
            assert_eq!(tag(&tags, "owner"), owner, "{arn}: {tags:?}");
            assert!(tag(&tags, "hms:address").is_some(), "{arn}: {tags:?}");
        }
        for arn in &log_arns {
            let tags = s
                .block_on(cwl.list_tags_for_resource().resource_arn(arn).send())
                .expect("tags")
                .tags()
                .cloned()
                .unwrap_or_default();
            assert_eq!(tags.get("owner").map(String::as_str), owner, "{arn}");
        }
        let secret = s
            .block_on(
                secrets(&s)
                    .describe_secret()
                    .secret_id(secret_name(&s))
                    .send(),
            )
            .expect("secret");
        let got = secret
            .tags()
            .iter()
            .find(|t| t.key() == Some("owner"))
            .and_then(|t| t.value());
        assert_eq!(got, owner);
    });
    assert_eq!(
        updated, 6,
        "the group, subnet and parameter groups, secret and two log groups"
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

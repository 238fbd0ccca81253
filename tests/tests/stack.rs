//! The nine tools as one product: the whole pipeline up (with the domain, the cache and the CDN in front
//! of the load balancer), every tool converged, the whole stack down in reverse leaving nothing tagged;
//! the plan pipeline on an empty account; a failure in the middle.

use std::path::Path;

use hms_tests::{bin_dir, endpoint, shell, TOOLS};
use serde_json::Value;

/// The nine-tool stack's config: a zone of its own, the cache, the CDN as the only way in, and the backup
/// bucket replicated to us-west-2.
fn nine_tool_config(dir: &Path, s: &str) -> String {
    let domain = format!("{s}.hms-test.example");
    std::fs::write(
        dir.join("hms.toml"),
        format!(
            "[dns]\ndomain_name = \"{domain}\"\ncreate_zone = true\n\n[cache]\n\n[security]\nalb_ingress = \"cloudfront\"\n\n[ecs]\norigin_verify = true\n\n[edge]\n\n[backup]\nreplica_region = \"us-west-2\"\n"
        ),
    )
    .expect("config");
    domain
}

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
    let domain = nine_tool_config(dir.path(), &s);
    // Overlapped, as `make up` and the demo run it; the last tool writes to a file, so it holds one
    // document (the final one).
    let (code, _, err) = sh(
        &format!("export HMS_OVERLAP=1; {} > up.json", pipe("up", &s)),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let out = std::fs::read_to_string(dir.path().join("up.json")).expect("up.json");
    let doc: Value = serde_json::from_str(&out).expect("one document");
    for section in [
        "vpc", "security", "dns", "db", "cache", "ecs", "edge", "backup", "observe",
    ] {
        assert!(doc["outputs"][section].is_object(), "outputs.{section}");
    }
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 9);
    assert!(runs.iter().all(|r| r["ok"] == true && r["command"] == "up"));
    assert!(doc
        .get("unknown")
        .is_none_or(|u| u.as_array().is_some_and(Vec::is_empty)));
    let created: u64 = runs.iter().filter_map(|r| r["created"].as_u64()).sum();
    // 9 as before, 4 on each of the two cache members, the replica's lag, the certificate's expiry (one
    // certificate serves the ALB and CloudFront in us-east-1).
    assert_eq!(doc["outputs"]["observe"]["alarm_count"], 19);
    assert_eq!(
        doc["outputs"]["backup"]["kms_key_arn"],
        doc["outputs"]["security"]["kms_key_arns"]["backups"]
    );
    assert_eq!(doc["outputs"]["edge"]["url"], format!("https://{domain}/"));
    let (rt, sdk) = sdk();
    joined_up(&rt, &sdk, &doc);
    let replica = replicated(&rt, &sdk, &doc);

    // Every team's tool, run alone from the state store, has nothing to do.
    for t in TOOLS {
        let (code, _, err) = sh(
            &format!("{t} plan --detailed-exitcode --stack {s} < /dev/null"),
            dir.path(),
        );
        assert_eq!(code, 0, "{t} plan: {err}");
    }
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
        "arn:aws:elasticache:",
        "arn:aws:secretsmanager:",
        "arn:aws:acm:",
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
        "hms-edge down --yes",
        "hms-ecs down --yes --delete-logs --disable-deletion-protection",
        "hms-cache down --yes --skip-final-snapshot",
        "hms-db down --yes --disable-deletion-protection --skip-final-snapshot",
        "hms-dns down --yes",
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
    // cache's AUTH secret, which waits out its recovery window, the deleted NAT gateway (EC2 lists
    // deleted NAT gateways for a while, as AWS does) and the database's retained automated backups.
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
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
        } else if arn.starts_with("arn:aws:secretsmanager:") {
            let d = rt
                .block_on(secrets.describe_secret().secret_id(arn).send())
                .expect("describe secret");
            assert!(
                d.deleted_date().is_some(),
                "{arn} is scheduled for deletion"
            );
        } else if arn.contains(":snapshot:rds:") {
            // hms-db keeps the automated backups on delete (DeleteAutomatedBackups=false): they expire with
            // the retention period. The emulator shows them as automated snapshots.
        } else {
            panic!("left behind: {arn}");
        }
    }
    assert_eq!(
        keys, 5,
        "the 5 keys (rds, backups, logs, cache, alarms): {left:?}"
    );
    replica_gone(&rt, &sdk, &replica);
    gone_outside_the_tagging_api(&rt, &sdk, &domain);
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

/// The replica key's ARN and the replica bucket, both in us-west-2.
struct Replica {
    key: String,
    bucket: String,
}

fn west(sdk: &aws_config::SdkConfig) -> (aws_sdk_kms::Client, aws_sdk_s3::Client) {
    let region = aws_config::Region::new("us-west-2");
    (
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(sdk)
                .region(region.clone())
                .build(),
        ),
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(sdk)
                .region(region)
                .force_path_style(true)
                .build(),
        ),
    )
}

/// The backup bucket replicates to its replica in us-west-2, encrypted with hms-security's replica key,
/// through its replication role.
fn replicated(rt: &tokio::runtime::Runtime, sdk: &aws_config::SdkConfig, doc: &Value) -> Replica {
    let o = &doc["outputs"];
    let key = o["security"]["kms_key_arns"]["backups_replica"]
        .as_str()
        .expect("replica key")
        .to_owned();
    let bucket = o["backup"]["replica_bucket"]
        .as_str()
        .expect("replica bucket")
        .to_owned();
    assert_eq!(o["backup"]["replica_region"], "us-west-2");
    let (kms, s3) = west(sdk);
    let meta = rt
        .block_on(kms.describe_key().key_id(&key).send())
        .expect("replica key in us-west-2");
    assert_eq!(
        meta.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("Enabled")
    );
    let location = rt
        .block_on(s3.get_bucket_location().bucket(&bucket).send())
        .expect("replica bucket");
    assert_eq!(
        location.location_constraint().map(|c| c.as_str()),
        Some("us-west-2")
    );
    let home = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    );
    let source = o["backup"]["bucket"].as_str().expect("bucket");
    let got = rt
        .block_on(home.get_bucket_replication().bucket(source).send())
        .expect("replication");
    let cfg = got.replication_configuration().expect("config");
    assert_eq!(
        Some(cfg.role()),
        o["security"]["replication_role_arn"].as_str()
    );
    let dest = cfg.rules()[0].destination().expect("destination");
    assert_eq!(dest.bucket(), format!("arn:aws:s3:::{bucket}"));
    assert_eq!(
        dest.encryption_configuration()
            .and_then(|e| e.replica_kms_key_id()),
        Some(key.as_str())
    );
    Replica { key, bucket }
}

/// After `down`: the replica bucket is gone and the replica key waits out its deletion window.
fn replica_gone(rt: &tokio::runtime::Runtime, sdk: &aws_config::SdkConfig, r: &Replica) {
    let (kms, s3) = west(sdk);
    assert!(rt
        .block_on(s3.head_bucket().bucket(&r.bucket).send())
        .is_err());
    let meta = rt
        .block_on(kms.describe_key().key_id(&r.key).send())
        .expect("replica key");
    assert_eq!(
        meta.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion")
    );
}

/// What joins the tools: the HTTPS listener on hms-dns's certificate with HTTP redirected, the backend
/// told of the cache by reference, the load balancer reachable only from CloudFront.
fn joined_up(rt: &tokio::runtime::Runtime, sdk: &aws_config::SdkConfig, doc: &Value) {
    let o = &doc["outputs"];
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(sdk);
    let alb = o["ecs"]["alb_arn"].as_str().expect("alb");
    // The ALB's access logs go to hms-ecs's log bucket; the backup bucket's deletions reach hms-observe's
    // topic.
    let attrs = rt
        .block_on(
            elb.describe_load_balancer_attributes()
                .load_balancer_arn(alb)
                .send(),
        )
        .expect("attributes");
    let attr = |k: &str| {
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(k))
            .and_then(|a| a.value())
    };
    assert_eq!(attr("access_logs.s3.enabled"), Some("true"));
    assert_eq!(
        attr("access_logs.s3.bucket"),
        o["ecs"]["log_bucket"].as_str()
    );
    let s3 = aws_sdk_s3::Client::new(sdk);
    let notifications = rt
        .block_on(
            s3.get_bucket_notification_configuration()
                .bucket(o["backup"]["bucket"].as_str().expect("backup bucket"))
                .send(),
        )
        .expect("notifications");
    assert!(notifications
        .topic_configurations()
        .iter()
        .any(|t| Some(t.topic_arn()) == o["observe"]["topic_arn"].as_str()));
    // The backup bucket's server access logs go to the log bucket too.
    let backup = o["backup"]["bucket"].as_str().expect("backup bucket");
    let logging = rt
        .block_on(s3.get_bucket_logging().bucket(backup).send())
        .expect("logging");
    let logging = logging.logging_enabled().expect("server access logging on");
    assert_eq!(
        Some(logging.target_bucket()),
        o["ecs"]["log_bucket"].as_str()
    );
    assert_eq!(logging.target_prefix(), format!("s3/{backup}/"));
    let listeners = rt
        .block_on(elb.describe_listeners().load_balancer_arn(alb).send())
        .expect("listeners");
    let port = |p: i32| {
        listeners
            .listeners()
            .iter()
            .find(|l| l.port() == Some(p))
            .unwrap_or_else(|| panic!("a listener on {p}"))
    };
    let https = port(443);
    assert_eq!(
        https
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn()),
        o["dns"]["certificate_arn"].as_str()
    );
    let redirect = port(80)
        .default_actions()
        .first()
        .and_then(|a| a.redirect_config())
        .expect("port 80 redirects");
    assert_eq!(redirect.port(), Some("443"));
    assert_eq!(redirect.status_code().map(|c| c.as_str()), Some("HTTP_301"));

    let ecs = aws_sdk_ecs::Client::new(sdk);
    let td = o["ecs"]["services"]["backend"]["task_definition_arn"]
        .as_str()
        .expect("backend task definition");
    let out = rt
        .block_on(ecs.describe_task_definition().task_definition(td).send())
        .expect("task definition");
    let c = out
        .task_definition()
        .and_then(|t| t.container_definitions().first())
        .expect("container");
    let env: Vec<(&str, &str)> = c
        .environment()
        .iter()
        .filter_map(|kv| Some((kv.name()?, kv.value()?)))
        .collect();
    let cache = &o["cache"];
    assert!(
        env.contains(&(
            "REDIS_HOST",
            cache["primary_endpoint"].as_str().expect("endpoint")
        )),
        "{env:?}"
    );
    assert!(env.contains(&("REDIS_PORT", "6379")), "{env:?}");
    assert!(env.contains(&("REDIS_TLS", "true")), "{env:?}");
    let auth = c
        .secrets()
        .iter()
        .find(|x| x.name() == "REDIS_AUTH")
        .expect("REDIS_AUTH");
    assert_eq!(
        auth.value_from(),
        format!(
            "{}:::{}",
            cache["auth_secret_arn"].as_str().expect("secret"),
            cache["auth_secret_version"].as_str().expect("its version")
        ),
        "pinned to the current version"
    );

    // Issue 17: the alarm topic is encrypted with the stack's alarms key, the database is watched by
    // enhanced monitoring through hms-security's role, and its events reach the topic.
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic = o["observe"]["topic_arn"].as_str().expect("topic");
    let attrs = rt
        .block_on(sns.get_topic_attributes().topic_arn(topic).send())
        .expect("topic attributes");
    assert_eq!(
        attrs
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId"))
            .map(String::as_str),
        o["security"]["kms_key_arns"]["alarms"].as_str()
    );
    let rds = aws_sdk_rds::Client::new(sdk);
    let db = rt
        .block_on(
            rds.describe_db_instances()
                .db_instance_identifier(o["db"]["instance_id"].as_str().expect("db"))
                .send(),
        )
        .expect("db");
    let db = db.db_instances().first().expect("instance");
    assert_eq!(db.monitoring_interval(), Some(60));
    assert_eq!(
        db.monitoring_role_arn(),
        o["security"]["monitoring_role_arn"].as_str()
    );
    for (key, id) in [
        ("instance", &o["db"]["instance_id"]),
        ("parameter_group", &o["db"]["parameter_group"]),
    ] {
        let name = o["observe"]["rds_event_subscriptions"][key]
            .as_str()
            .expect("subscription");
        let subs = rt
            .block_on(
                rds.describe_event_subscriptions()
                    .subscription_name(name)
                    .send(),
            )
            .expect("event subscription");
        let e = subs.event_subscriptions_list().first().expect(name);
        assert_eq!(e.sns_topic_arn(), Some(topic), "{name}");
        assert_eq!(
            e.source_ids_list().first().map(String::as_str),
            id.as_str(),
            "{name}"
        );
        assert_eq!(e.enabled(), Some(true), "{name}");
    }

    // The cache's alarms watch its real members.
    let cw = aws_sdk_cloudwatch::Client::new(sdk);
    let members: Vec<&str> = cache["member_clusters"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(members.len(), 2, "{members:?}");
    for (i, m) in members.iter().enumerate() {
        let names: Vec<String> = [
            "engine-cpu",
            "memory",
            "evictions",
            "connections",
            "replication-lag",
        ]
        .iter()
        .map(|k| format!("{m}-{k}"))
        .collect();
        let alarms = rt
            .block_on(cw.describe_alarms().set_alarm_names(Some(names)).send())
            .expect("alarms");
        let got = alarms.metric_alarms();
        assert_eq!(
            got.len(),
            if i == 0 { 4 } else { 5 },
            "the primary has no lag alarm: {got:?}"
        );
        for a in got {
            let dims: Vec<(&str, &str)> = a
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?, d.value()?)))
                .collect();
            assert_eq!(dims, [("CacheClusterId", *m)], "{:?}", a.alarm_name());
            assert_eq!(a.namespace(), Some("AWS/ElastiCache"));
        }
    }

    let ec2 = aws_sdk_ec2::Client::new(sdk);
    let sg = o["security"]["alb_sg_id"].as_str().expect("alb sg");
    let g = rt
        .block_on(ec2.describe_security_groups().group_ids(sg).send())
        .expect("alb group");
    let perms = g
        .security_groups()
        .first()
        .map(|g| g.ip_permissions())
        .expect("group");
    assert_eq!(perms.len(), 1, "one rule: {perms:?}");
    assert_eq!(perms[0].from_port(), Some(443));
    assert!(perms[0].ip_ranges().is_empty() && perms[0].ipv6_ranges().is_empty());
    let pl = perms[0]
        .prefix_list_ids()
        .first()
        .and_then(|p| p.prefix_list_id())
        .expect("a prefix list");
    let lists = rt
        .block_on(
            ec2.describe_managed_prefix_lists()
                .prefix_list_ids(pl)
                .send(),
        )
        .expect("prefix list");
    assert_eq!(
        lists
            .prefix_lists()
            .first()
            .and_then(|l| l.prefix_list_name()),
        Some("com.amazonaws.global.cloudfront.origin-facing")
    );
}

/// The zone, the certificates and the distribution are not in the tagging API: asked directly.
fn gone_outside_the_tagging_api(
    rt: &tokio::runtime::Runtime,
    sdk: &aws_config::SdkConfig,
    domain: &str,
) {
    let r53 = aws_sdk_route53::Client::new(sdk);
    let zones = rt.block_on(r53.list_hosted_zones().send()).expect("zones");
    assert!(
        zones
            .hosted_zones()
            .iter()
            .all(|z| z.name().trim_end_matches('.') != domain),
        "the created zone is deleted"
    );
    let acm = aws_sdk_acm::Client::new(sdk);
    let certs = rt
        .block_on(acm.list_certificates().send())
        .expect("certificates");
    assert!(certs
        .certificate_summary_list()
        .iter()
        .all(|c| c.domain_name().is_none_or(|d| !d.ends_with(domain))));
    let cf = aws_sdk_cloudfront::Client::new(sdk);
    let dists = rt
        .block_on(cf.list_distributions().send())
        .expect("distributions");
    assert!(dists
        .distribution_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .all(|d| d
            .aliases()
            .is_none_or(|a| !a.items().iter().any(|x| x == domain))));
}

#[test]
fn the_plan_pipeline_on_an_empty_account_lists_everything_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("plan");
    nine_tool_config(dir.path(), &s);
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
        "outputs.dns.certificate_arn",
        "outputs.cache.auth_secret_arn",
        "outputs.edge.distribution_id",
    ] {
        assert!(unknown.contains(&u), "{u} in {unknown:?}");
    }
    for (tool, n) in [
        ("hms-vpc", 38),
        // 29, the monitoring role and its policy, the alarms key and its alias; the replication role and
        // its policy, the replica key and its alias; the flow-log group's encryption with the logs key.
        ("hms-security", 38),
        ("hms-dns", 3),
        ("hms-db", 4),
        ("hms-cache", 6),
        // 17 and the log bucket, the origin secret and the default service's own rule behind the 403.
        ("hms-ecs", 20),
        ("hms-edge", 13),
        // The bucket, its replica and the replication rule.
        ("hms-backup", 3),
        // 9 as in the six-tool stack, the certificate's expiry, the two RDS event subscriptions, the
        // backup bucket's deletion notices; the cache's once it exists.
        ("hms-observe", 17),
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
    assert!(err.contains("hms-observe: note: the cache alarms"), "{err}");
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 9);
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

/// `make plan` is the plan pipeline of the nine tools: on an empty account every tool's plan is printed
/// and the outcome line says "changes pending"; with a bad `[db]` value it says "failed" with each
/// tool's exit code. (GNU make itself exits 2 whenever a recipe does not exit 0, so make's own status
/// is 2 in both cases: the outcome line and the codes tell them apart; `scripts`/CI that need the
/// pipeline's own 0/1/2 run the pipeline itself, as the README shows.)
#[test]
fn make_plan_is_the_plan_pipeline_and_tells_pending_from_failed() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("mkplan");
    nine_tool_config(dir.path(), &s);
    let makefile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile");
    let make = || {
        sh(
            &format!(
                "make -s -f {} -o build plan BIN={} ARGS='--stack {s}'",
                makefile.display(),
                bin_dir().display(),
            ),
            dir.path(),
        )
    };
    let (code, _, err) = make();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("make plan: changes pending"), "{err}");
    for t in TOOLS {
        assert!(err.contains(&format!("{t}: Plan: ")), "{t}:\n{err}");
    }
    let (rt, sdk) = sdk();
    assert!(tagged(&rt, &sdk, &s).is_empty(), "a plan creates nothing");

    let config = dir.path().join("hms.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[db]\nallocated_storage = 5\n");
    std::fs::write(&config, text).expect("config");
    let (code, _, err) = make();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("db.allocated_storage"), "{err}");
    let outcome = err
        .lines()
        .find(|l| l.starts_with("make plan: "))
        .unwrap_or_else(|| panic!("an outcome line: {err}"));
    assert_eq!(
        outcome, "make plan: failed (exit codes 2 2 2 64 1 1 1 1 1)",
        "{err}"
    );
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

    // `make up` of the six-tool reference stack with the same bad [db] value fails as a whole.
    std::fs::write(
        dir.path().join("hms.toml"),
        format!("[stack]\nname = \"{s}\"\n\n[db]\nallocated_storage = 5\n"),
    )
    .expect("config");
    let makefile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile");
    let (code, _, err) = sh(
        &format!(
            "make -s -f {} -o build up BIN={} TOOLS='{}'",
            makefile.display(),
            bin_dir().display(),
            "hms-vpc hms-security hms-db hms-ecs hms-backup hms-observe"
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

//! hms-ecs against the emulator, behind hms-vpc, hms-security and hms-db as in the pipeline. The emulator
//! runs with MOTO_ECS_SERVICE_RUNNING=2 (services otherwise never get running tasks).

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

const WORKER: [&str; 8] = [
    "--set",
    "ecs.services.worker.port=9000",
    "--set",
    "ecs.services.worker.cpu=256",
    "--set",
    "ecs.services.worker.memory=512",
    "--set",
    "ecs.services.worker.path=\"/worker/*\"",
];

/// The upstream tools' document (their own `extra` config too), then `hms-ecs ARGS` on it.
fn pipeline(s: &Stack, extra: &[&str], args: &[&str], code: i32) -> (Value, String) {
    let db_flags = [&["up", "--set", "db.deletion_protection=false"][..], extra].concat();
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of(
        "hms-security",
        &[&["up"][..], extra].concat(),
        &vpc.to_string(),
        0,
    );
    let (db, _) = s.run_of("hms-db", &db_flags, &sec.to_string(), 0);
    s.run_of("hms-ecs", &[args, extra].concat(), &db.to_string(), code)
}

fn services(s: &Stack) -> Vec<aws_sdk_ecs::types::Service> {
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    let names: Vec<String> = ["backend", "frontend", "worker"]
        .iter()
        .map(|k| format!("{}-{k}", s.name))
        .collect();
    s.block_on(
        ecs.describe_services()
            .cluster(format!("{}-cluster", s.name))
            .set_services(Some(names))
            .send(),
    )
    .map(|o| {
        o.services()
            .iter()
            .filter(|x| x.status() == Some("ACTIVE"))
            .cloned()
            .collect()
    })
    .unwrap_or_default()
}

fn task_definition(s: &Stack, arn: &str) -> aws_sdk_ecs::types::TaskDefinition {
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    s.block_on(ecs.describe_task_definition().task_definition(arn).send())
        .expect("task definition")
        .task_definition()
        .cloned()
        .expect("td")
}

#[test]
fn pipeline_builds_cluster_services_alb_and_scaling_and_converges() {
    let s = Stack::new("hms-ecs", "ref");
    let (doc, err) = pipeline(&s, &[], &["up"], 0);
    assert_eq!(run_counts(&doc), (17, 0, 0), "{err}");
    let out = &doc["outputs"]["ecs"];
    // Without ecs.origin_verify: no origin secret (the listener forwards, below).
    assert!(out.get("origin_verify_secret_arn").is_none());
    assert!(out.get("origin_verify_header").is_none());
    let sm = aws_sdk_secretsmanager::Client::new(&s.sdk);
    assert!(s
        .block_on(
            sm.describe_secret()
                .secret_id(format!("{}/production/edge/origin-verify", s.name))
                .send()
        )
        .is_err());
    let sec = &doc["outputs"]["security"];
    let vpc = &doc["outputs"]["vpc"];
    let db = &doc["outputs"]["db"];

    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    let cl = s
        .block_on(
            ecs.describe_clusters()
                .clusters(format!("{}-cluster", s.name))
                .include(aws_sdk_ecs::types::ClusterField::Settings)
                .send(),
        )
        .expect("cluster");
    let cl = cl.clusters().first().expect("cluster");
    assert!(
        cl.settings().iter().any(|x| x.value() == Some("enabled")),
        "Container Insights on"
    );
    let mut providers = cl.capacity_providers().to_vec();
    providers.sort();
    assert_eq!(providers, vec!["FARGATE", "FARGATE_SPOT"]);

    let svcs = services(&s);
    assert_eq!(svcs.len(), 2);
    let mut private: Vec<String> = vpc["private_subnet_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    private.sort();
    for (key, cpu, mem, port) in [
        ("backend", "512", "1024", 8000),
        ("frontend", "256", "512", 80),
    ] {
        let svc = svcs
            .iter()
            .find(|x| x.service_name() == Some(format!("{}-{key}", s.name).as_str()))
            .expect(key);
        assert_eq!(svc.desired_count(), 2, "{key}");
        assert_eq!(svc.launch_type().map(|l| l.as_str()), Some("FARGATE"));
        let net = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration())
            .expect("awsvpc");
        let mut subnets = net.subnets().to_vec();
        subnets.sort();
        assert_eq!(subnets, private, "{key} in the private subnets");
        assert_eq!(
            net.security_groups(),
            [sec["ecs_sg_id"].as_str().expect("sg")]
        );
        assert_eq!(net.assign_public_ip().map(|a| a.as_str()), Some("DISABLED"));
        let lb = svc.load_balancers().first().expect("target group");
        assert_eq!(lb.container_port(), Some(port));
        assert_eq!(
            lb.target_group_arn(),
            out["services"][key]["target_group_arn"].as_str()
        );
        let td = task_definition(&s, svc.task_definition().expect("td"));
        assert_eq!((td.cpu(), td.memory()), (Some(cpu), Some(mem)), "{key}");
        assert_eq!(
            td.execution_role_arn(),
            sec["ecs_execution_role_arn"].as_str()
        );
        assert_eq!(td.task_role_arn(), sec["task_role_arns"][key].as_str());
        let c = td.container_definitions().first().expect("container");
        let log = c.log_configuration().expect("logs");
        assert_eq!(
            log.options()
                .and_then(|o| o.get("awslogs-group"))
                .map(String::as_str),
            Some(format!("/ecs/{}/{key}", s.name).as_str())
        );
        // Logging never blocks the application: non-blocking, a bounded buffer.
        let opt = |k: &str| log.options().and_then(|o| o.get(k)).map(String::as_str);
        assert_eq!(
            (opt("mode"), opt("max-buffer-size")),
            (Some("non-blocking"), Some("25m")),
            "{key}"
        );
        // A read-only root filesystem; /tmp is the task's scratch volume, writable.
        assert_eq!(c.readonly_root_filesystem(), Some(true), "{key}");
        let tmp = c
            .mount_points()
            .iter()
            .find(|m| m.container_path() == Some("/tmp"))
            .expect("/tmp mounted");
        assert_eq!(tmp.read_only(), Some(false));
        assert!(
            td.volumes()
                .iter()
                .any(|v| v.name() == tmp.source_volume() && v.host().is_none()),
            "{key}: the scratch volume is the task's own"
        );
        let env: Vec<(&str, &str)> = c
            .environment()
            .iter()
            .filter_map(|e| Some((e.name()?, e.value()?)))
            .collect();
        if key == "backend" {
            assert!(
                env.contains(&("DB_HOST", db["endpoint"].as_str().expect("endpoint"))),
                "{env:?}"
            );
            assert!(
                env.contains(&("DB_USER", "hms_prod"))
                    && env.contains(&("DB_NAME", "hms"))
                    && env.contains(&("DB_PORT", "5432")),
                "{env:?}"
            );
            let secret = c.secrets().first().expect("secret reference");
            assert_eq!(secret.name(), "DB_PASSWORD");
            assert_eq!(
                secret.value_from(),
                format!(
                    "{}:password::",
                    db["master_user_secret_arn"].as_str().expect("arn")
                )
            );
        } else {
            assert!(
                c.secrets().is_empty() && !env.iter().any(|(k, _)| k.starts_with("DB_")),
                "{env:?}"
            );
        }
    }

    // The ALB: internet-facing in the public subnets, /api/* to the backend, the rest to the frontend.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let lbs = s
        .block_on(
            elb.describe_load_balancers()
                .names(format!("{}-alb", s.name))
                .send(),
        )
        .expect("alb");
    let lb = lbs.load_balancers().first().expect("alb");
    assert_eq!(lb.scheme().map(|x| x.as_str()), Some("internet-facing"));
    assert_eq!(
        lb.security_groups(),
        [sec["alb_sg_id"].as_str().expect("sg")]
    );
    assert_eq!(out["alb_dns_name"], lb.dns_name().expect("dns"));
    let listeners = s
        .block_on(
            elb.describe_listeners()
                .load_balancer_arn(lb.load_balancer_arn().expect("arn"))
                .send(),
        )
        .expect("listeners");
    assert_eq!(listeners.listeners().len(), 1);
    let http = &listeners.listeners()[0];
    assert_eq!(http.port(), Some(80));
    assert_eq!(
        http.default_actions()
            .first()
            .and_then(|a| a.target_group_arn()),
        out["services"]["frontend"]["target_group_arn"].as_str()
    );
    let rules = s
        .block_on(
            elb.describe_rules()
                .listener_arn(http.listener_arn().expect("arn"))
                .send(),
        )
        .expect("rules");
    let api = rules
        .rules()
        .iter()
        .find(|r| r.is_default() != Some(true))
        .expect("a path rule");
    assert_eq!(
        api.actions().first().and_then(|a| a.target_group_arn()),
        out["services"]["backend"]["target_group_arn"].as_str()
    );
    let path: Vec<String> = api
        .conditions()
        .iter()
        .flat_map(|c| c.values().to_vec())
        .collect();
    assert_eq!(path, vec!["/api/*"]);

    // Autoscaling 2–10 at 70 % CPU for both.
    let scaling = aws_sdk_applicationautoscaling::Client::new(&s.sdk);
    let targets = s
        .block_on(
            scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .send(),
        )
        .expect("targets");
    let policies = s
        .block_on(
            scaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .send(),
        )
        .expect("policies");
    for key in ["backend", "frontend"] {
        let rid = format!("service/{}-cluster/{}-{key}", s.name, s.name);
        let t = targets
            .scalable_targets()
            .iter()
            .find(|t| t.resource_id() == rid)
            .expect("scalable target");
        assert_eq!((t.min_capacity(), t.max_capacity()), (2, 10));
        let p = policies
            .scaling_policies()
            .iter()
            .find(|p| p.resource_id() == rid)
            .expect("policy");
        let cfg = p
            .target_tracking_scaling_policy_configuration()
            .expect("target tracking");
        assert_eq!(cfg.target_value(), 70.0);
        assert_eq!(
            cfg.predefined_metric_specification()
                .map(|m| m.predefined_metric_type().as_str()),
            Some("ECSServiceAverageCPUUtilization")
        );
    }

    log_bucket_and_access_logs(&s, &doc);

    // A second up changes nothing; plan --detailed-exitcode exits 0.
    let (doc2, _) = s.run_of("hms-ecs", &["up"], &doc.to_string(), 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0));
    s.run_of(
        "hms-ecs",
        &["plan", "--detailed-exitcode"],
        &doc.to_string(),
        0,
    );
}

/// The stack's log bucket as the emulator holds it (ACLs off, public access blocked, versioned, SSE-S3,
/// the lifecycle, the delivery policy parsed), the load balancer's access logs pointed at it, and a
/// policy removed by hand put back by the next `up`.
fn log_bucket_and_access_logs(s: &Stack, doc: &Value) {
    let out = &doc["outputs"]["ecs"];
    let bucket = format!("{}-logs-production", s.name);
    assert_eq!(out["log_bucket"], bucket.as_str());
    let s3 = aws_sdk_s3::Client::new(&s.sdk);
    let own = s
        .block_on(s3.get_bucket_ownership_controls().bucket(&bucket).send())
        .expect("ownership");
    assert_eq!(
        own.ownership_controls().expect("controls").rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let pab = s
        .block_on(s3.get_public_access_block().bucket(&bucket).send())
        .expect("public access block");
    let pab = pab.public_access_block_configuration().expect("pab");
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let versioning = s
        .block_on(s3.get_bucket_versioning().bucket(&bucket).send())
        .expect("versioning");
    assert_eq!(versioning.status().map(|v| v.as_str()), Some("Enabled"));
    let enc = s
        .block_on(s3.get_bucket_encryption().bucket(&bucket).send())
        .expect("encryption");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("sse")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256"),
        "load balancers deliver access logs only to SSE-S3 buckets"
    );
    let lifecycle = s
        .block_on(
            s3.get_bucket_lifecycle_configuration()
                .bucket(&bucket)
                .send(),
        )
        .expect("lifecycle");
    let r = &lifecycle.rules()[0];
    assert_eq!(r.expiration().and_then(|e| e.days()), Some(365));
    assert_eq!(
        r.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(365)
    );
    let policy = |s: &Stack| -> Option<Value> {
        s.block_on(s3.get_bucket_policy().bucket(&bucket).send())
            .ok()
            .and_then(|p| {
                p.policy()
                    .map(|p| serde_json::from_str(p).expect("policy JSON"))
            })
    };
    let doc_policy = policy(s).expect("bucket policy");
    let account = doc["outputs"]["security"]["ecs_execution_role_arn"]
        .as_str()
        .and_then(|a| a.split(':').nth(4))
        .expect("account")
        .to_owned();
    let statements = doc_policy["Statement"].as_array().expect("statements");
    let sid = |id: &str| {
        statements
            .iter()
            .find(|x| x["Sid"] == id)
            .unwrap_or_else(|| panic!("{id} in {doc_policy}"))
    };
    let elb = sid("LoadBalancerAccessLogs");
    assert_eq!(elb["Effect"], "Allow");
    // us-east-1's Elastic Load Balancing log-delivery account.
    assert_eq!(elb["Principal"]["AWS"], "arn:aws:iam::127311923021:root");
    assert_eq!(elb["Action"], "s3:PutObject");
    assert_eq!(
        elb["Resource"],
        format!("arn:aws:s3:::{bucket}/alb/AWSLogs/{account}/*").as_str()
    );
    let s3_logs = sid("S3ServerAccessLogs");
    assert_eq!(s3_logs["Principal"]["Service"], "logging.s3.amazonaws.com");
    assert_eq!(
        s3_logs["Resource"],
        format!("arn:aws:s3:::{bucket}/s3/*").as_str()
    );
    assert_eq!(
        s3_logs["Condition"]["StringEquals"]["aws:SourceAccount"],
        account.as_str()
    );
    let tls = sid("DenyInsecureTransport");
    assert_eq!(tls["Effect"], "Deny");
    assert_eq!(tls["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(statements.len(), 3);

    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let attrs = s
        .block_on(
            elb.describe_load_balancer_attributes()
                .load_balancer_arn(out["alb_arn"].as_str().expect("alb"))
                .send(),
        )
        .expect("attributes");
    let attr = |k: &str| {
        attrs
            .attributes()
            .iter()
            .find(|a| a.key() == Some(k))
            .and_then(|a| a.value().map(str::to_owned))
    };
    assert_eq!(attr("access_logs.s3.enabled").as_deref(), Some("true"));
    assert_eq!(attr("access_logs.s3.bucket"), Some(bucket.clone()));
    assert_eq!(attr("access_logs.s3.prefix").as_deref(), Some("alb"));

    // The policy deleted by hand is drift: plan shows it, up puts it back and changes nothing else.
    s.block_on(s3.delete_bucket_policy().bucket(&bucket).send())
        .expect("delete policy");
    let (_, err) = s.run_of(
        "hms-ecs",
        &["plan", "--detailed-exitcode"],
        &doc.to_string(),
        2,
    );
    assert!(err.contains("ecs.log_bucket"), "{err}");
    let (after, err) = s.run_of("hms-ecs", &["up"], &doc.to_string(), 0);
    assert_eq!(run_counts(&after), (0, 1, 0), "{err}");
    assert_eq!(policy(s), Some(doc_policy));
}

#[test]
fn autoscaling_owns_the_count_and_a_new_image_is_one_revision() {
    let s = Stack::new("hms-ecs", "deploy");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let input = doc.to_string();
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    // As autoscaling would: the count changes outside the tool, and up leaves it.
    s.block_on(
        ecs.update_service()
            .cluster(format!("{}-cluster", s.name))
            .service(format!("{}-backend", s.name))
            .desired_count(5)
            .send(),
    )
    .expect("scale");
    let (doc2, _) = s.run_of("hms-ecs", &["up"], &input, 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0));
    let backend = |svcs: Vec<aws_sdk_ecs::types::Service>| {
        svcs.into_iter()
            .find(|x| x.service_name() == Some(format!("{}-backend", s.name).as_str()))
            .expect("backend")
    };
    assert_eq!(backend(services(&s)).desired_count(), 5);

    let before = backend(services(&s))
        .task_definition()
        .expect("td")
        .to_owned();
    // A tag change is pending on every resource; the deploy touches only the backend's.
    let (doc3, err) = s.run_of(
        "hms-ecs",
        &[
            "deploy",
            "backend",
            "hms/backend:v1.3.0",
            "--set",
            "stack.tags={owner=\"apps\"}",
        ],
        &input,
        0,
    );
    assert_eq!(
        run_counts(&doc3),
        (0, 2, 0),
        "one new revision, one service update: {err}"
    );
    assert!(err.contains("pending for 'hms-ecs up'"), "{err}");
    // The next plain up would put the config's image back: its plan says so.
    let (_, err) = s.run_of("hms-ecs", &["plan"], &input, 0);
    assert!(
        err.contains("reverts the image hms/backend:v1.3.0 deployed by `hms-ecs deploy`"),
        "{err}"
    );
    let after = backend(services(&s))
        .task_definition()
        .expect("td")
        .to_owned();
    assert_ne!(before, after);
    assert!(after.ends_with(":2"), "{after}");
    let td = task_definition(&s, &after);
    assert_eq!(
        td.container_definitions().first().and_then(|c| c.image()),
        Some("hms/backend:v1.3.0")
    );
    assert_eq!(
        backend(services(&s)).desired_count(),
        5,
        "a deploy keeps the scaled count"
    );
    // The old revision stays registered for rollback.
    assert_eq!(
        task_definition(&s, &before).status().map(|x| x.as_str()),
        Some("ACTIVE")
    );
}

#[test]
fn a_third_service_comes_and_goes_with_exactly_its_resources() {
    let s = Stack::new("hms-ecs", "third");
    let (doc, _) = pipeline(&s, &WORKER, &["up"], 0);
    // cluster, log bucket, ALB, listener + per service: log group, task definition, target group,
    // service, scaling target, cpu policy; rules for the two path services.
    assert_eq!(run_counts(&doc), (4 + 6 * 3 + 2, 0, 0));
    assert_eq!(services(&s).len(), 3);
    assert!(doc["outputs"]["ecs"]["services"]["worker"]["service_arn"].is_string());
    let input = doc.to_string();
    // Removing it from config deletes exactly its resources, and only with --allow-destroy.
    let (_, err) = s.run_of("hms-ecs", &["up"], &input, 1);
    assert!(
        err.contains("--allow-destroy") && err.contains("ecs.service[worker]"),
        "{err}"
    );
    let (doc2, err) = s.run_of("hms-ecs", &["up", "--allow-destroy"], &input, 0);
    assert_eq!(
        run_counts(&doc2),
        (0, 0, 7),
        "service, task definition, target group, rule, scaling target, policy, log group: {err}"
    );
    assert_eq!(services(&s).len(), 2);
}

#[test]
fn bad_inputs_exit_64_and_create_nothing() {
    let s = Stack::new("hms-ecs", "bad");
    let (vpc, _) = s.run_of("hms-vpc", &["plan"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["plan"], &vpc.to_string(), 0);
    let (db, _) = s.run_of("hms-db", &["plan"], &sec.to_string(), 0);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "ecs.services.backend.memory=3000"],
            "Fargate does not offer 512 CPU units with 3000 MiB",
        ),
        (
            &["--set", "ecs.services.backend.port=0"],
            "ecs.services.backend.port",
        ),
        (
            &[
                "--set",
                "ecs.services.worker.port=9000",
                "--set",
                "ecs.services.worker.cpu=256",
                "--set",
                "ecs.services.worker.memory=512",
                "--set",
                "ecs.services.worker.path=\"/api/*\"",
            ],
            "also the path of backend",
        ),
        (
            &["--set", "ecs.services.backend.name=\"bad name!\""],
            "not a valid ECS service name",
        ),
        (
            &[
                "--set",
                "ecs.services.backend.min_count=5",
                "--set",
                "ecs.services.backend.max_count=3",
            ],
            "above max_count",
        ),
        (
            &["--set", "ecs.services.backend.desired_count=20"],
            "outside min_count..max_count",
        ),
        (
            &["--set", "ecs.services.backend.image=\"Not An Image\""],
            "not an image reference",
        ),
        (
            &["--set", "ecs.services.backend.path=\"api\""],
            "starts with '/'",
        ),
        (
            &[
                "--set",
                "ecs.services.worker.port=9000",
                "--set",
                "ecs.services.worker.cpu=256",
                "--set",
                "ecs.services.worker.memory=512",
                "--set",
                "ecs.services.worker.path=\"/api/admin/*\"",
            ],
            "overlaps",
        ),
        (
            &["--set", "ecs.services.frontend.enabled=false"],
            "exactly one service must have no path",
        ),
        (
            &[
                "--set",
                "ecs.services.backend.environment.DB_PASSWORD=\"hunter2\"",
            ],
            "secrets never come from config",
        ),
        (
            &["--set", "ecs.services.backend.health_check_path=\"/a b\""],
            "health_check_path",
        ),
        (
            &["--set", "ecs.log_retention_days=45"],
            "ecs.log_retention_days",
        ),
        (
            &["--set", "ecs.certificate_arn=\"not-an-arn\""],
            "ecs.certificate_arn",
        ),
    ];
    for (args, want) in cases {
        let out = s
            .cmd_in(&[&["plan"][..], args].concat())
            .write_stdin(db.to_string())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    let (_, err) = s.run(&["up"], 64);
    assert!(err.contains("needs outputs.vpc.vpc_id"), "{err}");
    assert!(services(&s).is_empty());
}

#[test]
fn down_drains_and_leaves_no_tagged_resource_but_the_logs_and_the_log_bucket() {
    let s = Stack::new("hms-ecs", "down");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let input = doc.to_string();
    // The production load balancer is deletion-protected: down refuses until told, naming the flag;
    // then it asks for --yes off a terminal.
    let (_, err) = s.run_of("hms-ecs", &["down"], &input, 1);
    assert!(err.contains("--disable-deletion-protection"), "{err}");
    let (_, err) = s.run_of(
        "hms-ecs",
        &["down", "--disable-deletion-protection"],
        &input,
        1,
    );
    assert!(err.contains("--yes"), "{err}");
    // hms-db refuses to go first.
    let (_, err) = s.run_of("hms-db", &["down", "--yes", "--skip-final-snapshot"], "", 1);
    assert!(err.contains("hms-ecs"), "{err}");
    let (doc2, err) = s.run_of(
        "hms-ecs",
        &["down", "--yes", "--disable-deletion-protection"],
        &input,
        0,
    );
    assert_eq!(run_counts(&doc2).2, 14, "{err}");
    assert!(services(&s).is_empty());
    // The log bucket is kept with the log groups; an access log in it goes with it only on --delete-logs.
    let s3 = aws_sdk_s3::Client::new(&s.sdk);
    let bucket = format!("{}-logs-production", s.name);
    s.block_on(
        s3.put_object()
            .bucket(&bucket)
            .key("alb/AWSLogs/123456789012/elasticloadbalancing/log.gz")
            .body(b"log".to_vec().into())
            .send(),
    )
    .expect("a log object");
    let bucket_there = |s: &Stack| s.block_on(s3.head_bucket().bucket(&bucket).send()).is_ok();
    assert!(bucket_there(&s));
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    assert!(s
        .block_on(
            elb.describe_load_balancers()
                .names(format!("{}-alb", s.name))
                .send()
        )
        .map(|o| o.load_balancers().is_empty())
        .unwrap_or(true));
    let scaling = aws_sdk_applicationautoscaling::Client::new(&s.sdk);
    let targets = s
        .block_on(
            scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .send(),
        )
        .expect("targets");
    assert!(!targets
        .scalable_targets()
        .iter()
        .any(|t| t.resource_id().contains(&s.name)));
    // The log groups stay (they are kept unless --delete-logs) and a second down deletes them only then.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let groups = || {
        s.block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/ecs/{}/", s.name))
                .send(),
        )
        .expect("groups")
        .log_groups()
        .len()
    };
    assert_eq!(groups(), 2);
    let (_, err) = s.run_of(
        "hms-ecs",
        &[
            "down",
            "--yes",
            "--delete-logs",
            "--disable-deletion-protection",
        ],
        "",
        0,
    );
    assert_eq!(groups(), 0, "{err}");
    assert!(!bucket_there(&s), "{err}");
}

#[test]
fn a_certificate_brings_https_and_a_redirect_without_replacing_services() {
    let s = Stack::new("hms-ecs", "tls");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let input = doc.to_string();
    let before: Vec<String> = services(&s)
        .iter()
        .filter_map(|x| x.service_arn().map(str::to_owned))
        .collect();
    let acm = aws_sdk_acm::Client::new(&s.sdk);
    let cert = s
        .block_on(
            acm.request_certificate()
                .domain_name(format!("{}.example.org", s.name))
                .send(),
        )
        .expect("certificate")
        .certificate_arn()
        .expect("arn")
        .to_owned();
    let set = format!("ecs.certificate_arn=\"{cert}\"");
    // Regression: moving the backend rule to the HTTPS listener used to replace the backend service.
    let (_, err) = s.run_of("hms-ecs", &["plan", "--set", &set], &input, 0);
    assert!(
        !err.contains("ecs.service[") && err.contains("ecs.listener.https"),
        "{err}"
    );
    let (doc2, err) = s.run_of(
        "hms-ecs",
        &["up", "--allow-destroy", "--set", &set],
        &input,
        0,
    );
    assert_eq!(run_counts(&doc2), (2, 1, 1), "{err}");
    let after: Vec<String> = services(&s)
        .iter()
        .filter_map(|x| x.service_arn().map(str::to_owned))
        .collect();
    assert_eq!(before, after, "no service was replaced");
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let lb = doc2["outputs"]["ecs"]["alb_arn"]
        .as_str()
        .expect("alb")
        .to_owned();
    let listeners = s
        .block_on(elb.describe_listeners().load_balancer_arn(&lb).send())
        .expect("listeners");
    let https = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .expect("https listener");
    assert_eq!(
        https.ssl_policy(),
        Some("ELBSecurityPolicy-TLS13-1-2-2021-06")
    );
    assert_eq!(
        https
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn()),
        Some(cert.as_str())
    );
    let http = listeners
        .listeners()
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("http listener");
    let redirect = http
        .default_actions()
        .first()
        .and_then(|a| a.redirect_config())
        .expect("redirect");
    assert_eq!(
        (redirect.protocol(), redirect.port()),
        (Some("HTTPS"), Some("443"))
    );
    let rules = s
        .block_on(
            elb.describe_rules()
                .listener_arn(https.listener_arn().expect("arn"))
                .send(),
        )
        .expect("rules");
    assert!(
        rules.rules().iter().any(|r| r.is_default() != Some(true)),
        "the /api/* rule is on the HTTPS listener"
    );
    s.run_of(
        "hms-ecs",
        &["plan", "--detailed-exitcode", "--set", &set],
        &input,
        0,
    );
}

#[test]
fn deploying_an_unknown_service_names_it() {
    let s = Stack::new("hms-ecs", "typo");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let (_, err) = s.run_of(
        "hms-ecs",
        &["deploy", "backnd", "hms/backend:v2"],
        &doc.to_string(),
        64,
    );
    assert!(err.contains("unknown service \"backnd\""), "{err}");
}

type Tags = BTreeMap<String, String>;

fn pairs<'a>(tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>) -> Tags {
    tags.filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
        .collect()
}

/// The tags of every taggable resource hms-ecs made for the stack, as the emulator holds them.
fn every_resource_tags(s: &Stack, doc: &Value) -> Vec<(String, Tags)> {
    let out = &doc["outputs"]["ecs"];
    let mut all = Vec::new();
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    let cluster = s
        .block_on(
            ecs.describe_clusters()
                .clusters(format!("{}-cluster", s.name))
                .include(aws_sdk_ecs::types::ClusterField::Tags)
                .send(),
        )
        .expect("cluster");
    let cl = cluster.clusters().first().expect("cluster");
    all.push((
        "cluster".to_owned(),
        pairs(cl.tags().iter().map(|t| (t.key(), t.value()))),
    ));
    let svcs = s
        .block_on(
            ecs.describe_services()
                .cluster(format!("{}-cluster", s.name))
                .services(format!("{}-backend", s.name))
                .services(format!("{}-frontend", s.name))
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send(),
        )
        .expect("services");
    for svc in svcs.services() {
        let name = svc.service_name().unwrap_or_default().to_owned();
        all.push((
            format!("service {name}"),
            pairs(svc.tags().iter().map(|t| (t.key(), t.value()))),
        ));
        let td = svc.task_definition().expect("td");
        let tags = s
            .block_on(ecs.list_tags_for_resource().resource_arn(td).send())
            .expect("task definition tags");
        all.push((
            format!("task definition {td}"),
            pairs(tags.tags().iter().map(|t| (t.key(), t.value()))),
        ));
    }

    let s3 = aws_sdk_s3::Client::new(&s.sdk);
    let bucket = out["log_bucket"].as_str().expect("log bucket");
    let tagging = s
        .block_on(s3.get_bucket_tagging().bucket(bucket).send())
        .expect("log bucket tags");
    all.push((
        format!("bucket {bucket}"),
        pairs(
            tagging
                .tag_set()
                .iter()
                .map(|t| (Some(t.key()), Some(t.value()))),
        ),
    ));

    // The load balancer, its listener and rule, the target groups: one DescribeTags.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let lb = out["alb_arn"].as_str().expect("alb").to_owned();
    let mut arns = vec![lb.clone()];
    let listeners = s
        .block_on(elb.describe_listeners().load_balancer_arn(&lb).send())
        .expect("listeners");
    for l in listeners.listeners() {
        let arn = l.listener_arn().expect("arn");
        arns.push(arn.to_owned());
        let rules = s
            .block_on(elb.describe_rules().listener_arn(arn).send())
            .expect("rules");
        arns.extend(
            rules
                .rules()
                .iter()
                .filter(|r| r.is_default() != Some(true))
                .filter_map(|r| r.rule_arn().map(str::to_owned)),
        );
    }
    for key in ["backend", "frontend"] {
        arns.push(
            out["services"][key]["target_group_arn"]
                .as_str()
                .expect("target group")
                .to_owned(),
        );
    }
    let described = s
        .block_on(elb.describe_tags().set_resource_arns(Some(arns)).send())
        .expect("describe tags");
    for d in described.tag_descriptions() {
        all.push((
            d.resource_arn().unwrap_or_default().to_owned(),
            pairs(d.tags().iter().map(|t| (t.key(), t.value()))),
        ));
    }

    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let groups = s
        .block_on(
            logs.describe_log_groups()
                .log_group_name_prefix(format!("/ecs/{}/", s.name))
                .send(),
        )
        .expect("log groups");
    for g in groups.log_groups() {
        let arn = g.log_group_arn().expect("arn");
        let tags = s
            .block_on(logs.list_tags_for_resource().resource_arn(arn).send())
            .expect("log group tags");
        let tags = tags.tags().cloned().unwrap_or_default();
        all.push((arn.to_owned(), tags.into_iter().collect()));
    }

    let scaling = aws_sdk_applicationautoscaling::Client::new(&s.sdk);
    let targets = s
        .block_on(
            scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .send(),
        )
        .expect("targets");
    for t in targets.scalable_targets().iter().filter(|t| {
        t.resource_id()
            .starts_with(&format!("service/{}-cluster/", s.name))
    }) {
        let arn = t.scalable_target_arn().expect("scalable target ARN");
        let tags = s
            .block_on(scaling.list_tags_for_resource().resource_arn(arn).send())
            .expect("scalable target tags");
        let tags = tags.tags().cloned().unwrap_or_default();
        all.push((
            format!("scalable target {}", t.resource_id()),
            tags.into_iter().collect(),
        ));
    }
    all
}

/// The revisions registered for a service's family.
fn revisions(s: &Stack, key: &str) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    s.block_on(
        ecs.list_task_definitions()
            .family_prefix(format!("{}-{key}", s.name))
            .send(),
    )
    .expect("task definitions")
    .task_definition_arns()
    .to_vec()
}

// Regression: stack tags were applied through no tagging API (plan exited 2 forever), the ALB's not planned.
#[test]
fn stack_tags_converge_on_every_resource_through_the_tagging_apis_alone() {
    let s = Stack::new("hms-ecs", "tags");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let input = doc.to_string();
    let running = |s: &Stack| -> Vec<String> {
        services(s)
            .iter()
            .filter_map(|x| x.task_definition().map(str::to_owned))
            .collect()
    };
    let before = running(&s);
    let updated = tag_cycle(&s, "hms-ecs", &input, |owner| {
        let all = every_resource_tags(&s, &doc);
        // cluster, log bucket, 2 services, 2 task definitions, ALB, listener, rule, 2 target groups,
        // 2 log groups, 2 scalable targets (the scaling policies cannot be tagged).
        assert_eq!(all.len(), 15, "{all:?}");
        for (what, tags) in &all {
            assert_eq!(
                tags.get("owner").map(String::as_str),
                owner,
                "{what}: {tags:?}"
            );
            assert!(tags.contains_key("hms:address"), "{what}: {tags:?}");
        }
    });
    assert_eq!(updated, 15, "every taggable resource, once a step");
    // No deploy and no new revision: the services run what they ran.
    assert_eq!(running(&s), before);
    for key in ["backend", "frontend"] {
        assert_eq!(revisions(&s, key).len(), 1, "{key}");
    }
}

/// The ALB's listeners (port → default action) and its rules that are not a default: (path, priority,
/// header values).
type Rules = Vec<(String, String, Vec<String>)>;

fn listeners_and_rules(
    s: &Stack,
    alb_arn: &str,
) -> (Vec<aws_sdk_elasticloadbalancingv2::types::Listener>, Rules) {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let listeners = s
        .block_on(elb.describe_listeners().load_balancer_arn(alb_arn).send())
        .expect("listeners")
        .listeners()
        .to_vec();
    let mut rules = Rules::new();
    for l in &listeners {
        let rs = s
            .block_on(
                elb.describe_rules()
                    .listener_arn(l.listener_arn().expect("arn"))
                    .send(),
            )
            .expect("rules");
        for r in rs.rules().iter().filter(|r| r.is_default() != Some(true)) {
            let path = r
                .conditions()
                .iter()
                .find(|c| c.field() == Some("path-pattern"))
                .and_then(|c| {
                    c.path_pattern_config()
                        .and_then(|p| p.values().first().cloned())
                        .or_else(|| c.values().first().cloned())
                })
                .unwrap_or_default();
            let header = r
                .conditions()
                .iter()
                .find(|c| c.field() == Some("http-header"))
                .and_then(|c| c.http_header_config());
            let mut values = header.map(|h| h.values().to_vec()).unwrap_or_default();
            values.sort();
            if let Some(h) = header {
                assert_eq!(h.http_header_name(), Some("X-Origin-Verify"));
            }
            rules.push((path, r.priority().unwrap_or_default().to_owned(), values));
        }
    }
    rules.sort();
    (listeners, rules)
}

/// Every file under `dir`, as text.
fn files_text(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.push_str(&files_text(&p));
        } else if let Ok(t) = std::fs::read(&p) {
            out.push_str(&String::from_utf8_lossy(&t));
        }
    }
    out
}

#[test]
fn origin_verify_closes_the_back_door_and_rotates_without_a_403_window() {
    let s = Stack::new("hms-ecs", "origin");
    let on = ["--set", "ecs.origin_verify=true"];
    let (doc, err) = pipeline(&s, &[], &[&["up"][..], &on].concat(), 0);
    let out = &doc["outputs"]["ecs"];
    let arn = out["origin_verify_secret_arn"]
        .as_str()
        .expect("secret arn");
    assert_eq!(out["origin_verify_header"], "X-Origin-Verify");
    let sm = aws_sdk_secretsmanager::Client::new(&s.sdk);
    let value = |stage: &str| {
        s.block_on(
            sm.get_secret_value()
                .secret_id(arn)
                .version_stage(stage)
                .send(),
        )
        .ok()
        .and_then(|o| o.secret_string().map(str::to_owned))
    };
    let secret = s
        .block_on(sm.describe_secret().secret_id(arn).send())
        .expect("secret");
    assert_eq!(
        secret.name(),
        Some(format!("{}/production/edge/origin-verify", s.name).as_str())
    );
    assert!(secret
        .tags()
        .iter()
        .any(|t| t.key() == Some("hms:address") && t.value() == Some("ecs.origin_secret")));
    let v1 = value("AWSCURRENT").expect("a current value");
    assert_eq!(v1.len(), 64);

    // The default action answers 403 and every rule requires the header with the secret's value.
    let alb = out["alb_arn"].as_str().expect("alb").to_owned();
    let (listeners, rules) = listeners_and_rules(&s, &alb);
    let http = listeners
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("http");
    let action = http.default_actions().first().expect("default action");
    assert_eq!(action.r#type().map(|t| t.as_str()), Some("fixed-response"));
    assert_eq!(
        action.fixed_response_config().and_then(|f| f.status_code()),
        Some("403")
    );
    assert_eq!(
        rules,
        vec![
            ("/*".to_owned(), "50000".to_owned(), vec![v1.clone()]),
            ("/api/*".to_owned(), rules[1].1.clone(), vec![v1.clone()]),
        ],
        "{err}"
    );

    // The value is in no output, plan, stderr or state file.
    let input = doc.to_string();
    let mut seen = vec![input.clone(), err];
    let (again, err) = s.run_of("hms-ecs", &[&["up"][..], &on].concat(), &input, 0);
    assert_eq!(
        run_counts(&again),
        (0, 0, 0),
        "second up creates nothing: {err}"
    );
    seen.extend([again.to_string(), err]);
    let plan = [&["plan", "--detailed-exitcode"][..], &on].concat();
    let (p, err) = s.run_of("hms-ecs", &plan, &input, 0);
    seen.extend([p.to_string(), err]);

    // Rotation: the rules accept the old and the new value; plan keeps both.
    let rotate = [&["rotate-origin-secret"][..], &on].concat();
    let (r, err) = s.run_of("hms-ecs", &rotate, &input, 0);
    assert_eq!(
        r["outputs"]["ecs"]["origin_verify_rotation"], "rotating",
        "{err}"
    );
    assert_eq!(r["outputs"]["ecs"]["origin_verify_secret_arn"], arn);
    seen.extend([r.to_string(), err]);
    let v2 = value("AWSCURRENT").expect("the new value");
    assert_ne!(v1, v2);
    assert_eq!(value("AWSPREVIOUS").as_deref(), Some(v1.as_str()));
    let mut both = vec![v1.clone(), v2.clone()];
    both.sort();
    let (_, rules) = listeners_and_rules(&s, &alb);
    assert!(rules.iter().all(|r| r.2 == both), "{rules:?}");
    assert_eq!(rules.len(), 2);
    let (p, err) = s.run_of("hms-ecs", &plan, &input, 0);
    seen.extend([p.to_string(), err]);
    // A second rotation before --finish is refused: it would drop the value CloudFront may still send.
    let (_, err) = s.run_of("hms-ecs", &rotate, &input, 1);
    assert!(err.contains("--finish"), "{err}");

    // --finish: only the new value.
    let finish = [&["rotate-origin-secret", "--finish"][..], &on].concat();
    let (f, err) = s.run_of("hms-ecs", &finish, &input, 0);
    assert_eq!(
        f["outputs"]["ecs"]["origin_verify_rotation"], "set",
        "{err}"
    );
    seen.extend([f.to_string(), err]);
    let (_, rules) = listeners_and_rules(&s, &alb);
    assert!(rules.iter().all(|r| r.2 == [v2.clone()]), "{rules:?}");
    assert_eq!(value("AWSPREVIOUS"), None);
    let (p, err) = s.run_of("hms-ecs", &plan, &input, 0);
    seen.extend([p.to_string(), err]);
    let (again, err) = s.run_of("hms-ecs", &[&["up"][..], &on].concat(), &input, 0);
    assert_eq!(run_counts(&again), (0, 0, 0), "{err}");
    seen.extend([again.to_string(), err]);

    seen.push(files_text(&s.state_dir()));
    for text in &seen {
        for v in [&v1, &v2] {
            assert!(!text.contains(v.as_str()), "the header value leaked");
        }
    }

    // Turned off again: the rules forward everything, the default action forwards, the secret goes.
    let (off, err) = s.run_of("hms-ecs", &["up", "--allow-destroy"], &input, 0);
    assert_eq!(
        run_counts(&off).2,
        2,
        "the default rule and the secret: {err}"
    );
    assert!(off["outputs"]["ecs"]
        .get("origin_verify_secret_arn")
        .is_none());
    let (listeners, rules) = listeners_and_rules(&s, &alb);
    let http = listeners
        .iter()
        .find(|l| l.port() == Some(80))
        .expect("http");
    assert_eq!(
        http.default_actions()
            .first()
            .and_then(|a| a.r#type())
            .map(|t| t.as_str()),
        Some("forward")
    );
    assert_eq!(rules.len(), 1);
    assert!(rules[0].2.is_empty(), "{rules:?}");
    let (_, err) = s.run_of("hms-ecs", &["plan", "--detailed-exitcode"], &input, 0);
    assert!(!err.contains(v2.as_str()));
    let gone = s
        .block_on(sm.describe_secret().secret_id(arn).send())
        .expect("scheduled for deletion");
    assert!(
        gone.deleted_date().is_some(),
        "the secret is scheduled for deletion"
    );
    // Without ecs.origin_verify there is nothing to rotate: a usage error.
    let (_, err) = s.run_of("hms-ecs", &["rotate-origin-secret"], &input, 64);
    assert!(err.contains("ecs.origin_verify"), "{err}");
}

/// ACTIVE revisions of a service's family.
fn active_revisions(s: &Stack, key: &str) -> Vec<String> {
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    s.block_on(
        ecs.list_task_definitions()
            .family_prefix(format!("{}-{key}", s.name))
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .send(),
    )
    .expect("task definitions")
    .task_definition_arns()
    .to_vec()
}

// Regression (issue 18, defects 2 and 3): with hms-ecs.json lost, up registered new revisions and rolled
// both services onto them; down left the ACTIVE revisions.
#[test]
fn a_lost_state_adopts_the_running_revisions_and_down_without_state_leaves_none() {
    let s = Stack::new("hms-ecs", "lost");
    let (doc, _) = pipeline(&s, &[], &["up"], 0);
    let input = doc.to_string();
    let before: Vec<Vec<String>> = ["backend", "frontend"]
        .iter()
        .map(|k| active_revisions(&s, k))
        .collect();
    assert!(before.iter().all(|r| r.len() == 1), "{before:?}");
    let state = s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-ecs.json");
    std::fs::remove_file(&state).expect("state");
    let (_, err) = s.run_of("hms-ecs", &["plan", "--detailed-exitcode"], &input, 0);
    assert!(err.contains("No changes"), "{err}");
    let (doc2, err) = s.run_of("hms-ecs", &["up"], &input, 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0), "{err}");
    let after: Vec<Vec<String>> = ["backend", "frontend"]
        .iter()
        .map(|k| active_revisions(&s, k))
        .collect();
    assert_eq!(after, before, "no new revision");
    for svc in services(&s) {
        assert!(
            before
                .iter()
                .flatten()
                .any(|a| Some(a.as_str()) == svc.task_definition()),
            "{svc:?}"
        );
    }
    // Lost again: down finds everything up would adopt, the revisions included.
    std::fs::remove_file(&state).expect("state");
    let (_, err) = s.run_of(
        "hms-ecs",
        &[
            "down",
            "--yes",
            "--delete-logs",
            "--disable-deletion-protection",
        ],
        &input,
        0,
    );
    for k in ["backend", "frontend"] {
        assert!(active_revisions(&s, k).is_empty(), "{k}: {err}");
    }
    assert!(services(&s).is_empty(), "{err}");
}

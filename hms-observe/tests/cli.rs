//! hms-observe against the emulator: behind the real pipeline, and on hand-written stack documents.

use aws_sdk_cloudwatch::types::MetricAlarm;
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::{json, Value};

fn cw(s: &Stack) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&s.sdk)
}

/// Every alarm whose name starts with the stack's name.
fn alarms(s: &Stack) -> Vec<MetricAlarm> {
    s.block_on(
        cw(s)
            .describe_alarms()
            .alarm_name_prefix(format!("{}-", s.name))
            .send(),
    )
    .expect("describe alarms")
    .metric_alarms()
    .to_vec()
}

fn alarm(s: &Stack, suffix: &str) -> MetricAlarm {
    let name = format!("{}-{suffix}", s.name);
    alarms(s)
        .into_iter()
        .find(|a| a.alarm_name() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("alarm {name}"))
}

fn dims(a: &MetricAlarm) -> Vec<(String, String)> {
    let mut d: Vec<(String, String)> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                d.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    d.sort();
    d
}

/// A stack document as hms-ecs and hms-db would write it.
fn doc(s: &Stack, services: &[&str], db: bool) -> String {
    let mut outputs = json!({
        "ecs": {
            "cluster_name": format!("{}-cluster", s.name),
            "services": services.iter().map(|k| ((*k).to_owned(), json!({"name": format!("{}-{k}", s.name)}))).collect::<serde_json::Map<_, _>>(),
            "alb_arn": format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{}-alb/50dc6c495c0c9188", s.name),
        }
    });
    if db {
        outputs["db"] = json!({"instance_id": format!("{}-db", s.name), "allocated_storage": 200, "parameter_group": format!("{}-db-params-postgres16", s.name)});
    }
    json!({"hms": 1, "stack": s.name, "env": "production", "region": "us-east-1", "outputs": outputs, "runs": []})
        .to_string()
}

#[test]
fn the_pipeline_gets_alarms_on_its_real_resources() {
    let s = Stack::new("hms-observe", "ref");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let (db, _) = s.run_of("hms-db", &["up"], &sec.to_string(), 0);
    let (ecs, _) = s.run_of("hms-ecs", &["up"], &db.to_string(), 0);
    let args = [
        "up",
        "--set",
        r#"observe.alarm_emails=["oncall@hospital.example","dba@hospital.example"]"#,
    ];
    let (out, err) = s.run_of("hms-observe", &args, &ecs.to_string(), 0);
    // topic + 2 subscriptions + 9 alarms + 2 RDS event subscriptions + dashboard + sampling rule + group
    assert_eq!(run_counts(&out), (17, 0, 0), "{err}");
    let o = &out["outputs"]["observe"];
    assert_eq!(o["alarm_count"], 9);
    let topic = o["topic_arn"].as_str().expect("topic").to_owned();
    assert!(
        topic.ends_with(&format!(":{}-production-alarms", s.name)),
        "{topic}"
    );

    let e = &ecs["outputs"]["ecs"];
    let cluster = e["cluster_name"].as_str().expect("cluster");
    let backend = e["services"]["backend"]["name"].as_str().expect("backend");
    let frontend = e["services"]["frontend"]["name"]
        .as_str()
        .expect("frontend");
    let alb_arn = e["alb_arn"].as_str().expect("alb");
    let lb = alb_arn.split(":loadbalancer/").nth(1).expect("lb dim");
    let db_id = db["outputs"]["db"]["instance_id"].as_str().expect("db id");

    assert_eq!(alarms(&s).len(), 9);
    // The design's alarm, now with the dimensions it lacked.
    let cpu = alarm(&s, "cpu-utilization");
    assert_eq!(cpu.namespace(), Some("AWS/ECS"));
    assert_eq!(cpu.metric_name(), Some("CPUUtilization"));
    assert_eq!(
        dims(&cpu),
        [
            ("ClusterName".to_owned(), cluster.to_owned()),
            ("ServiceName".to_owned(), backend.to_owned())
        ]
    );
    assert_eq!(cpu.threshold(), Some(80.0));
    assert_eq!(
        cpu.comparison_operator().map(|c| c.as_str()),
        Some("GreaterThanThreshold")
    );
    assert_eq!(cpu.period(), Some(300));
    assert_eq!(cpu.evaluation_periods(), Some(2));
    assert_eq!(cpu.statistic().map(|c| c.as_str()), Some("Average"));
    assert_eq!(cpu.alarm_actions(), std::slice::from_ref(&topic));
    assert_eq!(cpu.ok_actions(), std::slice::from_ref(&topic));
    let mem = alarm(&s, "frontend-memory-utilization");
    assert_eq!(mem.metric_name(), Some("MemoryUtilization"));
    assert_eq!(
        dims(&mem),
        [
            ("ClusterName".to_owned(), cluster.to_owned()),
            ("ServiceName".to_owned(), frontend.to_owned())
        ]
    );
    alarm(&s, "frontend-cpu-utilization");
    alarm(&s, "backend-memory-utilization");
    let e5xx = alarm(&s, "alb-5xx");
    assert_eq!(e5xx.namespace(), Some("AWS/ApplicationELB"));
    assert_eq!(e5xx.metric_name(), Some("HTTPCode_Target_5XX_Count"));
    assert_eq!(e5xx.statistic().map(|c| c.as_str()), Some("Sum"));
    assert_eq!(dims(&e5xx), [("LoadBalancer".to_owned(), lb.to_owned())]);
    assert_eq!(e5xx.threshold(), Some(10.0));
    let rt = alarm(&s, "alb-response-time");
    assert_eq!(rt.metric_name(), Some("TargetResponseTime"));
    assert_eq!(rt.threshold(), Some(1.0));
    let free = alarm(&s, "db-free-storage");
    assert_eq!(free.namespace(), Some("AWS/RDS"));
    assert_eq!(free.metric_name(), Some("FreeStorageSpace"));
    assert_eq!(
        dims(&free),
        [("DBInstanceIdentifier".to_owned(), db_id.to_owned())]
    );
    // 10 % of the 100 GiB hms-db allocated.
    assert_eq!(free.threshold(), Some(10_737_418_240.0));
    assert_eq!(
        free.comparison_operator().map(|c| c.as_str()),
        Some("LessThanThreshold")
    );
    assert_eq!(alarm(&s, "db-cpu-utilization").threshold(), Some(80.0));
    assert_eq!(
        alarm(&s, "db-connections").metric_name(),
        Some("DatabaseConnections")
    );
    let tags = s
        .block_on(
            cw(&s)
                .list_tags_for_resource()
                .resource_arn(cpu.alarm_arn().expect("arn"))
                .send(),
        )
        .expect("tags");
    let tag = |k: &str| {
        tags.tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    assert_eq!(tag("hms:stack").as_deref(), Some(s.name.as_str()));
    assert_eq!(tag("hms:tool").as_deref(), Some("hms-observe"));
    assert_eq!(
        tag("hms:address").as_deref(),
        Some("observe.alarm[backend.cpu]")
    );

    // The topic and its email subscriptions.
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let subs = s
        .block_on(sns.list_subscriptions_by_topic().topic_arn(&topic).send())
        .expect("subscriptions");
    let mut endpoints: Vec<(&str, &str)> = subs
        .subscriptions()
        .iter()
        .map(|x| {
            (
                x.protocol().unwrap_or_default(),
                x.endpoint().unwrap_or_default(),
            )
        })
        .collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        [
            ("email", "dba@hospital.example"),
            ("email", "oncall@hospital.example")
        ]
    );

    // The dashboard graphs the real resources.
    let dash = s
        .block_on(
            cw(&s)
                .get_dashboard()
                .dashboard_name(format!("{}-production", s.name))
                .send(),
        )
        .expect("dashboard");
    let body = dash.dashboard_body().expect("body");
    let body_json: Value = serde_json::from_str(body).expect("json body");
    assert!(body_json["widgets"]
        .as_array()
        .is_some_and(|w| w.len() == 6));
    for needle in [cluster, backend, frontend, lb, db_id] {
        assert!(
            body.contains(needle),
            "{needle} not in the dashboard: {body}"
        );
    }

    // X-Ray, read back through the API.
    let xray = aws_sdk_xray::Client::new(&s.sdk);
    let rules = s.block_on(xray.get_sampling_rules().send()).expect("rules");
    let rule_name = format!("{}-sampling", s.name);
    let r = rules
        .sampling_rule_records()
        .iter()
        .filter_map(|r| r.sampling_rule())
        .find(|r| r.rule_name() == Some(rule_name.as_str()))
        .expect("sampling rule");
    assert_eq!(
        (
            r.priority(),
            r.reservoir_size(),
            r.fixed_rate(),
            r.version()
        ),
        (100, 1, 0.05, 1)
    );
    for v in [
        r.service_name(),
        r.service_type(),
        r.host(),
        r.http_method(),
        r.url_path(),
        r.resource_arn(),
    ] {
        assert_eq!(v, "*");
    }
    assert_eq!(o["sampling_rule"], rule_name.as_str());
    let group = s
        .block_on(
            xray.get_group()
                .group_name(format!("{}-production", s.name))
                .send(),
        )
        .expect("group");
    let filter = group
        .group()
        .and_then(|g| g.filter_expression())
        .expect("filter");
    assert!(
        filter.contains(&format!("service(\"{backend}\")"))
            && filter.contains(&format!("service(\"{frontend}\")")),
        "{filter}"
    );

    // Converged, and alone from the state store the same.
    let (again, _) = s.run_of("hms-observe", &args, &ecs.to_string(), 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    let plan = [
        "plan",
        "--detailed-exitcode",
        "--set",
        r#"observe.alarm_emails=["oncall@hospital.example","dba@hospital.example"]"#,
    ];
    s.run_of("hms-observe", &plan, "", 0);

    // A threshold change is an in-place update of that one alarm.
    let (changed, err) = s.run_of(
        "hms-observe",
        &[
            "up",
            "--set",
            r#"observe.alarm_emails=["oncall@hospital.example","dba@hospital.example"]"#,
            "--set",
            "observe.service_cpu_percent=75",
        ],
        "",
        0,
    );
    assert_eq!(run_counts(&changed), (0, 2, 0), "{err}");
    assert_eq!(alarm(&s, "cpu-utilization").threshold(), Some(75.0));
}

fn rds(s: &Stack) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(&s.sdk)
}

/// The stack's RDS event subscription `name`, if any.
fn event_subscription(s: &Stack, name: &str) -> Option<aws_sdk_rds::types::EventSubscription> {
    s.block_on(
        rds(s)
            .describe_event_subscriptions()
            .subscription_name(name)
            .send(),
    )
    .ok()
    .and_then(|o| o.event_subscriptions_list().first().cloned())
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[test]
fn the_topic_is_encrypted_and_rds_events_reach_it() {
    let s = Stack::new("hms-observe", "events");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let (db, _) = s.run_of(
        "hms-db",
        &["up", "--set", "db.deletion_protection=false"],
        &sec.to_string(),
        0,
    );
    let up = |code: i32| s.run_of("hms-observe", &["up"], &db.to_string(), code);
    let (out, err) = up(0);
    let key = sec["outputs"]["security"]["kms_key_arns"]["alarms"]
        .as_str()
        .expect("alarms key");
    let topic = out["outputs"]["observe"]["topic_arn"]
        .as_str()
        .expect("topic")
        .to_owned();
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let topic_key = || {
        s.block_on(sns.get_topic_attributes().topic_arn(&topic).send())
            .expect("attributes")
            .attributes()
            .and_then(|a| a.get("KmsMasterKeyId").cloned())
    };
    assert_eq!(topic_key().as_deref(), Some(key), "{err}");

    // One subscription for the instance, one for its parameter group, both to the topic, enabled,
    // tagged as this tool's.
    let d = &db["outputs"]["db"];
    for (name, source_type, id, categories) in [
        (
            format!("{}-production-db-events", s.name),
            "db-instance",
            d["instance_id"].as_str().expect("instance"),
            vec!["failover", "failure", "low storage", "maintenance"],
        ),
        (
            format!("{}-production-db-parameter-events", s.name),
            "db-parameter-group",
            d["parameter_group"].as_str().expect("parameter group"),
            vec!["configuration change"],
        ),
    ] {
        let e = event_subscription(&s, &name).unwrap_or_else(|| panic!("{name}: {err}"));
        assert_eq!(e.sns_topic_arn(), Some(topic.as_str()), "{name}");
        assert_eq!(e.source_type(), Some(source_type), "{name}");
        assert_eq!(e.source_ids_list(), [id.to_owned()], "{name}");
        assert_eq!(
            sorted(e.event_categories_list()),
            categories
                .iter()
                .map(|c| (*c).to_owned())
                .collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(e.enabled(), Some(true), "{name}");
        let tags = s
            .block_on(
                rds(&s)
                    .list_tags_for_resource()
                    .resource_name(e.event_subscription_arn().expect("arn"))
                    .send(),
            )
            .expect("tags");
        assert!(
            tags.tag_list()
                .iter()
                .any(|t| t.key() == Some("hms:tool") && t.value() == Some("hms-observe")),
            "{name}: {:?}",
            tags.tag_list()
        );
    }
    assert_eq!(
        out["outputs"]["observe"]["rds_event_subscriptions"]["instance"],
        format!("{}-production-db-events", s.name)
    );

    // Converged.
    let (again, _) = up(0);
    assert_eq!(run_counts(&again), (0, 0, 0));

    // The key taken off by hand is drift: plan shows it, up puts it back.
    s.block_on(
        sns.set_topic_attributes()
            .topic_arn(&topic)
            .attribute_name("KmsMasterKeyId")
            .attribute_value("")
            .send(),
    )
    .expect("take the key off");
    assert_eq!(topic_key().filter(|k| !k.is_empty()), None);
    let out = s
        .cmd_in(&["plan", "--detailed-exitcode"])
        .write_stdin(db.to_string())
        .output()
        .expect("plan");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("kms_key"), "{err}");
    let (fixed, _) = up(0);
    assert_eq!(run_counts(&fixed), (0, 1, 0));
    assert_eq!(topic_key().as_deref(), Some(key));

    // Down removes both subscriptions, also without state.
    let state = s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-observe.json");
    std::fs::remove_file(&state).expect("state");
    let (_, err) = s.run_of("hms-observe", &["down", "--yes"], &db.to_string(), 0);
    for suffix in ["db-events", "db-parameter-events"] {
        let name = format!("{}-production-{suffix}", s.name);
        assert!(event_subscription(&s, &name).is_none(), "{name}: {err}");
    }
}

#[test]
fn only_what_the_document_holds_is_watched_and_leavers_lose_their_alarms() {
    let s = Stack::new("hms-observe", "svc");
    // No database in this stack: no database alarms.
    let (out, err) = s.run_of(
        "hms-observe",
        &["up"],
        &doc(&s, &["backend", "frontend", "worker"], false),
        0,
    );
    assert_eq!(out["outputs"]["observe"]["alarm_count"], 8, "{err}");
    assert_eq!(alarms(&s).len(), 8);
    assert!(alarms(&s).iter().all(|a| a.namespace() != Some("AWS/RDS")));
    let worker = alarm(&s, "worker-cpu-utilization");
    assert_eq!(
        dims(&worker),
        [
            ("ClusterName".to_owned(), format!("{}-cluster", s.name)),
            ("ServiceName".to_owned(), format!("{}-worker", s.name))
        ]
    );

    // The worker leaves the stack: its 2 alarms go, only with --allow-destroy.
    let two = doc(&s, &["backend", "frontend"], true);
    let (_, err) = s.run_of("hms-observe", &["plan", "--detailed-exitcode"], &two, 2);
    assert!(err.contains("observe.alarm[worker.cpu]"), "{err}");
    let (_, err) = s.run_of("hms-observe", &["up"], &two, 1);
    assert!(err.contains("--allow-destroy"), "{err}");
    assert_eq!(alarms(&s).len(), 8);
    let (out, err) = s.run_of("hms-observe", &["up", "--allow-destroy"], &two, 0);
    // 3 database alarms and its 2 RDS event subscriptions in, 2 worker alarms out; the dashboard and
    // the X-Ray group's filter follow.
    assert_eq!(run_counts(&out), (5, 2, 2), "{err}");
    assert_eq!(alarms(&s).len(), 9);
    assert!(alarms(&s)
        .iter()
        .all(|a| !a.alarm_name().unwrap_or_default().contains("worker")));
    // 10 % of 200 GiB.
    assert_eq!(
        alarm(&s, "db-free-storage").threshold(),
        Some(21_474_836_480.0)
    );

    // down removes everything (the RDS event subscriptions too).
    let (out, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&out).2, 15, "{err}");
    assert!(alarms(&s).is_empty());
    assert!(s
        .block_on(
            cw(&s)
                .get_dashboard()
                .dashboard_name(format!("{}-production", s.name))
                .send()
        )
        .is_err());
    let xray = aws_sdk_xray::Client::new(&s.sdk);
    let rules = s.block_on(xray.get_sampling_rules().send()).expect("rules");
    assert!(rules
        .sampling_rule_records()
        .iter()
        .all(|r| r.sampling_rule().and_then(|x| x.rule_name())
            != Some(format!("{}-sampling", s.name).as_str())));
    let groups = s.block_on(xray.get_groups().send()).expect("groups");
    assert!(groups
        .groups()
        .iter()
        .all(|g| g.group_name() != Some(format!("{}-production", s.name).as_str())));
    let (_, err) = s.run(&["down", "--yes"], 0);
    assert!(err.contains("Nothing to delete"), "{err}");
}

#[test]
fn bad_input_exits_64_and_creates_nothing() {
    let s = Stack::new("hms-observe", "bad");
    let good = doc(&s, &["backend"], true);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", r#"observe.alarm_emails=["oncall"]"#],
            "observe.alarm_emails[0]",
        ),
        (
            &["--set", "observe.service_cpu_percent=120"],
            "observe.service_cpu_percent",
        ),
        (
            &["--set", "observe.db_free_storage_percent=0"],
            "observe.db_free_storage_percent",
        ),
        (
            &["--set", "observe.alb_response_time_seconds=-1"],
            "observe.alb_response_time_seconds",
        ),
        (
            &["--set", "observe.period_seconds=45"],
            "observe.period_seconds",
        ),
        (
            &["--set", "observe.evaluation_periods=0"],
            "observe.evaluation_periods",
        ),
        (
            &["--set", "observe.sampling.fixed_rate=1.5"],
            "observe.sampling.fixed_rate",
        ),
        (
            &["--set", "observe.sampling.priority=0"],
            "observe.sampling.priority",
        ),
        (&["--set", "observe.sampling.reservoir=1"], "reservoir"),
    ];
    for (args, want) in cases {
        let mut a = vec!["up"];
        a.extend_from_slice(args);
        let (doc, err) = s.run_of("hms-observe", &a, &good, 64);
        assert_eq!(err.trim().lines().count(), 1, "{a:?}: one line:\n{err}");
        assert!(err.contains(want), "{a:?}: {want:?} not in {err}");
        assert_eq!(doc["runs"][0]["ok"], false);
    }
    // A load balancer ARN that is not one.
    let bad_alb = good.replace("loadbalancer/app/", "targetgroup/");
    let (_, err) = s.run_of("hms-observe", &["up"], &bad_alb, 64);
    assert!(err.contains("outputs.ecs.alb_arn"), "{err}");
    assert!(alarms(&s).is_empty());
    assert!(!s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-observe.json")
        .exists());
}

#[test]
fn what_it_did_not_make_is_left_alone() {
    let s = Stack::new("hms-observe", "own");
    let d = doc(&s, &["backend"], false);
    // An alarm with the name the backend's CPU alarm would get, made by hand: up refuses, nothing changes.
    s.block_on(
        cw(&s)
            .put_metric_alarm()
            .alarm_name(format!("{}-cpu-utilization", s.name))
            .namespace("AWS/ECS")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(300)
            .evaluation_periods(2)
            .threshold(80.0)
            .comparison_operator(
                aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
            )
            .send(),
    )
    .expect("alarm by hand");
    let (_, err) = s.run_of("hms-observe", &["up"], &d, 1);
    assert!(
        err.contains("did not make it") && err.contains("observe.alarm[backend.cpu]"),
        "{err}"
    );
    assert_eq!(alarms(&s).len(), 1);
    assert!(dims(&alarm(&s, "cpu-utilization")).is_empty());
    // Removed by hand: up creates the stack's alarms.
    s.block_on(
        cw(&s)
            .delete_alarms()
            .alarm_names(format!("{}-cpu-utilization", s.name))
            .send(),
    )
    .expect("delete");
    let (out, err) = s.run_of("hms-observe", &["up"], &d, 0);
    let topic = out["outputs"]["observe"]["topic_arn"]
        .as_str()
        .expect("topic")
        .to_owned();
    assert_eq!(alarms(&s).len(), 4, "{err}");
    // A pager endpoint subscribed to the topic by hand is not the tool's to remove.
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    s.block_on(
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("https")
            .endpoint("https://pager.hospital.example/hook")
            .send(),
    )
    .expect("subscribe by hand");
    s.run_of("hms-observe", &["plan", "--detailed-exitcode"], &d, 0);
    let (out, _) = s.run_of("hms-observe", &["down", "--yes"], &d, 0);
    assert_eq!(run_counts(&out).2, 8);
}

#[test]
fn stack_tags_converge_through_the_tagging_apis() {
    let s = Stack::new("hms-observe", "tags");
    // The subscription and the dashboard carry no tags: they stay as they are.
    std::fs::write(
        s.dir.path().join("hms.toml"),
        "[observe]\nalarm_emails = [\"oncall@hospital.example\"]\n",
    )
    .expect("hms.toml");
    let d = doc(&s, &["backend"], true);
    let (out, err) = s.run_of("hms-observe", &["up"], &d, 0);
    // topic + subscription + 7 alarms + 2 RDS event subscriptions + dashboard + sampling rule + group
    assert_eq!(run_counts(&out), (14, 0, 0), "{err}");
    let topic = out["outputs"]["observe"]["topic_arn"]
        .as_str()
        .expect("topic")
        .to_owned();
    let cw = cw(&s);
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let xray = aws_sdk_xray::Client::new(&s.sdk);
    let rule_name = format!("{}-sampling", s.name);
    let group_name = format!("{}-production", s.name);
    let updated = tag_cycle(&s, "hms-observe", &d, |owner| {
        // (what, its tags) for every taggable resource hms-observe owns.
        let mut tagged: Vec<(String, Vec<(String, String)>)> = Vec::new();
        let found = alarms(&s);
        assert_eq!(found.len(), 7);
        for a in &found {
            let arn = a.alarm_arn().expect("alarm arn");
            let t = s
                .block_on(cw.list_tags_for_resource().resource_arn(arn).send())
                .expect("alarm tags");
            let pairs = t
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            tagged.push((arn.to_owned(), pairs));
        }
        let t = s
            .block_on(sns.list_tags_for_resource().resource_arn(&topic).send())
            .expect("topic tags");
        let pairs = t
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        tagged.push((topic.clone(), pairs));
        let rules = s.block_on(xray.get_sampling_rules().send()).expect("rules");
        let rule_arn = rules
            .sampling_rule_records()
            .iter()
            .filter_map(|r| r.sampling_rule())
            .find(|r| r.rule_name() == Some(rule_name.as_str()))
            .and_then(|r| r.rule_arn())
            .expect("sampling rule")
            .to_owned();
        let group = s
            .block_on(xray.get_group().group_name(&group_name).send())
            .expect("group");
        let group_arn = group
            .group()
            .and_then(|g| g.group_arn())
            .expect("group arn")
            .to_owned();
        for arn in [rule_arn, group_arn] {
            let t = s
                .block_on(xray.list_tags_for_resource().resource_arn(&arn).send())
                .expect("x-ray tags");
            let pairs = t
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            tagged.push((arn, pairs));
        }
        for (what, pairs) in &tagged {
            let tag = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(tag("owner"), owner, "{what}: {pairs:?}");
            // The hms:* tags stay whatever else changes.
            assert_eq!(tag("hms:stack"), Some(s.name.as_str()), "{what}");
            assert!(tag("hms:address").is_some(), "{what}");
        }
    });
    assert_eq!(
        updated, 12,
        "the topic, the 7 alarms, the 2 RDS event subscriptions, the sampling rule and the group"
    );
}

// Regression (issue 18, defect 3): with its state gone, down left the stack's alarms.
#[test]
fn down_without_state_finds_every_alarm_up_made() {
    let s = Stack::new("hms-observe", "lost");
    let (out, err) = s.run_of(
        "hms-observe",
        &["up"],
        &doc(&s, &["backend", "frontend", "worker"], true),
        0,
    );
    let made = out["outputs"]["observe"]["alarm_count"]
        .as_u64()
        .unwrap_or(0);
    assert!(made >= 9, "{err}");
    assert_eq!(alarms(&s).len() as u64, made);
    let state = s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-observe.json");
    std::fs::remove_file(&state).expect("state");
    // No document and no upstream state either: the spec derives no service or database alarm, so only
    // their tags can find them.
    let (out, err) = s.run(&["down", "--yes"], 0);
    assert!(run_counts(&out).2 >= made, "{err}");
    assert!(alarms(&s).is_empty(), "{err}");
}

#[test]
fn with_nothing_upstream_there_is_nothing_to_watch_and_nothing_is_made() {
    let s = Stack::new("hms-observe", "none");
    let empty = format!(
        r#"{{"hms":1,"stack":"{}","env":"production","region":"us-east-1","outputs":{{}},"runs":[]}}"#,
        s.name
    );
    for cmd in ["plan", "up"] {
        let (_, err) = s.run_of("hms-observe", &[cmd], &empty, 64);
        assert!(err.contains("nothing to watch"), "{cmd}: {err}");
    }
    assert!(alarms(&s).is_empty());
    assert!(s
        .block_on(
            cw(&s)
                .get_dashboard()
                .dashboard_name(format!("{}-production", s.name))
                .send()
        )
        .is_err());
}

#[test]
fn the_backup_buckets_deletions_reach_the_topic_and_other_notifications_stay() {
    let s = Stack::new("hms-observe", "deletions");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let (db, _) = s.run_of(
        "hms-db",
        &["up", "--set", "db.deletion_protection=false"],
        &sec.to_string(),
        0,
    );
    let (backup, _) = s.run_of("hms-backup", &["up"], &db.to_string(), 0);
    let input = backup.to_string();
    let up = |code: i32| s.run_of("hms-observe", &["up"], &input, code);
    let (out, err) = up(0);
    let bucket = backup["outputs"]["backup"]["bucket"]
        .as_str()
        .expect("backup bucket")
        .to_owned();
    let topic = out["outputs"]["observe"]["topic_arn"]
        .as_str()
        .expect("topic")
        .to_owned();
    let s3 = aws_sdk_s3::Client::new(&s.sdk);
    let notifications = || {
        s.block_on(
            s3.get_bucket_notification_configuration()
                .bucket(&bucket)
                .send(),
        )
        .expect("notifications")
    };
    let ours = |n: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput| {
        n.topic_configurations()
            .iter()
            .find(|t| t.id() == Some("hms-observe-backup-deletions"))
            .map(|t| {
                (
                    t.topic_arn().to_owned(),
                    t.events().iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>(),
                )
            })
    };
    assert_eq!(
        ours(&notifications()),
        Some((topic.clone(), vec!["s3:ObjectRemoved:*".to_owned()])),
        "{err}"
    );

    // The topic's policy lets S3 publish for that bucket of this account only, beside AWS's default
    // statement for the account.
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let policy: Value = s
        .block_on(sns.get_topic_attributes().topic_arn(&topic).send())
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get("Policy"))
        .map(|p| serde_json::from_str(p).expect("policy JSON"))
        .expect("a topic policy");
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{policy}");
    let s3_publish = statements
        .iter()
        .find(|x| x["Sid"] == "BackupBucketDeletions")
        .expect("the S3 statement");
    assert_eq!(s3_publish["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(s3_publish["Action"], "SNS:Publish");
    assert_eq!(s3_publish["Resource"], topic.as_str());
    assert_eq!(
        s3_publish["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:s3:::{bucket}").as_str()
    );
    assert_eq!(
        s3_publish["Condition"]["StringEquals"]["aws:SourceAccount"],
        "123456789012"
    );
    let default = statements
        .iter()
        .find(|x| x["Sid"] == "__default_statement_ID")
        .expect("the default statement");
    assert_eq!(
        default["Condition"]["StringEquals"]["AWS:SourceOwner"],
        "123456789012"
    );

    // Converged.
    let (again, _) = up(0);
    assert_eq!(run_counts(&again), (0, 0, 0));

    // Someone else's notification on the bucket is theirs; ours removed by hand is drift that up puts
    // back beside it.
    let theirs = aws_sdk_s3::types::TopicConfiguration::builder()
        .id("security-team")
        .topic_arn(&topic)
        .events(aws_sdk_s3::types::Event::from("s3:ObjectCreated:*"))
        .build()
        .expect("topic configuration");
    s.block_on(
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                aws_sdk_s3::types::NotificationConfiguration::builder()
                    .topic_configurations(theirs)
                    .build(),
            )
            .send(),
    )
    .expect("replace the notifications by hand");
    let (_, err) = s.run_of("hms-observe", &["plan", "--detailed-exitcode"], &input, 2);
    assert!(err.contains("observe.backup_deletions"), "{err}");
    let (fixed, err) = up(0);
    assert_eq!(run_counts(&fixed), (1, 0, 0), "{err}");
    let n = notifications();
    assert!(ours(&n).is_some());
    assert!(n
        .topic_configurations()
        .iter()
        .any(|t| t.id() == Some("security-team")));

    // Down without state finds ours by the bucket upstream, and leaves theirs.
    let state = s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-observe.json");
    std::fs::remove_file(&state).expect("state");
    let (_, err) = s.run_of("hms-observe", &["down", "--yes"], &input, 0);
    let n = notifications();
    assert!(ours(&n).is_none(), "{err}");
    assert_eq!(n.topic_configurations().len(), 1, "{err}");
}

#[test]
fn without_hms_security_the_topic_policy_names_the_callers_account() {
    let s = Stack::new("hms-observe", "nosec");
    // A backup bucket made by hand stands in for hms-backup's (encrypted with SSE-S3: no hms-security).
    let bucket = format!("{}-backups-production", s.name);
    let s3 = aws_sdk_s3::Client::new(&s.sdk);
    s.block_on(s3.create_bucket().bucket(&bucket).send())
        .expect("bucket");
    let mut doc: Value = serde_json::from_str(&doc(&s, &["backend"], false)).expect("doc");
    doc["outputs"]["backup"] = json!({"bucket": bucket});
    let input = doc.to_string();
    let (out, err) = s.run_of("hms-observe", &["up"], &input, 0);
    let topic = out["outputs"]["observe"]["topic_arn"]
        .as_str()
        .expect("topic")
        .to_owned();
    let sns = aws_sdk_sns::Client::new(&s.sdk);
    let policy: Value = s
        .block_on(sns.get_topic_attributes().topic_arn(&topic).send())
        .expect("attributes")
        .attributes()
        .and_then(|a| a.get("Policy"))
        .map(|p| serde_json::from_str(p).expect("policy JSON"))
        .expect("a topic policy");
    let conditions: Vec<&Value> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|x| &x["Condition"]["StringEquals"])
        .collect();
    assert_eq!(conditions[0]["AWS:SourceOwner"], "123456789012", "{err}");
    assert_eq!(conditions[1]["aws:SourceAccount"], "123456789012", "{err}");
    // Converged (the plan compares the policy of the topic's real ARN).
    s.run_of("hms-observe", &["plan", "--detailed-exitcode"], &input, 0);
}

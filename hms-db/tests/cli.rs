//! hms-db against the emulator, behind hms-vpc and hms-security as in the pipeline.

use aws_sdk_rds::types::DbInstance;
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

/// `hms-vpc up | hms-security up`, then `hms-db ARGS` on that document.
fn pipeline(s: &Stack, args: &[&str], code: i32) -> (Value, String) {
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    s.run_of("hms-db", args, &sec.to_string(), code)
}

fn instance(s: &Stack) -> Option<DbInstance> {
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    s.block_on(
        rds.describe_db_instances()
            .db_instance_identifier(format!("{}-db", s.name))
            .send(),
    )
    .ok()
    .and_then(|o| o.db_instances().first().cloned())
}

fn group_exists(s: &Stack, kind: &str) -> bool {
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    match kind {
        "subnet" => s
            .block_on(
                rds.describe_db_subnet_groups()
                    .db_subnet_group_name(format!("{}-db-subnets", s.name))
                    .send(),
            )
            .is_ok_and(|o| !o.db_subnet_groups().is_empty()),
        _ => s
            .block_on(
                rds.describe_db_parameter_groups()
                    .db_parameter_group_name(format!("{}-db-params", s.name))
                    .send(),
            )
            .is_ok_and(|o| !o.db_parameter_groups().is_empty()),
    }
}

#[test]
fn pipeline_builds_the_reference_database_and_converges() {
    let s = Stack::new("hms-db", "ref");
    let (doc, err) = pipeline(&s, &["up"], 0);
    let out = &doc["outputs"]["db"];
    let sec = &doc["outputs"]["security"];
    let vpc = &doc["outputs"]["vpc"];
    // Subnet group, parameter group, instance, the master secret's policy.
    assert_eq!(run_counts(&doc), (4, 0, 0), "{err}");
    // The master secret: only the ECS execution role reads it (AWS services aside), and only over TLS.
    let secret_arn = out["master_user_secret_arn"].as_str().expect("secret arn");
    let sm = aws_sdk_secretsmanager::Client::new(&s.sdk);
    let policy = s
        .block_on(sm.get_resource_policy().secret_id(secret_arn).send())
        .expect("policy")
        .resource_policy()
        .map(str::to_owned)
        .expect("a resource policy");
    let policy: Value = serde_json::from_str(&policy).expect("json");
    let statements = policy["Statement"].as_array().expect("statements");
    let readers = statements
        .iter()
        .find(|st| st["Sid"] == "OnlyTheReaders")
        .expect("readers statement");
    assert_eq!(readers["Effect"], "Deny");
    let principals = &readers["Condition"]["StringNotEquals"]["aws:PrincipalArn"];
    let role = sec["ecs_execution_role_arn"].as_str().expect("role");
    assert!(
        principals == role
            || principals
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == role)),
        "{policy}"
    );
    let tls = statements
        .iter()
        .find(|st| st["Sid"] == "TlsOnly")
        .expect("TLS statement");
    let secure = &tls["Condition"]["Bool"]["aws:SecureTransport"];
    assert!(
        secure == "false" || secure == &serde_json::json!(["false"]),
        "{policy}"
    );

    let i = instance(&s).expect("instance");
    assert_eq!(i.engine(), Some("postgres"));
    assert!(
        i.engine_version().is_some_and(|v| v.starts_with("16")),
        "{:?}",
        i.engine_version()
    );
    assert_eq!(i.db_instance_class(), Some("db.t3.medium"));
    assert_eq!(i.allocated_storage(), Some(100));
    assert_eq!(i.storage_type(), Some("gp3"));
    assert_eq!(i.storage_encrypted(), Some(true));
    assert_eq!(i.kms_key_id(), sec["kms_key_arns"]["rds"].as_str());
    assert_eq!(i.db_name(), Some("hms"));
    assert_eq!(i.master_username(), Some("hms_prod"));
    assert_eq!(i.preferred_backup_window(), Some("03:00-04:00"));
    assert_eq!(
        i.preferred_maintenance_window(),
        Some("sun:04:00-sun:05:00")
    );
    assert_eq!(i.backup_retention_period(), Some(7));
    assert_eq!(i.deletion_protection(), Some(true));
    assert_eq!(i.multi_az(), Some(true));
    assert_eq!(i.publicly_accessible(), Some(false));
    assert_eq!(i.copy_tags_to_snapshot(), Some(true));
    assert_eq!(i.auto_minor_version_upgrade(), Some(true));
    assert_eq!(i.performance_insights_enabled(), Some(true));
    // IAM database authentication is on by default.
    assert_eq!(i.iam_database_authentication_enabled(), Some(true));
    assert_eq!(i.enabled_cloudwatch_logs_exports(), ["postgresql"]);
    // Enhanced monitoring every 60 s through hms-security's monitoring role.
    assert_eq!(i.monitoring_interval(), Some(60));
    assert_eq!(
        i.monitoring_role_arn(),
        sec["monitoring_role_arn"].as_str(),
        "{sec}"
    );
    let sgs: Vec<&str> = i
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(sgs, vec![sec["database_sg_id"].as_str().expect("sg")]);
    // The subnet group spans the three private subnets.
    let group = i.db_subnet_group().expect("subnet group");
    let mut subnets: Vec<&str> = group
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
    // The parameter group forces SSL and logs connections and slow queries.
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    let pg = i
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name())
        .expect("pg")
        .to_owned();
    let params = s
        .block_on(
            rds.describe_db_parameters()
                .db_parameter_group_name(&pg)
                .source("user")
                .send(),
        )
        .expect("params");
    let get = |n: &str| {
        params
            .parameters()
            .iter()
            .find(|p| p.parameter_name() == Some(n))
            .and_then(|p| p.parameter_value())
            .map(str::to_owned)
    };
    assert_eq!(get("rds.force_ssl").as_deref(), Some("1"));
    assert_eq!(get("log_connections").as_deref(), Some("1"));
    assert_eq!(get("log_min_duration_statement").as_deref(), Some("1000"));
    // The password is managed by RDS; the document has the secret's ARN, never a secret.
    let secret = i
        .master_user_secret()
        .and_then(|x| x.secret_arn())
        .expect("managed secret");
    assert_eq!(out["master_user_secret_arn"], secret);
    assert_eq!(
        out["endpoint"],
        i.endpoint().and_then(|e| e.address()).expect("endpoint")
    );
    assert_eq!(out["port"], 5432);
    assert_eq!(out["username"], "hms_prod");
    assert!(out["engine_version"]
        .as_str()
        .is_some_and(|v| v.starts_with("16")));

    // A second up changes nothing; plan --detailed-exitcode exits 0.
    let (doc2, _) = pipeline(&s, &["up"], 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0));
    pipeline(&s, &["plan", "--detailed-exitcode"], 0);
    s.run(
        &[
            "down",
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ],
        0,
    );
}

#[test]
fn changes_are_classified_and_impossible_ones_refused() {
    let s = Stack::new("hms-db", "chg");
    pipeline(&s, &["up", "--set", "db.deletion_protection=false"], 0);
    let base = ["--set", "db.deletion_protection=false"];
    // Backup retention: one change, in place without downtime.
    let args = [
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "db.backup_retention_days=14",
        ][..],
        &base[..],
    ]
    .concat();
    let (_, err) = s.run(&args, 2);
    assert!(
        err.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{err}"
    );
    assert!(
        err.contains("in place, no downtime: backup_retention_days"),
        "{err}"
    );
    // An instance class change on Multi-AZ fails over; a parameter change is a reboot, both announced.
    let (_, err) = s.run(
        &[
            &[
                "plan",
                "--set",
                "db.instance_class=db.m5.large",
                "--set",
                "db.multi_az=false",
            ][..],
            &base[..],
        ]
        .concat(),
        0,
    );
    assert!(
        err.contains("brief outage") && err.contains("instance_class"),
        "{err}"
    );
    let (doc, _) = s.run(
        &[
            &[
                "up",
                "--apply-immediately",
                "--set",
                "db.backup_retention_days=14",
            ][..],
            &base[..],
        ]
        .concat(),
        0,
    );
    assert_eq!(run_counts(&doc), (0, 1, 0));
    assert_eq!(
        instance(&s).and_then(|i| i.backup_retention_period()),
        Some(14)
    );
    // Shrinking storage is impossible: exit 64, nothing changed.
    let (_, err) = s.run(
        &[&["up", "--set", "db.allocated_storage=50"][..], &base[..]].concat(),
        64,
    );
    assert!(
        err.contains("cannot shrink storage") && err.contains("100"),
        "{err}"
    );
    assert_eq!(instance(&s).and_then(|i| i.allocated_storage()), Some(100));
    // Growing it is in place.
    let (_, err) = s.run(
        &[
            &[
                "plan",
                "--set",
                "db.allocated_storage=200",
                "--set",
                "db.backup_retention_days=14",
            ][..],
            &base[..],
        ]
        .concat(),
        0,
    );
    assert!(
        err.contains("in place, no downtime: allocated_storage"),
        "{err}"
    );
    // Changing the database name would need a new database: refused without --allow-destroy.
    let (_, err) = s.run(
        &[
            &[
                "up",
                "--set",
                "db.database_name=other",
                "--set",
                "db.backup_retention_days=14",
            ][..],
            &base[..],
        ]
        .concat(),
        1,
    );
    assert!(
        err.contains("--allow-destroy") && err.contains("db.instance"),
        "{err}"
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn the_monitoring_interval_changes_in_place_and_zero_turns_it_off() {
    let s = Stack::new("hms-db", "mon");
    let base = ["--set", "db.deletion_protection=false"];
    pipeline(&s, &[&["up"][..], &base[..]].concat(), 0);
    // A changed interval is an update of the instance, never a replacement.
    let args = [
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "db.monitoring_interval=15",
        ][..],
        &base[..],
    ]
    .concat();
    let (_, err) = s.run(&args, 2);
    assert!(
        err.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."),
        "{err}"
    );
    assert!(
        err.contains("in place, no downtime: monitoring_interval"),
        "{err}"
    );
    let up = |interval: &str| {
        let set = format!("db.monitoring_interval={interval}");
        s.run(
            &[&["up", "--apply-immediately", "--set", &set][..], &base[..]].concat(),
            0,
        )
    };
    let (doc, _) = up("15");
    assert_eq!(run_counts(&doc), (0, 1, 0));
    assert_eq!(instance(&s).and_then(|i| i.monitoring_interval()), Some(15));
    let (doc, _) = up("15");
    assert_eq!(run_counts(&doc), (0, 0, 0));
    // 0 turns it off, and then the role is not compared.
    let (doc, _) = up("0");
    assert_eq!(run_counts(&doc), (0, 1, 0));
    assert_eq!(instance(&s).and_then(|i| i.monitoring_interval()), Some(0));
    let (doc, _) = up("0");
    assert_eq!(run_counts(&doc), (0, 0, 0));
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn no_password_anywhere() {
    let s = Stack::new("hms-db", "secret");
    // A password in config, --set or the environment is refused, and never echoed.
    let (_, err) = s.run(&["plan", "--set", "db.password=Sup3r-S3cret!"], 64);
    assert!(
        err.contains("never read from config") && !err.contains("Sup3r"),
        "{err}"
    );
    let out = s
        .std_cmd(&["plan"])
        .env("HMS_DB_PASSWORD", "Sup3r-S3cret!")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("HMS_DB_PASSWORD")
            && err.contains("Secrets Manager")
            && !err.contains("Sup3r"),
        "{err}"
    );

    // A whole run: the password RDS generated appears in no output and no state file.
    let (vpc, e1) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, e2) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let (db, e3) = s.run_of(
        "hms-db",
        &["up", "--set", "db.deletion_protection=false"],
        &sec.to_string(),
        0,
    );
    let arn = db["outputs"]["db"]["master_user_secret_arn"]
        .as_str()
        .expect("secret arn")
        .to_owned();
    let sm = aws_sdk_secretsmanager::Client::new(&s.sdk);
    let value = s
        .block_on(sm.get_secret_value().secret_id(&arn).send())
        .expect("secret")
        .secret_string()
        .expect("string")
        .to_owned();
    let password = serde_json::from_str::<Value>(&value)
        .ok()
        .and_then(|v| v["password"].as_str().map(str::to_owned))
        .unwrap_or(value);
    assert!(password.len() >= 8, "the emulator generated a password");
    let mut haystack = format!("{db}{e1}{e2}{e3}");
    for entry in
        std::fs::read_dir(s.state_dir().join(format!("{}-production", s.name))).expect("state dir")
    {
        haystack
            .push_str(&std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default());
    }
    assert!(!haystack.contains(&password), "the master password leaked");
    assert!(
        !haystack.to_ascii_lowercase().contains("\"password\""),
        "a password field leaked"
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

#[test]
fn down_needs_flags_under_protection_and_keeps_a_final_snapshot() {
    let s = Stack::new("hms-db", "down");
    pipeline(&s, &["up"], 0);
    let (_, err) = s.run(&["down", "--yes"], 1);
    assert!(
        err.contains("deletion protection") && err.contains("--disable-deletion-protection"),
        "{err}"
    );
    assert!(instance(&s).is_some(), "refused down deleted nothing");
    // hms-security cannot go while hms-db still has resources.
    let (_, err) = s.run_of("hms-security", &["down", "--yes"], "", 1);
    assert!(err.contains("hms-db"), "{err}");

    let (doc, err) = s.run(&["down", "--yes", "--disable-deletion-protection"], 0);
    assert!(
        err.contains("reserved DB instances are not touched"),
        "{err}"
    );
    let snap = doc["outputs"]["db"]["final_snapshot_id"]
        .as_str()
        .expect("final snapshot in the document")
        .to_owned();
    assert!(snap.starts_with(&format!("{}-db-final-", s.name)), "{snap}");
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    let snaps = s
        .block_on(
            rds.describe_db_snapshots()
                .db_snapshot_identifier(&snap)
                .send(),
        )
        .expect("snapshot exists");
    assert_eq!(snaps.db_snapshots().len(), 1);
    assert!(instance(&s).is_none());
    assert!(!group_exists(&s, "subnet") && !group_exists(&s, "params"));
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert!(err.contains("Nothing to delete"), "{err}");
}

#[test]
fn snapshot_and_reserve() {
    let s = Stack::new("hms-db", "ri");
    pipeline(&s, &["up", "--set", "db.deletion_protection=false"], 0);
    let (doc, _) = s.run(
        &["snapshot", "--name", &format!("{}-before-upgrade", s.name)],
        0,
    );
    assert_eq!(
        doc["outputs"]["db"]["last_snapshot"]["id"],
        format!("{}-before-upgrade", s.name)
    );
    assert!(
        doc["outputs"]["db"]["instance_id"].is_string(),
        "the other outputs stay"
    );

    // Listing changes nothing and shows prices and coverage.
    let (doc, err) = s.run(&["reserve"], 0);
    let offers = doc["outputs"]["db"]["reservation_offerings"]
        .as_array()
        .expect("offerings")
        .clone();
    assert_eq!(offers.len(), 1, "{offers:?}");
    assert_eq!(offers[0]["instance_class"], "db.t3.medium");
    assert_eq!(offers[0]["multi_az"], true);
    assert_eq!(offers[0]["offering_type"], "Partial Upfront");
    assert!(
        offers[0]["fixed_price"].as_f64().is_some_and(|p| p > 0.0)
            && offers[0]["hourly_price"].as_f64().is_some_and(|p| p > 0.0)
    );
    assert!(err.contains("coverage today"), "{err}");
    let id = format!("{}-reservation", s.name);
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    let count = || {
        s.block_on(
            rds.describe_reserved_db_instances()
                .reserved_db_instance_id(&id)
                .send(),
        )
        .map(|o| o.reserved_db_instances().len())
        .unwrap_or(0)
    };
    assert_eq!(count(), 0);
    // Never without --yes.
    let (_, err) = s.run(&["reserve", "--purchase", "--reservation-id", &id], 1);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(count(), 0);
    let (doc, _) = s.run(
        &["reserve", "--purchase", "--reservation-id", &id, "--yes"],
        0,
    );
    assert_eq!(
        doc["outputs"]["db"]["reservation"]["reservation_id"],
        id.as_str()
    );
    assert_eq!(count(), 1);
    // Again: reported, nothing bought.
    let (_, err) = s.run(
        &["reserve", "--purchase", "--reservation-id", &id, "--yes"],
        0,
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(count(), 1);
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
    assert_eq!(count(), 1, "down never touches reservations");
}

#[test]
fn bad_inputs_exit_64_and_create_nothing() {
    let s = Stack::new("hms-db", "bad");
    let (vpc, _) = s.run_of("hms-vpc", &["plan"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["plan"], &vpc.to_string(), 0);
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "db.engine_version=16.0"],
            "RDS does not offer PostgreSQL 16.0",
        ),
        (&["--set", "db.engine_version=9"], "db.engine_version"),
        (
            &["--set", "db.engine_version=\"16.0\""],
            "RDS does not offer PostgreSQL 16.0",
        ),
        (
            &["--set", "db.instance_class=t3.medium"],
            "db.instance_class",
        ),
        (
            &["--set", "db.allocated_storage=10"],
            "db.allocated_storage",
        ),
        (&["--set", "db.backup_window=3am"], "db.backup_window"),
        (
            &["--set", "db.backup_window=03:50-04:30"],
            "overlaps the maintenance window",
        ),
        (
            &["--set", "db.maintenance_window=sun:04:00-sun:04:10"],
            "30 minutes",
        ),
        (
            &["--set", "db.backup_retention_days=0"],
            "db.backup_retention_days",
        ),
        (&["--set", "db.username=postgres"], "db.username"),
        (&["--set", "db.port=80"], "db.port"),
        (&["--set", "db.reservation_years=2"], "db.reservation_years"),
        (&["--set", "db.storage=100"], "unknown field `storage`"),
        (
            &["--set", "db.monitoring_interval=45"],
            "db.monitoring_interval: 45 is not an enhanced-monitoring interval; use one of 0, 1, 5, 10, 15, 30, 60",
        ),
    ];
    for (args, want) in cases {
        let out = s
            .cmd_in(&[&["plan"][..], args].concat())
            .write_stdin(sec.to_string())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Missing upstream outputs are named.
    let (_, err) = s.run(&["up"], 64);
    assert!(
        err.contains("needs outputs.vpc.private_subnet_ids"),
        "{err}"
    );
    assert!(instance(&s).is_none());
}

#[test]
fn a_replacement_never_deletes_a_protected_database() {
    let s = Stack::new("hms-db", "prot");
    pipeline(&s, &["up"], 0);
    // Regression: --allow-destroy alone used to lift deletion protection and replace the database.
    let (_, err) = s.run(
        &["up", "--allow-destroy", "--set", "db.database_name=other"],
        1,
    );
    assert!(
        err.contains("deletion protection") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        instance(&s)
            .and_then(|i| i.db_name().map(str::to_owned))
            .as_deref(),
        Some("hms")
    );
    s.run(
        &[
            "down",
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ],
        0,
    );
}

#[test]
fn a_major_upgrade_brings_its_own_parameter_group() {
    let s = Stack::new("hms-db", "major");
    pipeline(&s, &["up", "--set", "db.deletion_protection=false"], 0);
    let args = [
        "--set",
        "db.deletion_protection=false",
        "--set",
        "db.engine_version=17",
    ];
    let (_, err) = s.run(&[&["plan"][..], &args[..]].concat(), 0);
    assert!(
        err.contains("db.parameter_group[postgres17]") && err.contains("brief outage"),
        "{err}"
    );
    // Regression: the new group used to share the old one's name, and deleting the old deleted the new.
    let (doc, _) = s.run(
        &[
            &["up", "--allow-destroy", "--apply-immediately"][..],
            &args[..],
        ]
        .concat(),
        0,
    );
    let pg = instance(&s).and_then(|i| {
        i.db_parameter_groups()
            .first()
            .and_then(|g| g.db_parameter_group_name().map(str::to_owned))
    });
    assert_eq!(pg, Some(format!("{}-db-params-postgres17", s.name)));
    assert_eq!(
        doc["outputs"]["db"]["parameter_group"],
        format!("{}-db-params-postgres17", s.name)
    );
    s.run(
        &[&["plan", "--detailed-exitcode"][..], &args[..]].concat(),
        0,
    );
    s.run(&["down", "--yes", "--skip-final-snapshot"], 0);
}

/// The tags RDS holds for `arn`, as (key, value) pairs.
fn rds_tags(s: &Stack, arn: &str) -> Vec<(String, String)> {
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    s.block_on(rds.list_tags_for_resource().resource_name(arn).send())
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

#[test]
fn stack_tags_converge_on_every_resource_through_the_tagging_api() {
    let s = Stack::new("hms-db", "tags");
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let sec = sec.to_string();
    let (doc, err) = s.run_of("hms-db", &["up"], &sec, 0);
    // Subnet group, parameter group, instance, the master secret's policy.
    assert_eq!(run_counts(&doc), (4, 0, 0), "{err}");
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    let subnet_group_arn = s
        .block_on(
            rds.describe_db_subnet_groups()
                .db_subnet_group_name(format!("{}-db-subnets", s.name))
                .send(),
        )
        .expect("subnet group")
        .db_subnet_groups()[0]
        .db_subnet_group_arn()
        .expect("arn")
        .to_owned();
    let parameter_group_arn = s
        .block_on(
            rds.describe_db_parameter_groups()
                .db_parameter_group_name(format!("{}-db-params-postgres16", s.name))
                .send(),
        )
        .expect("parameter group")
        .db_parameter_groups()[0]
        .db_parameter_group_arn()
        .expect("arn")
        .to_owned();
    let instance_arn = instance(&s)
        .and_then(|i| i.db_instance_arn().map(str::to_owned))
        .expect("instance arn");

    // A tag-only change of the instance goes through the tagging API alone: no ModifyDBInstance, which
    // would announce changes pending for the maintenance window.
    let (doc, err) = s.run_of(
        "hms-db",
        &["up", "--set", "stack.tags={team = \"data\"}"],
        &sec,
        0,
    );
    assert_eq!(run_counts(&doc), (0, 3, 0), "{err}");
    assert!(!err.contains("pending for the maintenance window"), "{err}");

    let updated = tag_cycle(&s, "hms-db", &sec, |owner| {
        for (what, arn) in [
            ("subnet group", &subnet_group_arn),
            ("parameter group", &parameter_group_arn),
            ("instance", &instance_arn),
        ] {
            let tags = rds_tags(&s, arn);
            let got = tags
                .iter()
                .find(|(k, _)| k == "owner")
                .map(|(_, v)| v.as_str());
            assert_eq!(got, owner, "{what}: {tags:?}");
            assert!(!tags.iter().any(|(k, _)| k == "team"), "{what}: {tags:?}");
            // The hms:* tags stay whatever else changes.
            assert!(
                tags.iter().any(|(k, _)| k == "hms:address"),
                "{what}: {tags:?}"
            );
        }
        // DescribeDBInstances (what observe reads) agrees with the tagging API.
        let listed = instance(&s).expect("instance");
        let got = listed
            .tag_list()
            .iter()
            .find(|t| t.key() == Some("owner"))
            .and_then(|t| t.value());
        assert_eq!(got, owner);
    });
    assert_eq!(
        updated, 3,
        "the subnet group, the parameter group and the instance"
    );
    s.run(
        &[
            "down",
            "--yes",
            "--disable-deletion-protection",
            "--skip-final-snapshot",
        ],
        0,
    );
}

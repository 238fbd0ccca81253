//! hms-backup against the emulator, behind hms-security as in the pipeline.

use aws_sdk_s3::primitives::ByteStream;
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

fn s3(s: &Stack) -> aws_sdk_s3::Client {
    // moto serves buckets by path, not by virtual host.
    let conf = aws_sdk_s3::config::Builder::from(&s.sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn bucket_of(s: &Stack) -> String {
    format!("{}-backups-production", s.name)
}

fn exists(s: &Stack, name: &str) -> bool {
    s.block_on(s3(s).head_bucket().bucket(name).send()).is_ok()
}

/// `hms-vpc up | hms-security up`, then `hms-backup ARGS` on that document.
fn pipeline(s: &Stack, args: &[&str], code: i32) -> (Value, Value, String) {
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let (doc, err) = s.run_of("hms-backup", args, &sec.to_string(), code);
    (sec, doc, err)
}

#[test]
fn pipeline_builds_the_reference_bucket_and_converges() {
    let s = Stack::new("hms-backup", "ref");
    let (sec, doc, err) = pipeline(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "{err}");
    let name = bucket_of(&s);
    let key = sec["outputs"]["security"]["kms_key_arns"]["backups"]
        .as_str()
        .expect("backups key")
        .to_owned();
    let out = &doc["outputs"]["backup"];
    assert_eq!(out["bucket"], name.as_str());
    assert_eq!(out["arn"], format!("arn:aws:s3:::{name}").as_str());
    assert_eq!(out["region"], "us-east-1");
    assert_eq!(out["kms_key_arn"], key.as_str());

    let c = s3(&s);
    let own = s
        .block_on(c.get_bucket_ownership_controls().bucket(&name).send())
        .expect("ownership");
    let rules = own.ownership_controls().expect("controls").rules();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].object_ownership().as_str(), "BucketOwnerEnforced");

    let pab = s
        .block_on(c.get_public_access_block().bucket(&name).send())
        .expect("public access block");
    let p = pab.public_access_block_configuration().expect("config");
    assert_eq!(
        (
            p.block_public_acls(),
            p.ignore_public_acls(),
            p.block_public_policy(),
            p.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );

    let v = s
        .block_on(c.get_bucket_versioning().bucket(&name).send())
        .expect("versioning");
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));

    let enc = s
        .block_on(c.get_bucket_encryption().bucket(&name).send())
        .expect("encryption");
    let rules = enc
        .server_side_encryption_configuration()
        .expect("config")
        .rules();
    assert_eq!(rules.len(), 1);
    let d = rules[0]
        .apply_server_side_encryption_by_default()
        .expect("default");
    assert_eq!(d.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(d.kms_master_key_id(), Some(key.as_str()));
    assert_eq!(rules[0].bucket_key_enabled(), Some(true));

    let pol = s
        .block_on(c.get_bucket_policy().bucket(&name).send())
        .expect("policy");
    let pol: Value = serde_json::from_str(pol.policy().expect("text")).expect("json");
    let st = &pol["Statement"][0];
    assert_eq!(pol["Statement"].as_array().map(Vec::len), Some(1));
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Principal"], "*");
    assert_eq!(st["Action"], "s3:*");
    assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], "false");
    let res: Vec<&str> = st["Resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        res,
        [
            format!("arn:aws:s3:::{name}"),
            format!("arn:aws:s3:::{name}/*")
        ]
    );

    // The lifecycle round-trips exactly: one rule, the reference values.
    let lc = s
        .block_on(c.get_bucket_lifecycle_configuration().bucket(&name).send())
        .expect("lifecycle");
    assert_eq!(lc.rules().len(), 1);
    let r = &lc.rules()[0];
    assert_eq!(r.id(), Some("hms-backups-lifecycle"));
    assert_eq!(r.status().as_str(), "Enabled");
    assert_eq!(r.filter().and_then(|f| f.prefix()), Some(""));
    let t: Vec<(Option<i32>, &str)> = r
        .transitions()
        .iter()
        .map(|t| (t.days(), t.storage_class().map_or("", |c| c.as_str())))
        .collect();
    assert_eq!(t, [(Some(30), "STANDARD_IA"), (Some(90), "GLACIER")]);
    assert_eq!(r.expiration().and_then(|e| e.days()), Some(365));
    assert_eq!(
        r.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(90)
    );
    assert_eq!(
        r.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(7)
    );

    let tags = s
        .block_on(c.get_bucket_tagging().bucket(&name).send())
        .expect("tags");
    let tag = |k: &str| {
        tags.tag_set()
            .iter()
            .find(|t| t.key() == k)
            .map(|t| t.value().to_owned())
    };
    assert_eq!(tag("hms:stack").as_deref(), Some(s.name.as_str()));
    assert_eq!(tag("hms:env").as_deref(), Some("production"));
    assert_eq!(tag("hms:tool").as_deref(), Some("hms-backup"));
    assert_eq!(tag("hms:address").as_deref(), Some("backup.bucket"));
    assert_eq!(tag("Name").as_deref(), Some(name.as_str()));

    // Converged: a second up changes nothing, plan says so, and the tool runs alone from the state store.
    let (again, _) = s.run_of("hms-backup", &["up"], &sec.to_string(), 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.run_of(
        "hms-backup",
        &["plan", "--detailed-exitcode"],
        &sec.to_string(),
        0,
    );
    let (alone, _) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(alone["outputs"]["backup"]["bucket"], name.as_str());
}

#[test]
fn drift_is_planned_and_repaired() {
    let s = Stack::new("hms-backup", "drift");
    let (sec, _, _) = pipeline(&s, &["up"], 0);
    let name = bucket_of(&s);
    let c = s3(&s);
    s.block_on(
        c.put_bucket_versioning()
            .bucket(&name)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send(),
    )
    .expect("suspend");
    s.block_on(c.delete_public_access_block().bucket(&name).send())
        .expect("delete pab");
    s.block_on(c.delete_bucket_lifecycle().bucket(&name).send())
        .expect("delete lifecycle");
    let (_, err) = s.run_of(
        "hms-backup",
        &["plan", "--detailed-exitcode"],
        &sec.to_string(),
        2,
    );
    for k in ["versioning", "public_access_block", "lifecycle"] {
        assert!(err.contains(k), "{k} not in plan:\n{err}");
    }
    let (doc, _) = s.run_of("hms-backup", &["up"], &sec.to_string(), 0);
    assert_eq!(run_counts(&doc), (0, 1, 0));
    let v = s
        .block_on(c.get_bucket_versioning().bucket(&name).send())
        .expect("versioning");
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    assert!(s
        .block_on(c.get_public_access_block().bucket(&name).send())
        .is_ok());
    assert_eq!(
        s.block_on(c.get_bucket_lifecycle_configuration().bucket(&name).send())
            .expect("lifecycle")
            .rules()
            .len(),
        1
    );
    s.run_of(
        "hms-backup",
        &["plan", "--detailed-exitcode"],
        &sec.to_string(),
        0,
    );
}

#[test]
fn stack_tags_converge_through_the_tagging_api() {
    let s = Stack::new("hms-backup", "tags");
    let (sec, _, _) = pipeline(&s, &["up"], 0);
    let name = bucket_of(&s);
    let c = s3(&s);
    let updated = tag_cycle(&s, "hms-backup", &sec.to_string(), |owner| {
        let tags = s
            .block_on(c.get_bucket_tagging().bucket(&name).send())
            .expect("tagging");
        let got = tags
            .tag_set()
            .iter()
            .find(|t| t.key() == "owner")
            .map(|t| t.value().to_owned());
        assert_eq!(got.as_deref(), owner);
        // The hms:* tags stay whatever else changes.
        assert!(tags.tag_set().iter().any(|t| t.key() == "hms:address"));
    });
    assert_eq!(updated, 1, "the bucket is the one taggable resource");
}

#[test]
fn custom_lifecycle_and_sse_s3_round_trip() {
    let s = Stack::new("hms-backup", "cust");
    std::fs::write(
        s.dir.path().join("hms.toml"),
        r#"
[backup]
encryption = "aes256"
append_account_id = true

[backup.lifecycle]
prefix = "db/"
transitions = [
  { days = 45, storage_class = "STANDARD_IA" },
  { days = 75, storage_class = "GLACIER_IR" },
  { days = 200, storage_class = "DEEP_ARCHIVE" },
]
expiration_days = 400
noncurrent_expiration_days = 30
abort_incomplete_multipart_days = 3
"#,
    )
    .expect("config");
    // SSE-S3 needs nothing from hms-security: the tool runs alone.
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "{err}");
    let name = format!("{}-backups-production-123456789012", s.name);
    assert_eq!(doc["outputs"]["backup"]["bucket"], name.as_str());
    assert!(doc["outputs"]["backup"]["kms_key_arn"].is_null());
    let c = s3(&s);
    let enc = s
        .block_on(c.get_bucket_encryption().bucket(&name).send())
        .expect("encryption");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("config")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );
    let lc = s
        .block_on(c.get_bucket_lifecycle_configuration().bucket(&name).send())
        .expect("lifecycle");
    let r = &lc.rules()[0];
    assert_eq!(r.filter().and_then(|f| f.prefix()), Some("db/"));
    let t: Vec<(Option<i32>, &str)> = r
        .transitions()
        .iter()
        .map(|t| (t.days(), t.storage_class().map_or("", |c| c.as_str())))
        .collect();
    assert_eq!(
        t,
        [
            (Some(45), "STANDARD_IA"),
            (Some(75), "GLACIER_IR"),
            (Some(200), "DEEP_ARCHIVE")
        ]
    );
    assert_eq!(r.expiration().and_then(|e| e.days()), Some(400));
    assert_eq!(
        r.noncurrent_version_expiration()
            .and_then(|e| e.noncurrent_days()),
        Some(30)
    );
    assert_eq!(
        r.abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        Some(3)
    );
    let (again, _) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.run(&["down", "--yes"], 0);
    assert!(!exists(&s, &name));
}

#[test]
fn bad_input_exits_64_and_creates_nothing() {
    let s = Stack::new("hms-backup", "bad");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                r#"backup.lifecycle.transitions=[{days=10,storage_class="STANDARD_IA"}]"#,
            ],
            "at least 30 days",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.object_lock_mode=legal-hold",
            ],
            "backup.object_lock_mode",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.object_lock_days=-1",
            ],
            "backup.object_lock_days",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.object_lock_days=0",
                "--set",
                "backup.object_lock_mode=governance",
            ],
            "object_lock_days = 0",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                r#"backup.lifecycle.transitions=[{days=90,storage_class="GLACIER"},{days=60,storage_class="DEEP_ARCHIVE"}]"#,
            ],
            "not later",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                r#"backup.lifecycle.transitions=[{days=30,storage_class="STANDARD_IA"},{days=50,storage_class="GLACIER"}]"#,
            ],
            "stay 30 days",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.lifecycle.expiration_days=60",
            ],
            "backup.lifecycle.expiration_days",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                r#"backup.lifecycle.transitions=[{days=30,storage_class="COLD"}]"#,
            ],
            "storage_class \"COLD\"",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.lifecycle.noncurrent_expiration_days=-5",
            ],
            "noncurrent_expiration_days",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.bucket=Backups_1",
            ],
            "backup.bucket",
        ),
        (&["--set", "backup.encryption=des"], "backup.encryption"),
        (
            &["--set", "backup.kms_key_arn=alias/x"],
            "backup.kms_key_arn",
        ),
        (
            &[
                "--set",
                "backup.encryption=aes256",
                "--set",
                "backup.versioning=false",
            ],
            "versioning",
        ),
        // With the default SSE-KMS the backups key must come from hms-security.
        (&[], "outputs.security.kms_key_arns.backups"),
    ];
    for (args, want) in cases {
        let mut a = vec!["up"];
        a.extend_from_slice(args);
        let (doc, err) = s.run(&a, 64);
        assert_eq!(err.trim().lines().count(), 1, "{a:?}: one line:\n{err}");
        assert!(err.contains(want), "{a:?}: {want:?} not in {err}");
        assert_eq!(doc["runs"][0]["ok"], false);
    }
    // force_empty is never read from a file.
    std::fs::write(
        s.dir.path().join("hms.toml"),
        "[backup]\nencryption = \"aes256\"\nforce_empty = true\n",
    )
    .expect("config");
    let (_, err) = s.run(&["down", "--yes"], 64);
    assert!(err.contains("backup.force_empty"), "{err}");
    assert!(!exists(&s, &bucket_of(&s)));
    assert!(!s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-backup.json")
        .exists());
}

#[test]
fn down_keeps_backups_unless_forced() {
    let s = Stack::new("hms-backup", "down");
    let (doc, _) = s.run(&["up", "--set", "backup.encryption=aes256"], 0);
    let name = doc["outputs"]["backup"]["bucket"]
        .as_str()
        .expect("bucket")
        .to_owned();
    let c = s3(&s);
    // Emulator gap: moto answers every object call with 403 while the deny-non-TLS policy is on (it
    // treats the plain-HTTP test connection as matching even where it should not), so the test removes
    // the policy before writing objects. The tool itself never touches objects except on --force-empty.
    s.block_on(c.delete_bucket_policy().bucket(&name).send())
        .expect("delete policy");
    for (key, body) in [("db/a.dump", "1"), ("db/a.dump", "2"), ("db/b.dump", "3")] {
        s.block_on(
            c.put_object()
                .bucket(&name)
                .key(key)
                .body(ByteStream::from_static(body.as_bytes()))
                .send(),
        )
        .expect("put");
    }
    s.block_on(c.delete_object().bucket(&name).key("db/b.dump").send())
        .expect("delete marker");
    let versions = s
        .block_on(c.list_object_versions().bucket(&name).send())
        .expect("versions");
    assert_eq!(
        (versions.versions().len(), versions.delete_markers().len()),
        (3, 1)
    );

    let (_, err) = s.run(&["down", "--yes", "--set", "backup.encryption=aes256"], 1);
    assert!(
        err.contains("holds backups") && err.contains("--force-empty"),
        "{err}"
    );
    assert!(exists(&s, &name));
    // In production --force-empty alone is not enough.
    let (_, err) = s.run(
        &["down", "--force-empty", "--set", "backup.encryption=aes256"],
        1,
    );
    assert!(err.contains("needs --yes"), "{err}");
    assert!(exists(&s, &name));

    let (doc, err) = s.run(
        &[
            "down",
            "--force-empty",
            "--yes",
            "--set",
            "backup.encryption=aes256",
        ],
        0,
    );
    assert_eq!(run_counts(&doc), (0, 0, 1), "{err}");
    assert!(!exists(&s, &name));
    let (_, err) = s.run(&["down", "--yes", "--set", "backup.encryption=aes256"], 0);
    assert!(err.contains("Nothing to delete"), "{err}");
}

#[test]
fn a_bucket_it_did_not_make_is_never_taken_over() {
    let s = Stack::new("hms-backup", "foreign");
    let name = bucket_of(&s);
    let c = s3(&s);
    // A bucket with the default name made by hand (or by the old Terraform module): no hms tags.
    s.block_on(c.create_bucket().bucket(&name).send())
        .expect("create by hand");
    let (_, err) = s.run(&["up", "--set", "backup.encryption=aes256"], 1);
    assert!(
        err.contains("did not make it") && err.contains("hms:address=backup.bucket"),
        "{err}"
    );
    // Untouched: no lifecycle was written, no policy.
    assert!(s
        .block_on(c.get_bucket_lifecycle_configuration().bucket(&name).send())
        .is_err());
    assert!(s
        .block_on(c.get_bucket_policy().bucket(&name).send())
        .is_err());
    let (_, err) = s.run(&["down", "--yes"], 1);
    assert!(err.contains("did not make it"), "{err}");
    assert!(exists(&s, &name));
    // Emptying is only ever a down.
    let (_, err) = s.run(
        &[
            "up",
            "--set",
            "backup.encryption=aes256",
            "--set",
            "backup.force_empty=true",
        ],
        64,
    );
    assert!(err.contains("backup.force_empty"), "{err}");
}

// Issue 17: a backup that ransomware can delete is not a backup.
#[test]
fn object_lock_keeps_versions_under_governance_and_force_empty_bypasses_it() {
    let s = Stack::new("hms-backup", "lock");
    let aes = ["--set", "backup.encryption=aes256"];
    let with = |args: &[&str], more: &[&str]| -> Vec<String> {
        args.iter()
            .chain(aes.iter())
            .chain(more.iter())
            .map(|x| (*x).to_owned())
            .collect()
    };
    let run = |args: &[&str], more: &[&str], code: i32| {
        let v = with(args, more);
        let v: Vec<&str> = v.iter().map(String::as_str).collect();
        s.run(&v, code)
    };
    let (doc, _) = run(&["up"], &[], 0);
    let name = doc["outputs"]["backup"]["bucket"]
        .as_str()
        .expect("bucket")
        .to_owned();
    let c = s3(&s);
    let lock = || {
        let got = s
            .block_on(c.get_object_lock_configuration().bucket(&name).send())
            .expect("object lock configuration");
        let cfg = got
            .object_lock_configuration()
            .cloned()
            .expect("configuration");
        let r = cfg.rule().and_then(|r| r.default_retention()).cloned();
        (
            cfg.object_lock_enabled().map(|e| e.as_str().to_owned()),
            r.as_ref()
                .and_then(|r| r.mode())
                .map(|m| m.as_str().to_owned()),
            r.as_ref().and_then(|r| r.days()),
        )
    };
    assert_eq!(
        lock(),
        (Some("Enabled".into()), Some("GOVERNANCE".into()), Some(30))
    );
    run(&["plan", "--detailed-exitcode"], &[], 0);

    // A new version is retained: deleting it without the bypass fails. (The deny-non-TLS policy is
    // removed first: moto answers every object call with 403 under it on plain HTTP; see
    // down_keeps_backups_unless_forced.)
    s.block_on(c.delete_bucket_policy().bucket(&name).send())
        .expect("delete policy");
    let put = s
        .block_on(
            c.put_object()
                .bucket(&name)
                .key("db/nightly.dump")
                .body(ByteStream::from_static(b"backup"))
                .send(),
        )
        .expect("put");
    let version = put.version_id().expect("a version").to_owned();
    let head = s
        .block_on(
            c.head_object()
                .bucket(&name)
                .key("db/nightly.dump")
                .version_id(&version)
                .send(),
        )
        .expect("head");
    assert_eq!(
        head.object_lock_mode().map(|m| m.as_str()),
        Some("GOVERNANCE"),
        "the default retention applies to a new version"
    );
    let denied = s.block_on(
        c.delete_object()
            .bucket(&name)
            .key("db/nightly.dump")
            .version_id(&version)
            .send(),
    );
    assert!(
        denied.is_err(),
        "a locked version is not deleted without the bypass"
    );

    // Compliance: an update in place; then even --force-empty refuses before deleting anything.
    let (doc, _) = run(&["up"], &["--set", "backup.object_lock_mode=compliance"], 0);
    assert_eq!(run_counts(&doc), (0, 1, 0));
    assert_eq!(lock().1.as_deref(), Some("COMPLIANCE"));
    let (_, err) = run(&["down", "--force-empty", "--yes"], &[], 1);
    assert!(err.contains("COMPLIANCE"), "{err}");
    assert!(exists(&s, &name));

    // Back to governance: down --force-empty says it needs the bypass permission, and deletes everything.
    run(&["up"], &[], 0);
    let (doc, err) = run(&["down", "--force-empty", "--yes"], &[], 0);
    assert!(err.contains("s3:BypassGovernanceRetention"), "{err}");
    assert_eq!(run_counts(&doc), (0, 0, 1), "{err}");
    assert!(!exists(&s, &name));
}

/// The stack's log bucket as hms-ecs makes it: ACLs off, a policy letting S3 server access logging of
/// this account write under `s3/`.
fn log_bucket(s: &Stack, c: &aws_sdk_s3::Client) -> String {
    let name = format!("{}-logs-production", s.name);
    s.block_on(c.create_bucket().bucket(&name).send())
        .expect("log bucket");
    s.block_on(
        c.put_bucket_ownership_controls()
            .bucket(&name)
            .ownership_controls(
                aws_sdk_s3::types::OwnershipControls::builder()
                    .rules(
                        aws_sdk_s3::types::OwnershipControlsRule::builder()
                            .object_ownership(
                                aws_sdk_s3::types::ObjectOwnership::BucketOwnerEnforced,
                            )
                            .build()
                            .expect("rule"),
                    )
                    .build()
                    .expect("controls"),
            )
            .send(),
    )
    .expect("ownership");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{name}/s3/*"),
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}
        }]
    });
    s.block_on(
        c.put_bucket_policy()
            .bucket(&name)
            .policy(policy.to_string())
            .send(),
    )
    .expect("policy");
    name
}

/// `(target bucket, target prefix)` of the bucket's server access logging, `None` when off.
fn logging_of(s: &Stack, c: &aws_sdk_s3::Client, name: &str) -> Option<(String, String)> {
    let got = s
        .block_on(c.get_bucket_logging().bucket(name).send())
        .expect("logging");
    got.logging_enabled()
        .map(|l| (l.target_bucket().to_owned(), l.target_prefix().to_owned()))
}

#[test]
fn server_access_logs_go_to_the_stacks_log_bucket() {
    let s = Stack::new("hms-backup", "logs");
    let c = s3(&s);
    let logs = log_bucket(&s, &c);
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    let (sec, _) = s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    // Without hms-ecs upstream logging stays off, and the plan says so.
    let (_, err) = s.run_of("hms-backup", &["plan"], &sec.to_string(), 0);
    assert!(
        err.contains("hms-backup: note: server access logging of the backup bucket stays off"),
        "{err}"
    );
    // hms-ecs's output, as the pipeline hands it on.
    let mut doc = sec.clone();
    doc["outputs"]["ecs"] = serde_json::json!({"log_bucket": logs});
    let doc = doc.to_string();
    let (out, err) = s.run_of("hms-backup", &["up"], &doc, 0);
    assert_eq!(run_counts(&out), (1, 0, 0), "{err}");
    assert!(!err.contains("note: server access logging"), "{err}");
    let name = bucket_of(&s);
    let want = Some((logs.clone(), format!("s3/{name}/")));
    assert_eq!(logging_of(&s, &c, &name), want);
    // Converged.
    let (again, _) = s.run_of("hms-backup", &["up"], &doc, 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.run_of("hms-backup", &["plan", "--detailed-exitcode"], &doc, 0);
    // Logging turned off by hand, or sent elsewhere, is drift that up puts back.
    for drift in [
        None,
        Some(
            aws_sdk_s3::types::LoggingEnabled::builder()
                .target_bucket(&logs)
                .target_prefix("s3/elsewhere/")
                .build()
                .expect("logging"),
        ),
    ] {
        s.block_on(
            c.put_bucket_logging()
                .bucket(&name)
                .bucket_logging_status(
                    aws_sdk_s3::types::BucketLoggingStatus::builder()
                        .set_logging_enabled(drift)
                        .build(),
                )
                .send(),
        )
        .expect("drift");
        let (_, err) = s.run_of("hms-backup", &["plan", "--detailed-exitcode"], &doc, 2);
        assert!(err.contains("logging"), "{err}");
        let (fixed, _) = s.run_of("hms-backup", &["up"], &doc, 0);
        assert_eq!(run_counts(&fixed), (0, 1, 0));
        assert_eq!(logging_of(&s, &c, &name), want);
    }
    s.run_of("hms-backup", &["down", "--yes"], &doc, 0);
    assert!(!exists(&s, &name));
    // The emulator delivers access logs too: empty the log bucket before deleting it.
    let listed = s
        .block_on(c.list_objects_v2().bucket(&logs).send())
        .expect("log objects");
    for o in listed.contents() {
        s.block_on(
            c.delete_object()
                .bucket(&logs)
                .key(o.key().unwrap_or_default())
                .send(),
        )
        .expect("log object");
    }
    s.block_on(c.delete_bucket().bucket(&logs).send())
        .expect("log bucket");
}

/// An S3 client of `region`.
fn s3_in(s: &Stack, region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&s.sdk)
        .region(aws_sdk_s3::config::Region::new(region.to_owned()))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[test]
fn the_backup_bucket_replicates_to_a_replica_in_another_region() {
    let s = Stack::new("hms-backup", "replica");
    let config = s.dir.path().join("hms.toml");
    std::fs::write(&config, "[backup]\nreplica_region = \"us-west-2\"\n").expect("config");
    let (sec, doc, err) = pipeline(&s, &["up"], 0);
    assert_eq!(run_counts(&doc), (3, 0, 0), "{err}");
    let name = bucket_of(&s);
    let replica = format!("{name}-replica");
    let security = &sec["outputs"]["security"];
    let role = security["replication_role_arn"].as_str().expect("role");
    let key = security["kms_key_arns"]["backups_replica"]
        .as_str()
        .expect("replica key");
    assert!(key.starts_with("arn:aws:kms:us-west-2:"), "{key}");
    assert_eq!(doc["outputs"]["backup"]["replica_bucket"], replica.as_str());
    assert_eq!(doc["outputs"]["backup"]["replica_region"], "us-west-2");

    // The replica bucket, in its region, set up as the backup bucket is (its own key).
    let west = s3_in(&s, "us-west-2");
    let location = s
        .block_on(west.get_bucket_location().bucket(&replica).send())
        .expect("location");
    assert_eq!(
        location.location_constraint().map(|c| c.as_str()),
        Some("us-west-2")
    );
    let enc = s
        .block_on(west.get_bucket_encryption().bucket(&replica).send())
        .expect("encryption");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("config")
        .rules()[0];
    let d = rule
        .apply_server_side_encryption_by_default()
        .expect("default");
    assert_eq!(d.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(d.kms_master_key_id(), Some(key));
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let v = s
        .block_on(west.get_bucket_versioning().bucket(&replica).send())
        .expect("versioning");
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    let pab = s
        .block_on(west.get_public_access_block().bucket(&replica).send())
        .expect("public access block");
    let p = pab.public_access_block_configuration().expect("config");
    assert_eq!(
        (p.block_public_acls(), p.restrict_public_buckets()),
        (Some(true), Some(true))
    );
    let own = s
        .block_on(west.get_bucket_ownership_controls().bucket(&replica).send())
        .expect("ownership");
    assert_eq!(
        own.ownership_controls().expect("controls").rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    let pol = s
        .block_on(west.get_bucket_policy().bucket(&replica).send())
        .expect("policy");
    let pol: Value = serde_json::from_str(pol.policy().expect("text")).expect("json");
    assert_eq!(pol["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        pol["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    // The source keeps its versions under Object Lock: the replica must too.
    let lock = s
        .block_on(west.get_object_lock_configuration().bucket(&replica).send())
        .expect("object lock");
    let retention = lock
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .expect("retention");
    assert_eq!(
        (retention.mode().map(|m| m.as_str()), retention.days()),
        (Some("GOVERNANCE"), Some(30))
    );
    let lc = s
        .block_on(
            west.get_bucket_lifecycle_configuration()
                .bucket(&replica)
                .send(),
        )
        .expect("lifecycle");
    assert_eq!(lc.rules().len(), 1);
    let tags = s
        .block_on(west.get_bucket_tagging().bucket(&replica).send())
        .expect("tags");
    assert!(tags
        .tag_set()
        .iter()
        .any(|t| t.key() == "hms:address" && t.value() == "backup.replica"));

    // The replication configuration on the backup bucket: one rule for every object, delete markers and
    // SSE-KMS objects included, re-encrypted with the replica key, through the replication role.
    let c = s3(&s);
    let got = s
        .block_on(c.get_bucket_replication().bucket(&name).send())
        .expect("replication");
    let cfg = got.replication_configuration().expect("config");
    assert_eq!(cfg.role(), role);
    assert_eq!(cfg.rules().len(), 1);
    let r = &cfg.rules()[0];
    assert_eq!(r.id(), Some("hms-backups-replica"));
    assert_eq!(r.status().as_str(), "Enabled");
    assert_eq!(r.filter().and_then(|f| f.prefix()).unwrap_or_default(), "");
    assert_eq!(
        r.delete_marker_replication()
            .and_then(|d| d.status())
            .map(|s| s.as_str()),
        Some("Enabled")
    );
    assert_eq!(
        r.source_selection_criteria()
            .and_then(|c| c.sse_kms_encrypted_objects())
            .map(|s| s.status().as_str()),
        Some("Enabled")
    );
    let dest = r.destination().expect("destination");
    assert_eq!(dest.bucket(), format!("arn:aws:s3:::{replica}"));
    assert_eq!(
        dest.encryption_configuration()
            .and_then(|e| e.replica_kms_key_id()),
        Some(key)
    );

    // Converged.
    let sec = sec.to_string();
    let (again, _) = s.run_of("hms-backup", &["up"], &sec, 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    s.run_of("hms-backup", &["plan", "--detailed-exitcode"], &sec, 0);

    // Without backup.replica_region the plan deletes the rule and the replica bucket.
    std::fs::write(&config, "").expect("config");
    let (_, err) = s.run_of("hms-backup", &["plan", "--detailed-exitcode"], &sec, 2);
    assert!(err.contains("delete  backup.replication"), "{err}");
    assert!(err.contains("delete  backup.replica"), "{err}");
    assert!(
        err.contains("Plan: 0 to create, 0 to update, 0 to replace, 2 to delete"),
        "{err}"
    );
    let (gone, err) = s.run_of("hms-backup", &["up", "--allow-destroy"], &sec, 0);
    assert_eq!(run_counts(&gone), (0, 0, 2), "{err}");
    assert!(!exists_in(&s, &west, &replica));
    assert!(s
        .block_on(c.get_bucket_replication().bucket(&name).send())
        .is_err());

    // Back on, then `down` removes the rule, the replica and the bucket.
    std::fs::write(&config, "[backup]\nreplica_region = \"us-west-2\"\n").expect("config");
    let (back, err) = s.run_of("hms-backup", &["up"], &sec, 0);
    assert_eq!(run_counts(&back), (2, 0, 0), "{err}");
    let (down, err) = s.run_of("hms-backup", &["down", "--yes"], &sec, 0);
    assert_eq!(run_counts(&down), (0, 0, 3), "{err}");
    assert!(!exists_in(&s, &west, &replica));
    assert!(!exists(&s, &name));
}

fn exists_in(s: &Stack, c: &aws_sdk_s3::Client, name: &str) -> bool {
    s.block_on(c.head_bucket().bucket(name).send()).is_ok()
}

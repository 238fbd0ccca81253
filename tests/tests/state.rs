//! State shared by teams: the S3 store (bootstrap, one object per tool, conditional writes, the lock
//! object), and the state verbs, against the emulator's S3.

use std::process::Stdio;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use hms_tests::{run_counts, shell, Stack};
use serde_json::Value;

const TOOLS: [&str; 6] = [
    "hms-vpc",
    "hms-security",
    "hms-db",
    "hms-ecs",
    "hms-backup",
    "hms-observe",
];

fn s3(s: &Stack) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(&s.sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Runs a state verb (they print their own format, not a document): (stdout, stderr).
fn verb(s: &Stack, args: &[&str], code: i32) -> (String, String) {
    let out = s.cmd(args).output().expect("run");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(code), "{args:?}:\n{e}");
    (o, e)
}

/// A fresh, bootstrapped S3 store for this stack: (url, bucket).
fn store(s: &Stack) -> (String, String) {
    let bucket = format!("{}-state", s.name);
    let url = format!("s3://{bucket}/teams");
    let (_, err) = verb(s, &["state", "bootstrap", &url], 0);
    assert!(err.contains("created bucket"), "{err}");
    (url, bucket)
}

/// The keys under the bucket.
fn keys(s: &Stack, bucket: &str) -> Vec<String> {
    let out = s
        .block_on(s3(s).list_objects_v2().bucket(bucket).send())
        .expect("list");
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

fn get(s: &Stack, bucket: &str, key: &str) -> String {
    let o = s
        .block_on(s3(s).get_object().bucket(bucket).key(key).send())
        .expect("get");
    let bytes = s.block_on(o.body.collect()).expect("body").into_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn put(s: &Stack, bucket: &str, key: &str, body: &str) {
    s.block_on(
        s3(s)
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send(),
    )
    .expect("put");
}

/// VPCs of this stack in the emulator.
fn vpcs(s: &Stack) -> usize {
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    let f = aws_sdk_ec2::types::Filter::builder()
        .name("tag:hms:stack")
        .values(&s.name)
        .build();
    s.block_on(ec2.describe_vpcs().filters(f).send())
        .expect("vpcs")
        .vpcs()
        .len()
}

#[test]
fn bootstrap_makes_a_private_versioned_encrypted_bucket_and_is_idempotent() {
    let s = Stack::new("hms-vpc", "boot");
    let (url, bucket) = store(&s);
    let c = s3(&s);
    let v = s
        .block_on(c.get_bucket_versioning().bucket(&bucket).send())
        .expect("versioning");
    assert_eq!(v.status().map(|x| x.as_str()), Some("Enabled"));
    let pab = s
        .block_on(c.get_public_access_block().bucket(&bucket).send())
        .expect("pab");
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
    let enc = s
        .block_on(c.get_bucket_encryption().bucket(&bucket).send())
        .expect("encryption");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("sse")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .map(|d| d.sse_algorithm().as_str()),
        Some("AES256")
    );
    let policy: Value = serde_json::from_str(
        s.block_on(c.get_bucket_policy().bucket(&bucket).send())
            .expect("policy")
            .policy()
            .expect("text"),
    )
    .expect("json");
    let st = &policy["Statement"][0];
    assert_eq!(st["Effect"], "Deny");
    assert_eq!(st["Action"], "s3:*");
    assert_eq!(st["Condition"]["Bool"]["aws:SecureTransport"], "false");
    let lc = s
        .block_on(
            c.get_bucket_lifecycle_configuration()
                .bucket(&bucket)
                .send(),
        )
        .expect("lifecycle");
    assert_eq!(lc.rules().len(), 1);
    assert_eq!(
        lc.rules()[0]
            .noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        Some(90)
    );
    let own = s
        .block_on(c.get_bucket_ownership_controls().bucket(&bucket).send())
        .expect("ownership");
    assert_eq!(
        own.ownership_controls().expect("controls").rules()[0]
            .object_ownership()
            .as_str(),
        "BucketOwnerEnforced"
    );
    // A second run checks everything and changes nothing.
    let (_, err) = verb(&s, &["state", "bootstrap", &url], 0);
    assert!(err.contains("nothing changed"), "{err}");
    // A setting removed by hand is put back.
    s.block_on(c.delete_bucket_lifecycle().bucket(&bucket).send())
        .expect("delete lifecycle");
    let (_, err) = verb(&s, &["state", "bootstrap", &url], 0);
    assert!(
        err.contains("lifecycle") && !err.contains("created bucket"),
        "{err}"
    );
}

#[test]
fn the_pipeline_on_s3_keeps_one_object_per_tool_and_tools_plan_alone_from_it() {
    let s = Stack::new("hms-vpc", "s3pipe");
    let (url, bucket) = store(&s);
    let pipe = TOOLS
        .iter()
        .map(|t| format!("{t} up --stack {} --state {url}", s.name))
        .collect::<Vec<_>>()
        .join(" | ");
    let (code, out, err) = shell(&format!("{pipe} >/dev/null"), s.dir.path(), &s.state_dir());
    assert_eq!(code, 0, "{out}\n{err}");
    let mut want: Vec<String> = TOOLS
        .iter()
        .map(|t| format!("teams/{}-production/{t}.json", s.name))
        .collect();
    want.sort();
    assert_eq!(keys(&s, &bucket), want, "one object per tool, no lock left");
    // Each team's tool alone, on another machine: only --state, a fresh directory, no stdin.
    for t in TOOLS {
        let fresh = tempfile::tempdir().expect("tmp");
        let (code, _, err) = shell(
            &format!(
                "{t} plan --detailed-exitcode --stack {} --state {url}",
                s.name
            ),
            fresh.path(),
            &fresh.path().join("unused"),
        );
        assert_eq!(code, 0, "{t} plan alone from S3:\n{err}");
        assert!(
            !fresh.path().join(".hms").exists(),
            "{t} wrote nothing locally"
        );
    }
    // The state says which upstream sections each tool uses.
    let ecs: Value = serde_json::from_str(&get(
        &s,
        &bucket,
        &format!("teams/{}-production/hms-ecs.json", s.name),
    ))
    .expect("state");
    assert_eq!(
        ecs["uses"],
        serde_json::json!(["vpc", "security", "dns", "db", "cache"])
    );
}

#[test]
fn the_s3_lock_lets_one_run_through_and_names_the_holder() {
    let s = Stack::new("hms-vpc", "s3lock");
    let (url, bucket) = store(&s);
    let lock_key = format!("teams/{}-production/hms-vpc.lock", s.name);
    let first = s
        .std_cmd(&["up", "--state", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while !keys(&s, &bucket).contains(&lock_key) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // While the first holds the lock, a second run fails at once naming it.
    let second = s
        .std_cmd(&["up", "--state", &url])
        .stdin(Stdio::null())
        .output()
        .expect("second");
    let first = first.wait_with_output().expect("first");
    let err = String::from_utf8_lossy(&second.stderr);
    if keys(&s, &bucket).contains(&lock_key) || first.status.code() != Some(0) {
        panic!(
            "the first run must finish and release: {:?}",
            String::from_utf8_lossy(&first.stderr)
        );
    }
    if second.status.code() == Some(1) {
        assert!(
            err.contains("state is locked by") && err.contains("running hms-vpc up since"),
            "{err}"
        );
        assert!(err.contains("hms-vpc unlock "), "{err}");
        // Without --lock-timeout it does not wait for the holder: had it waited, it would have
        // taken the lock once the first released it and exited 0.
    } else {
        // The first had released already when the second looked: then the second saw a converged stack.
        assert_eq!(second.status.code(), Some(0), "{err}");
    }
    assert_eq!(vpcs(&s), 1, "nothing duplicated");
    assert!(keys(&s, &bucket).iter().all(|k| !k.ends_with(".lock")));

    // A lock planted by hand: held fast, named, and only its own id unlocks it.
    put(
        &s,
        &bucket,
        &lock_key,
        r#"{"id":"0123456789abcdef","who":"alice@ci-7","pid":4242,"operation":"hms-vpc up","created":"2026-12-01T08:00:00Z","version":"0.1.0"}"#,
    );
    let (_, err) = s.run(&["up", "--state", &url], 1);
    assert!(err.contains("alice@ci-7 (pid 4242)"), "{err}");
    assert!(err.contains("hms-vpc unlock 0123456789abcdef"), "{err}");
    let (_, err) = s.run(&["unlock", "ffffffffffffffff", "--state", &url], 64);
    assert!(err.contains("0123456789abcdef"), "{err}");
    assert!(keys(&s, &bucket).contains(&lock_key));
    s.run(&["unlock", "0123456789abcdef", "--state", &url], 0);
    assert!(!keys(&s, &bucket).contains(&lock_key));

    // A lock that lost its body is named as such, with a runnable unlock command.
    put(&s, &bucket, &lock_key, "");
    let (_, err) = s.run(&["up", "--state", &url], 1);
    assert!(err.contains("no readable holder"), "{err}");
    let id = err
        .split("hms-vpc unlock ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("an unlock command")
        .to_owned();
    assert!(!id.contains("unknown"), "{err}");
    s.run(&["unlock", &id, "--state", &url], 0);
    s.run(&["plan", "--detailed-exitcode", "--state", &url], 0);
}

#[test]
fn a_run_killed_on_s3_leaves_a_stale_lock_that_unlock_clears() {
    let s = Stack::new("hms-vpc", "s3kill");
    let (url, bucket) = store(&s);
    let lock_key = format!("teams/{}-production/hms-vpc.lock", s.name);
    let mut child = s
        .std_cmd(&["up", "--state", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill it once it holds the lock and has recorded at least one resource.
    let start = Instant::now();
    let state_key = format!("teams/{}-production/hms-vpc.json", s.name);
    let recorded = |s: &Stack| {
        keys(s, &bucket).contains(&state_key)
            && serde_json::from_str::<Value>(&get(s, &bucket, &state_key))
                .ok()
                .and_then(|st| st["resources"].as_object().map(|r| !r.is_empty()))
                .unwrap_or(false)
    };
    while !recorded(&s) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    if !keys(&s, &bucket).contains(&lock_key) {
        // It finished before the kill; nothing stale to test, but the store must be consistent.
        s.run(&["plan", "--detailed-exitcode", "--state", &url], 0);
        return;
    }
    let (_, err) = s.run(&["up", "--state", &url], 1);
    let id = err
        .split("hms-vpc unlock ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("the unlock command")
        .to_owned();
    assert!(err.contains("running hms-vpc up since"), "{err}");
    s.run(&["unlock", &id, "--state", &url], 0);
    let (doc, err) = s.run(&["up", "--state", &url], 0);
    assert!(run_counts(&doc).0 < 38, "adopted, not recreated: {err}");
    assert_eq!(vpcs(&s), 1, "no duplicate VPC");
    s.run(&["plan", "--detailed-exitcode", "--state", &url], 0);
}

#[test]
fn a_state_changed_behind_a_runs_back_is_never_overwritten() {
    let s = Stack::new("hms-vpc", "s3race");
    let (url, bucket) = store(&s);
    let key = format!("teams/{}-production/hms-vpc.json", s.name);
    let child = s
        .std_cmd(&["up", "--state", &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // As soon as the run has written its state once, someone else writes a newer serial.
    let start = Instant::now();
    let mut bumped = None;
    while start.elapsed() < Duration::from_secs(30) {
        if keys(&s, &bucket).contains(&key) {
            let mut st: Value = serde_json::from_str(&get(&s, &bucket, &key)).expect("state");
            let serial = st["serial"].as_u64().expect("serial") + 100;
            st["serial"] = Value::from(serial);
            put(&s, &bucket, &key, &st.to_string());
            bumped = Some(serial);
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let bumped = bumped.expect("the run wrote its state");
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        // The run's last write came before ours: then our write is the newest, untouched.
        let st: Value = serde_json::from_str(&get(&s, &bucket, &key)).expect("state");
        assert_eq!(st["serial"].as_u64(), Some(bumped), "{err}");
    } else {
        assert!(err.contains(&format!("s3://{bucket}/{key}")), "{err}");
        assert!(err.contains("changed by someone else"), "{err}");
        let st: Value = serde_json::from_str(&get(&s, &bucket, &key)).expect("state");
        assert_eq!(st["serial"].as_u64(), Some(bumped), "not overwritten");
    }
    // A rerun reads the newer state and converges without duplicates.
    s.run(&["up", "--state", &url], 0);
    assert_eq!(vpcs(&s), 1);
    s.run(&["plan", "--detailed-exitcode", "--state", &url], 0);
}

#[test]
fn state_verbs_on_a_converged_stack() {
    let s = Stack::new("hms-vpc", "verbs");
    s.run(&["up"], 0);
    let (list, _) = verb(&s, &["state", "list"], 0);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 38, "{list}");
    let (addr, id) = lines
        .iter()
        .find(|l| l.starts_with("vpc.subnet.private[us-east-1a]"))
        .and_then(|l| l.split_once("  "))
        .expect("a subnet line");
    let id = id.trim();
    assert_eq!(addr, "vpc.subnet.private[us-east-1a]");
    assert!(id.starts_with("subnet-"), "{list}");

    let out = s
        .cmd(&["state", "show", "vpc.subnet.private[us-east-1a]"])
        .output()
        .expect("show");
    let shown: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        shown,
        serde_json::json!({"id": id}),
        "what state records of a subnet"
    );

    let out = s
        .cmd(&["state", "show", "vpc.subnet.private[us-east-1x]"])
        .output()
        .expect("show unknown");
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("nearest recorded one is vpc.subnet.private[us-east-1"),
        "{err}"
    );

    let out = s.cmd(&["output", "vpc_id"]).output().expect("output");
    let vpc_id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(vpc_id.starts_with("vpc-"), "raw: {vpc_id}");
    let out = s.cmd(&["output"]).output().expect("outputs");
    let all: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(all["vpc_id"], vpc_id.as_str());
    assert_eq!(all["cidr"], "10.0.0.0/16");

    // pull → push round-trips; a lower serial is refused unless --force.
    let out = s.cmd(&["state", "pull"]).output().expect("pull");
    let pulled: Value = serde_json::from_slice(&out.stdout).expect("json");
    let file = s.dir.path().join("pulled.json");
    std::fs::write(&file, &out.stdout).expect("write");
    verb(&s, &["state", "push", file.to_str().expect("path")], 0);
    let (_, err) = verb(&s, &["state", "push", file.to_str().expect("path")], 64);
    assert!(err.contains("lower than the stored"), "{err}");
    verb(
        &s,
        &["state", "push", "--force", file.to_str().expect("path")],
        0,
    );
    // …and a state for another tool is refused.
    let mut other = pulled.clone();
    other["tool"] = Value::from("hms-db");
    std::fs::write(&file, other.to_string()).expect("write");
    let (_, err) = verb(&s, &["state", "push", file.to_str().expect("path")], 64);
    assert!(err.contains("\"hms-db\""), "{err}");

    // mv onto an existing address is refused; mv back and forth keeps the plan empty.
    let (_, err) = verb(&s, &["state", "mv", "vpc.vpc", "vpc.igw"], 64);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("already recorded"), "{err}");
    let (_, err) = verb(&s, &["state", "mv", "vpc.igw", "vpc.igw-renamed"], 0);
    assert!(err.contains("vpc.igw-renamed"), "{err}");
    let out = s.cmd(&["state", "list"]).output().expect("list");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    let first: Vec<&str> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        first.contains(&"vpc.igw-renamed") && !first.contains(&"vpc.igw"),
        "{listed}"
    );
    verb(&s, &["state", "mv", "vpc.igw-renamed", "vpc.igw"], 0);
    s.run(&["plan", "--detailed-exitcode"], 0);

    // rm forgets without deleting (needs --yes off a terminal); up adopts it back by its tags.
    verb(&s, &["state", "rm", "vpc.subnet.private[us-east-1a]"], 1);
    let (_, err) = verb(
        &s,
        &["state", "rm", "--yes", "vpc.subnet.private[us-east-1a]"],
        0,
    );
    assert!(err.contains("adopts it again by its hms:* tags"), "{err}");
    let out = s.cmd(&["state", "list"]).output().expect("list");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 37);
    let (doc, _) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0), "adopted, nothing created");
    let out = s
        .cmd(&["state", "show", "vpc.subnet.private[us-east-1a]"])
        .output()
        .expect("show");
    let back: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(back["id"], id, "the same subnet");
}

#[test]
fn migrate_copies_local_state_to_s3_and_leaves_the_source() {
    let s = Stack::new("hms-vpc", "migr");
    let (url, bucket) = store(&s);
    let (vpc, _) = s.run_of("hms-vpc", &["up"], "", 0);
    s.run_of("hms-security", &["up"], &vpc.to_string(), 0);
    let dir = s.state_dir().join(format!("{}-production", s.name));
    let before: Vec<(String, String)> = ["hms-vpc", "hms-security"]
        .iter()
        .map(|t| {
            let p = dir.join(format!("{t}.json"));
            ((*t).to_owned(), std::fs::read_to_string(p).expect("local"))
        })
        .collect();
    let (_, err) = verb(&s, &["state", "migrate", "--to", &url], 0);
    assert!(err.contains("copied 2 states"), "{err}");
    for (t, text) in &before {
        assert_eq!(
            &std::fs::read_to_string(dir.join(format!("{t}.json"))).expect("local"),
            text,
            "{t}: the source is untouched"
        );
        let local: Value = serde_json::from_str(text).expect("json");
        let copy: Value = serde_json::from_str(&get(
            &s,
            &bucket,
            &format!("teams/{}-production/{t}.json", s.name),
        ))
        .expect("copy");
        assert_eq!(copy["serial"], local["serial"], "{t}: serial kept");
        assert_eq!(copy["resources"], local["resources"]);
    }
    for t in ["hms-vpc", "hms-security"] {
        s.run_of(t, &["plan", "--detailed-exitcode", "--state", &url], "", 0);
    }
    // Migrating again onto the same serials is fine; onto itself is refused.
    let (_, err) = verb(&s, &["state", "migrate", "--to", &url, "--state", &url], 64);
    assert!(err.contains("already uses"), "{err}");
}

#[test]
fn bad_state_locations_and_foreign_objects_are_refused() {
    let s = Stack::new("hms-vpc", "s3bad");
    for (args, want) in [
        (vec!["plan", "--state", "s3://"], "no bucket"),
        (vec!["plan", "--state", "s3:///prefix"], "no bucket"),
        (
            vec!["plan", "--state", "s3://Bad_Bucket/x"],
            "not a bucket name",
        ),
        (
            vec!["up", "--state", "s3://10.1.2.3/x"],
            "not a bucket name",
        ),
        (
            vec!["state", "list", "--state", "ftp://x"],
            "expected a directory",
        ),
    ] {
        let (_, err) = verb(&s, &args, 64);
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(vpcs(&s), 0);
    // Another stack's object where this stack's should be: refused after the read, before any change.
    let (url, bucket) = store(&s);
    let other = Stack::new("hms-vpc", "s3oth");
    other.run(&["up", "--state", &url], 0);
    let theirs = get(
        &s,
        &bucket,
        &format!("teams/{}-production/hms-vpc.json", other.name),
    );
    put(
        &s,
        &bucket,
        &format!("teams/{}-production/hms-vpc.json", s.name),
        &theirs,
    );
    let (_, err) = s.run(&["up", "--state", &url], 64);
    assert!(
        err.contains(&format!("recorded for stack \"{}\"", other.name)),
        "{err}"
    );
    assert_eq!(vpcs(&s), 0, "nothing created for this stack");
}

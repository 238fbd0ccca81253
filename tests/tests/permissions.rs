//! Each tool's `permissions` policy under IAM enforcement: a user whose only policy is `hms-<tool>
//! permissions --command all` runs the tool's `up`, `plan` and `down` on a fresh stack; a user with the
//! `plan` policy plans, and its `up` is refused on the first create with an error naming the action.
//!
//! moto enforces IAM once `POST /moto-api/reset-auth` has set the number of free requests, for the whole
//! server: this binary needs an emulator of its own (`scripts/test.sh` starts one per test binary). The
//! first test to get here makes an admin user with the emulator's free credentials and switches
//! enforcement on, under a file lock; every test (each runs in its own process under nextest) then works
//! with IAM users' keys: the admin's to set up users and upstream tools, the tool user's for the tool.
//!
//! What this proves and what it cannot: moto checks every request's action against the user's policies,
//! and the resource only for IAM, STS, SQS and S3; it never evaluates conditions. So the actions of each
//! policy are proved sufficient, and the resources of the IAM and S3 statements (role and bucket names
//! built from the stack); the resources of the other services' statements and every
//! `aws:ResourceTag`/`aws:RequestTag` condition are not (the unit tests check their shape only).

use std::io::Write;
use std::process::Stdio;

use aws_sdk_iam::config::{Credentials, Region};
use hms_tests::{emulator_api, endpoint, Stack};
use serde_json::Value;

/// moto's default account: the ARNs the policies name.
const ACCOUNT: &str = "123456789012";

#[derive(Debug, Clone)]
struct Keys {
    id: String,
    secret: String,
}

fn iam(keys: &Keys) -> (tokio::runtime::Runtime, aws_sdk_iam::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let conf = aws_sdk_iam::Config::builder()
        .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint())
        .credentials_provider(Credentials::new(&keys.id, &keys.secret, None, None, "test"))
        .build();
    (rt, aws_sdk_iam::Client::from_conf(conf))
}

/// `POST /moto-api/reset-auth` with `value` free requests (`0`: enforce from now on).
fn reset_auth(value: &str) {
    let (status, body) = emulator_api("POST", "/moto-api/reset-auth", value);
    assert_eq!(status, 200, "reset-auth: {body}");
}

/// A user named `name` whose only policy is `policy`; its keys.
fn user(admin: &Keys, name: &str, policy: &str) -> Keys {
    let (rt, iam) = iam(admin);
    rt.block_on(async {
        iam.create_user()
            .user_name(name)
            .send()
            .await
            .expect("CreateUser");
        // A managed policy (6,144 characters in AWS) rather than an inline user policy (2,048).
        let arn = iam
            .create_policy()
            .policy_name(name)
            .policy_document(policy)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "CreatePolicy ({} characters): {}",
                    policy.len(),
                    aws_sdk_iam::error::DisplayErrorContext(e)
                )
            })
            .policy()
            .and_then(|p| p.arn())
            .expect("policy arn")
            .to_owned();
        iam.attach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .expect("AttachUserPolicy");
        let key = iam
            .create_access_key()
            .user_name(name)
            .send()
            .await
            .expect("CreateAccessKey");
        let key = key.access_key().expect("key");
        Keys {
            id: key.access_key_id().to_owned(),
            secret: key.secret_access_key().to_owned(),
        }
    })
}

/// The admin's keys: made by the first test of this emulator, which then switches enforcement on.
fn admin() -> Keys {
    let tag: String = endpoint()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let dir = std::env::temp_dir().join(format!("hms-permissions-{tag}"));
    std::fs::create_dir_all(&dir).expect("dir");
    let lock = std::fs::File::create(dir.join("lock")).expect("lock file");
    lock.lock().expect("lock");
    let saved = dir.join("admin.json");
    if let Ok(text) = std::fs::read_to_string(&saved) {
        let v: Value = serde_json::from_str(&text).expect("admin.json");
        let keys = Keys {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            secret: v["secret"].as_str().unwrap_or_default().to_owned(),
        };
        // Keys of an emulator since restarted are unknown to this one: make new ones.
        let (rt, iam) = iam(&keys);
        if rt.block_on(iam.get_user().send()).is_ok() {
            return keys;
        }
    }
    let free = Keys {
        id: "testing".into(),
        secret: "testing".into(),
    };
    let name = format!("hms-admin-{}", std::process::id());
    let keys = user(
        &free,
        &name,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    std::fs::write(
        &saved,
        serde_json::json!({"id": keys.id, "secret": keys.secret}).to_string(),
    )
    .expect("save admin keys");
    reset_auth("0");
    keys
}

/// Runs `tool args` of stack `s` with `keys`; returns (exit code, stdout, stderr).
fn run_as(s: &Stack, keys: &Keys, tool: &str, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut c = s.std_cmd_of(tool, args);
    c.env("AWS_ACCESS_KEY_ID", &keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = if stdin.is_empty() {
        c.stdin(Stdio::null()).output().expect("run")
    } else {
        let mut child = c.stdin(Stdio::piped()).spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("run")
    };
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(s: &Stack, keys: &Keys, tool: &str, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = run_as(s, keys, tool, args, stdin);
    assert_eq!(
        code, 0,
        "{tool} {args:?} as its user: exit {code}; stderr:\n{err}"
    );
    out
}

/// The policy `tool permissions --command command` prints for stack `s`.
fn policy(s: &Stack, admin: &Keys, tool: &str, command: &str) -> String {
    let text = ok(
        s,
        admin,
        tool,
        &["permissions", "--command", command, "--account", ACCOUNT],
        "",
    );
    let doc: Value = serde_json::from_str(&text).expect("the policy is JSON");
    // Compact, as a policy is stored and counted.
    doc.to_string()
}

/// The actions of a policy document.
fn actions(policy: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(policy).expect("policy");
    doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect()
}

/// The whole check for `tool` after `upstream` (run by the admin, in order, with their `up`), in a
/// stack with `config` (hms.toml; `{stack}` is the stack's name).
fn check_tool(tool: &'static str, upstream: &[&str], config: &str) {
    let admin = admin();
    let tag: String = tool.trim_start_matches("hms-").chars().take(3).collect();
    let s = Stack::new(tool, &tag);
    std::fs::write(
        s.dir.path().join("hms.toml"),
        config.replace("{stack}", &s.name),
    )
    .expect("config");
    for up in upstream {
        ok(&s, &admin, up, &["up"], "");
    }
    let all_policy = policy(&s, &admin, tool, "all");
    let plan_policy = policy(&s, &admin, tool, "plan");
    let all = user(&admin, &format!("{}-all", s.name), &all_policy);
    let plan = user(&admin, &format!("{}-plan", s.name), &plan_policy);

    // The plan policy plans, but its up is refused at the first create: the error names an action the
    // all policy has and the plan policy has not.
    ok(&s, &plan, tool, &["plan"], "");
    let (code, _, err) = run_as(&s, &plan, tool, &["up"], "");
    assert_eq!(
        code, 1,
        "up with the plan policy: exit {code}; stderr:\n{err}"
    );
    let marker = "is not authorized to perform: ";
    let named: Vec<String> = err
        .match_indices(marker)
        .map(|(i, _)| {
            err[i + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-')
                .collect()
        })
        .collect();
    assert!(
        !named.is_empty(),
        "up with the plan policy: the error names the missing action; stderr:\n{err}"
    );
    let (granted, planned) = (actions(&all_policy), actions(&plan_policy));
    for a in &named {
        assert!(
            granted.contains(a) && !planned.contains(a),
            "{a}: refused to the plan policy, granted by the all policy; stderr:\n{err}"
        );
    }

    // The all policy: up (after the refused one: it adopts what that left, if anything), plan, down.
    ok(&s, &all, tool, &["up"], "");
    let (code, _, err) = run_as(&s, &all, tool, &["plan", "--detailed-exitcode"], "");
    assert_eq!(
        code, 0,
        "plan after up: no changes; exit {code}; stderr:\n{err}"
    );
    ok(&s, &all, tool, &down_args(tool), "");
    for up in upstream.iter().rev() {
        ok(&s, &admin, up, &down_args(up), "");
    }
}

/// `down` with the flags production asks for (deletion protection is on in production): the tool's
/// policy must cover them too.
fn down_args(tool: &str) -> Vec<&'static str> {
    let mut args = vec!["down", "--yes"];
    args.extend_from_slice(match tool {
        "hms-db" => &["--disable-deletion-protection", "--skip-final-snapshot"][..],
        "hms-cache" => &["--skip-final-snapshot"],
        "hms-ecs" => &["--delete-logs", "--disable-deletion-protection"],
        _ => &[],
    });
    args
}

/// A domain of the test's own, with the zone made by hms-dns.
const DNS: &str = "[dns]\ndomain_name = \"{stack}.hms-test.example\"\ncreate_zone = true\n";

#[test]
fn hms_vpc_runs_with_its_policy() {
    check_tool("hms-vpc", &[], "");
}

#[test]
fn hms_security_runs_with_its_policy() {
    check_tool("hms-security", &["hms-vpc"], "");
}

#[test]
fn hms_dns_runs_with_its_policy() {
    check_tool("hms-dns", &[], DNS);
}

#[test]
fn hms_db_runs_with_its_policy() {
    check_tool("hms-db", &["hms-vpc", "hms-security"], "");
}

#[test]
fn hms_cache_runs_with_its_policy() {
    check_tool(
        "hms-cache",
        &["hms-vpc", "hms-security", "hms-db"],
        "[cache]\n",
    );
}

#[test]
fn hms_ecs_runs_with_its_policy() {
    check_tool("hms-ecs", &["hms-vpc", "hms-security", "hms-db"], "");
}

#[test]
fn hms_edge_runs_with_its_policy() {
    check_tool(
        "hms-edge",
        &["hms-vpc", "hms-security", "hms-dns", "hms-db", "hms-ecs"],
        &format!("{DNS}\n[security]\nalb_ingress = \"cloudfront\"\n\n[ecs]\norigin_verify = true\n\n[edge]\n"),
    );
}

#[test]
fn hms_backup_runs_with_its_policy() {
    check_tool("hms-backup", &["hms-vpc", "hms-security"], "");
}

#[test]
fn hms_observe_runs_with_its_policy() {
    check_tool(
        "hms-observe",
        &["hms-vpc", "hms-security", "hms-db", "hms-backup"],
        "",
    );
}

//! The operator's experience (issue 16) against the emulator: the JSON plan and `up --plan`, the question
//! `up` asks a person at a terminal (under a pseudo-terminal made by `script`), colour, completions, and
//! connection and credential errors that fit in two lines.

use std::process::{Command as StdCommand, Stdio};

use hms_tests::{bin, bin_dir, call_log, endpoint, run_counts, Stack, TOOLS};
use serde_json::Value;

fn ec2(s: &Stack) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&s.sdk)
}

/// VPCs tagged with this stack.
fn vpcs(s: &Stack) -> Vec<aws_sdk_ec2::types::Vpc> {
    s.block_on(
        ec2(s)
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("tag:hms:stack")
                    .values(&s.name)
                    .build(),
            )
            .send(),
    )
    .expect("vpcs")
    .vpcs()
    .to_vec()
}

/// Runs `cmd` (a shell command line) under a pseudo-terminal with `input` typed at it; returns (exit
/// code, everything the terminal showed).
fn at_terminal(s: &Stack, cmd: &str, input: &str, env: &[(&str, &str)]) -> (i32, String) {
    use std::io::Write;
    let mut c = StdCommand::new("script");
    c.args(["-qec", cmd, "/dev/null"])
        .current_dir(s.dir.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HMS_STATE", s.state_dir())
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CI")
        .env_remove("AWS_PROFILE");
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        let _ = stdin.write_all(input.as_bytes());
        // Left open until the command ends would hang `script`; closing it after the answer is fine:
        // the terminal keeps what was typed.
    }
    let out = child.wait_with_output().expect("script");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn up_at_a_terminal_asks_no_changes_nothing_yes_applies_and_a_pipeline_is_not_asked() {
    let s = Stack::new("hms-vpc", "ask");
    let up = format!("hms-vpc up --stack {}", s.name);
    let (code, shown) = at_terminal(&s, &up, "no\n", &[]);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("Type 'yes' to confirm"), "{shown}");
    assert!(
        shown.contains("not confirmed; nothing was changed"),
        "{shown}"
    );
    // The plan has colour at a terminal: creates in green.
    assert!(shown.contains("\x1b[32m"), "{shown}");
    assert!(vpcs(&s).is_empty(), "no answered: nothing made");

    // NO_COLOR: the same plan without escape codes.
    let (_, plain) = at_terminal(
        &s,
        &format!("hms-vpc plan --stack {} </dev/null", s.name),
        "",
        &[("NO_COLOR", "1")],
    );
    assert!(plain.contains("+ create"), "{plain}");
    assert!(!plain.contains("\x1b["), "{plain}");
    let (_, plain) = at_terminal(
        &s,
        &format!("hms-vpc plan --no-color --stack {} </dev/null", s.name),
        "",
        &[],
    );
    assert!(!plain.contains("\x1b["), "--no-color: {plain}");

    // In a pipeline (stdin a pipe) nobody is asked, at a terminal or not.
    let doc = format!(
        r#"{{"hms":1,"stack":"{}","env":"production","region":"us-east-1","outputs":{{}},"runs":[]}}"#,
        s.name
    );
    let (code, shown) = at_terminal(&s, &format!("echo '{doc}' | {up}"), "", &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(!shown.contains("Type 'yes'"), "{shown}");
    assert_eq!(vpcs(&s).len(), 1);

    // A change at a terminal: `yes` applies it.
    let tagged = format!("{up} --set 'stack.tags={{owner=\"platform\"}}'");
    let (code, shown) = at_terminal(&s, &tagged, "yes\n", &[]);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Type 'yes' to confirm"), "{shown}");
    let owner = vpcs(&s)[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("owner"))
        .and_then(|t| t.value().map(str::to_owned));
    assert_eq!(owner.as_deref(), Some("platform"));

    // Piped stderr never has escape codes.
    let out = s
        .cmd(&["plan", "--set", "stack.tags={owner=\"apps\"}"])
        .output()
        .expect("plan");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("~ update"), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
    s.run(&["down", "--yes"], 0);
}

/// Every change in the JSON plan has the documented fields; returns (action, address) pairs.
fn checked_changes(plan: &Value) -> Vec<(String, String)> {
    assert_eq!(plan["format_version"], 1, "{plan}");
    for k in ["tool", "stack", "env", "region", "created_at"] {
        assert!(plan[k].is_string(), "{k}: {plan}");
    }
    for k in ["create", "update", "replace", "delete"] {
        assert!(plan["summary"][k].is_u64(), "summary.{k}: {plan}");
    }
    assert!(plan["observed"].is_object(), "{plan}");
    assert!(plan["unknown"].is_array(), "{plan}");
    let changes = plan["changes"].as_array().expect("changes");
    let mut out = Vec::new();
    for c in changes {
        let action = c["action"].as_str().expect("action");
        assert!(
            ["create", "update", "replace", "delete"].contains(&action),
            "{c}"
        );
        assert!(c["address"].is_string() && c["reason"].is_string(), "{c}");
        assert_eq!(
            c["destructive"].as_bool(),
            Some(matches!(action, "delete" | "replace") && c["drift"] == false),
            "{c}"
        );
        assert!(
            c["depends_on"].is_array() && c["attributes"].is_array(),
            "{c}"
        );
        for a in c["attributes"].as_array().into_iter().flatten() {
            assert!(a["name"].is_string(), "{a}");
        }
        out.push((
            action.to_owned(),
            c["address"].as_str().unwrap_or("").to_owned(),
        ));
    }
    let count = |a: &str| out.iter().filter(|(x, _)| x == a).count() as u64;
    assert_eq!(plan["summary"]["create"].as_u64(), Some(count("create")));
    assert_eq!(plan["summary"]["update"].as_u64(), Some(count("update")));
    out
}

/// The (action, address) pairs of a text plan on stderr.
fn text_changes(err: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = err
        .lines()
        .filter_map(|l| l.strip_prefix("hms-vpc: "))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let i = words
                .iter()
                .position(|w| ["create", "update", "replace", "delete"].contains(w))?;
            (i <= 2 && words.len() > i + 1).then(|| (words[i].to_owned(), words[i + 1].to_owned()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_json_plan_has_the_documented_shape_and_up_applies_exactly_a_saved_plan() {
    let s = Stack::new("hms-vpc", "pj");
    // Empty account: the JSON plan on stdout, its actions those of the text plan.
    let out = s.cmd(&["plan", "--json"]).output().expect("plan");
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("a JSON plan on stdout");
    let mut json = checked_changes(&plan);
    json.sort();
    assert_eq!(json.len(), 38, "{plan}");
    assert_eq!(plan["tool"], "hms-vpc");
    assert_eq!(text_changes(&String::from_utf8_lossy(&out.stderr)), json);

    // Saved, then applied exactly: the document still goes to stdout.
    let file = s.dir.path().join("vpc.plan");
    let file_s = file.to_str().expect("path");
    let (doc, _) = s.run(&["plan", "--out", file_s], 0);
    assert_eq!(doc["hms"], 1);
    let (doc, err) = s.run(&["up", "--plan", file_s], 0);
    assert_eq!(run_counts(&doc).0, 38, "{err}");

    // After a change in config: updates, with their attributes.
    let set = ["--set", "stack.tags={owner=\"platform\"}"];
    let (_, _) = s.run(&[&["plan", "--out", file_s][..], &set].concat(), 0);
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("plan file")).expect("json");
    let changes = checked_changes(&saved);
    assert!(!changes.is_empty() && changes.iter().all(|(a, _)| a == "update"));
    let vpc = saved["changes"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["address"] == "vpc.vpc"))
        .expect("vpc.vpc updated");
    assert!(
        vpc["attributes"].as_array().is_some_and(|a| a
            .iter()
            .any(|x| x["name"] == "tags.owner" && x["after"] == "platform")),
        "{vpc}"
    );
    // The config differs from the one planned: refused, naming where.
    let (_, err) = s.run(&["up", "--plan", file_s], 1);
    assert!(
        err.contains("config or the upstream outputs changed"),
        "{err}"
    );
    // A hand-made change to a resource since the plan: refused, naming it; nothing changed.
    let id = vpcs(&s)[0].vpc_id().unwrap_or_default().to_owned();
    s.block_on(
        ec2(&s)
            .create_tags()
            .resources(&id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("team")
                    .value("x")
                    .build(),
            )
            .send(),
    )
    .expect("tag by hand");
    let (_, err) = s.run(&[&["up", "--plan", file_s][..], &set].concat(), 1);
    assert!(err.contains("vpc.vpc (changed)"), "{err}");
    assert!(vpcs(&s)[0].tags().iter().all(|t| t.key() != Some("owner")));
    // A new plan holds again.
    s.run(&[&["plan", "--out", file_s][..], &set].concat(), 0);
    let (doc, err) = s.run(&[&["up", "--plan", file_s][..], &set].concat(), 0);
    let (c, u, d) = run_counts(&doc);
    assert!(c == 0 && d == 0 && u > 0, "{err}");
    // A plan of another tool is bad input.
    let (_, err) = s.run_of("hms-security", &["up", "--plan", file_s], "", 64);
    assert!(err.contains("a plan of hms-vpc"), "{err}");
    s.run(&["down", "--yes"], 0);
}

#[test]
fn completions_are_accepted_by_the_shell_and_every_tool_has_a_man_page() {
    for tool in TOOLS {
        let out = StdCommand::new(bin(tool))
            .args(["completions", "bash"])
            .stdin(Stdio::null())
            .output()
            .expect("completions");
        assert_eq!(out.status.code(), Some(0), "{tool}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(tool), "{tool}: {script}");
        let check = StdCommand::new("bash")
            .args(["-n", "-c", &script])
            .output()
            .expect("bash -n");
        assert!(
            check.status.success(),
            "{tool}: bash -n: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        for shell in ["zsh", "fish"] {
            let out = StdCommand::new(bin(tool))
                .args(["completions", shell])
                .stdin(Stdio::null())
                .output()
                .expect("completions");
            assert!(
                out.status.success() && !out.stdout.is_empty(),
                "{tool} {shell}"
            );
        }
        let man = StdCommand::new(bin(tool))
            .arg("man")
            .stdin(Stdio::null())
            .output()
            .expect("man");
        let page = String::from_utf8_lossy(&man.stdout);
        assert!(
            page.contains(".TH") && page.contains("up"),
            "{tool}: {page}"
        );
        // Every verb's help ends with examples.
        let help = StdCommand::new(bin(tool))
            .args(["up", "--help"])
            .output()
            .expect("help");
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(help.contains("Examples:"), "{tool}: {help}");
    }
}

/// The stderr of `hms-vpc plan` with `args` and `env` (HOME a fresh directory with `aws_config`).
fn plan_err(s: &Stack, aws_config: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let home = s.dir.path().join("home");
    std::fs::create_dir_all(home.join(".aws")).expect("home");
    std::fs::write(home.join(".aws/config"), aws_config).expect("config");
    let mut c = s.cmd(&[&["plan", "--max-attempts", "1"][..], args].concat());
    c.env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("plan");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROFILES: &str = r#"[profile expired]
credential_process = sh -c 'echo "{\"Version\":1,\"AccessKeyId\":\"AKIAEXPIRED\",\"SecretAccessKey\":\"x\",\"SessionToken\":\"t\",\"Expiration\":\"2020-01-01T00:00:00Z\"}"'
region = us-east-1
"#;

#[test]
fn connection_and_credential_errors_fit_in_two_lines_and_say_what_to_do() {
    let s = Stack::new("hms-vpc", "err");
    let short = |what: &str, err: &str| {
        let lines: Vec<&str> = err.lines().collect();
        assert!(lines.len() <= 2, "{what}: {err}");
        assert!(!err.contains('{') && !err.contains('}'), "{what}: {err}");
    };
    // Nothing listens on port 9.
    let (code, err) = plan_err(&s, "", &["--endpoint-url", "http://127.0.0.1:9"], &[]);
    assert_eq!(code, 1, "{err}");
    short("unreachable", &err);
    assert!(err.contains("http://127.0.0.1:9"), "{err}");
    // A profile that does not exist: bad input, no AWS call.
    let (code, err) = plan_err(&s, PROFILES, &["--profile", "nosuch"], &[]);
    assert_eq!(code, 64, "{err}");
    short("missing profile", &err);
    assert!(
        err.contains("nosuch") && err.contains("aws configure --profile nosuch"),
        "{err}"
    );
    // Credentials that expired.
    let (code, err) = plan_err(&s, PROFILES, &["--profile", "expired"], &[]);
    assert_eq!(code, 1, "{err}");
    short("expired", &err);
    assert!(
        err.contains("expired") && err.contains("aws sso login --profile expired"),
        "{err}"
    );
    // No credentials at all.
    let mut c = s.cmd(&["plan"]);
    c.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", s.dir.path().join("home"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = c.output().expect("plan");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    short("no credentials", &err);
    assert!(err.contains("aws configure"), "{err}");
}

#[test]
fn a_profile_named_on_the_command_line_beats_credentials_in_the_environment() {
    let s = Stack::new("hms-vpc", "prof");
    let key = format!("AKIAPROF{}", s.name.replace('-', "").to_uppercase());
    let config = format!(
        "[profile other]\naws_access_key_id = {key}\naws_secret_access_key = other\nregion = us-east-1\n"
    );
    // AWS_ACCESS_KEY_ID=testing is in the environment (Stack::cmd sets it).
    let (code, err) = plan_err(&s, &config, &["--profile", "other"], &[]);
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(call_log()).expect("the emulator's call log");
    let signed = log.lines().filter(|l| l.contains(&key)).count();
    assert!(
        signed >= 3,
        "the plan's calls are signed with the profile's key {key}"
    );
}

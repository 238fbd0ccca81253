//! The waits (issue 15): against an emulator whose slow resources take their time
//! (`HMS_EMULATOR_LATENCY`: scripts/test.sh starts this binary's own emulator with 0.05, so a NAT gateway
//! is `pending` 4.5 s, a DB instance `creating` 36 s, an ECS rollout IN_PROGRESS 9 s), a `--timeout`
//! shorter than a wait fails naming the resource with its id saved, a run killed while it waits is
//! resumed by the next run without a second create, and a deploy returns only once its rollout is done.
//!
//! Each test signs its calls with an access key of its own (moto ignores it; the emulator's call log
//! records it), so that it counts its own Create calls among the other tests' running at the same time.

use std::path::PathBuf;
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use hms_tests::{call_log, ensure_latency, latency_of, run_counts, Stack};
use serde_json::Value;

/// The scale the tests are written for (an emulator without one gets it).
const SCALE: f64 = 0.05;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Out {
    fn doc(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not a document: {e}\n{}", self.stderr))
    }
}

/// The access key this stack's runs sign with (the call log's `akid`).
fn key(s: &Stack) -> String {
    format!("hmswait{}", s.name)
}

/// `tool ARGS` for this stack, signed with its own key, no stdin document (upstream outputs from state).
fn command(s: &Stack, tool: &str, args: &[&str]) -> StdCommand {
    let mut c = s.std_cmd_of(tool, args);
    c.env("AWS_ACCESS_KEY_ID", key(s))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn finish(child: Child, start: Instant) -> Out {
    let out = child.wait_with_output().expect("wait");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: start.elapsed(),
    }
}

fn run(s: &Stack, tool: &str, args: &[&str]) -> Out {
    let start = Instant::now();
    finish(command(s, tool, args).spawn().expect("spawn"), start)
}

/// Runs `tool ARGS` and expects exit 0.
fn ok(s: &Stack, tool: &str, args: &[&str]) -> Out {
    let out = run(s, tool, args);
    assert_eq!(out.code, Some(0), "{tool} {args:?}:\n{}", out.stderr);
    out
}

/// The times (epoch seconds) of this stack's calls of `operation`, from the emulator's call log.
fn calls(s: &Stack, operation: &str) -> Vec<f64> {
    let key = key(s);
    std::fs::read_to_string(call_log())
        .expect("the emulator's call log")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["akid"] == key.as_str() && v["operation"] == operation)
        .filter_map(|v| v["t"].as_f64())
        .collect()
}

fn state_file(s: &Stack, tool: &str) -> PathBuf {
    s.state_dir()
        .join(format!("{}-production", s.name))
        .join(format!("{tool}.json"))
}

/// The id state records for the first resource whose address starts with `prefix`.
fn state_id(s: &Stack, tool: &str, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(state_file(s, tool)).ok()?;
    let state: Value = serde_json::from_str(&text).ok()?;
    state["resources"]
        .as_object()?
        .iter()
        .find(|(a, _)| a.starts_with(prefix))
        .and_then(|(_, r)| r["id"].as_str().map(str::to_owned))
}

/// Starts `tool ARGS`, waits until it has made its first `operation` call, lets it wait `after`, and
/// kills it with SIGKILL; returns how long it ran.
fn kill_while_waiting(
    s: &Stack,
    tool: &str,
    args: &[&str],
    operation: &str,
    after: Duration,
) -> Duration {
    let start = Instant::now();
    let mut child = command(s, tool, args).spawn().expect("spawn");
    let before = calls(s, operation).len();
    while calls(s, operation).len() == before {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let out = finish(child, start);
            panic!(
                "{tool} {args:?} exited ({status}) before calling {operation}:\n{}",
                out.stderr
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(300),
            "{tool} never called {operation}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(after);
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "{tool} {args:?} finished before it was killed: the wait was not long enough to kill it in"
    );
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(status.code().is_none(), "killed by a signal: {status}");
    start.elapsed()
}

fn ec2(s: &Stack) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&s.sdk)
}

/// The stack's NAT gateways that are not deleted: (id, state).
fn nat_gateways(s: &Stack) -> Vec<(String, String)> {
    // moto does not filter NAT gateways by tag: the stack's are picked here.
    let out = s
        .block_on(ec2(s).describe_nat_gateways().send())
        .expect("DescribeNatGateways");
    out.nat_gateways()
        .iter()
        .filter(|n| {
            n.tags()
                .iter()
                .any(|t| t.key() == Some("hms:stack") && t.value() == Some(s.name.as_str()))
        })
        .map(|n| {
            (
                n.nat_gateway_id().unwrap_or_default().to_owned(),
                n.state().map(|x| x.as_str().to_owned()).unwrap_or_default(),
            )
        })
        .filter(|(_, state)| state != "deleted")
        .collect()
}

/// The stack's DB instance's status, if it exists.
fn db_status(s: &Stack) -> Option<String> {
    let rds = aws_sdk_rds::Client::new(&s.sdk);
    let out = s
        .block_on(
            rds.describe_db_instances()
                .db_instance_identifier(format!("{}-db", s.name))
                .send(),
        )
        .ok()?;
    out.db_instances()
        .first()
        .and_then(|i| i.db_instance_status().map(str::to_owned))
}

/// A resumed `hms-vpc up`: the NAT gateway is waited for (an update of its state), not created; only
/// what depends on it (the private routes) is created.
fn assert_resumed_nat(out: &Out) {
    let doc = out.doc();
    assert!(
        out.stderr.contains("update  vpc.nat[") && !out.stderr.contains("create  vpc.nat["),
        "the NAT gateway is waited for, not created:\n{}",
        out.stderr
    );
    let (created, _, _) = run_counts(&doc);
    assert!(
        out.stderr
            .lines()
            .filter(|l| l.contains("+ create"))
            .all(|l| l.contains("vpc.route.private_default[")),
        "only the routes through the NAT gateway are created ({created}):\n{}",
        out.stderr
    );
}

#[test]
fn a_timeout_shorter_than_the_nat_wait_fails_naming_it_and_the_next_run_resumes() {
    ensure_latency(SCALE);
    let s = Stack::new("hms-vpc", "wto");
    let pending = latency_of("nat_gateway.pending");
    let timeout = format!("{}ms", (pending.as_millis() / 5).max(200));

    let out = run(&s, "hms-vpc", &["up", "--timeout", &timeout]);
    assert_eq!(out.code, Some(1), "a timeout is exit 1:\n{}", out.stderr);
    assert!(
        out.stderr.contains("vpc.nat[") && out.stderr.contains("timed out after"),
        "the error names the NAT gateway and the timeout:\n{}",
        out.stderr
    );
    assert_eq!(
        out.doc()["runs"][0]["ok"],
        false,
        "the document says the run failed"
    );
    let id = state_id(&s, "hms-vpc", "vpc.nat[").expect("the NAT gateway's id is in state");
    assert!(
        out.stderr.contains(&id),
        "the error names the NAT gateway {id}:\n{}",
        out.stderr
    );
    assert_eq!(
        nat_gateways(&s),
        vec![(id.clone(), "pending".to_owned())],
        "one NAT gateway, still pending"
    );

    // The next run waits for the same NAT gateway (and then makes the routes through it).
    let out = ok(&s, "hms-vpc", &["up"]);
    assert_resumed_nat(&out);
    assert_eq!(nat_gateways(&s), vec![(id.clone(), "available".to_owned())]);
    assert_eq!(
        calls(&s, "CreateNatGateway").len(),
        1,
        "one CreateNatGateway in all"
    );
    assert_eq!(
        out.doc()["outputs"]["vpc"]["nat_gateway_ids"],
        serde_json::json!([id])
    );
    let out = ok(&s, "hms-vpc", &["plan", "--detailed-exitcode"]);
    assert!(out.stderr.contains("No changes"), "{}", out.stderr);
}

#[test]
fn a_run_killed_while_it_waits_for_the_nat_gateway_is_resumed_without_a_second_one() {
    ensure_latency(SCALE);
    let s = Stack::new("hms-vpc", "wkill");
    let pending = latency_of("nat_gateway.pending");
    let ran = kill_while_waiting(&s, "hms-vpc", &["up"], "CreateNatGateway", pending / 4);
    let id = state_id(&s, "hms-vpc", "vpc.nat[").expect("the NAT gateway's id is in state");
    assert_eq!(
        nat_gateways(&s),
        vec![(id.clone(), "pending".to_owned())],
        "killed after {ran:?}, while the NAT gateway was pending"
    );

    let out = ok(&s, "hms-vpc", &["up"]);
    let doc = out.doc();
    assert_resumed_nat(&out);
    assert_eq!(nat_gateways(&s), vec![(id.clone(), "available".to_owned())]);
    assert_eq!(
        calls(&s, "CreateNatGateway").len(),
        1,
        "no second CreateNatGateway"
    );
    assert_eq!(
        doc["outputs"]["vpc"]["nat_gateway_ids"],
        serde_json::json!([id])
    );
}

/// hms-db behind hms-vpc and hms-security (from state), hms-ecs on top: the instance's wait killed and
/// timed out, then resumed; the ECS rollouts waited for (create and deploy); `down` waits out the
/// deletions.
#[test]
fn db_waits_resume_and_ecs_returns_only_once_its_rollout_is_complete() {
    ensure_latency(SCALE);
    let s = Stack::new("hms-db", "wdb");
    ok(&s, "hms-vpc", &["up"]);
    ok(&s, "hms-security", &["up"]);
    let no_protection = ["--set", "db.deletion_protection=false"];
    let up = [&["up"][..], &no_protection].concat();

    // Killed while it waits for the new instance.
    let creating = latency_of("db_instance.creating");
    kill_while_waiting(
        &s,
        "hms-db",
        &up,
        "CreateDBInstance",
        Duration::from_secs(1),
    );
    let id = state_id(&s, "hms-db", "db.instance").expect("the instance's id is in state");
    assert_eq!(id, format!("{}-db", s.name));
    assert_eq!(db_status(&s).as_deref(), Some("creating"));

    // Resumed with a timeout shorter than what is left of the wait: exit 1 naming the instance.
    let short = [&up[..], &["--timeout", "2s"]].concat();
    let out = run(&s, "hms-db", &short);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("db.instance") && out.stderr.contains(&id),
        "the error names the DB instance:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("timed out after 2s"), "{}", out.stderr);
    assert_eq!(db_status(&s).as_deref(), Some("creating"));

    // Resumed until available: the same instance, no second CreateDBInstance.
    let out = ok(&s, "hms-db", &up);
    let doc = out.doc();
    // What needs the instance (its master secret's policy) is created now; the instance is not.
    assert!(
        out.stderr.contains("update  db.instance") && !out.stderr.contains("create  db.instance"),
        "the instance is waited for, not created:\n{}",
        out.stderr
    );
    assert_eq!(db_status(&s).as_deref(), Some("available"));
    assert_eq!(calls(&s, "CreateDBInstance").len(), 1);
    assert!(
        doc["outputs"]["db"]["endpoint"]
            .as_str()
            .is_some_and(|e| e.starts_with(&id)),
        "the endpoint, known once the instance is created: {}",
        doc["outputs"]["db"]
    );
    let first = calls(&s, "CreateDBInstance")[0];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        now - first >= creating.as_secs_f64() * 0.9,
        "available no sooner than the instance's creation takes ({creating:?})"
    );

    // hms-ecs: `up` creates the services and waits for their first rollout.
    let rollout = latency_of("ecs.deployment");
    let out = ok(&s, "hms-ecs", &["up"]);
    assert!(
        out.took >= rollout,
        "up waited for the services' rollouts ({:?} < {rollout:?}):\n{}",
        out.took,
        out.stderr
    );
    assert_rolled_out(&s, None);

    // `deploy` returns once its deployment is COMPLETED, not when UpdateService answers.
    let before = calls(&s, "UpdateService").len();
    let out = ok(&s, "hms-ecs", &["deploy", "backend", "hms/backend:v2"]);
    let updated = calls(&s, "UpdateService")[before..].to_vec();
    assert_eq!(updated.len(), 1, "one UpdateService: {updated:?}");
    let waited = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
        - updated[0];
    assert!(
        waited >= rollout.as_secs_f64() * 0.9,
        "deploy exited {waited:.1}s after UpdateService, before the rollout's {rollout:?}:\n{}",
        out.stderr
    );
    assert_rolled_out(&s, Some("hms/backend:v2"));

    // `down` waits for each deletion to be over (the instance is described `deleting` until then).
    ok(
        &s,
        "hms-ecs",
        &["down", "--yes", "--disable-deletion-protection"],
    );
    ok(&s, "hms-db", &["down", "--yes", "--skip-final-snapshot"]);
    assert_eq!(
        db_status(&s),
        None,
        "the instance is gone once down returns"
    );
    ok(&s, "hms-security", &["down", "--yes"]);
    ok(&s, "hms-vpc", &["down", "--yes"]);
    assert_eq!(nat_gateways(&s), vec![], "the NAT gateway is deleted");
}

/// Every service of the stack runs one COMPLETED deployment with all its tasks (the backend's with
/// `image`, when given).
fn assert_rolled_out(s: &Stack, image: Option<&str>) {
    let ecs = aws_sdk_ecs::Client::new(&s.sdk);
    let names: Vec<String> = ["backend", "frontend"]
        .iter()
        .map(|k| format!("{}-{k}", s.name))
        .collect();
    let out = s
        .block_on(
            ecs.describe_services()
                .cluster(format!("{}-cluster", s.name))
                .set_services(Some(names))
                .send(),
        )
        .expect("DescribeServices");
    assert_eq!(out.services().len(), 2);
    for svc in out.services() {
        let deployments = svc.deployments();
        assert_eq!(
            deployments.len(),
            1,
            "{:?}: one deployment",
            svc.service_name()
        );
        let d = &deployments[0];
        assert_eq!(
            d.rollout_state().map(|r| r.as_str()),
            Some("COMPLETED"),
            "{:?}",
            svc.service_name()
        );
        assert_eq!(svc.running_count(), svc.desired_count());
        assert_eq!(d.task_definition(), svc.task_definition());
        if let (Some(image), true) = (
            image,
            svc.service_name().is_some_and(|n| n.ends_with("-backend")),
        ) {
            let td = s
                .block_on(
                    ecs.describe_task_definition()
                        .task_definition(svc.task_definition().unwrap_or_default())
                        .send(),
                )
                .expect("DescribeTaskDefinition");
            let got = td
                .task_definition()
                .and_then(|t| t.container_definitions().first())
                .and_then(|c| c.image());
            assert_eq!(got, Some(image), "the backend runs the deployed image");
        }
    }
}

/// The documents of a stream (early ones, then the final one), in order.
fn stream(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .map(|d| d.unwrap_or_else(|e| panic!("stdout is not a stream of documents: {e}\n{text}")))
        .collect()
}

/// `script` under bash with `set -o pipefail`, the tools on PATH, this stack's state, signed with the
/// stack's own key and `--overlap` on (`HMS_OVERLAP=1`); returns (exit code, stdout, stderr).
fn overlapped(s: &Stack, script: &str) -> (i32, String, String) {
    hms_tests::shell(
        &format!(
            "export HMS_OVERLAP=1 AWS_ACCESS_KEY_ID={} STACK={}; {script}",
            key(s),
            s.name
        ),
        s.dir.path(),
        &s.state_dir(),
    )
}

/// `hms-vpc up | hms-security up | hms-db up | hms-ecs up` with `--overlap`: each tool starts on the
/// early documents of those upstream, so the ALB is made while the database is still being created, the
/// database while the NAT gateway is still pending; and what needs the database's endpoint (the task
/// definitions) only once it is known. The result is a plain pipeline's: one final document last, every
/// tool converged, the services rolled out.
#[test]
fn an_overlapped_pipeline_starts_downstream_tools_before_upstream_waits_end() {
    ensure_latency(SCALE);
    let s = Stack::new("hms-db", "wovl");
    let creating = latency_of("db_instance.creating").as_secs_f64();
    let (code, stdout, stderr) = overlapped(
        &s,
        "hms-vpc up --stack $STACK | hms-security up --stack $STACK \
         | hms-db up --stack $STACK --set db.deletion_protection=false | hms-ecs up --stack $STACK",
    );
    assert_eq!(code, 0, "{stderr}");
    let docs = stream(&stdout);
    let (last, early) = docs.split_last().expect("a document");
    assert!(
        last.get("final").is_none() && last["unknown"].as_array().is_none_or(Vec::is_empty),
        "the last document is final and holds no unknowns: {last}"
    );
    assert!(
        early.iter().all(|d| d["final"] == false),
        "the documents before it are early ones"
    );
    let tools: Vec<&str> = last["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["tool"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tools, ["hms-vpc", "hms-security", "hms-db", "hms-ecs"]);
    assert!(last["outputs"]["db"]["endpoint"].is_string(), "{last}");
    assert!(
        early
            .iter()
            .any(|d| d["outputs"]["db"]["endpoint"].is_null() && d["outputs"]["ecs"].is_object()),
        "hms-ecs handed on its outputs while the database's endpoint was not known yet"
    );

    // The overlap, from the call log: the database was asked for before the NAT gateway was ready (the
    // private routes through it come after its wait), and the ALB while the database was being made.
    let first = |op: &str| {
        calls(&s, op)
            .into_iter()
            .reduce(f64::min)
            .unwrap_or_else(|| panic!("no {op} call"))
    };
    let last_call = |op: &str| calls(&s, op).into_iter().reduce(f64::max).unwrap_or(0.0);
    let db = first("CreateDBInstance");
    assert!(
        db < last_call("CreateRoute"),
        "hms-db started before hms-vpc's NAT gateway was available"
    );
    assert!(
        first("CreateLoadBalancer") < db + creating * 0.9,
        "hms-ecs made its ALB while the database was being created"
    );
    // The frontend's task definition needs nothing of the database; the backend's (DB_HOST) waits.
    assert!(
        stderr.lines().any(|l| l.starts_with("hms-ecs: early pass:")
            && l.contains("left for later")
            && l.contains("ecs.task_definition[backend]")),
        "{stderr}"
    );
    assert!(
        last_call("RegisterTaskDefinition") >= db + creating * 0.9,
        "the backend's task definition waits for the database's endpoint"
    );
    assert_eq!(calls(&s, "CreateDBInstance").len(), 1);
    assert_eq!(calls(&s, "CreateNatGateway").len(), 1);
    assert_rolled_out(&s, None);

    // Converged: every tool plans nothing.
    for tool in ["hms-vpc", "hms-security", "hms-db", "hms-ecs"] {
        let set: &[&str] = if tool == "hms-db" {
            &["--set", "db.deletion_protection=false"]
        } else {
            &[]
        };
        let args = [&["plan", "--detailed-exitcode"][..], set].concat();
        let out = run(&s, tool, &args);
        assert_eq!(out.code, Some(0), "{tool} converged:\n{}", out.stderr);
    }
    ok(
        &s,
        "hms-ecs",
        &["down", "--yes", "--disable-deletion-protection"],
    );
    ok(&s, "hms-db", &["down", "--yes", "--skip-final-snapshot"]);
    ok(&s, "hms-security", &["down", "--yes"]);
    ok(&s, "hms-vpc", &["down", "--yes"]);
}

/// An upstream that fails after its early document (hms-vpc's NAT wait timing out), or that dies after
/// it (only its first document gets through): the tool downstream exits 1 and says why, and the
/// pipeline's status is not 0.
#[test]
fn an_overlapped_pipeline_stops_when_the_upstream_fails_or_dies_after_its_early_document() {
    ensure_latency(SCALE);
    let s = Stack::new("hms-vpc", "wovf");
    let (code, stdout, stderr) = overlapped(
        &s,
        "hms-vpc up --stack $STACK --timeout 1s | hms-security up --stack $STACK; \
         echo \"status ${PIPESTATUS[*]}\" >&2",
    );
    assert_eq!(code, 0, "the script's own status (echo's): {stderr}");
    assert!(stderr.contains("status 1 1"), "both exit 1:\n{stderr}");
    assert!(
        stderr.contains("vpc.nat[") && stderr.contains("timed out after 1s"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hms-security: error: upstream hms-vpc up failed"),
        "{stderr}"
    );
    let docs = stream(&stdout);
    let last = docs.last().expect("a document");
    assert!(last.get("final").is_none(), "{last}");
    let runs: Vec<(&str, bool)> = last["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| (r["tool"].as_str().unwrap_or_default(), r["ok"] == true))
        .collect();
    assert_eq!(
        runs,
        [("hms-vpc", false), ("hms-security", false)],
        "the upstream's failed run travels on, this tool's after it: {last}"
    );

    // Only the first document gets through (sed stops after it): hms-security never sees a final one.
    let (code, _, stderr) = overlapped(
        &s,
        "hms-vpc up --stack $STACK | sed '/^}$/q' | hms-security up --stack $STACK; \
         echo \"status ${PIPESTATUS[*]}\" >&2",
    );
    assert_eq!(code, 0, "the script's own status (echo's): {stderr}");
    assert!(stderr.contains("status 0 0 1"), "{stderr}");
    assert!(
        stderr.contains("hms-security: error: stdin: the upstream tool handed on early documents but never its final one"),
        "{stderr}"
    );
    // What it made is in state: a plain run converges without a second NAT gateway.
    ok(&s, "hms-vpc", &["up"]);
    ok(&s, "hms-security", &["up"]);
    assert_eq!(calls(&s, "CreateNatGateway").len(), 1);
    ok(&s, "hms-security", &["down", "--yes"]);
    ok(&s, "hms-vpc", &["down", "--yes"]);
}

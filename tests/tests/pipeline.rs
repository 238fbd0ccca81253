//! The tools as a Unix pipeline: the stack document travels from one process to the next, a failure
//! upstream stops the tools downstream. Runs the built binaries (HMS_BIN_DIR, default: the target dir
//! these tests were built into) against the emulator that scripts/test.sh starts.

use hms_tests::shell;
use serde_json::Value;

/// Runs `sh -c` with `set -o pipefail` in a fresh state dir; returns (exit code, stdout, stderr).
fn pipeline(script: &str, state: &std::path::Path) -> (i32, String, String) {
    shell(script, state, state)
}

fn stack(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    format!("p{tag}-{}-{}", std::process::id() % 100000, nanos % 100000)
}

#[test]
fn the_document_flows_down_the_pipe_and_records_every_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("flow");
    let (code, out, err) = pipeline(
        &format!("hms-vpc up --stack {s} | hms-vpc plan --detailed-exitcode --stack {s}"),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).expect("one document on stdout");
    let runs: Vec<(String, String, bool)> = doc["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| {
            (
                r["tool"].as_str().unwrap_or_default().to_owned(),
                r["command"].as_str().unwrap_or_default().to_owned(),
                r["ok"] == true,
            )
        })
        .collect();
    assert_eq!(
        runs,
        vec![
            ("hms-vpc".into(), "up".into(), true),
            ("hms-vpc".into(), "plan".into(), true)
        ]
    );
    assert!(doc["outputs"]["vpc"]["vpc_id"]
        .as_str()
        .is_some_and(|v| v.starts_with("vpc-")));
    assert!(
        err.lines().all(|l| l.starts_with("hms-vpc: ")),
        "every stderr line carries the tool's prefix:\n{err}"
    );

    // Run alone with nothing on stdin, a tool starts from the outputs in the state store.
    let (code, out, err) = pipeline(&format!("hms-vpc show --stack {s} < /dev/null"), dir.path());
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("document");
    assert_eq!(shown["outputs"]["vpc"], doc["outputs"]["vpc"]);

    let (code, _, err) = pipeline(&format!("hms-vpc down --yes --stack {s}"), dir.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_failure_upstream_stops_the_pipe_with_exit_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("fail");
    // The first tool fails on bad config (64); the second sees the failed run, calls nothing, exits 1.
    let (code, out, err) = pipeline(
        &format!("hms-vpc up --stack {s} --set vpc.cidr=10.0.0.0/8 | hms-vpc up --stack {s} --endpoint-url http://127.0.0.1:9"),
        dir.path(),
    );
    assert_eq!(code, 1, "pipefail reports the last failure: {err}");
    assert!(
        err.contains("vpc.cidr") && err.contains("upstream hms-vpc up failed"),
        "{err}"
    );
    let doc: Value = serde_json::from_str(&out).expect("the failed document is passed on");
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(2));
    assert!(doc["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .all(|r| r["ok"] == false));
}

#[test]
fn a_bad_command_line_upstream_still_stops_the_pipe() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("argv");
    // Regression: a clap error used to write no document, and the next tool started afresh.
    let (code, out, err) = pipeline(
        &format!("hms-vpc up --bogus --stack {s} | hms-vpc plan --stack {s} --endpoint-url http://127.0.0.1:9; echo \"${{PIPESTATUS[@]}}\" >&2"),
        dir.path(),
    );
    assert_eq!(code, 0, "the echo ran last: {err}");
    assert!(err.trim_end().ends_with("64 1"), "{err}");
    let doc: Value = serde_json::from_str(&out).expect("document");
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(2));
}

#[test]
fn a_dead_upstream_is_not_taken_for_no_upstream() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("dead");
    // The upstream is killed before it writes: the empty pipe is a failure (exit 1), with no AWS call (the
    // endpoint would not even answer); not a run "from the state store".
    let (code, out, err) = pipeline(
        &format!("sh -c 'kill -9 $$' | hms-security up --stack {s} --endpoint-url http://127.0.0.1:9; echo \"${{PIPESTATUS[@]}}\" >&2"),
        dir.path(),
    );
    assert_eq!(code, 0, "the echo ran last: {err}");
    assert!(err.trim_end().ends_with("137 1"), "{err}");
    assert!(err.contains("the upstream tool wrote nothing"), "{err}");
    assert!(!err.contains("127.0.0.1:9"), "no AWS call: {err}");
    let doc: Value = serde_json::from_str(&out).expect("a failed document for the next tool");
    assert_eq!(doc["runs"][0]["ok"], false);
    // /dev/null still means "from the state store" (here: nothing upstream, so a usage error naming it).
    let (code, _, err) = pipeline(
        &format!("hms-security plan --stack {s} --endpoint-url http://127.0.0.1:9 < /dev/null"),
        dir.path(),
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("needs outputs.vpc"), "{err}");
}

#[test]
fn the_plan_pipeline_on_an_empty_account_creates_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("plans");
    // Regression: hms-db used to stop at hms-security's unknown key ARNs.
    let (code, out, err) = pipeline(
        &format!("hms-vpc plan --stack {s} | hms-security plan --stack {s} | hms-db plan --stack {s} --detailed-exitcode"),
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
        "outputs.security.kms_key_arns",
        "outputs.db.endpoint",
    ] {
        assert!(unknown.contains(&u), "{u} in {unknown:?}");
    }
    assert!(err.contains("hms-db: Plan: 4 to create"), "{err}");
    // Nothing was created: a fresh plan still plans everything.
    let (code, _, err) = pipeline(
        &format!("hms-vpc plan --stack {s} --detailed-exitcode"),
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_failure() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("pipe");
    let (code, _, err) = pipeline(
        &format!("hms-vpc plan --stack {s} | head -c 1 >/dev/null"),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
}

/// `--overlap` with a document in a file on stdin reads it as a plain `up` does (not the state store),
/// and a stream read without `--overlap` is taken at its final document.
#[test]
fn overlap_reads_a_document_from_a_file_and_a_plain_reader_takes_a_stream() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = stack("ovf");
    // hms-vpc's early documents and its final one, as a stream in a file.
    let (code, _, err) = pipeline(
        &format!("HMS_OVERLAP=1 hms-vpc up --stack {s} | cat > vpc.stream"),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.path().join("vpc.stream")).expect("stream");
    let docs: Vec<Value> = serde_json::Deserializer::from_str(&text)
        .into_iter::<Value>()
        .map(|d| d.expect("a document"))
        .collect();
    assert!(
        docs.len() >= 2,
        "early documents, then the final one: {text}"
    );
    assert!(docs.last().is_some_and(|d| d.get("final").is_none()));
    // hms-security with a state store of its own (no hms-vpc outputs there): only the file can give them.
    for (script, what) in [
        (
            format!("hms-security plan --stack {s} --state other < vpc.stream"),
            "a plain reader of the stream",
        ),
        (
            format!(
                "hms-vpc show --stack {s} < /dev/null > vpc.json \
                 && HMS_OVERLAP=1 hms-security up --stack {s} --state other < vpc.json | cat"
            ),
            "an overlapped up reading a file",
        ),
    ] {
        let (code, out, err) = pipeline(&script, dir.path());
        assert_eq!(code, 0, "{what}: {err}");
        let last = serde_json::Deserializer::from_str(&out)
            .into_iter::<Value>()
            .last()
            .expect("a document")
            .expect("json");
        let vpc_id = &docs[docs.len() - 1]["outputs"]["vpc"]["vpc_id"];
        assert!(vpc_id.is_string(), "{text}");
        assert_eq!(&last["outputs"]["vpc"]["vpc_id"], vpc_id, "{what}: {last}");
        assert!(last["outputs"]["security"].is_object(), "{what}: {last}");
    }
    // The overlapped up made the security groups, from the file's VPC.
    let (code, out, err) = pipeline(
        &format!("hms-security show --stack {s} --state other < /dev/null"),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("document");
    assert!(
        shown["outputs"]["security"]["alb_sg_id"].is_string(),
        "{shown}"
    );
    let (code, _, err) = pipeline(
        &format!(
            "hms-security down --yes --stack {s} --state other && hms-vpc down --yes --stack {s}"
        ),
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
}

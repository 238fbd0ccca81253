//! Test support for the tools' integration tests: a fresh stack (unique name, own state directory) per
//! test, running the real binaries against the emulator that `scripts/test.sh` starts, and an SDK config
//! for asserting on what the emulator holds.

pub mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;
use serde_json::Value;

/// The nine tools in pipeline order (`down` runs them in reverse).
pub const TOOLS: [&str; 9] = [
    "hms-vpc",
    "hms-security",
    "hms-dns",
    "hms-db",
    "hms-cache",
    "hms-ecs",
    "hms-edge",
    "hms-backup",
    "hms-observe",
];

/// The directory of this test binary's own emulator, when `scripts/test.sh` started one.
///
/// `scripts/test.sh` starts one emulator per integration-test binary under `HMS_TEST_EMULATORS`
/// (`<root>/<binary id with "::" as "--">/url`, and its call log beside it), and nextest names the binary
/// in `NEXTEST_BINARY_ID`. A binary's tests then see only what they made themselves: moto answers a
/// describe by scanning everything it holds, so one emulator shared by the whole suite grows slower with
/// every test (the hms-vpc suite took 43 s on a fresh emulator and 1,600 s at the end of a shared run).
pub fn own_emulator_dir() -> Option<PathBuf> {
    let root = std::env::var_os("HMS_TEST_EMULATORS")?;
    let id = std::env::var("NEXTEST_BINARY_ID").ok()?;
    let dir = Path::new(&root).join(id.replace("::", "--").replace('/', "-"));
    dir.join("url").is_file().then_some(dir)
}

/// The emulator's URL: this binary's own (see [`own_emulator_dir`]), else HMS_TEST_ENDPOINT, else
/// AWS_ENDPOINT_URL.
pub fn endpoint() -> String {
    if let Some(dir) = own_emulator_dir() {
        if let Ok(url) = std::fs::read_to_string(dir.join("url")) {
            return url.trim().to_string();
        }
    }
    std::env::var("HMS_TEST_ENDPOINT")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .expect("no emulator: run the tests with scripts/test.sh (it starts moto and sets HMS_TEST_ENDPOINT)")
}

/// The emulator's call log (one JSON line per request): this binary's own emulator's, else HMS_CALL_LOG,
/// else the default emulator directory's.
pub fn call_log() -> PathBuf {
    if let Some(dir) = own_emulator_dir() {
        return dir.join("calls.jsonl");
    }
    std::env::var_os("HMS_CALL_LOG").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.emulator/calls.jsonl"),
        PathBuf::from,
    )
}

/// One HTTP/1.1 request to the emulator's own API (the launcher's `/hms-api/...`, moto's `/moto-api/...`;
/// not AWS); returns (status, body).
pub fn emulator_api(method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let url = endpoint();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut conn = std::net::TcpStream::connect(&host)
        .unwrap_or_else(|e| panic!("the emulator at {url} does not answer: {e}"));
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request to the emulator");
    let mut answer = String::new();
    conn.read_to_string(&mut answer)
        .expect("answer from the emulator");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// The emulator's latency scale (`HMS_EMULATOR_LATENCY`, or what `POST /hms-api/latency` set): slow
/// resources keep their transitional states for scale × AWS's typical durations (the table in
/// `scripts/emulator/patches/latency.py`).
pub fn latency_scale() -> f64 {
    let (status, body) = emulator_api("GET", "/hms-api/latency", "");
    assert_eq!(status, 200, "GET /hms-api/latency: {body}");
    let v: Value = serde_json::from_str(&body).expect("the latency answer");
    v["scale"].as_f64().expect("scale")
}

/// AWS's typical duration of a transitional state (a key of the launcher's table, e.g.
/// `nat_gateway.pending`) × the emulator's latency scale.
pub fn latency_of(kind: &str) -> std::time::Duration {
    let (status, body) = emulator_api("GET", "/hms-api/latency", "");
    assert_eq!(status, 200, "GET /hms-api/latency: {body}");
    let v: Value = serde_json::from_str(&body).expect("the latency answer");
    let typical = v["typical_seconds"][kind]
        .as_f64()
        .unwrap_or_else(|| panic!("the launcher has no typical duration for {kind}"));
    std::time::Duration::from_secs_f64(typical * v["scale"].as_f64().expect("scale"))
}

/// Makes sure the emulator runs with a latency scale: `scripts/test.sh` starts `hms-tests::waits`'s own
/// emulator with `HMS_EMULATOR_LATENCY=<scale>`; one without it (started by hand) gets `scale` through
/// `POST /hms-api/latency`, which slows it for every test that uses it. Returns the scale in force.
pub fn ensure_latency(scale: f64) -> f64 {
    let now = latency_scale();
    if now > 0.0 {
        return now;
    }
    let (status, body) = emulator_api(
        "POST",
        "/hms-api/latency",
        &format!("{{\"scale\": {scale}}}"),
    );
    assert_eq!(status, 200, "POST /hms-api/latency: {body}");
    eprintln!(
        "the emulator at {} ran without latency: set to {scale} (start it with HMS_EMULATOR_LATENCY={scale})",
        endpoint()
    );
    scale
}

/// Where the tools' binaries are: HMS_BIN_DIR, else the target dir these tests were built into.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("HMS_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/<test>-… → target/debug
    let exe = std::env::current_exe().expect("test exe");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .to_path_buf()
}

/// The path of a tool's binary; it must have been built (`cargo build --workspace`).
pub fn bin(tool: &str) -> PathBuf {
    let p = bin_dir().join(tool);
    assert!(
        p.exists(),
        "{} is not built; run cargo build --workspace",
        p.display()
    );
    p
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// One test's stack: a unique name and its own state directory.
pub struct Stack {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub sdk: aws_config::SdkConfig,
    /// The tool `run` and `cmd` run.
    pub tool: &'static str,
}

impl Stack {
    /// A new stack for `tool`, named after `tag`.
    pub fn new(tool: &'static str, tag: &str) -> Self {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos();
        // At most 20 characters (the stack name limit).
        let name = format!("t{tag}-{}{n}{}", std::process::id() % 1000, nanos % 1000);
        let name: String = name.chars().take(20).collect();
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
        Stack {
            name,
            dir: tempfile::tempdir().expect("tempdir"),
            rt,
            sdk,
            tool,
        }
    }

    /// The state directory (`--state`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// A tool's command with this stack's environment and `--stack`.
    pub fn std_cmd_of(&self, tool: &str, args: &[&str]) -> StdCommand {
        let mut c = StdCommand::new(bin(tool));
        c.current_dir(self.dir.path())
            .env("HMS_STATE", self.state_dir())
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .args(args)
            .args(["--stack", &self.name]);
        c
    }

    /// This stack's tool command.
    pub fn std_cmd(&self, args: &[&str]) -> StdCommand {
        self.std_cmd_of(self.tool, args)
    }

    /// This stack's tool command with no stdin document (`/dev/null`: read the upstream outputs from the
    /// state store).
    pub fn cmd(&self, args: &[&str]) -> StdCommand {
        let mut c = self.std_cmd(args);
        c.stdin(Stdio::null());
        c
    }

    /// This stack's tool command, for assert_cmd, to be given a document with `write_stdin` (its stdin is
    /// a pipe: an empty one would be an upstream that died before writing).
    pub fn cmd_in(&self, args: &[&str]) -> Command {
        Command::from_std(self.std_cmd(args))
    }

    /// Runs a tool with `stdin`, checks its exit code, returns (document, stderr).
    pub fn run_of(&self, tool: &str, args: &[&str], stdin: &str, code: i32) -> (Value, String) {
        // No document: /dev/null (an empty pipe would be an upstream that died before writing).
        let out = if stdin.is_empty() {
            self.std_cmd_of(tool, args)
                .stdin(Stdio::null())
                .output()
                .expect("run")
        } else {
            Command::from_std(self.std_cmd_of(tool, args))
                .write_stdin(stdin)
                .output()
                .expect("run")
        };
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{tool} {args:?} exit code; stderr:\n{stderr}"
        );
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{tool} {args:?}: stdout is not a document: {e}\n{stderr}"));
        (doc, stderr)
    }

    /// Runs this stack's tool with no stdin document (`/dev/null`).
    pub fn run(&self, args: &[&str], code: i32) -> (Value, String) {
        self.run_of(self.tool, args, "", code)
    }

    /// Runs a future on this stack's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// (created, updated, deleted) of the document's last run.
pub fn run_counts(doc: &Value) -> (u64, u64, u64) {
    let run = doc["runs"]
        .as_array()
        .and_then(|r| r.last())
        .expect("a run");
    let n = |k: &str| run[k].as_u64().unwrap_or(99);
    (n("created"), n("updated"), n("deleted"))
}

/// Runs `bash -c` with `set -o pipefail` in `cwd`, the built tools first on PATH, state in `state`, the
/// emulator's endpoint and test credentials; returns (exit code, stdout, stderr).
pub fn shell(script: &str, cwd: &Path, state: &Path) -> (i32, String, String) {
    let bins = bin_dir();
    assert!(
        bins.join("hms-vpc").exists(),
        "the tools are not built in {}; run cargo build --workspace",
        bins.display()
    );
    let out = StdCommand::new("bash")
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .current_dir(cwd)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bins.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("HMS_STATE", state)
        .env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The stack-tag convergence every tool's tests run: `owner = "platform"` added to a converged stack, then
/// changed to `"apps"`, then removed. Each step: `plan --detailed-exitcode` exits 2 and plans nothing but
/// tag updates, one `up` applies them (nothing created or deleted), `plan` exits 0 after, and
/// `check(Some(value))` / `check(None)` asserts the tag on what the emulator holds. `stdin` is the upstream
/// document (or "" to run from the state store). Returns how many resources each step updated.
pub fn tag_cycle(s: &Stack, tool: &str, stdin: &str, mut check: impl FnMut(Option<&str>)) -> u64 {
    let mut updated = 0;
    for value in [Some("platform"), Some("apps"), None] {
        let set = match value {
            Some(v) => format!("stack.tags={{owner = \"{v}\"}}"),
            None => String::from("stack.tags={}"),
        };
        let (plan, err) = s.run_of(
            tool,
            &["plan", "--detailed-exitcode", "--set", &set],
            stdin,
            2,
        );
        let (c, u, d) = run_counts(&plan);
        assert!(
            c == 0 && d == 0 && u > 0,
            "{tool}: tags only are updated:\n{err}"
        );
        for line in err.lines().filter(|l| l.contains("  ~ update")) {
            assert!(
                line.contains("(tags differ)"),
                "{tool}: not a tag update: {line}"
            );
        }
        let (doc, err) = s.run_of(tool, &["up", "--set", &set], stdin, 0);
        assert_eq!(run_counts(&doc), (0, u, 0), "{tool} up:\n{err}");
        let (_, err) = s.run_of(
            tool,
            &["plan", "--detailed-exitcode", "--set", &set],
            stdin,
            0,
        );
        assert!(err.contains("No changes"), "{tool}: converged:\n{err}");
        check(value);
        updated = u;
    }
    updated
}

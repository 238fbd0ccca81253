//! State per (stack, env, tool) and its lock, behind one [`StateStore`] whatever the backend.
//!
//! - Local (`--state DIR`, the default `.hms/state`): [`local`] — `<dir>/<stack>-<env>/<tool>.json`,
//!   written atomically with mode 0600, and an advisory file lock that the OS releases when its holder dies.
//!
//! A state records the resources a tool manages (logical address → id and the attributes it set), its
//! outputs, a serial bumped on every write, the tool's version, and the upstream sections it uses (so that
//! `down` of an upstream tool refuses while a user of it still records resources).

pub mod local;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// State file format version.
pub const STATE_FORMAT: u32 = 1;

/// One managed resource: its id (or ARN) and the attributes the tool set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    pub id: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attrs: Map<String, Value>,
}

impl Resource {
    /// A resource with just an id.
    pub fn new(id: impl Into<String>) -> Self {
        Resource {
            id: id.into(),
            attrs: Map::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.attrs.insert(key.to_owned(), value.into());
        self
    }

    /// A string attribute.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.get(key).and_then(Value::as_str)
    }
}

/// Resources by logical address (`vpc.subnet.private[us-east-1a]`).
pub type Resources = BTreeMap<String, Resource>;

/// What one tool recorded for one stack and environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub format: u32,
    pub serial: u64,
    pub tool: String,
    pub tool_version: String,
    pub stack: String,
    pub env: String,
    pub region: String,
    #[serde(default)]
    pub updated_at: String,
    /// The upstream sections the tool reads (`["vpc", "security"]`), as it declared them.
    #[serde(default)]
    pub uses: Vec<String>,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub outputs: Value,
}

impl State {
    /// An empty state for a tool.
    pub fn empty(tool: &str, version: &str, stack: &str, env: &str, region: &str) -> Self {
        State {
            format: STATE_FORMAT,
            serial: 0,
            tool: tool.to_owned(),
            tool_version: version.to_owned(),
            stack: stack.to_owned(),
            env: env.to_owned(),
            region: region.to_owned(),
            updated_at: String::new(),
            uses: Vec::new(),
            resources: Resources::new(),
            outputs: Value::Null,
        }
    }

    /// The id of the resource at `address`.
    pub fn id(&self, address: &str) -> Option<&str> {
        self.resources.get(address).map(|r| r.id.as_str())
    }

    /// The output section this state provides (the tool's name without `hms-`).
    pub fn section(&self) -> &str {
        self.tool.strip_prefix("hms-").unwrap_or(&self.tool)
    }
}

/// Who holds a lock: written into the lock, shown to whoever finds it held.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    /// Random; `unlock` must name it.
    pub id: String,
    /// `user@host`.
    pub who: String,
    pub pid: u32,
    /// `hms-vpc up`.
    pub operation: String,
    /// RFC 3339.
    pub created: String,
    #[serde(default)]
    pub version: String,
}

impl LockInfo {
    /// A new holder record for this process.
    pub fn new(tool: &str, operation: &str) -> Self {
        LockInfo {
            id: lock_id(),
            who: whoami(),
            pid: std::process::id(),
            operation: format!("{tool} {operation}"),
            created: now_rfc3339(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// `alice@ci-7 (pid 4242) running hms-vpc up since 2026-12-01T09:00:00Z (3m ago)`.
    pub fn describe(&self) -> String {
        let age = humantime::parse_rfc3339(&self.created)
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| format!(" ({} ago)", crate::ui::fmt_duration(d)))
            .unwrap_or_default();
        format!(
            "{} (pid {}) running {} since {}{age}",
            self.who, self.pid, self.operation, self.created
        )
    }
}

/// A held lock. Release it with [`LockGuard::release`]; a local lock is also released when dropped (and
/// by the OS when the process dies).
#[derive(Debug)]
pub struct LockGuard {
    pub info: LockInfo,
    inner: LockInner,
}

#[derive(Debug)]
enum LockInner {
    Local(local::FileLock),
}

impl LockGuard {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self.inner {
            LockInner::Local(l) => {
                drop(l);
                Ok(())
            }
        }
    }
}

/// The state store of one stack and environment.
#[derive(Debug, Clone)]
pub struct StateStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Local(local::LocalStore),
}

impl StateStore {
    /// Opens the store at `location` (a directory; default `.hms/state`) for `stack`-`env`. Makes no call.
    pub fn open(location: Option<&str>, stack: &str, env: &str) -> Result<Self> {
        let base = location.unwrap_or(".hms/state");
        if base.starts_with("s3://") {
            return Err(Error::usage(format!(
                "--state {base}: the S3 state backend is not available in this release; use a directory \
                 (e.g. --state .hms/state) and keep it on durable storage"
            )));
        }
        if base.contains("://") {
            return Err(Error::usage(format!(
                "--state {base}: expected a directory path"
            )));
        }
        Ok(StateStore {
            backend: Backend::Local(local::LocalStore::new(base, stack, env)),
        })
    }

    /// Where this stack's state lives, for messages (`.hms/state/hms-production`).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(l) => l.dir().display().to_string(),
        }
    }

    /// Loads a tool's state; `None` when it has none yet.
    pub async fn load(&self, tool: &str) -> Result<Option<State>> {
        match &self.backend {
            Backend::Local(l) => l.load(tool),
        }
    }

    /// Every tool's state in this store.
    pub async fn all(&self) -> Result<Vec<State>> {
        match &self.backend {
            Backend::Local(l) => l.all(),
        }
    }

    /// Outputs of every tool with state in this store, by section name.
    pub async fn all_outputs(&self) -> Result<BTreeMap<String, Value>> {
        Ok(self
            .all()
            .await?
            .into_iter()
            .filter(|s| !s.outputs.is_null())
            .map(|s| (s.section().to_owned(), s.outputs))
            .collect())
    }

    /// Writes a state, bumping its serial.
    pub async fn save(&self, state: &mut State) -> Result<()> {
        state.serial += 1;
        state.updated_at = now_rfc3339();
        match &self.backend {
            Backend::Local(l) => l.save(state),
        }
    }

    /// Takes the exclusive lock of `tool`, waiting up to `wait` for a holder to finish.
    pub async fn lock(&self, tool: &str, operation: &str, wait: Duration) -> Result<LockGuard> {
        match &self.backend {
            Backend::Local(l) => {
                let (file, info) = l.lock(tool, operation, wait).await?;
                Ok(LockGuard {
                    info,
                    inner: LockInner::Local(file),
                })
            }
        }
    }

    /// Breaks a stale lock: only when `id` is the recorded holder's (and, locally, no live process holds
    /// it).
    pub async fn unlock(&self, tool: &str, id: &str) -> Result<String> {
        match &self.backend {
            Backend::Local(l) => l.unlock(tool, id),
        }
    }
}

/// `user@host`: the user from `$USER`/`$LOGNAME`, else the name of the process's uid.
fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(uid_name)
        .unwrap_or_else(|| String::from("unknown"));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

/// The name of this process's uid, from `/etc/passwd` (no libc call: `unsafe` is forbidden here).
fn uid_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()? == uid).then(|| name.to_owned())
    })
}

/// 16 random hex digits (from the OS; a clock-and-pid mix if it has none).
fn lock_id() -> String {
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !random {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mixed =
            (nanos ^ (u128::from(std::process::id()) << 64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        bytes = ((mixed as u64) ^ ((mixed >> 64) as u64)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now, as `2026-11-28T03:04:05Z`.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// A time as `2026-11-28T03:04:05Z`.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_and_urls_are_refused() {
        assert_eq!(
            StateStore::open(Some("s3://b/p"), "hms", "production")
                .expect_err("s3")
                .exit_code(),
            64
        );
        assert_eq!(
            StateStore::open(Some("http://x"), "hms", "production")
                .expect_err("url")
                .exit_code(),
            64
        );
    }

    #[test]
    fn lock_ids_are_random_hex() {
        let (a, b) = (lock_id(), lock_id());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn holder_is_a_real_user() {
        let who = whoami();
        assert!(!who.starts_with("unknown@"), "{who}");
    }
}

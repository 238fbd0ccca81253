//! State per (stack, env, tool) and its lock, behind one [`StateStore`] whatever the backend.
//!
//! - Local (`--state DIR`, the default `.hms/state`): [`local`] — `<dir>/<stack>-<env>/<tool>.json`,
//!   written atomically with mode 0600, and an advisory file lock that the OS releases when its holder dies.
//! - S3 (`--state s3://BUCKET/PREFIX`): [`s3`] — one object per tool, written conditionally on the ETag
//!   read, and a lock object created with `If-None-Match: *`.
//!
//! A state records the resources a tool manages (logical address → id and the attributes it set), its
//! outputs, a serial bumped on every write, the tool's version, and the upstream sections it uses (so that
//! `down` of an upstream tool refuses while a user of it still records resources).

pub mod bootstrap;
pub mod local;
pub mod s3;

use std::collections::BTreeMap;
use std::sync::Arc;
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
    S3(Arc<s3::S3Store>, s3::S3Lock),
}

impl LockGuard {
    /// Releases the lock.
    pub async fn release(self) -> Result<()> {
        match self.inner {
            LockInner::Local(l) => {
                drop(l);
                Ok(())
            }
            LockInner::S3(store, lock) => store.release(lock).await,
        }
    }
}

/// Where state is kept, as given to `--state` (or `HMS_STATE`, or `[state] url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory.
    Local(String),
    S3(s3::S3Location),
}

impl Location {
    /// Parses a location (default `.hms/state`); errors are usage errors naming the input.
    pub fn parse(location: Option<&str>) -> Result<Self> {
        let base = location.unwrap_or(".hms/state");
        if base.starts_with("s3://") {
            return Ok(Location::S3(s3::S3Location::parse(base)?));
        }
        if base.contains("://") {
            return Err(Error::usage(format!(
                "--state {base}: expected a directory or s3://BUCKET/PREFIX"
            )));
        }
        if base.is_empty() {
            return Err(Error::usage(
                "--state: empty; give a directory or s3://BUCKET/PREFIX",
            ));
        }
        Ok(Location::Local(base.to_owned()))
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
    S3(Arc<s3::S3Store>),
}

impl StateStore {
    /// Opens a local store at `location` (a directory; default `.hms/state`) for `stack`-`env`. Makes no
    /// call. An `s3://` location needs a client: [`StateStore::s3`].
    pub fn open(location: Option<&str>, stack: &str, env: &str) -> Result<Self> {
        match Location::parse(location)? {
            Location::Local(dir) => Ok(Self::local(&dir, stack, env)),
            Location::S3(l) => Err(Error::Internal(format!(
                "{} needs an S3 client (StateStore::s3)",
                l.url()
            ))),
        }
    }

    /// The local store under `dir`.
    pub fn local(dir: &str, stack: &str, env: &str) -> Self {
        StateStore {
            backend: Backend::Local(local::LocalStore::new(dir, stack, env)),
        }
    }

    /// The S3 store at `location`, written with SSE-KMS under `kms_key` (else SSE-S3).
    pub fn s3(
        client: aws_sdk_s3::Client,
        location: s3::S3Location,
        stack: &str,
        env: &str,
        kms_key: Option<String>,
    ) -> Self {
        StateStore {
            backend: Backend::S3(Arc::new(s3::S3Store::new(
                client, location, stack, env, kms_key,
            ))),
        }
    }

    /// Whether this is an S3 store.
    pub fn is_s3(&self) -> bool {
        matches!(self.backend, Backend::S3(_))
    }

    /// Where this stack's state lives, for messages (`.hms/state/hms-production`,
    /// `s3://bucket/prefix/hms-production`).
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Local(l) => l.dir().display().to_string(),
            Backend::S3(s) => s.describe(),
        }
    }

    /// Loads a tool's state; `None` when it has none yet.
    pub async fn load(&self, tool: &str) -> Result<Option<State>> {
        match &self.backend {
            Backend::Local(l) => l.load(tool),
            Backend::S3(s) => s.load(tool).await,
        }
    }

    /// Every tool's state in this store.
    pub async fn all(&self) -> Result<Vec<State>> {
        match &self.backend {
            Backend::Local(l) => l.all(),
            Backend::S3(s) => s.all().await,
        }
    }

    /// Makes the next write of `tool`'s state unconditional on what this run read: the object as it is
    /// now is what it replaces (`state push --force`, `state migrate`).
    pub async fn overwrite_next(&self, tool: &str) {
        if let Backend::S3(s) = &self.backend {
            s.forget_etag(tool).await;
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
        self.put(state).await
    }

    /// Writes a state as it is, serial included (`state migrate` keeps serials).
    pub async fn put(&self, state: &State) -> Result<()> {
        match &self.backend {
            Backend::Local(l) => l.save(state),
            Backend::S3(s) => s.save(state).await,
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
            Backend::S3(s) => {
                let (lock, info) = s.lock(tool, operation, wait).await?;
                Ok(LockGuard {
                    info,
                    inner: LockInner::S3(s.clone(), lock),
                })
            }
        }
    }

    /// Breaks a stale lock: only when `id` is the recorded holder's (and, locally, no live process holds
    /// it).
    pub async fn unlock(&self, tool: &str, id: &str) -> Result<String> {
        match &self.backend {
            Backend::Local(l) => l.unlock(tool, id),
            Backend::S3(s) => s.unlock(tool, id).await,
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
    fn locations() {
        assert_eq!(
            Location::parse(None).expect("default"),
            Location::Local(".hms/state".into())
        );
        assert!(matches!(
            Location::parse(Some("s3://hms-state/p")).expect("s3"),
            Location::S3(_)
        ));
        for bad in ["http://x", "s3://", "s3://A_B/p", ""] {
            assert_eq!(
                Location::parse(Some(bad)).expect_err(bad).exit_code(),
                64,
                "{bad}"
            );
        }
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

//! State per (stack, env, tool) and its lock.
//!
//! Local backend: `<dir>/<stack>-<env>/<tool>.json`, written atomically (temp file, fsync, rename) with mode
//! 0600 after every single change, and `<tool>.lock`, an exclusive advisory file lock that the OS releases
//! when the holder dies, so a killed run never leaves the stack locked. The lock file holds the holder's
//! details, shown to whoever finds it held.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

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
            resources: Resources::new(),
            outputs: Value::Null,
        }
    }

    /// The id of the resource at `address`.
    pub fn id(&self, address: &str) -> Option<&str> {
        self.resources.get(address).map(|r| r.id.as_str())
    }
}

/// The local state store of one stack and environment.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
}

/// Who holds a lock, written into the lock file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub who: String,
    pub pid: u32,
    pub operation: String,
    pub created: String,
}

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    pub info: LockInfo,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Clear the holder's details first so that a reader never sees a released lock as held.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

impl StateStore {
    /// Opens the store at `location` (a directory; default `.hms/state`) for `stack`-`env`.
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
            dir: Path::new(base).join(format!("{stack}-{env}")),
        })
    }

    /// Directory holding this stack's state files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, tool: &str) -> PathBuf {
        self.dir.join(format!("{tool}.json"))
    }

    fn err(&self, path: &Path, e: impl std::fmt::Display) -> Error {
        Error::State {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }

    /// Loads a tool's state; `None` when it has none yet.
    pub fn load(&self, tool: &str) -> Result<Option<State>> {
        let path = self.path(tool);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(&path, e)),
        };
        let state: State = serde_json::from_str(&text).map_err(|e| {
            self.err(
                &path,
                format!("not a state file ({e}); restore it from a backup or move it away"),
            )
        })?;
        if state.format != STATE_FORMAT {
            return Err(self.err(
                &path,
                format!("state format {} is not supported", state.format),
            ));
        }
        Ok(Some(state))
    }

    /// Outputs of every tool with state in this store, by section name (the state's tool minus `hms-`).
    pub fn all_outputs(&self) -> Result<BTreeMap<String, Value>> {
        let mut out = BTreeMap::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(self.err(&self.dir, e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(tool) = name.strip_suffix(".json") {
                if let Some(state) = self.load(tool)? {
                    if !state.outputs.is_null() {
                        let section = tool.strip_prefix("hms-").unwrap_or(tool).to_owned();
                        out.insert(section, state.outputs);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Writes a state atomically with mode 0600, bumping its serial.
    pub fn save(&self, state: &mut State) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err(&self.dir, e))?;
        state.serial += 1;
        state.updated_at = now_rfc3339();
        let path = self.path(&state.tool);
        let tmp = self.dir.join(format!(".{}.json.tmp", state.tool));
        let text = serde_json::to_string_pretty(state).map_err(|e| self.err(&path, e))?;
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| self.err(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(|e| self.err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| self.err(&path, e))?;
        Ok(())
    }

    fn lock_path(&self, tool: &str) -> PathBuf {
        self.dir.join(format!("{tool}.lock"))
    }

    /// Takes the exclusive lock of `tool`, waiting up to `wait` for a holder to finish.
    pub fn lock(&self, tool: &str, operation: &str, wait: Duration) -> Result<LockGuard> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err(&self.dir, e))?;
        let path = self.lock_path(tool);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| self.err(&path, e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= wait {
                        let holder = read_info(&mut file);
                        return Err(match holder {
                            Some(h) => Error::Locked {
                                tool: tool.to_owned(),
                                id: h.id.clone(),
                                holder: format!(
                                    "{} (pid {}) running {} since {}",
                                    h.who, h.pid, h.operation, h.created
                                ),
                            },
                            None => Error::Locked {
                                tool: tool.to_owned(),
                                id: String::from("(unknown)"),
                                holder: String::from(
                                    "another run that has not recorded its details yet",
                                ),
                            },
                        });
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.err(&path, e)),
            }
        }
        let info = LockInfo {
            id: lock_id(),
            who: whoami(),
            pid: std::process::id(),
            operation: format!("{tool} {operation}"),
            created: now_rfc3339(),
        };
        let text = serde_json::to_string(&info).map_err(|e| self.err(&path, e))?;
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| self.err(&path, e))?;
        Ok(LockGuard { file, info })
    }

    /// Breaks a stale lock: only when `id` is the recorded holder's and no live process holds it.
    pub fn unlock(&self, tool: &str, id: &str) -> Result<String> {
        let path = self.lock_path(tool);
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::usage(format!(
                    "unlock {id}: {tool} holds no lock in {}",
                    self.dir.display()
                )))
            }
            Err(e) => return Err(self.err(&path, e)),
        };
        let info = read_info(&mut file);
        match &info {
            Some(h) if h.id == id => {}
            Some(h) => {
                return Err(Error::usage(format!(
                    "unlock {id}: the lock's id is {}, held by {} (pid {}); pass that id",
                    h.id, h.who, h.pid
                )))
            }
            None => return Err(Error::usage(format!("unlock {id}: {tool} is not locked"))),
        }
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(|e| self.err(&path, e))?;
                let _ = file.unlock();
                Ok(format!("removed stale lock {id}"))
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::Refused(format!(
                "unlock {id}: the holder (pid {}) is still running and holds the lock; stop that run instead",
                info.map(|h| h.pid).unwrap_or_default()
            ))),
            Err(std::fs::TryLockError::Error(e)) => Err(self.err(&path, e)),
        }
    }
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

fn lock_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // Not a secret, only unique enough to tell one lock from the next.
    let mixed =
        (nanos ^ (u128::from(std::process::id()) << 64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{:016x}", (mixed as u64) ^ ((mixed >> 64) as u64))
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
    fn save_load_serial_and_mode() {
        let d = tempfile::tempdir().expect("tmp");
        let store = StateStore::open(d.path().to_str(), "hms", "production").expect("open");
        assert!(store.load("hms-vpc").expect("load").is_none());
        let mut s = State::empty("hms-vpc", "0.1.0", "hms", "production", "us-east-1");
        s.resources.insert("vpc.vpc".into(), Resource::new("vpc-1"));
        store.save(&mut s).expect("save");
        store.save(&mut s).expect("save");
        let back = store.load("hms-vpc").expect("load").expect("some");
        assert_eq!(back.serial, 2);
        assert_eq!(back.id("vpc.vpc"), Some("vpc-1"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.dir().join("hms-vpc.json"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn lock_is_exclusive_and_names_holder() {
        let d = tempfile::tempdir().expect("tmp");
        let store = StateStore::open(d.path().to_str(), "hms", "production").expect("open");
        let held = store.lock("hms-vpc", "up", Duration::ZERO).expect("first");
        let err = store
            .lock("hms-vpc", "up", Duration::from_millis(300))
            .expect_err("second");
        let msg = err.to_string();
        assert!(msg.contains(&held.info.id), "{msg}");
        assert!(msg.contains("hms-vpc up"), "{msg}");
        // A live holder cannot be unlocked away.
        assert!(store.unlock("hms-vpc", &held.info.id).is_err());
        drop(held);
        let again = store
            .lock("hms-vpc", "down", Duration::ZERO)
            .expect("after release");
        assert_eq!(again.info.operation, "hms-vpc down");
    }

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
}

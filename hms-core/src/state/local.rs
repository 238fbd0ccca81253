//! The local state backend: `<dir>/<stack>-<env>/<tool>.json`, written atomically (temp file, fsync,
//! rename) with mode 0600 after every single change, and `<tool>.lock`, an exclusive advisory file lock that
//! the OS releases when the holder dies, so a killed run never leaves the stack locked. The lock file holds
//! the holder's details, shown to whoever finds it held.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

use super::{LockInfo, State, STATE_FORMAT};

/// A held file lock; the OS releases it when the file is closed (dropped) or the process dies.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Clear the holder's details first so that a reader never sees a released lock as held.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The local store of one stack and environment.
#[derive(Debug, Clone)]
pub struct LocalStore {
    dir: PathBuf,
}

impl LocalStore {
    /// The store under `base` for `stack`-`env`.
    pub fn new(base: &str, stack: &str, env: &str) -> Self {
        LocalStore {
            dir: Path::new(base).join(format!("{stack}-{env}")),
        }
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

    /// Every tool's state in this directory.
    pub fn all(&self) -> Result<Vec<State>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err(&self.dir, e)),
        };
        let mut tools: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let tool = name.strip_suffix(".json")?;
                (!tool.starts_with('.')).then(|| tool.to_owned())
            })
            .collect();
        tools.sort();
        let mut out = Vec::new();
        for tool in tools {
            if let Some(state) = self.load(&tool)? {
                out.push(state);
            }
        }
        Ok(out)
    }

    /// Writes a state atomically with mode 0600.
    pub fn save(&self, state: &State) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.err(&self.dir, e))?;
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
    pub async fn lock(
        &self,
        tool: &str,
        operation: &str,
        wait: Duration,
    ) -> Result<(FileLock, LockInfo)> {
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
                        return Err(self.held(tool, &mut file).await);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(self.err(&path, e)),
            }
        }
        let info = LockInfo::new(tool, operation);
        let text = serde_json::to_string(&info).map_err(|e| self.err(&path, e))?;
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(text.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| self.err(&path, e))?;
        Ok((FileLock { file }, info))
    }

    /// The error for a lock held by a live process. Its holder writes its details right after taking the
    /// lock, so an empty file is read again for a moment before giving up on the details.
    async fn held(&self, tool: &str, file: &mut File) -> Error {
        let mut holder = read_info(file);
        for _ in 0..10 {
            if holder.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            holder = read_info(file);
        }
        match holder {
            Some(h) => Error::Locked {
                tool: tool.to_owned(),
                id: h.id.clone(),
                holder: h.describe(),
            },
            None => Error::Refused(format!(
                "{tool} is locked in {} by a run that is still running but has not written its details; \
                 the lock ends with that process (find it with: fuser {})",
                self.dir.display(),
                self.lock_path(tool).display()
            )),
        }
    }

    /// Breaks a stale lock record: only when `id` is the recorded holder's and no live process holds it.
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

#[cfg(test)]
mod tests {
    use super::super::StateStore;
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    #[test]
    fn save_load_serial_and_mode() {
        let d = tempfile::tempdir().expect("tmp");
        let store = StateStore::open(d.path().to_str(), "hms", "production").expect("open");
        rt().block_on(async {
            assert!(store.load("hms-vpc").await.expect("load").is_none());
            let mut s = State::empty("hms-vpc", "0.1.0", "hms", "production", "us-east-1");
            s.resources
                .insert("vpc.vpc".into(), super::super::Resource::new("vpc-1"));
            store.save(&mut s).await.expect("save");
            store.save(&mut s).await.expect("save");
            let back = store.load("hms-vpc").await.expect("load").expect("some");
            assert_eq!(back.serial, 2);
            assert_eq!(back.id("vpc.vpc"), Some("vpc-1"));
            assert_eq!(store.all().await.expect("all").len(), 1);
        });
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.path().join("hms-production").join("hms-vpc.json"))
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
        rt().block_on(async {
            let held = store
                .lock("hms-vpc", "up", Duration::ZERO)
                .await
                .expect("first");
            let err = store
                .lock("hms-vpc", "up", Duration::from_millis(300))
                .await
                .expect_err("second");
            let msg = err.to_string();
            assert!(msg.contains(&held.info.id), "{msg}");
            assert!(msg.contains("hms-vpc up"), "{msg}");
            assert!(
                msg.contains(&format!("hms-vpc unlock {}", held.info.id)),
                "{msg}"
            );
            // A live holder cannot be unlocked away.
            assert!(store.unlock("hms-vpc", &held.info.id).await.is_err());
            held.release().await.expect("release");
            let again = store
                .lock("hms-vpc", "down", Duration::ZERO)
                .await
                .expect("after release");
            assert_eq!(again.info.operation, "hms-vpc down");
        });
    }
}

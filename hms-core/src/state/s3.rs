//! The S3 state backend: `s3://BUCKET/PREFIX` holds `PREFIX/<stack>-<env>/<tool>.json`, one object per
//! tool, and `<tool>.lock` while a run holds the tool's lock. No DynamoDB and no lock server: S3's
//! conditional writes are the lock.
//!
//! - Reads remember each object's ETag; a write is conditional on it (`If-Match`), or on the object not
//!   existing yet (`If-None-Match: *`), so two writers never clobber each other even without the lock: a
//!   lost race fails naming the object and nothing is overwritten.
//! - Objects are written with SSE-KMS when `[state] kms_key` is set, else SSE-S3.
//! - The lock is created with `If-None-Match: *`; its body is the holder ([`LockInfo`]). A 412 whose body
//!   holds our own lock id means the SDK retried a put that had already succeeded: the lock is ours. The
//!   lock is released with `If-Match` on its ETag, so a run never deletes a lock that is no longer its own.
//!   A killed run leaves its lock (S3 has no process to die with): the next run names the holder and the
//!   exact `unlock` command.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::error::{code_of, Error, Result};

use super::{LockInfo, State, STATE_FORMAT};

/// Where an `s3://` store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://BUCKET[/PREFIX]`; the errors name the input and the fix (exit 64, no AWS call).
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::usage(format!(
                "--state {url}: expected s3://BUCKET/PREFIX or a directory"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::usage(format!(
                "--state {url}: no bucket; use s3://BUCKET/PREFIX (e.g. s3://hms-state-123456789012/hms)"
            )));
        }
        if !bucket_name_ok(bucket) {
            return Err(Error::usage(format!(
                "--state {url}: {bucket:?} is not a bucket name S3 accepts (3-63 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, not an IP address)"
            )));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        if prefix.contains("//") || prefix.len() > 512 {
            return Err(Error::usage(format!(
                "--state {url}: the prefix {prefix:?} has an empty path segment or is too long"
            )));
        }
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// S3's rules for general purpose bucket names.
pub fn bucket_name_ok(s: &str) -> bool {
    let ipv4 = s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok());
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !s.contains("..")
        && !s.contains(".-")
        && !s.contains("-.")
        && !ipv4
        && !s.starts_with("xn--")
        && !s.starts_with("sthree-")
        && !s.ends_with("-s3alias")
        && !s.ends_with("--ol-s3")
}

/// The S3 store of one stack and environment.
#[derive(Debug)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    location: S3Location,
    /// `<stack>-<env>`.
    stack_dir: String,
    kms_key: Option<String>,
    /// ETag of each state object as last read or written by this run.
    etags: Mutex<HashMap<String, String>>,
}

/// A held S3 lock: the object's key and the ETag of our write.
#[derive(Debug)]
pub struct S3Lock {
    key: String,
    etag: String,
}

impl S3Store {
    /// The store at `location` for `stack`-`env`, through `client`.
    pub fn new(
        client: aws_sdk_s3::Client,
        location: S3Location,
        stack: &str,
        env: &str,
        kms_key: Option<String>,
    ) -> Self {
        S3Store {
            client,
            location,
            stack_dir: format!("{stack}-{env}"),
            kms_key,
            etags: Mutex::new(HashMap::new()),
        }
    }

    /// `s3://bucket/prefix/<stack>-<env>`.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.location.url(), self.stack_dir)
    }

    fn dir_key(&self) -> String {
        if self.location.prefix.is_empty() {
            format!("{}/", self.stack_dir)
        } else {
            format!("{}/{}/", self.location.prefix, self.stack_dir)
        }
    }

    fn key(&self, tool: &str, ext: &str) -> String {
        format!("{}{tool}.{ext}", self.dir_key())
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.location.bucket)
    }

    fn etags(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.etags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, key: &str, message: impl Into<String>) -> Error {
        Error::State {
            path: self.url_of(key),
            message: message.into(),
        }
    }

    fn aws_err<E>(&self, key: &str, op: &str, e: E) -> Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        match Error::aws(self.url_of(key), op, e) {
            Error::Aws {
                resource,
                operation,
                code,
                message,
            } => Error::State {
                path: resource,
                message: format!("{operation} failed: {code}: {message}"),
            },
            other => other,
        }
    }

    /// Reads an object: its text and ETag, or `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<(String, String)>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.location.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if matches!(code_of(&e), Some("NoSuchKey" | "NotFound")) => return Ok(None),
            Err(e) => return Err(self.aws_err(key, "s3:GetObject", e)),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| self.err(key, format!("cannot read the object: {e}")))?
            .into_bytes();
        Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), etag)))
    }

    /// Loads a tool's state; `None` when it has none yet.
    pub async fn load(&self, tool: &str) -> Result<Option<State>> {
        let key = self.key(tool, "json");
        let Some((text, etag)) = self.get(&key).await? else {
            self.etags().remove(tool);
            return Ok(None);
        };
        let state: State = serde_json::from_str(&text).map_err(|e| {
            self.err(
                &key,
                format!("not a state document ({e}); restore an earlier version of the object (the bucket keeps them)"),
            )
        })?;
        if state.format != STATE_FORMAT {
            return Err(self.err(
                &key,
                format!("state format {} is not supported", state.format),
            ));
        }
        self.etags().insert(tool.to_owned(), etag);
        Ok(Some(state))
    }

    /// Every tool's state under this stack's prefix.
    pub async fn all(&self) -> Result<Vec<State>> {
        let dir = self.dir_key();
        let pages: Vec<_> = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&dir)
            .into_paginator()
            .send()
            .collect()
            .await;
        let mut tools = Vec::new();
        for page in pages {
            let page = page.map_err(|e| self.aws_err(&dir, "s3:ListObjectsV2", e))?;
            for o in page.contents() {
                let name = o
                    .key()
                    .unwrap_or_default()
                    .strip_prefix(&dir)
                    .unwrap_or_default();
                if let Some(tool) = name.strip_suffix(".json") {
                    if !tool.contains('/') {
                        tools.push(tool.to_owned());
                    }
                }
            }
        }
        tools.sort();
        let loaded = futures::future::join_all(tools.iter().map(|t| self.load(t))).await;
        let mut out = Vec::new();
        for state in loaded {
            if let Some(s) = state? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Writes a state, conditional on the ETag this run read (or on there being no object yet).
    pub async fn save(&self, state: &State) -> Result<()> {
        let key = self.key(&state.tool, "json");
        let text =
            serde_json::to_string_pretty(state).map_err(|e| self.err(&key, e.to_string()))? + "\n";
        let known = self.etags().get(&state.tool).cloned();
        let mut put = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(text.into_bytes()));
        put = match &self.kms_key {
            Some(k) => put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(k),
            None => put.server_side_encryption(ServerSideEncryption::Aes256),
        };
        put = match &known {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => {
                self.etags().insert(
                    state.tool.clone(),
                    out.e_tag().unwrap_or_default().to_owned(),
                );
                Ok(())
            }
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")
                ) =>
            {
                Err(self.err(
                    &key,
                    format!(
                        "changed by someone else since this run read it (it wrote serial {}); nothing was overwritten. Run again: the next run reads the new state and adopts what this one made",
                        state.serial
                    ),
                ))
            }
            Err(e) => Err(self.aws_err(&key, "s3:PutObject", e)),
        }
    }

    /// Writes `state` whatever the object holds now (`state push --force`, `state migrate`).
    pub async fn forget_etag(&self, tool: &str) {
        let key = self.key(tool, "json");
        match self.get(&key).await {
            Ok(Some((_, etag))) => {
                self.etags().insert(tool.to_owned(), etag);
            }
            _ => {
                self.etags().remove(tool);
            }
        }
    }

    /// Takes the lock of `tool`, polling up to `wait` while another run holds it.
    pub async fn lock(
        &self,
        tool: &str,
        operation: &str,
        wait: Duration,
    ) -> Result<(S3Lock, LockInfo)> {
        let key = self.key(tool, "lock");
        let info = LockInfo::new(tool, operation);
        let body = serde_json::to_string(&info).map_err(|e| self.err(&key, e.to_string()))?;
        let start = Instant::now();
        let mut vanished = 0u32;
        loop {
            let put = self
                .client
                .put_object()
                .bucket(&self.location.bucket)
                .key(&key)
                .content_type("application/json")
                .if_none_match("*")
                .body(ByteStream::from(body.clone().into_bytes()))
                .send()
                .await;
            match put {
                Ok(out) => {
                    let etag = out.e_tag().unwrap_or_default().to_owned();
                    return Ok((S3Lock { key, etag }, info));
                }
                Err(e)
                    if matches!(
                        code_of(&e),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    ) => {}
                Err(e) => return Err(self.aws_err(&key, "s3:PutObject", e)),
            }
            // Held: by us (an SDK retry of a put that succeeded), or by someone else.
            let held = self.get(&key).await?;
            let holder = held
                .as_ref()
                .and_then(|(text, _)| serde_json::from_str::<LockInfo>(text).ok());
            match (&held, &holder) {
                (Some((_, etag)), Some(h)) if h.id == info.id => {
                    return Ok((
                        S3Lock {
                            key,
                            etag: etag.clone(),
                        },
                        info,
                    ))
                }
                // Released between our put and our read: try again at once (a few times).
                (None, _) if vanished < 5 => {
                    vanished += 1;
                    continue;
                }
                _ => {}
            }
            if start.elapsed() >= wait {
                return Err(match (held, holder) {
                    (_, Some(h)) => Error::Locked {
                        tool: tool.to_owned(),
                        id: h.id.clone(),
                        holder: h.describe(),
                    },
                    (Some((_, etag)), None) => Error::Locked {
                        tool: tool.to_owned(),
                        id: broken_id(&etag),
                        holder: format!(
                            "a lock object with no readable holder ({}: empty or not a lock record; its id here is its ETag)",
                            self.url_of(&key)
                        ),
                    },
                    (None, _) => self.err(
                        &key,
                        "the lock object refuses to be created (412) but cannot be read; check the bucket's policy and versioning",
                    ),
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Releases a lock this run holds (only while it is still the object we wrote).
    pub async fn release(&self, lock: S3Lock) -> Result<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&lock.key)
            .if_match(&lock.etag)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if matches!(code_of(&e), Some("NoSuchKey" | "NotFound")) => Ok(()),
            Err(e) if code_of(&e) == Some("PreconditionFailed") => Err(self.err(
                &lock.key,
                "the lock was replaced while this run held it (someone ran unlock); it was left as it is",
            )),
            Err(e) => Err(self.aws_err(&lock.key, "s3:DeleteObject", e)),
        }
    }

    /// Breaks a stale lock: only when `id` is the holder's lock id (or, for a lock whose body is gone,
    /// the `etag:` id the held-lock message printed).
    pub async fn unlock(&self, tool: &str, id: &str) -> Result<String> {
        let key = self.key(tool, "lock");
        let Some((text, etag)) = self.get(&key).await? else {
            return Err(Error::usage(format!(
                "unlock {id}: {tool} holds no lock in {}",
                self.describe()
            )));
        };
        match serde_json::from_str::<LockInfo>(&text) {
            Ok(h) if h.id == id => {}
            Ok(h) => {
                return Err(Error::usage(format!(
                    "unlock {id}: the lock's id is {}, held by {}; pass that id",
                    h.id,
                    h.describe()
                )))
            }
            Err(_) if broken_id(&etag) == id => {}
            Err(_) => {
                return Err(Error::usage(format!(
                    "unlock {id}: the lock object has no readable holder; its id is {}",
                    broken_id(&etag)
                )))
            }
        }
        match self
            .client
            .delete_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .if_match(&etag)
            .send()
            .await
        {
            Ok(_) => Ok(format!("removed the lock {id} ({})", self.url_of(&key))),
            Err(e) if code_of(&e) == Some("PreconditionFailed") => Err(Error::Refused(format!(
                "unlock {id}: the lock changed while unlocking (another run took it); nothing was removed"
            ))),
            Err(e) => Err(self.aws_err(&key, "s3:DeleteObject", e)),
        }
    }
}

/// The id by which a lock without a readable holder is named: its ETag.
fn broken_id(etag: &str) -> String {
    format!("etag-{}", etag.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = S3Location::parse("s3://hms-state/teams/hms/").expect("ok");
        assert_eq!(l.bucket, "hms-state");
        assert_eq!(l.prefix, "teams/hms");
        assert_eq!(l.url(), "s3://hms-state/teams/hms");
        assert_eq!(S3Location::parse("s3://hms-state").expect("ok").prefix, "");
        for (bad, want) in [
            ("s3://", "no bucket"),
            ("s3:///x", "no bucket"),
            ("s3://Hms_State/x", "not a bucket name"),
            ("s3://10.0.0.1/x", "not a bucket name"),
            ("s3://ab/x", "not a bucket name"),
            ("s3://hms-state/a//b", "empty path segment"),
        ] {
            let e = S3Location::parse(bad).expect_err(bad);
            assert_eq!(e.exit_code(), 64, "{bad}");
            assert!(e.to_string().contains(want), "{bad}: {e}");
        }
    }
}

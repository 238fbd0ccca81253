//! The desired backup bucket, decided and validated from config, flags and the upstream outputs. Pure.

use std::collections::BTreeMap;

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::config::Config;
use hms_core::contract::{CommandKind, SpecInput, Upstream};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::{json, Value};

/// `hms-backup down`'s own flag.
#[derive(Args, Debug, Clone, Default)]
pub struct DownFlags {
    /// Delete every object version and delete marker first, then the bucket (in production also needs
    /// --yes, even at a terminal).
    #[arg(long)]
    pub force_empty: bool,
}

/// `[backup]` as written in config; defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Bucket name (default `<stack>-backups-<env>`, `hms-backups-production` for the reference stack).
    pub bucket: Option<String>,
    /// Append `-<account id>` to the name: bucket names are global across all AWS accounts.
    pub append_account_id: Option<bool>,
    /// `kms` (default: SSE-KMS with the stack's `backups` key and an S3 bucket key) or `aes256` (SSE-S3).
    pub encryption: Option<String>,
    /// A KMS key ARN to use instead of `outputs.security.kms_key_arns.backups`.
    pub kms_key_arn: Option<String>,
    /// The lifecycle rule set.
    pub lifecycle: Option<LifecycleConfig>,
    /// S3 Object Lock's default retention of every new object version, in days (default 30; 0 = no
    /// default retention). Object Lock itself, once on, stays on: S3 cannot turn it off.
    pub object_lock_days: Option<i64>,
    /// `governance` (default: `s3:BypassGovernanceRetention` may still delete, e.g. `down --force-empty`)
    /// or `compliance` (nobody can delete a version before its retention ends, not even the root user).
    pub object_lock_mode: Option<String>,
    /// Replicate every object version and delete marker to `<bucket>-replica` in this region (e.g.
    /// "us-west-2"; hms-security makes the replication role and the replica key from the same key).
    /// Unset: no replica.
    pub replica_region: Option<String>,
}

/// `[backup.lifecycle]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Set false to manage no lifecycle at all (an existing one is then removed).
    pub enabled: Option<bool>,
    /// Only objects under this prefix (default: the whole bucket).
    pub prefix: Option<String>,
    /// Transitions, in order (default STANDARD_IA at 30 days, GLACIER at 90).
    pub transitions: Option<Vec<TransitionConfig>>,
    /// Current versions expire after this many days (default 365; 0 = never).
    pub expiration_days: Option<i64>,
    /// Noncurrent versions expire this many days after becoming noncurrent (default 90; 0 = never).
    pub noncurrent_expiration_days: Option<i64>,
    /// Incomplete multipart uploads are aborted after this many days (default 7; 0 = never).
    pub abort_incomplete_multipart_days: Option<i64>,
}

/// One transition: `{ days = 30, storage_class = "STANDARD_IA" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionConfig {
    pub days: i64,
    pub storage_class: String,
}

/// Storage classes a lifecycle rule can move objects to, from the warmest to the coldest: a transition
/// can only move objects further down this list.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD_IA",
    "INTELLIGENT_TIERING",
    "ONEZONE_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

/// Classes S3 only accepts for objects at least 30 days old, and after which the next transition must wait
/// another 30 days.
const MIN_30_DAYS: &[&str] = &["STANDARD_IA", "ONEZONE_IA"];

/// The lifecycle rule id the tool owns.
pub const RULE_ID: &str = "hms-backups-lifecycle";
/// The replication rule id the tool owns.
pub const REPLICATION_RULE_ID: &str = "hms-backups-replica";
/// The replica bucket's name is the backup bucket's with this suffix.
pub const REPLICA_SUFFIX: &str = "-replica";

/// Server-side encryption: SSE-KMS with this key (`None` while only planned) and an S3 bucket key, or
/// SSE-S3.
pub use hms_core::s3::Sse as Encryption;

/// One transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub days: i32,
    pub storage_class: String,
}

/// The lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    pub prefix: String,
    pub transitions: Vec<Transition>,
    pub expiration_days: Option<i32>,
    pub noncurrent_expiration_days: Option<i32>,
    pub abort_incomplete_multipart_days: Option<i32>,
}

/// S3 Object Lock's default retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectLock {
    /// `GOVERNANCE` or `COMPLIANCE`, as S3 writes it.
    pub mode: &'static str,
    pub days: i32,
}

/// The backup bucket's cross-region replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// `backup.replica_region`.
    pub region: String,
    /// SSE-KMS with the replica key (`outputs.security.kms_key_arns.backups_replica`, `None` while only
    /// planned), or SSE-S3 when the backup bucket uses it.
    pub encryption: Encryption,
    /// `outputs.security.replication_role_arn`; `None` while only planned (and at `down`).
    pub role_arn: Option<String>,
}

/// Server access logging of the backup bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logging {
    /// To the stack's log bucket (`outputs.ecs.log_bucket`), under `s3/<backup bucket>/`.
    To(String),
    /// hms-ecs is only planned upstream: its log bucket is known after its `up`.
    Unknown,
    /// The stack has no log bucket (no hms-ecs output): logging stays off, and the plan says so.
    Off,
}

/// The desired backup bucket.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The name before `-<account>` is appended.
    pub bucket_base: String,
    pub append_account_id: bool,
    pub region: String,
    pub encryption: Encryption,
    /// `None`: no lifecycle configuration.
    pub lifecycle: Option<Lifecycle>,
    /// The Object Lock default retention; `None`: none.
    pub object_lock: Option<ObjectLock>,
    /// Server access logging to the stack's log bucket.
    pub logging: Logging,
    /// The cross-region replica; `None`: none.
    pub replica: Option<Replica>,
    /// How the plan was decided (shown under its changes).
    pub notes: Vec<String>,
    /// `down --force-empty`.
    pub force_empty: bool,
    /// `--yes` was given with `--force-empty`.
    pub force_empty_confirmed: bool,
    pub production: bool,
    pub tagger: Tagger,
}

impl Spec {
    /// The bucket name for `account` (needed only with `append_account_id`).
    pub fn bucket(&self, account: Option<&str>) -> String {
        match (self.append_account_id, account) {
            (true, Some(a)) => format!("{}-{a}", self.bucket_base),
            (true, None) => format!("{}-(account id)", self.bucket_base),
            (false, _) => self.bucket_base.clone(),
        }
    }

    /// Tags of the bucket.
    pub fn tags(&self, address: &str, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(address, Some(name))
    }

    /// The replica bucket of the backup bucket `name`: `<name>-replica`.
    pub fn replica_name(name: &str) -> String {
        format!("{name}{REPLICA_SUFFIX}")
    }

    /// The prefix of the bucket's server access logs in the log bucket: `s3/<bucket>/`.
    pub fn log_prefix(name: &str) -> String {
        format!("s3/{name}/")
    }

    /// The bucket policy: no request without TLS, for the bucket and every object.
    pub fn policy(&self, name: &str) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{name}"), format!("arn:aws:s3:::{name}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        })
    }
}

/// S3's bucket-name rules (general purpose buckets).
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

fn days(config: &Config, key: &str, v: Option<i64>, default: i64) -> Result<Option<i32>> {
    let d = v.unwrap_or(default);
    if !(0..=36500).contains(&d) {
        return Err(config.invalid(
            key,
            format!("{d}: a number of days from 1 to 36500, or 0 for never"),
        ));
    }
    Ok((d > 0).then_some(d as i32))
}

/// Validates the lifecycle rule set.
pub fn lifecycle(config: &Config, cfg: Option<&LifecycleConfig>) -> Result<Option<Lifecycle>> {
    let empty = LifecycleConfig::default();
    let cfg = cfg.unwrap_or(&empty);
    if cfg.enabled == Some(false) {
        return Ok(None);
    }
    let k = |s: &str| format!("backup.lifecycle.{s}");
    let prefix = cfg.prefix.clone().unwrap_or_default();
    if prefix.len() > 1024 || prefix.starts_with('/') {
        return Err(config.invalid(
            &k("prefix"),
            format!("{prefix:?}: an object key prefix like \"db/\" (no leading '/', at most 1024 bytes)"),
        ));
    }
    let raw = cfg.transitions.clone().unwrap_or_else(|| {
        vec![
            TransitionConfig {
                days: 30,
                storage_class: "STANDARD_IA".into(),
            },
            TransitionConfig {
                days: 90,
                storage_class: "GLACIER".into(),
            },
        ]
    });
    let mut transitions: Vec<Transition> = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        let key = k(&format!("transitions[{i}]"));
        let Some(tier) = STORAGE_CLASSES.iter().position(|c| *c == t.storage_class) else {
            return Err(config.invalid(
                &key,
                format!(
                    "storage_class {:?}: use one of {}",
                    t.storage_class,
                    STORAGE_CLASSES.join(", ")
                ),
            ));
        };
        if !(0..=36500).contains(&t.days) {
            return Err(config.invalid(&key, format!("days = {}: 0 to 36500", t.days)));
        }
        if MIN_30_DAYS.contains(&t.storage_class.as_str()) && t.days < 30 {
            return Err(config.invalid(
                &key,
                format!(
                    "{} at {} days: S3 moves objects to {} only after at least 30 days; use 30 or more",
                    t.storage_class, t.days, t.storage_class
                ),
            ));
        }
        if let Some(prev) = transitions.last() {
            let prev_tier = STORAGE_CLASSES
                .iter()
                .position(|c| *c == prev.storage_class)
                .unwrap_or(0);
            if t.days as i32 <= prev.days {
                return Err(config.invalid(
                    &key,
                    format!(
                        "{} at {} days is not later than {} at {} days; each transition must come after the one before",
                        t.storage_class, t.days, prev.storage_class, prev.days
                    ),
                ));
            }
            if tier <= prev_tier {
                return Err(config.invalid(
                    &key,
                    format!(
                        "{} after {}: transitions only move to a colder class ({})",
                        t.storage_class,
                        prev.storage_class,
                        STORAGE_CLASSES.join(" → ")
                    ),
                ));
            }
            if MIN_30_DAYS.contains(&prev.storage_class.as_str())
                && (t.days as i32) < prev.days + 30
            {
                return Err(config.invalid(
                    &key,
                    format!(
                        "{} at {} days: objects must stay 30 days in {} (from day {}) first; use {} or more",
                        t.storage_class,
                        t.days,
                        prev.storage_class,
                        prev.days,
                        prev.days + 30
                    ),
                ));
            }
        }
        transitions.push(Transition {
            days: t.days as i32,
            storage_class: t.storage_class.clone(),
        });
    }
    let expiration_days = days(config, &k("expiration_days"), cfg.expiration_days, 365)?;
    if let (Some(exp), Some(last)) = (expiration_days, transitions.last()) {
        if exp <= last.days {
            return Err(config.invalid(
                &k("expiration_days"),
                format!(
                    "{exp}: objects would expire before (or when) they move to {} at {} days; expire later than the last transition, or remove it",
                    last.storage_class, last.days
                ),
            ));
        }
    }
    let noncurrent_expiration_days = days(
        config,
        &k("noncurrent_expiration_days"),
        cfg.noncurrent_expiration_days,
        90,
    )?;
    let abort_incomplete_multipart_days = days(
        config,
        &k("abort_incomplete_multipart_days"),
        cfg.abort_incomplete_multipart_days,
        7,
    )?;
    if transitions.is_empty()
        && expiration_days.is_none()
        && noncurrent_expiration_days.is_none()
        && abort_incomplete_multipart_days.is_none()
    {
        return Err(config.invalid(
            "backup.lifecycle",
            "the rule has no transition, expiry or abort: S3 refuses an empty rule; set enabled = false to manage no lifecycle",
        ));
    }
    Ok(Some(Lifecycle {
        prefix,
        transitions,
        expiration_days,
        noncurrent_expiration_days,
        abort_incomplete_multipart_days,
    }))
}

/// A KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
fn kms_key_arn_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", p, "kms", r, a, res]
        if p.starts_with("aws") && !r.is_empty() && a.len() == 12 && a.chars().all(|c| c.is_ascii_digit())
            && (res.starts_with("key/") || res.starts_with("alias/")) && res.len() > 4)
}

/// The spec input of hms-backup.
pub type Input<'a> = SpecInput<'a, NoFlags, NoFlags, DownFlags>;

/// Builds the spec.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    if config.is_set("backup.force_empty") {
        return Err(config.invalid(
            "backup.force_empty",
            "deleting every backup is not a config setting; pass --force-empty (and --yes) to 'hms-backup down'",
        ));
    }
    let cfg: BackupConfig = config.section("backup")?;
    let tagger = input.tagger;
    let id = &tagger.id;
    let bucket_base = cfg
        .bucket
        .clone()
        .unwrap_or_else(|| format!("{}-backups-{}", id.stack, id.env));
    let append_account_id = cfg.append_account_id.unwrap_or(false);
    // With `-<12 digits>` appended, and the replica's `-replica`, the names must still fit.
    let kept = if append_account_id { 13 } else { 0 }
        + if cfg.replica_region.is_some() {
            REPLICA_SUFFIX.len()
        } else {
            0
        };
    let room = 63 - kept;
    if !bucket_name_ok(&bucket_base) || bucket_base.len() > room {
        return Err(config.invalid(
            "backup.bucket",
            format!(
                "{bucket_base:?}: 3-{room} lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, not an IP address{}",
                if kept > 0 { format!(" ({kept} characters are kept for -<account id> and -replica)") } else { String::new() }
            ),
        ));
    }
    if bucket_base.contains('.') {
        return Err(config.invalid(
            "backup.bucket",
            format!("{bucket_base:?}: dots break virtual-hosted TLS certificates for the bucket; use '-'"),
        ));
    }
    let encryption = match cfg.encryption.as_deref().unwrap_or("kms") {
        "kms" | "aws:kms" => {
            if let Some(arn) = &cfg.kms_key_arn {
                if !kms_key_arn_ok(arn) {
                    return Err(config.invalid(
                        "backup.kms_key_arn",
                        format!("{arn:?} is not a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/…"),
                    ));
                }
                Encryption::Kms(Some(arn.clone()))
            } else if input.is_down() {
                // Down needs no key; do not demand the upstream output.
                Encryption::Kms(None)
            } else {
                let key = input.upstream("security.kms_key_arns.backups", "hms-security")?;
                match key {
                    None => Encryption::Kms(None),
                    Some(v) => match v.as_str() {
                        Some(s) if kms_key_arn_ok(s) => Encryption::Kms(Some(s.to_owned())),
                        _ => {
                            return Err(Error::usage(format!(
                                "stdin: outputs.security.kms_key_arns.backups = {v}: not a KMS key ARN; run 'hms-security up | hms-backup {}'",
                                input.command.name()
                            )))
                        }
                    },
                }
            }
        }
        "aes256" | "AES256" => {
            if cfg.kms_key_arn.is_some() {
                return Err(config.invalid(
                    "backup.kms_key_arn",
                    "set with encryption = \"aes256\"; remove it, or use encryption = \"kms\"",
                ));
            }
            Encryption::Aes256
        }
        other => {
            return Err(config.invalid(
                "backup.encryption",
                format!("{other:?}: use \"kms\" (SSE-KMS with the stack's backups key) or \"aes256\" (SSE-S3)"),
            ))
        }
    };
    let lifecycle = lifecycle(config, cfg.lifecycle.as_ref())?;
    let object_lock = object_lock(config, &cfg)?;
    let mut notes = Vec::new();
    let logging = logging(input, &mut notes)?;
    let replica = replica(input, &cfg, &encryption)?;
    Ok(Spec {
        bucket_base,
        append_account_id,
        region: id.region.clone(),
        encryption,
        lifecycle,
        object_lock,
        logging,
        replica,
        notes,
        // Only `down` ever empties the bucket; the flag exists on no other command.
        force_empty: input.is_down() && input.flags.down.force_empty,
        force_empty_confirmed: input.yes,
        production: id.env == "production",
        tagger: tagger.clone(),
    })
}

/// The replica from `backup.replica_region` and hms-security's replication role and replica key.
fn replica(
    input: &Input<'_>,
    cfg: &BackupConfig,
    encryption: &Encryption,
) -> Result<Option<Replica>> {
    let config = input.config;
    let Some(region) = cfg.replica_region.clone() else {
        return Ok(None);
    };
    if !hms_core::aws::region_name_ok(&region) {
        return Err(config.invalid(
            "backup.replica_region",
            format!("{region:?} is not a region name like us-west-2"),
        ));
    }
    if region == input.tagger.id.region {
        return Err(config.invalid(
            "backup.replica_region",
            format!("{region} is the stack's own region: a replica there survives no regional outage; name another region, or remove the key for no replica"),
        ));
    }
    if input.is_down() {
        // Down needs neither the role nor the key.
        let encryption = match encryption {
            Encryption::Aes256 => Encryption::Aes256,
            Encryption::Kms(_) => Encryption::Kms(None),
        };
        return Ok(Some(Replica {
            region,
            encryption,
            role_arn: None,
        }));
    }
    let text = |path: &str, ok: fn(&str) -> bool| -> Result<Option<String>> {
        match input.upstream(path, "hms-security")? {
            None => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) if ok(s) => Ok(Some(s.to_owned())),
                _ => Err(Error::usage(format!(
                    "stdin: outputs.{path} = {v}: not an ARN; run 'hms-security up | hms-backup {}'",
                    input.command.name()
                ))),
            },
        }
    };
    let role_arn = text("security.replication_role_arn", |s| {
        s.starts_with("arn:aws") && s.contains(":iam::") && s.contains(":role/")
    })?;
    let encryption = match encryption {
        Encryption::Aes256 => Encryption::Aes256,
        Encryption::Kms(_) => Encryption::Kms(text(
            "security.kms_key_arns.backups_replica",
            kms_key_arn_ok,
        )?),
    };
    Ok(Some(Replica {
        region,
        encryption,
        role_arn,
    }))
}

/// Server access logging from the optional `outputs.ecs.log_bucket` (hms-ecs owns the stack's log bucket
/// and lets the logging service write under `s3/`). `down` needs none.
fn logging(input: &Input<'_>, notes: &mut Vec<String>) -> Result<Logging> {
    if input.is_down() {
        return Ok(Logging::Off);
    }
    match input.optional("ecs.log_bucket") {
        Upstream::Known(v) => match v.as_str() {
            Some(name) if bucket_name_ok(name) => Ok(Logging::To(name.to_owned())),
            _ => Err(Error::usage(format!(
                "stdin: outputs.ecs.log_bucket = {v}: not a bucket name; run 'hms-ecs up | hms-backup {}'",
                input.command.name()
            ))),
        },
        Upstream::Unknown if input.command == CommandKind::Up => Err(Error::usage(
            "needs outputs.ecs.log_bucket, known only after 'hms-ecs up': run 'hms-ecs up' before 'hms-backup up'",
        )),
        Upstream::Unknown => Ok(Logging::Unknown),
        Upstream::Absent => {
            notes.push(String::from(
                "server access logging of the backup bucket stays off: the stack has no log bucket (outputs.ecs.log_bucket, made by hms-ecs); run 'hms-ecs up | hms-backup up' to turn it on",
            ));
            Ok(Logging::Off)
        }
    }
}

/// The Object Lock default retention from `backup.object_lock_days` / `backup.object_lock_mode`.
fn object_lock(config: &Config, cfg: &BackupConfig) -> Result<Option<ObjectLock>> {
    let days = cfg.object_lock_days.unwrap_or(30);
    if !(0..=36500).contains(&days) {
        return Err(config.invalid(
            "backup.object_lock_days",
            format!("{days}: days from 1 to 36500, or 0 for no default retention"),
        ));
    }
    let mode = match cfg.object_lock_mode.as_deref().unwrap_or("governance") {
        "governance" | "GOVERNANCE" => "GOVERNANCE",
        "compliance" | "COMPLIANCE" => "COMPLIANCE",
        other => {
            return Err(config.invalid(
                "backup.object_lock_mode",
                format!("{other:?}: use \"governance\" (a role with s3:BypassGovernanceRetention may still delete) or \"compliance\" (nobody can, until the retention ends)"),
            ))
        }
    };
    if days == 0 {
        if cfg.object_lock_mode.is_some() {
            return Err(config.invalid(
                "backup.object_lock_mode",
                "set with object_lock_days = 0 (no retention); remove it, or give object_lock_days",
            ));
        }
        return Ok(None);
    }
    Ok(Some(ObjectLock {
        mode,
        days: i32::try_from(days).unwrap_or(30),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lc(text: &str) -> Result<Option<Lifecycle>> {
        let config = Config::from_toml(text, "hms.toml")?;
        let cfg: BackupConfig = config.section("backup")?;
        lifecycle(&config, cfg.lifecycle.as_ref())
    }

    fn err(text: &str) -> String {
        match lc(text) {
            Err(e) => e.to_string(),
            Ok(v) => panic!("accepted: {v:?}"),
        }
    }

    #[test]
    fn reference_lifecycle() {
        let l = lc("").expect("ok").expect("some");
        assert_eq!(
            l.transitions,
            vec![
                Transition {
                    days: 30,
                    storage_class: "STANDARD_IA".into()
                },
                Transition {
                    days: 90,
                    storage_class: "GLACIER".into()
                }
            ]
        );
        assert_eq!(l.expiration_days, Some(365));
        assert_eq!(l.noncurrent_expiration_days, Some(90));
        assert_eq!(l.abort_incomplete_multipart_days, Some(7));
        assert_eq!(l.prefix, "");
    }

    #[test]
    fn ia_needs_30_days() {
        let e =
            err("[backup.lifecycle]\ntransitions = [{days = 10, storage_class = \"STANDARD_IA\"}]");
        assert!(
            e.contains("backup.lifecycle.transitions[0]") && e.contains("at least 30 days"),
            "{e}"
        );
    }

    #[test]
    fn transitions_must_be_later_and_colder() {
        let e = err("[backup.lifecycle]\ntransitions = [{days = 90, storage_class = \"GLACIER\"}, {days = 60, storage_class = \"DEEP_ARCHIVE\"}]");
        assert!(
            e.contains("transitions[1]") && e.contains("not later"),
            "{e}"
        );
        let e = err("[backup.lifecycle]\ntransitions = [{days = 90, storage_class = \"GLACIER\"}, {days = 120, storage_class = \"STANDARD_IA\"}]");
        assert!(e.contains("colder"), "{e}");
        let e = err("[backup.lifecycle]\ntransitions = [{days = 30, storage_class = \"STANDARD_IA\"}, {days = 45, storage_class = \"GLACIER\"}]");
        assert!(e.contains("stay 30 days") && e.contains("60"), "{e}");
        let e = err("[backup.lifecycle]\ntransitions = [{days = 30, storage_class = \"COLD\"}]");
        assert!(e.contains("storage_class \"COLD\""), "{e}");
    }

    #[test]
    fn expiry_after_last_transition() {
        let e = err("[backup.lifecycle]\nexpiration_days = 90");
        assert!(
            e.contains("backup.lifecycle.expiration_days") && e.contains("GLACIER at 90"),
            "{e}"
        );
        let e = err("[backup.lifecycle]\nexpiration_days = -1");
        assert!(e.contains("0 for never"), "{e}");
        // Never expiring is allowed.
        assert_eq!(
            lc("[backup.lifecycle]\nexpiration_days = 0")
                .expect("ok")
                .expect("some")
                .expiration_days,
            None
        );
    }

    #[test]
    fn empty_rule_refused_and_disabled_allowed() {
        let e = err("[backup.lifecycle]\ntransitions = []\nexpiration_days = 0\nnoncurrent_expiration_days = 0\nabort_incomplete_multipart_days = 0");
        assert!(e.contains("enabled = false"), "{e}");
        assert!(lc("[backup.lifecycle]\nenabled = false")
            .expect("ok")
            .is_none());
    }

    #[test]
    fn bucket_names() {
        assert!(bucket_name_ok("hms-backups-production"));
        for bad in [
            "Hms",
            "ab",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
        ] {
            assert!(!bucket_name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn kms_arns() {
        assert!(kms_key_arn_ok(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(!kms_key_arn_ok("alias/hms-backups"));
        assert!(!kms_key_arn_ok("arn:aws:kms:us-east-1:123:key/x"));
    }
}

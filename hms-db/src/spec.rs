//! The desired database, decided and validated from config (`[db]`), flags and the upstream outputs
//! (`outputs.vpc`, `outputs.security`). Pure: every invalid input is refused here, before any AWS call.

use std::collections::BTreeMap;

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::config::Config;
use hms_core::contract::{CommandKind, SpecInput};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::addr::Addr;

/// Environment variables a password could arrive through; refused whatever their value.
pub const PASSWORD_VARS: &[&str] = &[
    "HMS_DB_PASSWORD",
    "HMS_DB_MASTER_PASSWORD",
    "DB_PASSWORD",
    "TF_VAR_db_password",
];

/// `[db]` as written in config; defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DbConfig {
    /// Instance identifier (default `hms-db` in production, `<stack>-<env>-db` elsewhere).
    pub identifier: Option<String>,
    /// `16` (RDS picks the minor) or an exact `"16.4"`; a number or a string.
    pub engine_version: Option<VersionInput>,
    pub instance_class: Option<String>,
    /// GiB (default 100).
    pub allocated_storage: Option<i64>,
    pub storage_type: Option<String>,
    pub database_name: Option<String>,
    pub port: Option<i64>,
    /// Master user name (default `hms_prod` in production, `hms_<env>` elsewhere).
    pub username: Option<String>,
    pub backup_retention_days: Option<i64>,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub multi_az: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub performance_insights: Option<bool>,
    /// IAM roles (ARNs) that may read the master secret besides the ECS execution role: an operator's
    /// break-glass role, a migration job's.
    pub secret_readers: Option<Vec<String>>,
    /// IAM database authentication (default true): sign-in with short-lived IAM tokens next to the
    /// master password.
    pub iam_authentication: Option<bool>,
    pub auto_minor_version_upgrade: Option<bool>,
    /// Enhanced monitoring: seconds between OS metric samples, one of 0 (off), 1, 5, 10, 15, 30, 60
    /// (default 60); RDS assumes hms-security's monitoring role to write them.
    pub monitoring_interval: Option<i64>,
    /// Statements slower than this are logged (default 1000 ms; -1 turns it off).
    pub log_min_duration_ms: Option<i64>,
    /// Reserved instances: `Partial Upfront` (default), `All Upfront` or `No Upfront`.
    pub reservation_offering_type: Option<String>,
    /// Reserved instances: 1 or 3 years (default 1).
    pub reservation_years: Option<i64>,
}

/// An engine version as written: `16`, `"16"`, `"16.4"` (or `16.4`, which TOML reads as a number).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum VersionInput {
    Int(i64),
    Float(f64),
    Text(String),
}

impl VersionInput {
    fn text(&self) -> String {
        match self {
            VersionInput::Int(i) => i.to_string(),
            // 16.0 as a number prints as "16" in Rust; keep what was written so the error says 16.0.
            VersionInput::Float(f) if f.fract() == 0.0 => format!("{f:.1}"),
            VersionInput::Float(f) => f.to_string(),
            VersionInput::Text(t) => t.clone(),
        }
    }
}

/// The engine version asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// A major version; RDS picks the minor.
    Major(u32),
    /// An exact version.
    Exact(u32, String),
}

impl Version {
    /// The major version.
    pub fn major(&self) -> u32 {
        match self {
            Version::Major(m) | Version::Exact(m, _) => *m,
        }
    }

    /// What CreateDBInstance gets.
    pub fn request(&self) -> String {
        match self {
            Version::Major(m) => m.to_string(),
            Version::Exact(_, v) => v.clone(),
        }
    }

    /// Whether an instance running `found` satisfies this version.
    pub fn satisfied_by(&self, found: &str) -> bool {
        match self {
            Version::Major(m) => major_of(found) == Some(*m),
            Version::Exact(_, v) => found == v,
        }
    }
}

/// The major part of a version string.
pub fn major_of(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

/// The desired database.
#[derive(Debug, Clone)]
pub struct Spec {
    pub identifier: String,
    pub version: Version,
    pub instance_class: String,
    pub allocated_storage: i32,
    pub storage_type: String,
    pub database_name: String,
    pub port: i32,
    pub username: String,
    pub backup_retention_days: i32,
    pub backup_window: String,
    pub maintenance_window: String,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub performance_insights: bool,
    pub iam_authentication: bool,
    pub auto_minor_version_upgrade: bool,
    /// Enhanced monitoring's interval, seconds (0: off).
    pub monitoring_interval: i32,
    /// `outputs.security.monitoring_role_arn` when the interval is not 0; `None` while only planned (or
    /// not needed).
    pub monitoring_role_arn: Option<String>,
    pub apply_immediately: bool,
    pub skip_final_snapshot: bool,
    pub disable_deletion_protection: bool,
    pub subnet_group: String,
    pub parameter_group: String,
    /// `postgres16`.
    pub family: String,
    pub parameters: BTreeMap<String, String>,
    /// Upstream values; `None` while only planned (or not needed, for `down`).
    pub subnet_ids: Option<Vec<String>>,
    pub security_group_id: Option<String>,
    pub kms_key_arn: Option<String>,
    /// Who may read the RDS-managed master secret: the ECS execution role (it hands DB_PASSWORD to the
    /// backend) and `db.secret_readers`; `None` while the role is only planned upstream.
    pub secret_readers: Option<Vec<String>>,
    pub reservation_offering_type: String,
    pub reservation_years: u32,
    pub tagger: Tagger,
}

impl Spec {
    /// Tags of the resource at `address`, named `name`.
    pub fn tags(&self, address: &Addr, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(&address.to_string(), Some(name))
    }
}

/// An RDS snapshot or reservation name: letters, digits and single '-', starting with a letter.
pub fn rds_name_ok(s: &str) -> bool {
    ident_ok(s, 255, true) && !s.contains('_')
}

fn ident_ok(s: &str, max: usize, dashes: bool) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (dashes && c == '-'))
        && !(dashes && (s.ends_with('-') || s.contains("--")))
}

/// `hh:mm` as minutes of the day.
fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A backup window as (start, end) minutes of the day.
fn backup_window(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    Some((hhmm(a)?, hhmm(b)?))
}

/// A maintenance window as (start, end) minutes of the week.
fn maintenance_window(s: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = s.split('-').collect();
    let [a, b] = parts.as_slice() else {
        return None;
    };
    let at = |x: &str| -> Option<u32> {
        let (d, t) = x.split_once(':')?;
        let day = DAYS.iter().position(|n| *n == d.to_ascii_lowercase())? as u32;
        Some(day * 1440 + hhmm(t)?)
    };
    Some((at(a)?, at(b)?))
}

fn len(start: u32, end: u32, period: u32) -> u32 {
    (end + period - start) % period
}

/// `plan`'s and `up`'s own flag: it decides how the planned changes land.
#[derive(Args, Debug, Clone, Default)]
pub struct PlanFlags {
    /// Apply instance changes now instead of in the maintenance window.
    #[arg(long)]
    pub apply_immediately: bool,
}

/// `down`'s own flags.
#[derive(Args, Debug, Clone, Default)]
pub struct DownFlags {
    /// Delete without a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
    /// Turn deletion protection off first (needed in production).
    #[arg(long)]
    pub disable_deletion_protection: bool,
}

/// The spec input of hms-db.
pub type Input<'a> = SpecInput<'a, PlanFlags, NoFlags, DownFlags>;

/// Builds the spec: each setting decided and validated in the order of `[db]`, then the upstream values.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    let cfg: DbConfig = config.section("db")?;
    refuse_password_vars()?;
    let tagger = input.tagger;
    let production = tagger.id.env == "production";

    let identifier = identifier(&cfg, config, tagger)?;
    let version = version(&cfg, config)?;
    let instance_class = instance_class(&cfg, config)?;
    let (storage_type, allocated_storage) = storage(&cfg, config)?;
    let (database_name, port, username) = login(&cfg, config, tagger)?;
    let (backup_retention_days, backup_window, maintenance_window) = backups(&cfg, config)?;
    let parameters = parameters(&cfg, config)?;
    let (reservation_offering_type, reservation_years) = reservation(&cfg, config)?;
    let monitoring_interval = monitoring_interval(&cfg, config)?;
    let upstream = upstream(input, monitoring_interval != 0)?;

    let major = version.major();
    Ok(Spec {
        family: format!("postgres{major}"),
        version,
        instance_class,
        allocated_storage,
        storage_type,
        database_name,
        port,
        username,
        backup_retention_days,
        backup_window,
        maintenance_window,
        multi_az: cfg.multi_az.unwrap_or(production),
        deletion_protection: cfg.deletion_protection.unwrap_or(production),
        performance_insights: cfg.performance_insights.unwrap_or(true),
        iam_authentication: cfg.iam_authentication.unwrap_or(true),
        auto_minor_version_upgrade: cfg.auto_minor_version_upgrade.unwrap_or(true),
        monitoring_interval,
        monitoring_role_arn: upstream.monitoring_role_arn,
        apply_immediately: input.flags.plan.apply_immediately,
        skip_final_snapshot: input.is_down() && input.flags.down.skip_final_snapshot,
        disable_deletion_protection: input.is_down()
            && input.flags.down.disable_deletion_protection,
        subnet_group: format!("{identifier}-subnets"),
        // The family is in the name: a major upgrade makes a new group while the old one is still in use.
        parameter_group: format!("{identifier}-params-postgres{major}"),
        parameters,
        subnet_ids: upstream.subnet_ids,
        security_group_id: upstream.security_group_id,
        kms_key_arn: upstream.kms_key_arn,
        secret_readers: secret_readers(config, &cfg, upstream.execution_role_arn)?,
        reservation_offering_type,
        reservation_years,
        tagger: tagger.clone(),
        identifier,
    })
}

/// A password in the environment is refused whatever its value (and never echoed).
fn refuse_password_vars() -> Result<()> {
    match PASSWORD_VARS.iter().find(|v| std::env::var_os(v).is_some()) {
        None => Ok(()),
        Some(var) => Err(Error::usage(format!(
            "environment: {var} is set, but the master password is never given to hms-db: RDS generates it and keeps it in \
             AWS Secrets Manager (ManageMasterUserPassword), encrypted with this stack's key; read it from the secret in outputs.db.master_user_secret_arn. Unset {var}"
        ))),
    }
}

/// `db.identifier` (default `hms-db` in production, `<stack>-<env>-db` elsewhere).
fn identifier(cfg: &DbConfig, config: &Config, tagger: &Tagger) -> Result<String> {
    let identifier = cfg.identifier.clone().unwrap_or_else(|| tagger.name("db"));
    let ok = ident_ok(&identifier, 63, true)
        && !identifier.contains('_')
        && !identifier.chars().any(|c| c.is_ascii_uppercase());
    if !ok {
        return Err(config.invalid(
            "db.identifier",
            format!("{identifier:?}: 1-63 lowercase letters, digits and single '-', starting with a letter (RDS stores identifiers in lowercase)"),
        ));
    }
    Ok(identifier)
}

/// `db.engine_version`: a major (RDS picks the minor) or an exact version RDS could list.
fn version(cfg: &DbConfig, config: &Config) -> Result<Version> {
    let text = cfg
        .engine_version
        .as_ref()
        .map(VersionInput::text)
        .unwrap_or_else(|| "16".into());
    let not_a_version = || {
        config.invalid(
            "db.engine_version",
            format!("{text:?} is not a version like 16 or 16.4"),
        )
    };
    let version = match text.split_once('.') {
        None => Version::Major(text.parse().map_err(|_| not_a_version())?),
        Some((major, minor)) => {
            let m: u32 = major.parse().map_err(|_| not_a_version())?;
            if minor == "0"
                || minor.is_empty()
                || !minor.chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                return Err(config.invalid(
                    "db.engine_version",
                    format!("RDS does not offer PostgreSQL {text}; use {m} (RDS picks the current {m}.x) or an exact {m}.x that RDS lists"),
                ));
            }
            Version::Exact(m, text.clone())
        }
    };
    if !(11..=17).contains(&version.major()) {
        return Err(config.invalid(
            "db.engine_version",
            format!(
                "PostgreSQL {} is not offered by RDS; use 12 to 17",
                version.major()
            ),
        ));
    }
    Ok(version)
}

/// `db.instance_class`, shaped like `db.t3.medium`.
fn instance_class(cfg: &DbConfig, config: &Config) -> Result<String> {
    let class = cfg
        .instance_class
        .clone()
        .unwrap_or_else(|| "db.t3.medium".into());
    let ok = class.split('.').count() == 3
        && class.starts_with("db.")
        && class
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !ok {
        return Err(config.invalid(
            "db.instance_class",
            format!("{class:?} is not an RDS instance class like db.t3.medium"),
        ));
    }
    Ok(class)
}

/// `db.storage_type` and `db.allocated_storage` (GiB).
fn storage(cfg: &DbConfig, config: &Config) -> Result<(String, i32)> {
    let storage_type = cfg.storage_type.clone().unwrap_or_else(|| "gp3".into());
    if !["gp3", "gp2", "io1", "io2"].contains(&storage_type.as_str()) {
        return Err(config.invalid(
            "db.storage_type",
            format!("{storage_type:?}: use gp3, gp2, io1 or io2"),
        ));
    }
    let storage = cfg.allocated_storage.unwrap_or(100);
    if !(20..=65536).contains(&storage) {
        return Err(config.invalid(
            "db.allocated_storage",
            format!("{storage} GiB: RDS PostgreSQL takes 20 to 65536"),
        ));
    }
    Ok((storage_type, i32::try_from(storage).unwrap_or(100)))
}

/// `db.database_name`, `db.port` and the master `db.username`.
fn login(cfg: &DbConfig, config: &Config, tagger: &Tagger) -> Result<(String, i32, String)> {
    let database_name = cfg.database_name.clone().unwrap_or_else(|| "hms".into());
    if !ident_ok(&database_name, 63, false) {
        return Err(config.invalid(
            "db.database_name",
            format!("{database_name:?}: 1-63 letters, digits and '_', starting with a letter"),
        ));
    }
    let port = cfg.port.unwrap_or(5432);
    if !(1150..=65535).contains(&port) {
        return Err(config.invalid("db.port", format!("{port}: RDS allows 1150 to 65535")));
    }
    let username = cfg.username.clone().unwrap_or_else(|| {
        if tagger.id.env == "production" {
            "hms_prod".into()
        } else {
            format!("hms_{}", tagger.id.env.replace('-', "_"))
        }
    });
    if !ident_ok(&username, 63, false)
        || ["postgres", "rdsadmin", "admin", "root"].contains(&username.as_str())
    {
        return Err(config.invalid(
            "db.username",
            format!("{username:?}: 1-63 letters, digits and '_', starting with a letter, not a reserved name (postgres, rdsadmin, admin, root)"),
        ));
    }
    Ok((database_name, i32::try_from(port).unwrap_or(5432), username))
}

/// `db.backup_retention_days`, `db.backup_window` and `db.maintenance_window`: each window at least 30
/// minutes, and the daily backup window clear of the weekly maintenance window.
fn backups(cfg: &DbConfig, config: &Config) -> Result<(i32, String, String)> {
    let retention = cfg.backup_retention_days.unwrap_or(7);
    if !(1..=35).contains(&retention) {
        return Err(config.invalid(
            "db.backup_retention_days",
            format!("{retention}: use 1 to 35 days (0 would turn backups off)"),
        ));
    }
    let bw_text = cfg
        .backup_window
        .clone()
        .unwrap_or_else(|| "03:00-04:00".into());
    let bw = backup_window(&bw_text).ok_or_else(|| {
        config.invalid(
            "db.backup_window",
            format!("{bw_text:?} is not hh:mm-hh:mm in UTC, like 03:00-04:00"),
        )
    })?;
    if len(bw.0, bw.1, 1440) < 30 {
        return Err(config.invalid(
            "db.backup_window",
            format!("{bw_text} is shorter than the 30 minutes RDS requires"),
        ));
    }
    let mw_text = cfg
        .maintenance_window
        .clone()
        .unwrap_or_else(|| "sun:04:00-sun:05:00".into())
        .to_ascii_lowercase();
    let mw = maintenance_window(&mw_text).ok_or_else(|| {
        config.invalid(
            "db.maintenance_window",
            format!("{mw_text:?} is not ddd:hh:mm-ddd:hh:mm in UTC, like sun:04:00-sun:05:00"),
        )
    })?;
    if len(mw.0, mw.1, 10080) < 30 {
        return Err(config.invalid(
            "db.maintenance_window",
            format!("{mw_text} is shorter than the 30 minutes RDS requires"),
        ));
    }
    if windows_overlap(bw, mw) {
        return Err(config.invalid(
            "db.backup_window",
            format!("{bw_text} overlaps the maintenance window {mw_text}; move one of them"),
        ));
    }
    Ok((i32::try_from(retention).unwrap_or(7), bw_text, mw_text))
}

/// Whether a daily backup window (minutes of the day) overlaps a weekly maintenance window (minutes of
/// the week) on any day; touching is fine. Day 7 is the Monday after, which a maintenance window
/// across the week's end (`sun:23:30-mon:00:30`) reaches.
fn windows_overlap(bw: (u32, u32), mw: (u32, u32)) -> bool {
    (0..8).any(|day| {
        let (bs, be) = (day * 1440 + bw.0, day * 1440 + bw.0 + len(bw.0, bw.1, 1440));
        [0, 10080].iter().any(|shift| {
            let (ms, me) = (mw.0 + shift, mw.0 + shift + len(mw.0, mw.1, 10080));
            bs < me && ms < be
        })
    })
}

/// The parameter group's parameters: SSL forced, connections and slow statements logged.
fn parameters(cfg: &DbConfig, config: &Config) -> Result<BTreeMap<String, String>> {
    let log_ms = cfg.log_min_duration_ms.unwrap_or(1000);
    if log_ms < -1 {
        return Err(config.invalid(
            "db.log_min_duration_ms",
            "use -1 (off) or a number of milliseconds",
        ));
    }
    Ok([
        ("rds.force_ssl", String::from("1")),
        ("log_connections", String::from("1")),
        ("log_disconnections", String::from("1")),
        ("log_min_duration_statement", log_ms.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

/// `db.reservation_offering_type` and `db.reservation_years`.
fn reservation(cfg: &DbConfig, config: &Config) -> Result<(String, u32)> {
    let offering = cfg
        .reservation_offering_type
        .clone()
        .unwrap_or_else(|| "Partial Upfront".into());
    if !["Partial Upfront", "All Upfront", "No Upfront"].contains(&offering.as_str()) {
        return Err(config.invalid(
            "db.reservation_offering_type",
            format!("{offering:?}: use \"Partial Upfront\", \"All Upfront\" or \"No Upfront\""),
        ));
    }
    match cfg.reservation_years.unwrap_or(1) {
        1 => Ok((offering, 1)),
        3 => Ok((offering, 3)),
        years => Err(config.invalid(
            "db.reservation_years",
            format!("{years}: reserved instances last 1 or 3 years"),
        )),
    }
}

/// The roles the master secret's policy lets read it: the execution role, then `db.secret_readers`.
fn secret_readers(
    config: &Config,
    cfg: &DbConfig,
    execution_role: Option<String>,
) -> Result<Option<Vec<String>>> {
    let mut out = Vec::new();
    for arn in cfg.secret_readers.iter().flatten() {
        if !(arn.starts_with("arn:aws:iam::") && arn.contains(":role/")) {
            return Err(config.invalid(
                "db.secret_readers",
                format!("{arn:?} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"),
            ));
        }
        out.push(arn.clone());
    }
    let Some(role) = execution_role else {
        return Ok(None);
    };
    out.insert(0, role);
    out.dedup();
    Ok(Some(out))
}

/// The master secret's resource policy: nobody but `readers` reads the password (AWS services such as
/// RDS, which rotates it, excepted), and nothing at all without TLS.
pub fn secret_policy(readers: &[String]) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheReaders",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:PrincipalArn": readers},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}
                }
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "secretsmanager:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }
        ]
    })
}

/// What hms-db reads from upstream; `None` while only planned.
struct Upstream {
    subnet_ids: Option<Vec<String>>,
    security_group_id: Option<String>,
    kms_key_arn: Option<String>,
    execution_role_arn: Option<String>,
    monitoring_role_arn: Option<String>,
}

/// The intervals RDS enhanced monitoring takes, seconds (0: off).
pub const MONITORING_INTERVALS: &[i64] = &[0, 1, 5, 10, 15, 30, 60];

/// `db.monitoring_interval`, default 60.
pub(crate) fn monitoring_interval(cfg: &DbConfig, config: &Config) -> Result<i32> {
    let v = cfg.monitoring_interval.unwrap_or(60);
    if !MONITORING_INTERVALS.contains(&v) {
        return Err(config.invalid(
            "db.monitoring_interval",
            format!(
                "{v} is not an enhanced-monitoring interval; use one of {} (seconds; 0 turns it off)",
                MONITORING_INTERVALS
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    i32::try_from(v).map_err(|_| Error::Internal(format!("monitoring interval {v}")))
}

/// The upstream values: required by `plan` and `up`; taken when present (never required) to delete, to
/// snapshot or to look at reservations.
fn upstream(input: &Input<'_>, monitoring: bool) -> Result<Upstream> {
    let needed = matches!(input.command, CommandKind::Plan | CommandKind::Up);
    let text = |path: &str, producer: &str| -> Result<Option<String>> {
        if !needed {
            return Ok(input
                .doc
                .output(path)
                .and_then(Value::as_str)
                .map(str::to_owned));
        }
        match input.upstream(path, producer)? {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| Error::usage(format!("stdin: outputs.{path} is not a string"))),
        }
    };
    let subnet_ids = match needed {
        false => None,
        true => match input.upstream("vpc.private_subnet_ids", "hms-vpc")? {
            None => None,
            Some(v) => Some(
                v.as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect::<Vec<_>>())
                    .filter(|a| a.len() >= 2)
                    .ok_or_else(|| Error::usage("stdin: outputs.vpc.private_subnet_ids must list at least two subnets (RDS needs two AZs)"))?,
            ),
        },
    };
    Ok(Upstream {
        subnet_ids,
        security_group_id: text("security.database_sg_id", "hms-security")?,
        kms_key_arn: text("security.kms_key_arns.rds", "hms-security")?,
        execution_role_arn: text("security.ecs_execution_role_arn", "hms-security")?,
        // Enhanced monitoring off needs no role.
        monitoring_role_arn: match monitoring {
            true => text("security.monitoring_role_arn", "hms-security")?,
            false => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(backup_window("03:00-04:00"), Some((180, 240)));
        assert_eq!(
            maintenance_window("sun:04:00-sun:05:00"),
            Some((6 * 1440 + 240, 6 * 1440 + 300))
        );
        assert!(backup_window("3:00-04:00").is_none());
        assert!(maintenance_window("sunday:04:00-sun:05:00").is_none());
        assert_eq!(len(1430, 20, 1440), 30);
    }

    #[test]
    fn backup_and_maintenance_windows_must_not_overlap() {
        let sunday = maintenance_window("sun:04:00-sun:05:00").expect("window");
        let at = |s: &str| backup_window(s).expect("window");
        assert!(
            !windows_overlap(at("03:00-04:00"), sunday),
            "touching is fine"
        );
        assert!(windows_overlap(at("03:50-04:30"), sunday));
        assert!(!windows_overlap(at("05:00-05:30"), sunday));
        // Across midnight and the week's end.
        let late = maintenance_window("sun:23:30-mon:00:30").expect("window");
        assert!(windows_overlap(at("00:00-00:45"), late));
        assert!(windows_overlap(at("23:00-23:45"), late));
    }

    #[test]
    fn versions() {
        assert!(Version::Major(16).satisfied_by("16.4"));
        assert!(!Version::Major(16).satisfied_by("17.1"));
        assert!(Version::Exact(16, "16.4".into()).satisfied_by("16.4"));
        assert!(!Version::Exact(16, "16.4".into()).satisfied_by("16.3"));
    }
}

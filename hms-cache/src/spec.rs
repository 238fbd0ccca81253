//! The desired cache, decided and validated from config (`[cache]`), flags and the upstream outputs
//! (`outputs.vpc`, `outputs.security`, and `outputs.db` when the stack has a database). Pure: every
//! invalid input is refused here, before any AWS call, naming the key and the fix.

use std::collections::BTreeMap;

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::config::{Config, LOG_RETENTION_DAYS};
use hms_core::contract::{CommandKind, SpecInput, Upstream};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::addr::{Addr, LogKind};
use crate::window::Window;

/// `plan`'s and `up`'s own flag: it decides how the planned changes land.
#[derive(Args, Debug, Clone, Default)]
pub struct PlanFlags {
    /// Apply node type and engine version changes now instead of in the maintenance window.
    #[arg(long)]
    pub apply_immediately: bool,
}

/// `down`'s own flag.
#[derive(Args, Debug, Clone, Default)]
pub struct DownFlags {
    /// Delete the replication group without a final snapshot.
    #[arg(long)]
    pub skip_final_snapshot: bool,
}

/// The spec input of hms-cache.
pub type Input<'a> = SpecInput<'a, PlanFlags, NoFlags, DownFlags>;

/// `[cache]` as written in config; defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Replication group id (default `hms-cache` in production, `<stack>-<env>-cache` elsewhere).
    pub replication_group_id: Option<String>,
    /// `redis` (default) or `valkey`.
    pub engine: Option<String>,
    /// `"7.1"` (redis, default), `"8.0"` (valkey, default), …; a string or a number.
    pub engine_version: Option<VersionInput>,
    /// The parameter group family; decided by the version, so only checked against it when given.
    pub family: Option<String>,
    /// Node type (default `cache.t4g.small`).
    pub node_type: Option<String>,
    /// Replicas next to the primary, 0-5 (default 1).
    pub replicas: Option<i64>,
    /// Multi-AZ (default true).
    pub multi_az: Option<bool>,
    /// Automatic failover to a replica (default true).
    pub automatic_failover: Option<bool>,
    /// Allow Multi-AZ or automatic failover off in production.
    pub allow_single_az: Option<bool>,
    pub port: Option<i64>,
    /// Days automatic snapshots are kept, 1-35 (default 7).
    pub snapshot_retention_days: Option<i64>,
    /// Daily UTC snapshot window (default `02:00-03:00`).
    pub snapshot_window: Option<String>,
    /// Weekly UTC maintenance window (default `sun:05:00-sun:06:00`).
    pub maintenance_window: Option<String>,
    pub auto_minor_version_upgrade: Option<bool>,
    /// Retention of the slow-log and engine-log groups (default 30 days).
    pub log_retention_days: Option<i64>,
    /// A KMS key ARN to use instead of `outputs.security.kms_key_arns.cache`.
    pub kms_key_arn: Option<String>,
    /// Engine parameters of the parameter group (`maxmemory-policy = "volatile-lru"` by default).
    pub parameters: Option<BTreeMap<String, ParamValue>>,
}

/// A version as written: `"7.1"` or `7.1` (TOML reads that as a number).
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
            VersionInput::Float(f) if f.fract() == 0.0 => format!("{f:.1}"),
            VersionInput::Float(f) => f.to_string(),
            VersionInput::Text(t) => t.clone(),
        }
    }
}

/// A parameter value as written: `"allkeys-lru"`, `300`, `true` (`yes`/`no` to the engine).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    Int(i64),
    Bool(bool),
    Text(String),
}

impl ParamValue {
    fn text(&self) -> String {
        match self {
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Bool(true) => "yes".into(),
            ParamValue::Bool(false) => "no".into(),
            ParamValue::Text(t) => t.clone(),
        }
    }
}

/// The cache engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Redis,
    Valkey,
}

impl Engine {
    /// ElastiCache's name of the engine.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Redis => "redis",
            Engine::Valkey => "valkey",
        }
    }

    /// The versions ElastiCache offers with encryption and AUTH, oldest first.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Engine::Redis => &["6.2", "7.0", "7.1"],
            Engine::Valkey => &["7.2", "8.0", "8.1"],
        }
    }

    fn default_version(self) -> &'static str {
        match self {
            Engine::Redis => "7.1",
            Engine::Valkey => "8.0",
        }
    }

    /// The parameter group family of a version (`7.1` → `redis7`).
    pub fn family(self, version: &str) -> String {
        let major = version.split('.').next().unwrap_or(version);
        match (self, major) {
            (Engine::Redis, "6") => "redis6.x".into(),
            (e, m) => format!("{}{m}", e.name()),
        }
    }
}

/// Node classes of the current generation and the sizes each comes in.
const NODE_CLASSES: &[(&str, &[&str])] = &[
    ("t3", &["micro", "small", "medium"]),
    ("t4g", &["micro", "small", "medium"]),
    (
        "m5",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge",
        ],
    ),
    (
        "m6g",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
        ],
    ),
    (
        "m7g",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
        ],
    ),
    (
        "r5",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge",
        ],
    ),
    (
        "r6g",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
        ],
    ),
    (
        "r7g",
        &[
            "large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge",
        ],
    ),
];

/// Eviction policies Redis and Valkey know.
pub const MAXMEMORY_POLICIES: &[&str] = &[
    "volatile-lru",
    "allkeys-lru",
    "volatile-lfu",
    "allkeys-lfu",
    "volatile-random",
    "allkeys-random",
    "volatile-ttl",
    "noeviction",
];

/// `[cache]` keys (and parameters) that would put the AUTH token in a config file.
fn token_like(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace('-', "_");
    k == "auth"
        || k == "requirepass"
        || k.contains("token")
        || k.contains("password")
        || k.contains("secret")
        || k.starts_with("auth_")
}

/// The desired cache.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The replication group id.
    pub id: String,
    pub engine: Engine,
    /// `7.1`.
    pub version: String,
    /// `redis7`.
    pub family: String,
    pub node_type: String,
    pub replicas: u8,
    pub multi_az: bool,
    pub automatic_failover: bool,
    pub port: i32,
    pub snapshot_retention_days: i32,
    pub snapshot_window: String,
    pub maintenance_window: String,
    pub auto_minor_version_upgrade: bool,
    pub log_retention_days: i32,
    /// The parameter group's engine parameters.
    pub parameters: BTreeMap<String, String>,
    pub subnet_group: String,
    pub parameter_group: String,
    /// `<stack>/<env>/cache/auth`.
    pub secret_name: String,
    /// The log groups the slow log and the engine log go to.
    pub log_groups: Vec<(LogKind, String)>,
    /// Upstream values; `None` while only planned (or not needed: `down`, the verbs).
    pub subnet_ids: Option<Vec<String>>,
    pub vpc_id: Option<String>,
    /// The VPC's AZs, in order: the members are placed in them one by one.
    pub azs: Vec<String>,
    pub security_group_id: Option<String>,
    pub kms_key_arn: Option<String>,
    pub logs_key_arn: Option<String>,
    /// The ECS services that read the AUTH secret (`outputs.ecs.services`), named by `rotate-auth`.
    pub readers: Vec<String>,
    pub apply_immediately: bool,
    pub skip_final_snapshot: bool,
    pub tagger: Tagger,
}

impl Spec {
    /// Tags of the resource at `address`, named `name`.
    pub fn tags(&self, address: &Addr, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(&address.to_string(), Some(name))
    }

    /// The log group of `kind`.
    pub fn log_group(&self, kind: LogKind) -> &str {
        self.log_groups
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .unwrap_or_default()
    }

    /// The AZs of the primary and each replica (empty when the VPC's AZs are not known: ElastiCache
    /// spreads them itself).
    pub fn member_azs(&self) -> Vec<String> {
        if self.azs.is_empty() {
            return vec![];
        }
        (0..=usize::from(self.replicas))
            .map(|i| self.azs[i % self.azs.len()].clone())
            .collect()
    }
}

/// Whether a found engine version satisfies the one asked for (`7.1` by `7.1` or `7.1.0`).
pub fn version_satisfied(want: &str, found: &str) -> bool {
    found == want || found.starts_with(&format!("{want}."))
}

/// Builds the spec: each setting decided and validated in the order of `[cache]`, then the upstream values.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    refuse_tokens(config, input.tagger)?;
    for (key, flag) in [
        (
            "cache.apply_immediately",
            "--apply-immediately to 'hms-cache plan' and 'hms-cache up'",
        ),
        ("cache.allow_destroy", "--allow-destroy to 'hms-cache up'"),
        (
            "cache.skip_final_snapshot",
            "--skip-final-snapshot to 'hms-cache down'",
        ),
    ] {
        if config.is_set(key) {
            return Err(config.invalid(
                key,
                format!("a safety switch is not a config setting; pass {flag}"),
            ));
        }
    }
    let cfg: CacheConfig = config.section("cache")?;
    let tagger = input.tagger;
    let production = tagger.id.env == "production";

    let id = replication_group_id(&cfg, config, tagger)?;
    let (engine, version, family) = engine(&cfg, config)?;
    let node_type = node_type(&cfg, config)?;
    let availability = availability(&cfg, config, production)?;
    let port = cfg.port.unwrap_or(6379);
    if !(1024..=65535).contains(&port) {
        return Err(config.invalid("cache.port", format!("{port}: use 1024 to 65535")));
    }
    let retention = cfg.snapshot_retention_days.unwrap_or(7);
    if !(1..=35).contains(&retention) {
        return Err(config.invalid(
            "cache.snapshot_retention_days",
            format!("{retention}: use 1 to 35 days (0 would turn automatic snapshots off)"),
        ));
    }
    let log_retention = cfg.log_retention_days.unwrap_or(30);
    if !LOG_RETENTION_DAYS
        .iter()
        .any(|d| i64::from(*d) == log_retention)
    {
        return Err(config.invalid(
            "cache.log_retention_days",
            format!(
                "{log_retention}: CloudWatch Logs keeps logs for one of {} days",
                LOG_RETENTION_DAYS
                    .iter()
                    .map(i32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let parameters = parameters(&cfg, config)?;
    let up = upstream(input, &cfg, availability.multi_az)?;
    let (snapshot_window, maintenance_window) = windows(&cfg, config, input)?;

    let stack = &tagger.id;
    Ok(Spec {
        subnet_group: format!("{id}-subnets"),
        parameter_group: format!("{id}-{}", family.replace('.', "-")),
        secret_name: format!("{}/{}/cache/auth", stack.stack, stack.env),
        log_groups: LogKind::ALL
            .iter()
            .map(|k| (*k, format!("/elasticache/{id}/{}", k.log_type())))
            .collect(),
        id,
        engine,
        version,
        family,
        node_type,
        replicas: availability.replicas,
        multi_az: availability.multi_az,
        automatic_failover: availability.automatic_failover,
        port: i32::try_from(port).unwrap_or(6379),
        snapshot_retention_days: i32::try_from(retention).unwrap_or(7),
        snapshot_window,
        maintenance_window,
        auto_minor_version_upgrade: cfg.auto_minor_version_upgrade.unwrap_or(true),
        log_retention_days: i32::try_from(log_retention).unwrap_or(30),
        parameters,
        subnet_ids: up.subnet_ids,
        vpc_id: up.vpc_id,
        azs: up.azs,
        security_group_id: up.security_group_id,
        kms_key_arn: up.kms_key_arn,
        logs_key_arn: up.logs_key_arn,
        readers: up.readers,
        apply_immediately: input.flags.plan.apply_immediately,
        skip_final_snapshot: input.is_down() && input.flags.down.skip_final_snapshot,
        tagger: tagger.clone(),
    })
}

/// A token in `[cache]` (or among its parameters) is refused, never echoed.
fn refuse_tokens(config: &Config, tagger: &Tagger) -> Result<()> {
    let raw: Map<String, Value> = config.section("cache")?;
    let params = raw
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.keys()
                .map(|k| format!("parameters.{k}"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let found = raw
        .keys()
        .cloned()
        .chain(params)
        .find(|k| token_like(k.rsplit('.').next().unwrap_or(k)));
    match found {
        None => Ok(()),
        Some(key) => Err(config.invalid(
            &format!("cache.{key}"),
            format!(
                "the AUTH token is never read from config or flags: hms-cache generates it and keeps it in Secrets Manager ({}/{}/cache/auth); remove cache.{key}, and change the token with 'hms-cache rotate-auth'",
                tagger.id.stack, tagger.id.env
            ),
        )),
    }
}

/// `cache.replication_group_id`: 1-40 lowercase letters, digits and single '-', starting with a letter.
fn replication_group_id(cfg: &CacheConfig, config: &Config, tagger: &Tagger) -> Result<String> {
    let id = cfg
        .replication_group_id
        .clone()
        .unwrap_or_else(|| tagger.name("cache"));
    let ok = !id.is_empty()
        && id.len() <= 40
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    if !ok {
        return Err(config.invalid(
            "cache.replication_group_id",
            format!(
                "{id:?}: 1-40 lowercase letters, digits and single '-', starting with a letter"
            ),
        ));
    }
    Ok(id)
}

/// `cache.engine`, `cache.engine_version` and (checked only) `cache.family`.
fn engine(cfg: &CacheConfig, config: &Config) -> Result<(Engine, String, String)> {
    let engine = match cfg.engine.as_deref().unwrap_or("redis") {
        "redis" => Engine::Redis,
        "valkey" => Engine::Valkey,
        other => {
            return Err(config.invalid(
                "cache.engine",
                format!("{other:?} is not an ElastiCache engine hms-cache runs; use \"redis\" or \"valkey\""),
            ))
        }
    };
    let version = cfg
        .engine_version
        .as_ref()
        .map(VersionInput::text)
        .unwrap_or_else(|| engine.default_version().into());
    if !engine.versions().contains(&version.as_str()) {
        return Err(config.invalid(
            "cache.engine_version",
            format!(
                "{} {version} is not offered; use one of {}",
                engine.name(),
                engine.versions().join(", ")
            ),
        ));
    }
    let family = engine.family(&version);
    if let Some(given) = &cfg.family {
        if *given != family {
            return Err(config.invalid(
                "cache.family",
                format!(
                    "{given:?} does not match {} {version}, whose family is {family}; remove cache.family (it follows the version) or change cache.engine_version",
                    engine.name()
                ),
            ));
        }
    }
    Ok((engine, version, family))
}

/// `cache.node_type`: `cache.<class>.<size>` of a current-generation class.
fn node_type(cfg: &CacheConfig, config: &Config) -> Result<String> {
    let node_type = cfg
        .node_type
        .clone()
        .unwrap_or_else(|| "cache.t4g.small".into());
    let classes = || {
        NODE_CLASSES
            .iter()
            .map(|(c, _)| *c)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let parts: Vec<&str> = node_type.split('.').collect();
    let ["cache", class, size] = parts.as_slice() else {
        return Err(config.invalid(
            "cache.node_type",
            format!("{node_type:?} is not an ElastiCache node type like cache.t4g.small"),
        ));
    };
    let Some((_, sizes)) = NODE_CLASSES.iter().find(|(c, _)| c == class) else {
        return Err(config.invalid(
            "cache.node_type",
            format!(
                "{node_type}: {class} is not a current node family; use one of {}",
                classes()
            ),
        ));
    };
    if !sizes.contains(size) {
        return Err(config.invalid(
            "cache.node_type",
            format!(
                "{node_type}: the {class} family has no {size} node; it has {}",
                sizes.join(", ")
            ),
        ));
    }
    Ok(node_type)
}

struct Availability {
    replicas: u8,
    multi_az: bool,
    automatic_failover: bool,
}

/// `cache.replicas`, `cache.multi_az`, `cache.automatic_failover` and `cache.allow_single_az`.
fn availability(cfg: &CacheConfig, config: &Config, production: bool) -> Result<Availability> {
    let replicas = cfg.replicas.unwrap_or(1);
    if !(0..=5).contains(&replicas) {
        return Err(config.invalid(
            "cache.replicas",
            format!("{replicas}: a replication group has 0 to 5 replicas next to its primary"),
        ));
    }
    let multi_az = cfg.multi_az.unwrap_or(true);
    let automatic_failover = cfg.automatic_failover.unwrap_or(true);
    if multi_az && !automatic_failover {
        return Err(config.invalid(
            "cache.multi_az",
            "Multi-AZ needs automatic failover; set cache.automatic_failover = true, or cache.multi_az = false",
        ));
    }
    if automatic_failover && replicas == 0 {
        return Err(config.invalid(
            "cache.replicas",
            "0 replicas with automatic failover on: one node has nothing to fail over to; set cache.replicas = 1 or more, or cache.automatic_failover = false and cache.multi_az = false",
        ));
    }
    if production && !(multi_az && automatic_failover) && cfg.allow_single_az != Some(true) {
        let key = if multi_az {
            "cache.automatic_failover"
        } else {
            "cache.multi_az"
        };
        return Err(config.invalid(
            key,
            "production keeps Multi-AZ and automatic failover on (a node failure would lose every session); set cache.allow_single_az = true to run on one AZ anyway",
        ));
    }
    Ok(Availability {
        replicas: u8::try_from(replicas).unwrap_or(1),
        multi_az,
        automatic_failover,
    })
}

/// The parameter group's parameters: `maxmemory-policy` (default `volatile-lru`: only keys with a TTL
/// are evicted, so a session without one is never dropped) and any others configured.
fn parameters(cfg: &CacheConfig, config: &Config) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::from([("maxmemory-policy".to_owned(), "volatile-lru".to_owned())]);
    for (name, value) in cfg.parameters.iter().flatten() {
        let key = format!("cache.parameters.{name}");
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(config.invalid(&key, "an engine parameter name like maxmemory-policy (lowercase letters, digits and '-')"));
        }
        if name == "cluster-enabled" {
            return Err(config.invalid(
                &key,
                "hms-cache runs one shard with replicas (cluster mode disabled); remove it",
            ));
        }
        let value = value.text();
        if name == "maxmemory-policy" && !MAXMEMORY_POLICIES.contains(&value.as_str()) {
            return Err(config.invalid(
                &key,
                format!(
                    "{value:?} is not an eviction policy; use one of {} (volatile-lru keeps sessions without a TTL)",
                    MAXMEMORY_POLICIES.join(", ")
                ),
            ));
        }
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// `cache.snapshot_window` and `cache.maintenance_window`: each at least 60 minutes, clear of each other
/// and of the database's backup and maintenance windows (`outputs.db`, when the stack has a database).
fn windows(cfg: &CacheConfig, config: &Config, input: &Input<'_>) -> Result<(String, String)> {
    let sw_text = cfg
        .snapshot_window
        .clone()
        .unwrap_or_else(|| "02:00-03:00".into());
    let sw = Window::daily(&sw_text).ok_or_else(|| {
        config.invalid(
            "cache.snapshot_window",
            format!("{sw_text:?} is not hh:mm-hh:mm in UTC, like 02:00-03:00"),
        )
    })?;
    let mw_text = cfg
        .maintenance_window
        .clone()
        .unwrap_or_else(|| "sun:05:00-sun:06:00".into())
        .to_ascii_lowercase();
    let mw = Window::weekly(&mw_text).ok_or_else(|| {
        config.invalid(
            "cache.maintenance_window",
            format!("{mw_text:?} is not ddd:hh:mm-ddd:hh:mm in UTC, like sun:05:00-sun:06:00"),
        )
    })?;
    for (key, text, w) in [
        ("cache.snapshot_window", &sw_text, sw),
        ("cache.maintenance_window", &mw_text, mw),
    ] {
        if w.len < 60 {
            return Err(config.invalid(
                key,
                format!("{text} is shorter than the 60 minutes ElastiCache requires"),
            ));
        }
    }
    if sw.overlaps(mw) {
        return Err(config.invalid(
            "cache.snapshot_window",
            format!("{sw_text} overlaps the maintenance window {mw_text}; move one of them"),
        ));
    }
    let db = |path: &str, weekly: bool| -> Option<(String, Window)> {
        let text = input.optional(path).known()?.as_str()?.to_ascii_lowercase();
        let w = if weekly {
            Window::weekly(&text)
        } else {
            Window::daily(&text)
        }?;
        Some((text, w))
    };
    let theirs = [
        ("outputs.db.backup_window", db("db.backup_window", false)),
        (
            "outputs.db.maintenance_window",
            db("db.maintenance_window", true),
        ),
    ];
    for (ours_key, ours_text, ours) in [
        ("cache.snapshot_window", &sw_text, sw),
        ("cache.maintenance_window", &mw_text, mw),
    ] {
        for (their_key, their) in &theirs {
            if let Some((their_text, w)) = their {
                if ours.overlaps(*w) {
                    return Err(config.invalid(
                        ours_key,
                        format!("{ours_text} overlaps the database's window {their_text} ({their_key}); keep the cache's windows clear of the database's"),
                    ));
                }
            }
        }
    }
    Ok((sw_text, mw_text))
}

/// A KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
fn kms_key_arn_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", p, "kms", r, a, res]
        if p.starts_with("aws") && !r.is_empty() && a.len() == 12 && a.chars().all(|c| c.is_ascii_digit())
            && res.starts_with("key/") && res.len() > 4)
}

/// What hms-cache reads from upstream; `None` while only planned.
struct Inputs {
    subnet_ids: Option<Vec<String>>,
    vpc_id: Option<String>,
    azs: Vec<String>,
    security_group_id: Option<String>,
    kms_key_arn: Option<String>,
    logs_key_arn: Option<String>,
    readers: Vec<String>,
}

/// The upstream values: required by `plan` and `up`; taken when present (never required) to delete or to
/// rotate the token.
fn upstream(input: &Input<'_>, cfg: &CacheConfig, multi_az: bool) -> Result<Inputs> {
    let needed = matches!(input.command, CommandKind::Plan | CommandKind::Up);
    let verb = input.command.name();
    let text = |path: &str, producer: &str| -> Result<Option<String>> {
        let v = if needed {
            input.upstream(path, producer)?
        } else {
            input.doc.output(path)
        };
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::usage(format!(
                "stdin: outputs.{path} = {other}: not a string; run '{producer} up | hms-cache {verb}'"
            ))),
        }
    };
    let subnet_ids = if needed {
        match input.upstream("vpc.private_subnet_ids", "hms-vpc")? {
            None => None,
            Some(v) => {
                let ids: Vec<String> = v
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                let least = if multi_az { 2 } else { 1 };
                if ids.len() < least {
                    return Err(Error::usage(format!(
                        "stdin: outputs.vpc.private_subnet_ids lists {} subnet(s); the cache needs {least}{} — check hms-vpc's vpc.azs",
                        ids.len(),
                        if multi_az { " in two AZs for Multi-AZ" } else { "" }
                    )));
                }
                Some(ids)
            }
        }
    } else {
        None
    };
    let kms_key_arn = match &cfg.kms_key_arn {
        Some(arn) if !kms_key_arn_ok(arn) => {
            return Err(input.config.invalid(
                "cache.kms_key_arn",
                format!(
                    "{arn:?} is not a KMS key ARN like arn:aws:kms:us-east-1:123456789012:key/…"
                ),
            ))
        }
        Some(arn) => Some(arn.clone()),
        None => cache_key(input, needed)?,
    };
    let azs = match input.optional("vpc.azs") {
        Upstream::Known(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    };
    let readers = match input.optional("ecs.services") {
        Upstream::Known(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(k)
                    .to_owned()
            })
            .collect(),
        _ => vec![],
    };
    Ok(Inputs {
        subnet_ids,
        vpc_id: input
            .optional("vpc.vpc_id")
            .known()
            .and_then(Value::as_str)
            .map(str::to_owned),
        azs,
        security_group_id: text("security.cache_sg_id", "hms-security")?,
        kms_key_arn: checked_key("security.kms_key_arns.cache", kms_key_arn)?,
        logs_key_arn: checked_key(
            "security.kms_key_arns.logs",
            text("security.kms_key_arns.logs", "hms-security")?,
        )?,
        readers,
    })
}

/// An upstream key ARN, checked.
fn checked_key(path: &str, key: Option<String>) -> Result<Option<String>> {
    match key {
        Some(s) if !kms_key_arn_ok(&s) => Err(Error::usage(format!(
            "stdin: outputs.{path} = {s:?}: not a KMS key ARN; run 'hms-security up | hms-cache up'"
        ))),
        other => Ok(other),
    }
}

/// `outputs.security.kms_key_arns.cache`, with the reason it is missing when hms-security ran without
/// the cache in its config.
fn cache_key(input: &Input<'_>, needed: bool) -> Result<Option<String>> {
    const PATH: &str = "security.kms_key_arns.cache";
    if !needed {
        return Ok(input
            .doc
            .output(PATH)
            .and_then(Value::as_str)
            .map(str::to_owned));
    }
    let keys_known = input.doc.output("security.kms_key_arns").is_some();
    match input.upstream(PATH, "hms-security") {
        Ok(v) => Ok(v.and_then(Value::as_str).map(str::to_owned)),
        Err(_) if keys_known => Err(Error::usage(format!(
            "needs outputs.{PATH}: hms-security makes the cache key when its config has a [cache] table (or security.cache = true); run 'hms-security up' with the same config, then 'hms-cache {}'",
            input.command.name()
        ))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use hms_core::contract::Flags;
    use hms_core::document::{Document, Identity};
    use serde_json::json;

    use super::*;

    pub(crate) const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/cache";
    pub(crate) const LOGS: &str = "arn:aws:kms:us-east-1:123456789012:key/logs";

    /// The document of a converged vpc, security and (with `db`) database.
    pub(crate) fn doc(db: bool) -> Document {
        let id = Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        };
        let mut doc = Document::new(&id);
        doc.set_outputs(
            "vpc",
            json!({"vpc_id": "vpc-1", "azs": ["us-east-1a", "us-east-1b", "us-east-1c"], "private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"]}),
            &[],
        );
        doc.set_outputs(
            "security",
            json!({"cache_sg_id": "sg-cache", "kms_key_arns": {"cache": KEY, "logs": LOGS}}),
            &[],
        );
        if db {
            doc.set_outputs(
                "db",
                json!({"backup_window": "03:00-04:00", "maintenance_window": "sun:04:00-sun:05:00"}),
                &[],
            );
        }
        doc
    }

    pub(crate) fn spec_of(
        config: &str,
        doc: &Document,
        flags: &Flags<PlanFlags, NoFlags, DownFlags>,
    ) -> Result<Spec> {
        let id = Identity {
            stack: doc.stack.clone(),
            env: doc.env.clone(),
            region: doc.region.clone(),
        };
        let tagger = Tagger::new(id, "hms-cache", BTreeMap::new());
        let config = Config::from_toml(config, "hms.toml")?;
        build(&SpecInput {
            config: &config,
            tagger: &tagger,
            doc,
            command: CommandKind::Plan,
            flags,
            yes: false,
            tool: "hms-cache",
        })
    }

    fn spec(config: &str) -> Result<Spec> {
        spec_of(config, &doc(true), &Flags::default())
    }

    fn err(config: &str) -> String {
        match spec(config) {
            Err(e) => {
                assert_eq!(e.exit_code(), 64, "{e}");
                e.to_string()
            }
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    #[test]
    fn the_reference_cache() {
        let s = spec("").expect("spec");
        assert_eq!(s.id, "hms-cache");
        assert_eq!(
            (s.engine, s.version.as_str(), s.family.as_str()),
            (Engine::Redis, "7.1", "redis7")
        );
        assert_eq!(s.node_type, "cache.t4g.small");
        assert_eq!(
            (s.replicas, s.multi_az, s.automatic_failover),
            (1, true, true)
        );
        assert_eq!(s.snapshot_window, "02:00-03:00");
        assert_eq!(s.maintenance_window, "sun:05:00-sun:06:00");
        assert_eq!(s.snapshot_retention_days, 7);
        assert_eq!(
            s.parameters.get("maxmemory-policy").map(String::as_str),
            Some("volatile-lru")
        );
        assert_eq!(s.parameter_group, "hms-cache-redis7");
        assert_eq!(s.subnet_group, "hms-cache-subnets");
        assert_eq!(s.secret_name, "hms/production/cache/auth");
        assert_eq!(
            s.log_group(LogKind::Slow),
            "/elasticache/hms-cache/slow-log"
        );
        assert_eq!(s.member_azs(), vec!["us-east-1a", "us-east-1b"]);
        assert_eq!(s.kms_key_arn.as_deref(), Some(KEY));
        let v = spec("[cache]\nengine = \"valkey\"\nengine_version = 8.0").expect("valkey");
        assert_eq!((v.version.as_str(), v.family.as_str()), ("8.0", "valkey8"));
        let old = spec("[cache]\nengine_version = \"6.2\"").expect("6.2");
        assert_eq!(old.parameter_group, "hms-cache-redis6-x");
    }

    #[test]
    fn bad_inputs_name_the_key_and_the_fix() {
        let cases = [
            ("[cache]\nengine = \"memcached\"", "cache.engine"),
            (
                "[cache]\nnode_type = \"cache.t4g.xlarge\"",
                "the t4g family has no xlarge",
            ),
            ("[cache]\nnode_type = \"t4g.small\"", "cache.node_type"),
            ("[cache]\nreplicas = 0", "nothing to fail over to"),
            (
                "[cache]\nsnapshot_window = \"05:30-06:30\"",
                "overlaps the maintenance window",
            ),
            (
                "[cache]\nsnapshot_window = \"03:30-04:30\"",
                "outputs.db.backup_window",
            ),
            (
                "[cache]\nmaintenance_window = \"sun:04:30-sun:05:30\"",
                "outputs.db.maintenance_window",
            ),
            (
                "[cache]\nsnapshot_retention_days = 36",
                "cache.snapshot_retention_days",
            ),
            (
                "[cache]\nauth_token = \"s3cr3t-t0ken-value\"",
                "cache.auth_token",
            ),
            (
                "[cache.parameters]\nmaxmemory-policy = \"drop-all\"",
                "not an eviction policy",
            ),
            ("[cache]\nfamily = \"redis6.x\"", "does not match redis 7.1"),
            (
                "[cache]\nmulti_az = false\nautomatic_failover = false",
                "cache.allow_single_az",
            ),
            (
                "[cache]\nmulti_az = true\nautomatic_failover = false",
                "needs automatic failover",
            ),
            (
                "[cache]\nengine_version = \"7.3\"",
                "use one of 6.2, 7.0, 7.1",
            ),
            (
                "[cache]\nmaintenance_window = \"sun:05:00-sun:05:30\"",
                "60 minutes",
            ),
            (
                "[cache]\nlog_retention_days = 45",
                "cache.log_retention_days",
            ),
            (
                "[cache.parameters]\ncluster-enabled = \"yes\"",
                "cluster mode disabled",
            ),
            ("[cache]\nsize = 3", "unknown field `size`"),
            (
                "[cache]\nskip_final_snapshot = true",
                "pass --skip-final-snapshot",
            ),
        ];
        for (config, want) in cases {
            let e = err(config);
            assert!(e.contains(want), "{config}: {e}");
            assert!(!e.contains("s3cr3t"), "{config}: the token leaked: {e}");
        }
    }

    #[test]
    fn single_az_is_allowed_outside_production_or_on_purpose() {
        let s = spec("[cache]\nmulti_az = false\nautomatic_failover = false\nreplicas = 0\nallow_single_az = true")
            .expect("allowed");
        assert_eq!((s.replicas, s.multi_az), (0, false));
        assert_eq!(s.member_azs(), vec!["us-east-1a"]);
    }

    #[test]
    fn the_database_windows_are_checked_only_when_present() {
        let s = spec_of(
            "[cache]\nsnapshot_window = \"03:30-04:30\"",
            &doc(false),
            &Flags::default(),
        );
        assert!(s.is_ok(), "{s:?}");
    }

    #[test]
    fn missing_upstream_is_named() {
        let id = Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        };
        let e = spec_of("", &Document::new(&id), &Flags::default()).expect_err("no vpc");
        assert!(
            e.to_string()
                .contains("needs outputs.vpc.private_subnet_ids"),
            "{e}"
        );
        let mut d = doc(false);
        d.set_outputs(
            "security",
            json!({"cache_sg_id": "sg-1", "kms_key_arns": {"logs": LOGS}}),
            &[],
        );
        let e = spec_of("", &d, &Flags::default()).expect_err("no cache key");
        assert!(e.to_string().contains("[cache] table"), "{e}");
    }

    #[test]
    fn versions() {
        assert!(version_satisfied("7.1", "7.1"));
        assert!(version_satisfied("7.1", "7.1.0"));
        assert!(!version_satisfied("7.1", "7.10"));
        assert!(!version_satisfied("7.0", "7.1.0"));
    }
}

//! The desired security groups, rules, IAM roles and KMS keys, decided and validated from `[security]`,
//! `[ecs.services]` and `outputs.vpc`. Pure: no AWS call. [`build`] reads the config in steps: the ALB's
//! CIDRs, the rules (with the extra ingress rules), the task roles, the backup target.

use std::collections::BTreeMap;

use hms_core::config::Config;
use hms_core::contract::{CommandKind, SpecInput, Upstream};
use hms_core::services::{self, ServiceBasics};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use ipnet::IpNet;
use serde::Deserialize;

use crate::addr::Addr;

/// The four security groups, in dependency-free order.
pub const GROUPS: &[&str] = &["alb", "ecs", "database", "cache"];
/// The customer-managed keys of every stack.
pub const KEYS: &[&str] = &["rds", "backups", "logs", "alarms"];
/// The key of the alarm topic (CloudWatch alarms and RDS events publish to it).
pub const ALARMS_KEY: &str = "alarms";
/// The key of the backup bucket's replica, in `backup.replica_region`.
pub const REPLICA_KEY: &str = "backups_replica";
/// The key of the cache (ElastiCache at rest and its AUTH secret), made when the stack has hms-cache.
pub const CACHE_KEY: &str = "cache";
/// The AWS-managed prefix list of CloudFront's origin-facing addresses (`security.alb_ingress =
/// "cloudfront"`). It weighs about 55 rules against the default quota of 60 per group: one rule, 443.
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";
/// PostgreSQL's port.
pub const DB_PORT: u16 = 5432;
/// Redis's port.
pub const CACHE_PORT: u16 = 6379;
/// The AWS-managed policy every ECS task execution role needs.
pub const EXECUTION_MANAGED_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
/// The AWS-managed policy RDS enhanced monitoring's role needs (CloudWatch Logs `RDSOSMetrics`).
pub const MONITORING_MANAGED_POLICY: &str =
    "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole";
/// Name of the inline policies the tool writes.
pub const INLINE_POLICY: &str = "hms-permissions";

/// `[security]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Who may reach the load balancer on 80 and 443 (default 0.0.0.0/0 and ::/0).
    pub alb_ingress_cidrs: Option<Vec<String>>,
    /// `"cidrs"` (default: `alb_ingress_cidrs`) or `"cloudfront"`: only CloudFront's origin-facing
    /// addresses, on 443 (the stack has hms-edge in front; the ALB is not reachable around it).
    pub alb_ingress: Option<String>,
    /// Keep rules added outside the tool instead of removing them.
    pub keep_unmanaged_rules: Option<bool>,
    /// The backup bucket the backend may write to (default `hms-backups-<env>`).
    pub backup_bucket: Option<String>,
    /// The prefix in it (default `backend/`).
    pub backup_prefix: Option<String>,
    /// Per-service permissions.
    #[serde(default)]
    pub services: BTreeMap<String, ServicePermissions>,
    /// Extra rules, refused when they would open the database or the cache to addresses.
    #[serde(default)]
    pub extra_ingress: Vec<ExtraRule>,
    /// The stack has hms-cache: make the `cache` key and let the ECS execution role read the cache's AUTH
    /// secret (default: whether the config has a `[cache]` table).
    pub cache: Option<bool>,
}

/// The one `[backup]` key hms-security needs (hms-backup validates the table).
#[derive(Debug, Default, Deserialize)]
struct BackupReplica {
    replica_region: Option<String>,
}

/// The backup bucket's cross-region replica: hms-security's part (the replication role, the replica key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// `backup.replica_region`.
    pub region: String,
    /// The replica key's alias there.
    pub alias: String,
}

/// The one `[db]` key hms-security needs (hms-db validates the table).
#[derive(Debug, Default, Deserialize)]
struct DbIdentifier {
    identifier: Option<String>,
}

/// What one service's task role may do beyond X-Ray.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePermissions {
    /// Write to the backup bucket prefix (default: true for `backend` only).
    pub backup_write: Option<bool>,
}

/// An extra ingress rule from a CIDR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraRule {
    pub group: String,
    pub port: i64,
    pub cidr: String,
}

/// Where a rule's traffic comes from or goes to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Cidr(IpNet),
    Group(String),
    /// An AWS-managed prefix list, by name (its id differs per region and account).
    PrefixList(String),
}

impl Peer {
    /// `0.0.0.0/0` or `sg:alb`.
    pub fn label(&self) -> String {
        match self {
            Peer::Cidr(n) => n.to_string(),
            Peer::Group(g) => format!("sg:{g}"),
            Peer::PrefixList(name) => format!("pl:{name}"),
        }
    }
}

/// One security-group rule: TCP on one port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub group: String,
    pub egress: bool,
    pub port: u16,
    pub peer: Peer,
}

impl Rule {
    /// `security.rule.alb.ingress[tcp/443 from 0.0.0.0/0]`.
    pub fn address(&self) -> Addr {
        Addr::Rule {
            group: self.group.clone(),
            egress: self.egress,
            ports: format!("tcp/{}", self.port),
            peer: self.peer.label(),
        }
    }
}

/// One task role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRole {
    pub service: String,
    pub name: String,
    pub backup_write: bool,
}

/// The desired security slice.
#[derive(Debug, Clone)]
pub struct Spec {
    pub region: String,
    /// `outputs.vpc.vpc_id`; `None` while only planned upstream.
    pub vpc_id: Option<String>,
    /// The VPC's flow-log group (`outputs.vpc.flow_log_group`), encrypted with the `logs` key: `None`
    /// without flow logs, `Some(None)` while only planned upstream.
    pub flow_log_group: Option<Option<String>>,
    pub groups: Vec<(String, String)>,
    pub rules: Vec<Rule>,
    pub keep_unmanaged_rules: bool,
    /// `down`: every key tagged as this stack's is looked up (one tagging call), duplicates included.
    pub all_tagged_keys: bool,
    pub execution_role: String,
    /// The role RDS enhanced monitoring assumes (hms-db's `db.monitoring_interval`).
    pub monitoring_role: String,
    pub task_roles: Vec<TaskRole>,
    pub services: BTreeMap<String, ServiceBasics>,
    pub backup_bucket: String,
    pub backup_prefix: String,
    /// RDS instance id whose managed secret the execution role may read.
    pub db_instance_id: String,
    /// The managed prefix lists the rules name (their ids are looked up by name).
    pub prefix_lists: Vec<String>,
    /// The stack has hms-cache (`cache` key, the execution role reads its AUTH secret).
    pub cache: bool,
    pub keys: Vec<(String, String)>,
    /// The role S3 assumes to replicate the backup bucket (made with a replica only).
    pub replication_role: String,
    /// The replica (`backup.replica_region`); `None`: no replication.
    pub replica: Option<Replica>,
    pub tagger: Tagger,
}

impl Spec {
    /// The cache's AUTH secret (`<stack>/<env>/cache/auth`), as hms-cache names it; the ARN pattern the
    /// execution role may read (Secrets Manager appends six random characters).
    pub fn cache_secret_arn(&self, account: &str) -> String {
        format!(
            "arn:aws:secretsmanager:{}:{account}:secret:{}/{}/cache/auth-??????",
            self.region, self.tagger.id.stack, self.tagger.id.env
        )
    }

    /// The replica bucket, by hms-backup's naming rule: `<backup bucket>-replica`.
    pub fn replica_bucket(&self) -> String {
        format!("{}-replica", self.backup_bucket)
    }

    /// Tags of the resource at `address`.
    pub fn tags(&self, address: &Addr, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(&address.to_string(), Some(name))
    }
}

/// Builds the spec.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let config = input.config;
    let cfg: SecurityConfig = config.section("security")?;
    let cache = cfg.cache.unwrap_or_else(|| config.is_set("cache"));
    let services = services::services(config)?;
    let tagger = input.tagger;
    let vpc_id = vpc_id(input)?;
    let flow_log_group = match input.optional("vpc.flow_log_group") {
        Upstream::Absent => None,
        Upstream::Unknown => Some(None),
        Upstream::Known(v) => Some(Some(v.as_str().map(str::to_owned).ok_or_else(|| {
            Error::usage("stdin: outputs.vpc.flow_log_group is not a string")
        })?)),
    };
    let alb = alb_ingress_of(config, &cfg)?;
    for key in cfg.services.keys() {
        if !services.contains_key(key) {
            return Err(config.invalid(
                &format!("security.services.{key}"),
                format!(
                    "unknown service {key:?}; the services are {} (from [ecs.services])",
                    services.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let rules = rules(config, &cfg, &alb, &services)?;
    let mut prefix_lists: Vec<String> = rules
        .iter()
        .filter_map(|r| match &r.peer {
            Peer::PrefixList(name) => Some(name.clone()),
            _ => None,
        })
        .collect();
    prefix_lists.dedup();
    let task_roles = task_roles(config, &cfg, &services, tagger)?;
    let (backup_bucket, backup_prefix) = backup_target(config, &cfg, tagger)?;
    // The database whose RDS-managed secret the execution role may read: hms-db's identifier.
    let db_instance_id = config
        .section::<DbIdentifier>("db")
        .ok()
        .and_then(|d| d.identifier)
        .unwrap_or_else(|| tagger.name("db"));
    let replica = replica(config, tagger)?;
    Ok(Spec {
        region: tagger.id.region.clone(),
        vpc_id,
        flow_log_group,
        groups: GROUPS
            .iter()
            .map(|g| ((*g).to_owned(), tagger.name(g)))
            .collect(),
        rules,
        keep_unmanaged_rules: cfg.keep_unmanaged_rules.unwrap_or(false),
        all_tagged_keys: input.is_down(),
        execution_role: tagger.name("ecs-execution-role"),
        monitoring_role: tagger.name("rds-monitoring-role"),
        task_roles,
        services,
        backup_bucket,
        backup_prefix,
        db_instance_id,
        prefix_lists,
        cache,
        keys: KEYS
            .iter()
            .chain(cache.then_some(&CACHE_KEY))
            .map(|k| {
                (
                    (*k).to_owned(),
                    format!("alias/{}-{}-{k}", tagger.id.stack, tagger.id.env),
                )
            })
            .collect(),
        replication_role: tagger.name("s3-replication-role"),
        replica,
        tagger: tagger.clone(),
    })
}

/// `backup.replica_region`: a region name other than the stack's (hms-backup checks the same).
fn replica(config: &Config, tagger: &Tagger) -> Result<Option<Replica>> {
    let Some(region) = config.section::<BackupReplica>("backup")?.replica_region else {
        return Ok(None);
    };
    if !hms_core::aws::region_name_ok(&region) {
        return Err(config.invalid(
            "backup.replica_region",
            format!("{region:?} is not a region name like us-west-2"),
        ));
    }
    if region == tagger.id.region {
        return Err(config.invalid(
            "backup.replica_region",
            format!("{region} is the stack's own region: a replica there survives no regional outage; name another region, or remove the key for no replica"),
        ));
    }
    Ok(Some(Replica {
        region,
        alias: format!("alias/{}-{}-{REPLICA_KEY}", tagger.id.stack, tagger.id.env),
    }))
}

/// `outputs.vpc.vpc_id`: required for `plan` and `up`, `None` while only planned upstream.
fn vpc_id(input: &SpecInput<'_>) -> Result<Option<String>> {
    match input.command {
        // `down` and `show` work from state and tags alone.
        CommandKind::Down | CommandKind::Show => Ok(input
            .doc
            .output("vpc.vpc_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned)),
        _ => input
            .upstream("vpc.vpc_id", "hms-vpc")?
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::usage("stdin: outputs.vpc.vpc_id is not a string"))
            })
            .transpose(),
    }
}

/// A CIDR without host bits, or the error for config key `key`.
fn cidr(config: &Config, key: &str, text: &str, example: &str) -> Result<IpNet> {
    let net: IpNet = text
        .parse()
        .map_err(|_| config.invalid(key, format!("{text:?} is not a CIDR{example}")))?;
    if net.trunc() != net {
        return Err(config.invalid(
            key,
            format!("{text} has host bits set; use {}", net.trunc()),
        ));
    }
    Ok(net)
}

/// Who may reach the load balancer, on which port: `security.alb_ingress = "cloudfront"` (CloudFront's
/// origin-facing prefix list on 443), else `security.alb_ingress_cidrs` on 80 and 443, default everyone
/// (IPv4 and IPv6).
pub(crate) fn alb_ingress_of(config: &Config, cfg: &SecurityConfig) -> Result<Vec<(u16, Peer)>> {
    match cfg.alb_ingress.as_deref() {
        None | Some("cidrs") => {}
        Some("cloudfront") if cfg.alb_ingress_cidrs.is_some() => {
            return Err(config.invalid(
                "security.alb_ingress",
                "\"cloudfront\" lets only CloudFront reach the load balancer; remove security.alb_ingress_cidrs (or set alb_ingress = \"cidrs\")",
            ))
        }
        Some("cloudfront") => {
            return Ok(vec![(443, Peer::PrefixList(CLOUDFRONT_ORIGIN_FACING.into()))]);
        }
        Some(other) => {
            return Err(config.invalid(
                "security.alb_ingress",
                format!("{other:?}: use \"cidrs\" (security.alb_ingress_cidrs) or \"cloudfront\" (only CloudFront, on 443)"),
            ))
        }
    }
    let cidrs: Vec<IpNet> = cfg
        .alb_ingress_cidrs
        .clone()
        .unwrap_or_else(|| vec!["0.0.0.0/0".into(), "::/0".into()])
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cidr(
                config,
                &format!("security.alb_ingress_cidrs[{i}]"),
                c,
                " like 203.0.113.0/24 or ::/0",
            )
        })
        .collect::<Result<_>>()?;
    if cidrs.is_empty() {
        return Err(config.invalid(
            "security.alb_ingress_cidrs",
            "is empty: nobody could reach the load balancer",
        ));
    }
    Ok([80u16, 443]
        .into_iter()
        .flat_map(|port| cidrs.iter().map(move |c| (port, Peer::Cidr(*c))))
        .collect())
}

fn rule(group: &str, egress: bool, port: u16, peer: Peer) -> Rule {
    Rule {
        group: group.into(),
        egress,
        port,
        peer,
    }
}

/// Every rule, sorted: the ALB open to its peers (`alb`), ALB ↔ ECS on each service port, ECS out
/// to HTTPS, the database and the cache, each of those only from ECS, and the extra ingress rules.
fn rules(
    config: &Config,
    cfg: &SecurityConfig,
    alb: &[(u16, Peer)],
    services: &BTreeMap<String, ServiceBasics>,
) -> Result<Vec<Rule>> {
    let group = |g: &str| Peer::Group(g.into());
    let mut rules = Vec::new();
    for (port, peer) in alb {
        rules.push(rule("alb", false, *port, peer.clone()));
    }
    let mut ports: Vec<u16> = services.values().map(|s| s.port).collect();
    ports.sort_unstable();
    ports.dedup();
    for port in ports {
        rules.push(rule("alb", true, port, group("ecs")));
        rules.push(rule("ecs", false, port, group("alb")));
    }
    let anywhere: IpNet = "0.0.0.0/0"
        .parse()
        .map_err(|_| Error::Internal("0.0.0.0/0".into()))?;
    rules.extend([
        rule("ecs", true, 443, Peer::Cidr(anywhere)),
        rule("ecs", true, DB_PORT, group("database")),
        rule("ecs", true, CACHE_PORT, group("cache")),
        rule("database", false, DB_PORT, group("ecs")),
        rule("cache", false, CACHE_PORT, group("ecs")),
    ]);
    for (i, extra) in cfg.extra_ingress.iter().enumerate() {
        rules.push(extra_rule(config, i, extra)?);
    }
    rules.sort();
    rules.dedup();
    Ok(rules)
}

/// `security.extra_ingress[i]`: refused on the database and cache groups, which only ECS may reach.
fn extra_rule(config: &Config, i: usize, extra: &ExtraRule) -> Result<Rule> {
    let key = format!("security.extra_ingress[{i}]");
    if !GROUPS.contains(&extra.group.as_str()) {
        return Err(config.invalid(
            &key,
            format!(
                "group {:?} is not one of {}",
                extra.group,
                GROUPS.join(", ")
            ),
        ));
    }
    if extra.group == "database" || extra.group == "cache" {
        return Err(config.invalid(
            &key,
            format!(
                "would open the {} group to {}; only the ecs group may reach it",
                extra.group, extra.cidr
            ),
        ));
    }
    let port = u16::try_from(extra.port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| {
            config.invalid(
                &format!("{key}.port"),
                format!("{} is not a port; use 1-65535", extra.port),
            )
        })?;
    let net = cidr(config, &format!("{key}.cidr"), &extra.cidr, "")?;
    Ok(rule(&extra.group, false, port, Peer::Cidr(net)))
}

/// One task role per service; the backend may write backups unless the config says otherwise.
fn task_roles(
    config: &Config,
    cfg: &SecurityConfig,
    services: &BTreeMap<String, ServiceBasics>,
    tagger: &Tagger,
) -> Result<Vec<TaskRole>> {
    services
        .keys()
        .map(|k| {
            let name = tagger.name(&format!("{k}-task-role"));
            if name.len() > 64 {
                return Err(config.invalid(
                    &format!("ecs.services.{k}"),
                    format!(
                        "the task role name {name} is {} characters and IAM allows 64; use a shorter service, stack or env name",
                        name.len()
                    ),
                ));
            }
            Ok(TaskRole {
                service: k.clone(),
                name,
                backup_write: cfg
                    .services
                    .get(k)
                    .and_then(|p| p.backup_write)
                    .unwrap_or(k == "backend"),
            })
        })
        .collect()
}

/// The bucket and prefix the task roles allowed to may write backups to.
fn backup_target(
    config: &Config,
    cfg: &SecurityConfig,
    tagger: &Tagger,
) -> Result<(String, String)> {
    let prefix = cfg
        .backup_prefix
        .clone()
        .unwrap_or_else(|| "backend/".into());
    if prefix.starts_with('/') || prefix.contains('*') {
        return Err(config.invalid(
            "security.backup_prefix",
            "must not start with '/' or contain '*'",
        ));
    }
    let bucket = cfg
        .backup_bucket
        .clone()
        .unwrap_or_else(|| format!("{}-backups-{}", tagger.id.stack, tagger.id.env));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(config.invalid(
            "security.backup_bucket",
            format!(
                "{bucket:?} is not an S3 bucket name (3-63 lowercase letters, digits, '-' and '.')"
            ),
        ));
    }
    Ok((bucket, prefix))
}

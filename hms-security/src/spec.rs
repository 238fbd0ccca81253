//! The desired security groups, rules, IAM roles and KMS keys. Pure: no AWS call.

use std::collections::BTreeMap;

use hms_core::contract::{CommandKind, SpecInput};
use hms_core::services::{self, ServiceBasics};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use ipnet::IpNet;
use serde::Deserialize;

/// The four security groups, in dependency-free order.
pub const GROUPS: &[&str] = &["alb", "ecs", "database", "cache"];
/// The three customer-managed keys.
pub const KEYS: &[&str] = &["rds", "backups", "logs"];
/// PostgreSQL's port.
pub const DB_PORT: u16 = 5432;
/// Redis's port.
pub const CACHE_PORT: u16 = 6379;

/// `[security]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Who may reach the load balancer on 80 and 443 (default 0.0.0.0/0 and ::/0).
    pub alb_ingress_cidrs: Option<Vec<String>>,
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
}

impl Peer {
    /// `0.0.0.0/0` or `sg:alb`.
    pub fn label(&self) -> String {
        match self {
            Peer::Cidr(n) => n.to_string(),
            Peer::Group(g) => format!("sg:{g}"),
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
    pub fn address(&self) -> String {
        let (dir, word) = if self.egress {
            ("egress", "to")
        } else {
            ("ingress", "from")
        };
        format!(
            "security.rule.{}.{dir}[tcp/{} {word} {}]",
            self.group,
            self.port,
            self.peer.label()
        )
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
    pub groups: Vec<(String, String)>,
    pub rules: Vec<Rule>,
    pub keep_unmanaged_rules: bool,
    pub execution_role: String,
    pub task_roles: Vec<TaskRole>,
    pub services: BTreeMap<String, ServiceBasics>,
    pub backup_bucket: String,
    pub backup_prefix: String,
    /// RDS instance id whose managed secret the execution role may read.
    pub db_instance_id: String,
    pub keys: Vec<(String, String)>,
    pub tagger: Tagger,
}

impl Spec {
    /// Tags of the resource at `address`.
    pub fn tags(&self, address: &str, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(address, Some(name))
    }
}

fn task_roles_check(
    services: &BTreeMap<String, ServiceBasics>,
    tagger: &Tagger,
) -> Vec<(String, String)> {
    services
        .keys()
        .map(|k| (k.clone(), tagger.name(&format!("{k}-task-role"))))
        .collect()
}

/// Builds the spec.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let config = input.config;
    let cfg: SecurityConfig = config.section("security")?;
    let services = services::services(config)?;
    let tagger = input.tagger;
    let vpc_id = match input.command {
        // `down` and `show` work from state and tags alone.
        CommandKind::Down | CommandKind::Show => input
            .doc
            .output("vpc.vpc_id")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        _ => input
            .upstream("vpc.vpc_id", "hms-vpc")?
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::usage("stdin: outputs.vpc.vpc_id is not a string"))
            })
            .transpose()?,
    };

    let cidrs: Vec<IpNet> = cfg
        .alb_ingress_cidrs
        .clone()
        .unwrap_or_else(|| vec!["0.0.0.0/0".into(), "::/0".into()])
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let net: IpNet = c.parse().map_err(|_| {
                config.invalid(
                    &format!("security.alb_ingress_cidrs[{i}]"),
                    format!("{c:?} is not a CIDR like 203.0.113.0/24 or ::/0"),
                )
            })?;
            if net.trunc() != net {
                return Err(config.invalid(
                    &format!("security.alb_ingress_cidrs[{i}]"),
                    format!("{c} has host bits set; use {}", net.trunc()),
                ));
            }
            Ok(net)
        })
        .collect::<Result<_>>()?;
    if cidrs.is_empty() {
        return Err(config.invalid(
            "security.alb_ingress_cidrs",
            "is empty: nobody could reach the load balancer",
        ));
    }
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

    let mut rules = Vec::new();
    for port in [80u16, 443] {
        for c in &cidrs {
            rules.push(Rule {
                group: "alb".into(),
                egress: false,
                port,
                peer: Peer::Cidr(*c),
            });
        }
    }
    let mut ports: Vec<u16> = services.values().map(|s| s.port).collect();
    ports.sort_unstable();
    ports.dedup();
    for port in &ports {
        rules.push(Rule {
            group: "alb".into(),
            egress: true,
            port: *port,
            peer: Peer::Group("ecs".into()),
        });
        rules.push(Rule {
            group: "ecs".into(),
            egress: false,
            port: *port,
            peer: Peer::Group("alb".into()),
        });
    }
    let anywhere: IpNet = "0.0.0.0/0"
        .parse()
        .map_err(|_| Error::Internal("0.0.0.0/0".into()))?;
    rules.push(Rule {
        group: "ecs".into(),
        egress: true,
        port: 443,
        peer: Peer::Cidr(anywhere),
    });
    rules.push(Rule {
        group: "ecs".into(),
        egress: true,
        port: DB_PORT,
        peer: Peer::Group("database".into()),
    });
    rules.push(Rule {
        group: "ecs".into(),
        egress: true,
        port: CACHE_PORT,
        peer: Peer::Group("cache".into()),
    });
    rules.push(Rule {
        group: "database".into(),
        egress: false,
        port: DB_PORT,
        peer: Peer::Group("ecs".into()),
    });
    rules.push(Rule {
        group: "cache".into(),
        egress: false,
        port: CACHE_PORT,
        peer: Peer::Group("ecs".into()),
    });
    for (i, extra) in cfg.extra_ingress.iter().enumerate() {
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
        let net: IpNet = extra.cidr.parse().map_err(|_| {
            config.invalid(
                &format!("{key}.cidr"),
                format!("{:?} is not a CIDR", extra.cidr),
            )
        })?;
        if net.trunc() != net {
            return Err(config.invalid(
                &format!("{key}.cidr"),
                format!("{net} has host bits set; use {}", net.trunc()),
            ));
        }
        rules.push(Rule {
            group: extra.group.clone(),
            egress: false,
            port,
            peer: Peer::Cidr(net),
        });
    }
    rules.sort();
    rules.dedup();

    let task_roles = services
        .keys()
        .map(|k| TaskRole {
            service: k.clone(),
            name: tagger.name(&format!("{k}-task-role")),
            backup_write: cfg
                .services
                .get(k)
                .and_then(|p| p.backup_write)
                .unwrap_or(k == "backend"),
        })
        .collect();
    for (service, role) in task_roles_check(&services, tagger) {
        if role.len() > 64 {
            return Err(config.invalid(
                &format!("ecs.services.{service}"),
                format!(
                    "the task role name {role} is {} characters and IAM allows 64; use a shorter service, stack or env name",
                    role.len()
                ),
            ));
        }
    }
    let backup_prefix = cfg
        .backup_prefix
        .clone()
        .unwrap_or_else(|| "backend/".into());
    if backup_prefix.starts_with('/') || backup_prefix.contains('*') {
        return Err(config.invalid(
            "security.backup_prefix",
            "must not start with '/' or contain '*'",
        ));
    }
    let backup_bucket = cfg
        .backup_bucket
        .clone()
        .unwrap_or_else(|| format!("{}-backups-{}", tagger.id.stack, tagger.id.env));
    let bucket_ok = (3..=63).contains(&backup_bucket.len())
        && backup_bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && backup_bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && backup_bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !bucket_ok {
        return Err(config.invalid(
            "security.backup_bucket",
            format!("{backup_bucket:?} is not an S3 bucket name (3-63 lowercase letters, digits, '-' and '.')"),
        ));
    }
    // The database whose RDS-managed secret the execution role may read: hms-db's identifier.
    let db_instance_id = config
        .section::<DbIdentifier>("db")
        .ok()
        .and_then(|d| d.identifier)
        .unwrap_or_else(|| tagger.name("db"));
    Ok(Spec {
        region: tagger.id.region.clone(),
        vpc_id,
        groups: GROUPS
            .iter()
            .map(|g| ((*g).to_owned(), tagger.name(g)))
            .collect(),
        rules,
        keep_unmanaged_rules: cfg.keep_unmanaged_rules.unwrap_or(false),
        execution_role: tagger.name("ecs-execution-role"),
        task_roles,
        services,
        backup_bucket,
        backup_prefix,
        db_instance_id,
        keys: KEYS
            .iter()
            .map(|k| {
                (
                    (*k).to_owned(),
                    format!("alias/{}-{}-{k}", tagger.id.stack, tagger.id.env),
                )
            })
            .collect(),
        tagger: tagger.clone(),
    })
}

//! The desired cluster, services, load balancer and autoscaling, decided and validated from config, the
//! command's flags and the upstream outputs. Pure: every invalid input is rejected here, before any AWS call.
//!
//! [`build`] reads `[ecs]` in steps: `deploy`'s image, each service (`service`: reference defaults merged
//! with its config, then its checks one helper each), the routes between services (one default, no shared
//! or overlapping paths, stable rule priorities), the cluster-wide settings, and the upstream outputs
//! (`upstream`).

mod service;
mod upstream;

pub use service::{fargate_memory_ok, image_ok};

use std::collections::BTreeMap;

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::config::Config;
use hms_core::contract::SpecInput;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;

/// `[ecs]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    /// Cluster name (default `hms-cluster` in production, `<stack>-<env>-cluster` elsewhere).
    pub cluster_name: Option<String>,
    /// Container Insights on the cluster (default true).
    pub container_insights: Option<bool>,
    /// An ACM certificate: adds an HTTPS listener and redirects HTTP to it. Without it, the stack's
    /// hms-dns certificate (`outputs.dns.certificate_arn`) is used when the stack has hms-dns.
    pub certificate_arn: Option<String>,
    /// Log retention in days (default 365 in production, an audit trail; 30 elsewhere).
    pub log_retention_days: Option<i64>,
    /// Close the back door (default false): a secret `<stack>/<env>/edge/origin-verify` that hms-edge
    /// sends as the `X-Origin-Verify` header; the listener rules forward only requests that carry it, and
    /// the listener's default action answers 403.
    pub origin_verify: Option<bool>,
    /// The load balancer's access logs to the stack's log bucket `<stack>-logs-<env>` (default true).
    pub access_logs: Option<bool>,
    /// Days the log bucket keeps a log object (default 365 in production, an audit trail; 30 elsewhere).
    pub log_bucket_days: Option<i64>,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceConfig>,
}

/// `[ecs.services.<key>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub enabled: Option<bool>,
    /// ECS service name (default `hms-<key>` in production).
    pub name: Option<String>,
    pub image: Option<String>,
    pub cpu: Option<i64>,
    pub memory: Option<i64>,
    pub port: Option<i64>,
    pub desired_count: Option<i64>,
    /// ALB path pattern routed to this service (`/api/*`); one service has none: it gets the rest.
    pub path: Option<String>,
    pub health_check_path: Option<String>,
    /// Container health check command (CMD-SHELL form), e.g. "curl -f http://localhost:8000/health".
    pub container_health_check: Option<String>,
    /// The container's root filesystem read-only, with a writable scratch volume at /tmp (default true;
    /// false for an image that must write elsewhere).
    pub read_only_root_filesystem: Option<bool>,
    pub min_count: Option<i64>,
    pub max_count: Option<i64>,
    pub cpu_target: Option<f64>,
    pub memory_target: Option<f64>,
    pub scale_in_cooldown: Option<i64>,
    pub scale_out_cooldown: Option<i64>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// One service, fully decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub key: String,
    pub name: String,
    pub image: String,
    pub cpu: u32,
    pub memory: u32,
    pub port: u16,
    pub desired_count: u32,
    pub path: Option<String>,
    /// The listener rule's priority: stable for a service whatever other services come and go.
    pub priority: i32,
    pub health_check_path: String,
    pub container_health_check: Option<String>,
    /// Root filesystem read-only, `/tmp` a scratch volume.
    pub read_only_root: bool,
    pub min_count: u32,
    pub max_count: u32,
    pub cpu_target: f64,
    pub memory_target: Option<f64>,
    pub scale_in_cooldown: i32,
    pub scale_out_cooldown: i32,
    pub environment: BTreeMap<String, String>,
    /// Whether the database connection is passed to this service (the backend).
    pub database: bool,
    /// Whether the cache's endpoint and AUTH token reference are passed to it (the backend, when the
    /// stack has hms-cache).
    pub cache: bool,
    pub log_group: String,
    pub target_group: String,
    pub task_role_arn: Option<String>,
}

impl Service {
    /// The name of its target-tracking policy on CPU (`memory` false) or memory.
    pub fn policy_name(&self, memory: bool) -> String {
        format!("{}-{}", self.name, if memory { "memory" } else { "cpu" })
    }
}

/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// The desired ECS slice.
#[derive(Debug, Clone)]
pub struct Spec {
    pub region: String,
    pub cluster: String,
    pub container_insights: bool,
    /// The HTTPS listener's certificate: `ecs.certificate_arn`, else hms-dns's (as the plan shows it
    /// while only planned upstream).
    pub certificate_arn: Option<String>,
    /// Why the certificate is not the one hms-dns made, when both exist (shown with the plan).
    pub certificate_note: Option<String>,
    pub log_retention_days: i32,
    /// The stack's log bucket `<stack>-logs-<env>` (the name hms-vpc's S3 endpoint policy allows).
    pub log_bucket: String,
    /// Days a log object is kept there (its lifecycle's expiration).
    pub log_bucket_days: i32,
    /// The load balancer's access logs go to the log bucket (`ecs.access_logs`).
    pub access_logs: bool,
    /// This account's id (from hms-security's role ARNs), for the log bucket's policy.
    pub account: Option<String>,
    /// `down --delete-logs`: the service log groups and the log bucket (emptied) are deleted too.
    pub delete_logs: bool,
    /// `down --disable-deletion-protection`: the load balancer's protection may be turned off to delete it.
    pub disable_deletion_protection: bool,
    pub no_wait: bool,
    /// `hms-ecs deploy SERVICE IMAGE`: the service key; the plan keeps only its task definition and
    /// service.
    pub deploying: Option<String>,
    pub alb_name: String,
    pub deletion_protection: bool,
    pub services: Vec<Service>,
    pub vpc_id: Option<String>,
    pub public_subnets: Option<Vec<String>>,
    pub private_subnets: Option<Vec<String>>,
    /// The private subnets have no route out yet (see `Upstream::egress_pending`): a service, whose tasks
    /// pull their images through the NAT gateway, is made once they do.
    pub egress_pending: bool,
    pub alb_sg: Option<String>,
    pub ecs_sg: Option<String>,
    pub execution_role_arn: Option<String>,
    pub logs_key_arn: Option<String>,
    /// DB_HOST, DB_PORT, DB_NAME, DB_USER and the secret's ARN (never its value).
    pub database: Option<Database>,
    /// The cache the backend is told of, when the stack has hms-cache.
    pub cache: Option<Cache>,
    /// With `ecs.origin_verify`: the secret's name (`<stack>/<env>/edge/origin-verify`).
    pub origin_secret: Option<String>,
    pub tagger: Tagger,
}

/// The priority of the default service's rule with `ecs.origin_verify` (the lowest ALB allows): every
/// path rule is matched first.
pub const DEFAULT_RULE_PRIORITY: i32 = 50_000;

/// The default service's rule's path with `ecs.origin_verify`: everything.
pub const DEFAULT_RULE_PATH: &str = "/*";

/// What the backend is told of the cache; `None` parts are known after `hms-cache up`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cache {
    pub host: Option<String>,
    pub port: Option<String>,
    pub tls: bool,
    /// The AUTH token's secret (its ARN, never its value).
    pub secret_arn: Option<String>,
    /// Its `AWSCURRENT` version id, pinned in the reference so that a rotated token is a new task
    /// definition (tasks read secrets only when they start).
    pub secret_version: Option<String>,
}

/// What the backend is told of the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Database {
    pub host: String,
    pub port: String,
    pub name: String,
    pub user: String,
    pub secret_arn: String,
}

/// An AWS name of at most `max` characters: as is when it fits, else cut with a short hash so that two
/// long names stay apart.
pub fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!(
        "{}-{:06x}",
        &name[..max - 7].trim_end_matches('-'),
        hash & 0xff_ffff
    )
}

/// `up`'s own flags (`deploy` is an `up` with `deploy` set).
#[derive(Args, Debug, Clone, Default)]
pub struct UpFlags {
    /// Return once a deployment is accepted instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
    /// Set by `hms-ecs deploy SERVICE IMAGE`.
    #[arg(skip)]
    pub deploy: Option<Deploy>,
}

/// `hms-ecs deploy SERVICE IMAGE`: one service rolled to one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deploy {
    /// The service's config key.
    pub service: String,
    pub image: String,
}

/// `down`'s own flags.
#[derive(Args, Debug, Clone, Default)]
pub struct DownFlags {
    /// Delete the service log groups and the log bucket (emptied first) too; both are kept by default.
    #[arg(long)]
    pub delete_logs: bool,
    /// Turn off the load balancer's deletion protection (on in production) so that it can be deleted.
    #[arg(long)]
    pub disable_deletion_protection: bool,
}

/// The spec input of hms-ecs.
pub type Input<'a> = SpecInput<'a, NoFlags, UpFlags, DownFlags>;

/// The reference services, built with no config at all.
pub(crate) const REFERENCE: [&str; 2] = ["backend", "frontend"];

/// Builds the spec.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    let mut cfg: EcsConfig = config.section("ecs")?;
    if let Some(d) = &input.flags.up.deploy {
        deploy_image(&mut cfg, d)?;
    }
    let tagger = input.tagger;
    let mut services = Vec::new();
    for key in service_keys(&cfg) {
        if let Some(s) = service::service(config, &cfg, tagger, &key)? {
            services.push(s);
        }
    }
    services.sort_by(|a, b| a.key.cmp(&b.key));
    check_routes(config, &services)?;
    assign_priorities(&mut services);
    check_cluster_name(config, &cfg)?;
    let retention = log_retention(config, &cfg, &input.tagger.id.env)?;
    let log_bucket_days = log_bucket_days(config, &cfg, &input.tagger.id.env)?;
    check_certificate(config, &cfg)?;
    let up = upstream::Upstream::read(input, &cfg, &mut services)?;
    Ok(Spec {
        region: tagger.id.region.clone(),
        cluster: cfg
            .cluster_name
            .clone()
            .unwrap_or_else(|| tagger.name("cluster")),
        container_insights: cfg.container_insights.unwrap_or(true),
        certificate_arn: up.certificate_arn,
        certificate_note: up.certificate_note,
        log_retention_days: retention,
        log_bucket: format!("{}-logs-{}", tagger.id.stack, tagger.id.env),
        log_bucket_days,
        access_logs: cfg.access_logs.unwrap_or(true),
        account: up
            .execution_role_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(4))
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        delete_logs: input.is_down() && input.flags.down.delete_logs,
        disable_deletion_protection: input.is_down()
            && input.flags.down.disable_deletion_protection,
        no_wait: input.flags.up.no_wait,
        deploying: input.flags.up.deploy.as_ref().map(|d| d.service.clone()),
        alb_name: fit(&tagger.name("alb"), 32),
        deletion_protection: tagger.id.env == "production",
        services,
        vpc_id: up.vpc_id,
        public_subnets: up.public_subnets,
        private_subnets: up.private_subnets,
        egress_pending: up.egress_pending,
        alb_sg: up.alb_sg,
        ecs_sg: up.ecs_sg,
        execution_role_arn: up.execution_role_arn,
        logs_key_arn: up.logs_key_arn,
        database: up.database,
        cache: up.cache,
        origin_secret: cfg
            .origin_verify
            .unwrap_or(false)
            .then(|| format!("{}/{}/edge/origin-verify", tagger.id.stack, tagger.id.env)),
        tagger: tagger.clone(),
    })
}

/// `deploy SERVICE IMAGE`: the image of one enabled service, as if it were in config.
fn deploy_image(cfg: &mut EcsConfig, d: &Deploy) -> Result<()> {
    let known: Vec<&str> = REFERENCE
        .into_iter()
        .chain(cfg.services.keys().map(String::as_str))
        .filter(|k| cfg.services.get(*k).and_then(|s| s.enabled) != Some(false))
        .collect();
    if !known.contains(&d.service.as_str()) {
        return Err(Error::usage(format!(
            "deploy {}: unknown service {:?}; the services are {}",
            d.service,
            d.service,
            known.join(", ")
        )));
    }
    cfg.services.entry(d.service.clone()).or_default().image = Some(d.image.clone());
    Ok(())
}

/// The reference services' keys, then the other keys in config.
fn service_keys(cfg: &EcsConfig) -> Vec<String> {
    let mut keys: Vec<String> = REFERENCE.iter().map(|s| (*s).to_owned()).collect();
    for k in cfg.services.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

/// Exactly one service takes the paths no rule matches; no two share a path (or overlap) or a name.
fn check_routes(config: &Config, services: &[Service]) -> Result<()> {
    if services.is_empty() {
        return Err(config.invalid(
            "ecs.services",
            "no service is enabled; the load balancer needs at least one",
        ));
    }
    let defaults: Vec<&str> = services
        .iter()
        .filter(|s| s.path.is_none())
        .map(|s| s.key.as_str())
        .collect();
    if defaults.len() != 1 {
        return Err(config.invalid(
            "ecs.services",
            format!("exactly one service must have no path (it gets every request no path matches); now: {}", if defaults.is_empty() { "none".into() } else { defaults.join(", ") }),
        ));
    }
    for (i, a) in services.iter().enumerate() {
        for b in &services[..i] {
            check_pair(config, a, b)?;
        }
    }
    Ok(())
}

fn check_pair(config: &Config, a: &Service, b: &Service) -> Result<()> {
    // Overlapping patterns would be matched in rule order, which no one chose: refuse them.
    if let (Some(pa), Some(pb)) = (&a.path, &b.path) {
        let covers = |x: &str, y: &str| {
            x != y
                && x.strip_suffix('*')
                    .is_some_and(|prefix| y.starts_with(prefix))
        };
        if covers(pa, pb) || covers(pb, pa) {
            return Err(config.invalid(
                &format!("ecs.services.{}.path", a.key),
                format!(
                    "{pa:?} overlaps {pb:?} of {}; give services paths that do not overlap",
                    b.key
                ),
            ));
        }
    }
    if a.path.is_some() && a.path == b.path {
        return Err(config.invalid(
            &format!("ecs.services.{}.path", a.key),
            format!(
                "{:?} is also the path of {}; one path, one service",
                a.path.as_deref().unwrap_or_default(),
                b.key
            ),
        ));
    }
    if a.name == b.name {
        return Err(config.invalid(
            &format!("ecs.services.{}.name", a.key),
            format!("{} is also the name of {}", a.name, b.key),
        ));
    }
    Ok(())
}

/// Priorities from each service's key (probing past collisions in key order), so that adding or removing
/// a service never moves another one's rule.
fn assign_priorities(services: &mut [Service]) {
    let mut used: Vec<i32> = Vec::new();
    for svc in services.iter_mut().filter(|s| s.path.is_some()) {
        let hash = svc.key.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let mut p = 1 + (hash % 49_000) as i32;
        while used.contains(&p) {
            p += 1;
        }
        used.push(p);
        svc.priority = p;
    }
}

fn check_cluster_name(config: &Config, cfg: &EcsConfig) -> Result<()> {
    let cluster_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 255
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    };
    match cfg.cluster_name.as_deref().filter(|n| !cluster_ok(n)) {
        Some(n) => Err(config.invalid(
            "ecs.cluster_name",
            format!("{n:?}: 1-255 letters, digits, '-' and '_'"),
        )),
        None => Ok(()),
    }
}

fn log_retention(config: &Config, cfg: &EcsConfig, env: &str) -> Result<i32> {
    let default = if env == "production" { 365 } else { 30 };
    let retention = cfg.log_retention_days.unwrap_or(default);
    match i32::try_from(retention) {
        Ok(days) if hms_core::config::LOG_RETENTION_DAYS.contains(&days) => Ok(days),
        _ => Err(config.invalid(
            "ecs.log_retention_days",
            format!(
                "{retention} is not a CloudWatch Logs retention; use one of {:?}",
                hms_core::config::LOG_RETENTION_DAYS
            ),
        )),
    }
}

fn log_bucket_days(config: &Config, cfg: &EcsConfig, env: &str) -> Result<i32> {
    let default = if env == "production" { 365 } else { 30 };
    let days = cfg.log_bucket_days.unwrap_or(default);
    match i32::try_from(days) {
        Ok(d) if (1..=3650).contains(&d) => Ok(d),
        _ => Err(config.invalid(
            "ecs.log_bucket_days",
            format!(
                "{days} is not a number of days from 1 to 3650 (how long a log object is kept)"
            ),
        )),
    }
}

fn check_certificate(config: &Config, cfg: &EcsConfig) -> Result<()> {
    match &cfg.certificate_arn {
        Some(cert) if !cert.starts_with("arn:aws:acm:") => Err(config.invalid(
            "ecs.certificate_arn",
            format!("{cert:?} is not an ACM certificate ARN (arn:aws:acm:…)"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_fit() {
        let n = fit("a-very-long-stack-name-staging-backend-tg", 32);
        assert_eq!(n.len(), 32);
        assert_ne!(n, fit("a-very-long-stack-name-staging-frontend-tg", 32));
        assert_eq!(fit("hms-backend-tg", 32), "hms-backend-tg");
    }
}

//! The desired cluster, services, load balancer and autoscaling, decided and validated from config and the
//! upstream outputs. Pure: every invalid input is rejected here, before any AWS call.

use std::collections::BTreeMap;

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::contract::{CommandKind, SpecInput};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

/// `[ecs]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcsConfig {
    /// Cluster name (default `hms-cluster` in production, `<stack>-<env>-cluster` elsewhere).
    pub cluster_name: Option<String>,
    /// Container Insights on the cluster (default true).
    pub container_insights: Option<bool>,
    /// An ACM certificate: adds an HTTPS listener and redirects HTTP to it.
    pub certificate_arn: Option<String>,
    /// Log retention in days (default 30).
    pub log_retention_days: Option<i64>,
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
    pub min_count: u32,
    pub max_count: u32,
    pub cpu_target: f64,
    pub memory_target: Option<f64>,
    pub scale_in_cooldown: i32,
    pub scale_out_cooldown: i32,
    pub environment: BTreeMap<String, String>,
    /// Whether the database connection is passed to this service (the backend).
    pub database: bool,
    pub log_group: String,
    pub target_group: String,
    pub task_role_arn: Option<String>,
}

/// The desired ECS slice.
#[derive(Debug, Clone)]
pub struct Spec {
    pub region: String,
    pub cluster: String,
    pub container_insights: bool,
    pub certificate_arn: Option<String>,
    pub log_retention_days: i32,
    pub delete_logs: bool,
    pub no_wait: bool,
    pub alb_name: String,
    pub deletion_protection: bool,
    pub services: Vec<Service>,
    pub vpc_id: Option<String>,
    pub public_subnets: Option<Vec<String>>,
    pub private_subnets: Option<Vec<String>>,
    pub alb_sg: Option<String>,
    pub ecs_sg: Option<String>,
    pub execution_role_arn: Option<String>,
    pub logs_key_arn: Option<String>,
    /// DB_HOST, DB_PORT, DB_NAME, DB_USER and the secret's ARN (never its value).
    pub database: Option<Database>,
    pub tagger: Tagger,
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

/// Fargate's CPU units and the memory (MiB) each allows.
pub fn fargate_memory_ok(cpu: u32, memory: u32) -> bool {
    let range = |lo: u32, hi: u32, step: u32| {
        memory >= lo && memory <= hi && (memory - lo).is_multiple_of(step)
    };
    match cpu {
        256 => [512, 1024, 2048].contains(&memory),
        512 => range(1024, 4096, 1024),
        1024 => range(2048, 8192, 1024),
        2048 => range(4096, 16384, 1024),
        4096 => range(8192, 30720, 1024),
        8192 => range(16384, 61440, 4096),
        16384 => range(32768, 122880, 8192),
        _ => false,
    }
}

/// Whether `s` parses as an image reference: `[registry[:port]/]repo[/more][:tag|@sha256:<64 hex>]`.
pub fn image_ok(s: &str) -> bool {
    if s.is_empty() || s.len() > 255 || s.chars().any(|c| c.is_whitespace()) {
        return false;
    }
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        let Some(hex) = d.strip_prefix("sha256:") else {
            return false;
        };
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(t) = tag {
        if t.is_empty()
            || t.len() > 128
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return false;
        }
    }
    let parts: Vec<&str> = repo.split('/').collect();
    parts.iter().enumerate().all(|(i, p)| {
        let registry = i == 0
            && parts.len() > 1
            && (p.contains('.') || p.contains(':') || p.starts_with("localhost"));
        let port_ok = p
            .split_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_ok_and(|n| n > 0));
        !p.is_empty()
            && if registry {
                port_ok
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c))
            } else {
                p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
                    && !p.starts_with(['.', '_', '-'])
            }
    })
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

fn reference(key: &str) -> ServiceConfig {
    match key {
        "backend" => ServiceConfig {
            cpu: Some(512),
            memory: Some(1024),
            port: Some(8000),
            path: Some("/api/*".into()),
            health_check_path: Some("/api/health".into()),
            ..Default::default()
        },
        "frontend" => ServiceConfig {
            cpu: Some(256),
            memory: Some(512),
            port: Some(80),
            health_check_path: Some("/".into()),
            ..Default::default()
        },
        _ => ServiceConfig::default(),
    }
}

fn merge(base: ServiceConfig, over: ServiceConfig) -> ServiceConfig {
    let mut environment = base.environment;
    environment.extend(over.environment);
    ServiceConfig {
        enabled: over.enabled.or(base.enabled),
        name: over.name.or(base.name),
        image: over.image.or(base.image),
        cpu: over.cpu.or(base.cpu),
        memory: over.memory.or(base.memory),
        port: over.port.or(base.port),
        desired_count: over.desired_count.or(base.desired_count),
        path: over.path.or(base.path),
        health_check_path: over.health_check_path.or(base.health_check_path),
        container_health_check: over.container_health_check.or(base.container_health_check),
        min_count: over.min_count.or(base.min_count),
        max_count: over.max_count.or(base.max_count),
        cpu_target: over.cpu_target.or(base.cpu_target),
        memory_target: over.memory_target.or(base.memory_target),
        scale_in_cooldown: over.scale_in_cooldown.or(base.scale_in_cooldown),
        scale_out_cooldown: over.scale_out_cooldown.or(base.scale_out_cooldown),
        environment,
    }
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
    /// Delete the service log groups too (they are kept by default).
    #[arg(long)]
    pub delete_logs: bool,
}

/// The spec input of hms-ecs.
pub type Input<'a> = SpecInput<'a, NoFlags, UpFlags, DownFlags>;

/// Builds the spec.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    let mut cfg: EcsConfig = config.section("ecs")?;
    if let Some(d) = &input.flags.up.deploy {
        let known: Vec<&str> = ["backend", "frontend"]
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
        // The image of one service, as if it were in config.
        cfg.services.entry(d.service.clone()).or_default().image = Some(d.image.clone());
    }
    let tagger = input.tagger;
    let production = tagger.id.env == "production";

    let mut keys: Vec<String> = ["backend", "frontend"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for k in cfg.services.keys() {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let mut services = Vec::new();
    for key in keys {
        let c = merge(
            reference(&key),
            cfg.services.get(&key).cloned().unwrap_or_default(),
        );
        if c.enabled == Some(false) {
            continue;
        }
        let at = |f: &str| format!("ecs.services.{key}.{f}");
        let key_ok = !key.is_empty()
            && key.len() <= 32
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !key_ok {
            return Err(config.invalid(
                &format!("ecs.services.{key}"),
                "a service key is 1-32 lowercase letters, digits and '-', starting with a letter",
            ));
        }
        let name = c.name.clone().unwrap_or_else(|| tagger.name(&key));
        if name.is_empty()
            || name.len() > 255
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(config.invalid(
                &at("name"),
                format!(
                    "{name:?} is not a valid ECS service name (1-255 letters, digits, '-' and '_')"
                ),
            ));
        }
        let image = c
            .image
            .clone()
            .unwrap_or_else(|| format!("hms/{key}:latest"));
        if !image_ok(&image) {
            return Err(config.invalid(&at("image"), format!("{image:?} is not an image reference like 123456789012.dkr.ecr.us-east-1.amazonaws.com/hms-backend:v1.3.0")));
        }
        let is_reference = matches!(key.as_str(), "backend" | "frontend");
        if !is_reference && c.cpu.is_none() && c.memory.is_none() && c.port.is_none() {
            let others: Vec<&str> = ["backend", "frontend"]
                .into_iter()
                .chain(cfg.services.keys().map(String::as_str))
                .filter(|k| *k != key && !matches!(cfg.services.get(*k), Some(x) if x.cpu.is_none() && x.port.is_none() && !matches!(*k, "backend" | "frontend")))
                .collect();
            return Err(config.invalid(
                &format!("ecs.services.{key}"),
                format!("unknown service {key:?} (no cpu, memory or port); the services are {} — a new one needs at least those", others.join(", ")),
            ));
        }
        let Some(cpu) = c.cpu else {
            return Err(config.invalid(
                &at("cpu"),
                "is required for a new service (256, 512, 1024, …)",
            ));
        };
        let Some(memory) = c.memory else {
            return Err(config.invalid(&at("memory"), "is required for a new service (MiB)"));
        };
        let (cpu, memory) = (
            u32::try_from(cpu).unwrap_or(0),
            u32::try_from(memory).unwrap_or(0),
        );
        if !fargate_memory_ok(cpu, memory) {
            return Err(config.invalid(
                &at("memory"),
                format!("Fargate does not offer {cpu} CPU units with {memory} MiB; e.g. 256/512, 512/1024-4096, 1024/2048-8192 (steps of 1024)"),
            ));
        }
        let Some(port) = c.port else {
            return Err(config.invalid(&at("port"), "is required for a new service (1-65535)"));
        };
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| {
                config.invalid(&at("port"), format!("{port} is not a port; use 1-65535"))
            })?;
        let min = c.min_count.unwrap_or(2);
        let max = c.max_count.unwrap_or(10);
        if min < 0 || max < 1 {
            return Err(config.invalid(&at("min_count"), "counts must be ≥ 0 (min) and ≥ 1 (max)"));
        }
        if min > max {
            return Err(config.invalid(&at("min_count"), format!("{min} is above max_count {max}")));
        }
        let desired = c
            .desired_count
            .unwrap_or(min.max(1).min(max).max(2.min(max)));
        if desired < min || desired > max {
            return Err(config.invalid(
                &at("desired_count"),
                format!("{desired} is outside min_count..max_count ({min}..{max})"),
            ));
        }
        let cpu_target = c.cpu_target.unwrap_or(70.0);
        for (f, v) in [
            ("cpu_target", Some(cpu_target)),
            ("memory_target", c.memory_target),
        ] {
            if let Some(v) = v {
                if !(1.0..=100.0).contains(&v) {
                    return Err(config
                        .invalid(&at(f), format!("{v} is not a percentage between 1 and 100")));
                }
            }
        }
        let path = c.path.clone();
        if let Some(p) = &path {
            if !p.starts_with('/') || p.len() > 128 {
                return Err(config.invalid(
                    &at("path"),
                    format!("{p:?}: a path pattern starts with '/', like /api/*"),
                ));
            }
        }
        if path
            .as_deref()
            .is_some_and(|p| p.chars().any(char::is_whitespace))
        {
            return Err(config.invalid(&at("path"), "a path pattern has no spaces"));
        }
        let hc = c.health_check_path.clone().unwrap_or_else(|| "/".into());
        if hc.chars().any(char::is_whitespace) || hc.len() > 1024 {
            return Err(config.invalid(
                &at("health_check_path"),
                format!("{hc:?}: a URL path without spaces"),
            ));
        }
        if c.container_health_check
            .as_deref()
            .is_some_and(|x| x.trim().is_empty())
        {
            return Err(config.invalid(
                &at("container_health_check"),
                "is empty; give a command or remove the key",
            ));
        }
        if max > 1000 {
            return Err(config.invalid(&at("max_count"), format!("{max} tasks: keep it at 1000 or below (a typo guard; raise the ECS quota first)")));
        }
        for k in c.environment.keys() {
            let upper = k.to_ascii_uppercase();
            let valid = k.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
                && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                return Err(config.invalid(
                    &at(&format!("environment.{k}")),
                    "an environment variable name is letters, digits and '_'",
                ));
            }
            if ["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY"]
                .iter()
                .any(|w| upper.contains(w))
            {
                return Err(config.invalid(
                    &at(&format!("environment.{k}")),
                    "secrets never come from config: keep it in Secrets Manager (the database password is passed as a reference already)",
                ));
            }
            if key == "backend" && upper.starts_with("DB_") {
                return Err(config.invalid(
                    &at(&format!("environment.{k}")),
                    "DB_* variables come from hms-db's outputs; remove it",
                ));
            }
        }
        if !hc.starts_with('/') {
            return Err(config.invalid(
                &at("health_check_path"),
                format!("{hc:?} must start with '/'"),
            ));
        }
        for (f, v) in [
            ("scale_in_cooldown", c.scale_in_cooldown),
            ("scale_out_cooldown", c.scale_out_cooldown),
        ] {
            if v.is_some_and(|x| !(0..=3600).contains(&x)) {
                return Err(config.invalid(&at(f), "use 0 to 3600 seconds"));
            }
        }
        services.push(Service {
            log_group: format!("/ecs/{}/{key}", tagger.name("ecs").trim_end_matches("-ecs")),
            target_group: fit(&tagger.name(&format!("{key}-tg")), 32),
            task_role_arn: None,
            database: key == "backend",
            key: key.clone(),
            name,
            image,
            cpu,
            memory,
            port,
            desired_count: desired as u32,
            path,
            priority: 0,
            health_check_path: hc,
            container_health_check: c.container_health_check.clone(),
            min_count: min as u32,
            max_count: max as u32,
            cpu_target,
            memory_target: c.memory_target,
            scale_in_cooldown: c.scale_in_cooldown.unwrap_or(300) as i32,
            scale_out_cooldown: c.scale_out_cooldown.unwrap_or(60) as i32,
            environment: c.environment.clone(),
        });
    }
    services.sort_by(|a, b| a.key.cmp(&b.key));
    if services.is_empty() {
        return Err(config.invalid(
            "ecs.services",
            "no service is enabled; the load balancer needs at least one",
        ));
    }
    // Exactly one service takes the paths no rule matches; no two share a path.
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
        }
    }
    // Priorities from each service's key (probing past collisions in key order), so that adding or
    // removing a service never moves another one's rule.
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
    let cluster_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 255
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    };
    if let Some(n) = cfg.cluster_name.as_deref().filter(|n| !cluster_ok(n)) {
        return Err(config.invalid(
            "ecs.cluster_name",
            format!("{n:?}: 1-255 letters, digits, '-' and '_'"),
        ));
    }
    let retention = cfg.log_retention_days.unwrap_or(30);
    if !hms_core::config::LOG_RETENTION_DAYS.contains(&(retention as i32)) {
        return Err(config.invalid(
            "ecs.log_retention_days",
            format!(
                "{retention} is not a CloudWatch Logs retention; use one of {:?}",
                hms_core::config::LOG_RETENTION_DAYS
            ),
        ));
    }
    if let Some(cert) = &cfg.certificate_arn {
        if !cert.starts_with("arn:aws:acm:") {
            return Err(config.invalid(
                "ecs.certificate_arn",
                format!("{cert:?} is not an ACM certificate ARN (arn:aws:acm:…)"),
            ));
        }
    }

    // Upstream outputs (not needed to take things down).
    let needs = matches!(input.command, CommandKind::Plan | CommandKind::Up);
    let text = |path: &str, producer: &str| -> Result<Option<String>> {
        if !needs {
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
    let list = |path: &str, producer: &str| -> Result<Option<Vec<String>>> {
        let v = if needs {
            input.upstream(path, producer)?
        } else {
            input.doc.output(path)
        };
        Ok(v.and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        }))
    };
    let vpc_id = text("vpc.vpc_id", "hms-vpc")?;
    let public_subnets = list("vpc.public_subnet_ids", "hms-vpc")?;
    let private_subnets = list("vpc.private_subnet_ids", "hms-vpc")?;
    let alb_sg = text("security.alb_sg_id", "hms-security")?;
    let ecs_sg = text("security.ecs_sg_id", "hms-security")?;
    let execution_role_arn = text("security.ecs_execution_role_arn", "hms-security")?;
    let logs_key_arn = text("security.kms_key_arns.logs", "hms-security")?;
    for s in &mut services {
        s.task_role_arn = if needs {
            match input.upstream(&format!("security.task_role_arns.{}", s.key), "hms-security") {
                Ok(v) => v.and_then(Value::as_str).map(str::to_owned),
                Err(_) => {
                    return Err(Error::usage(format!(
                        "needs outputs.security.task_role_arns.{} — hms-security makes one task role per service in [ecs.services]; run 'hms-security up' with the same config first",
                        s.key
                    )))
                }
            }
        } else {
            None
        };
    }
    let database = if services.iter().any(|s| s.database) && needs {
        let host = text("db.endpoint", "hms-db")?;
        let port = input
            .upstream("db.port", "hms-db")?
            .map(|v| v.to_string().trim_matches('"').to_owned());
        let name = text("db.db_name", "hms-db")?;
        let user = text("db.username", "hms-db")?;
        let secret = text("db.master_user_secret_arn", "hms-db")?;
        match (host, port, name, user, secret) {
            (Some(host), Some(port), Some(name), Some(user), Some(secret_arn)) => Some(Database {
                host,
                port,
                name,
                user,
                secret_arn,
            }),
            _ => None,
        }
    } else {
        None
    };

    Ok(Spec {
        region: tagger.id.region.clone(),
        cluster: cfg
            .cluster_name
            .clone()
            .unwrap_or_else(|| tagger.name("cluster")),
        container_insights: cfg.container_insights.unwrap_or(true),
        certificate_arn: cfg.certificate_arn.clone(),
        log_retention_days: retention as i32,
        delete_logs: input.is_down() && input.flags.down.delete_logs,
        no_wait: input.flags.up.no_wait,
        alb_name: fit(&tagger.name("alb"), 32),
        deletion_protection: production,
        services,
        vpc_id,
        public_subnets,
        private_subnets,
        alb_sg,
        ecs_sg,
        execution_role_arn,
        logs_key_arn,
        database,
        tagger: tagger.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fargate_sizes() {
        assert!(fargate_memory_ok(256, 512));
        assert!(fargate_memory_ok(512, 1024));
        assert!(!fargate_memory_ok(256, 4096));
        assert!(!fargate_memory_ok(512, 1536));
        assert!(!fargate_memory_ok(300, 1024));
    }

    #[test]
    fn images() {
        for ok in ["hms/backend:latest", "nginx", "123456789012.dkr.ecr.us-east-1.amazonaws.com/hms-backend:v1.3.0", "localhost:5000/x/y:1",
            "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"] {
            assert!(image_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "HMS/Backend",
            "hms/backend:",
            "hms backend",
            "hms/backend@sha256:xyz",
            ":tag",
        ] {
            assert!(!image_ok(bad), "{bad}");
        }
    }

    #[test]
    fn long_names_fit() {
        let n = fit("a-very-long-stack-name-staging-backend-tg", 32);
        assert_eq!(n.len(), 32);
        assert_ne!(n, fit("a-very-long-stack-name-staging-frontend-tg", 32));
        assert_eq!(fit("hms-backend-tg", 32), "hms-backend-tg");
    }
}

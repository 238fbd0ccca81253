//! One service from config: the reference defaults (`backend`, `frontend`) merged with its table, then
//! each check in its own helper, in the order the errors are reported.

use std::collections::BTreeMap;

use hms_core::config::Config;
use hms_core::tags::Tagger;
use hms_core::Result;

use super::{fit, EcsConfig, Service, ServiceConfig, REFERENCE};

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
        read_only_root_filesystem: over
            .read_only_root_filesystem
            .or(base.read_only_root_filesystem),
        min_count: over.min_count.or(base.min_count),
        max_count: over.max_count.or(base.max_count),
        cpu_target: over.cpu_target.or(base.cpu_target),
        memory_target: over.memory_target.or(base.memory_target),
        scale_in_cooldown: over.scale_in_cooldown.or(base.scale_in_cooldown),
        scale_out_cooldown: over.scale_out_cooldown.or(base.scale_out_cooldown),
        environment,
    }
}

/// One service from its reference defaults and its config, validated; `None` when disabled. Its listener
/// rule priority is assigned later, with the others'; its task role comes from upstream.
pub(super) fn service(
    config: &Config,
    cfg: &EcsConfig,
    tagger: &Tagger,
    key: &str,
) -> Result<Option<Service>> {
    let c = merge(
        reference(key),
        cfg.services.get(key).cloned().unwrap_or_default(),
    );
    if c.enabled == Some(false) {
        return Ok(None);
    }
    let at = |f: &str| format!("ecs.services.{key}.{f}");
    check_key(config, key)?;
    let name = service_name(config, &c, tagger, key)?;
    let image = c
        .image
        .clone()
        .unwrap_or_else(|| format!("hms/{key}:latest"));
    if !image_ok(&image) {
        return Err(config.invalid(&at("image"), format!("{image:?} is not an image reference like 123456789012.dkr.ecr.us-east-1.amazonaws.com/hms-backend:v1.3.0")));
    }
    check_known(config, cfg, &c, key)?;
    let (cpu, memory, port) = sizes(config, &c, key)?;
    let (min, max, desired) = counts(config, &c, key)?;
    let cpu_target = c.cpu_target.unwrap_or(70.0);
    for (f, v) in [
        ("cpu_target", Some(cpu_target)),
        ("memory_target", c.memory_target),
    ] {
        if let Some(v) = v.filter(|v| !(1.0..=100.0).contains(v)) {
            return Err(
                config.invalid(&at(f), format!("{v} is not a percentage between 1 and 100"))
            );
        }
    }
    check_path(config, c.path.as_deref(), key)?;
    let hc = health_check(config, &c, key)?;
    if max > 1000 {
        return Err(config.invalid(
            &at("max_count"),
            format!(
                "{max} tasks: keep it at 1000 or below (a typo guard; raise the ECS quota first)"
            ),
        ));
    }
    check_environment(config, &c.environment, key)?;
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
    Ok(Some(Service {
        log_group: format!("/ecs/{}/{key}", tagger.name("ecs").trim_end_matches("-ecs")),
        target_group: fit(&tagger.name(&format!("{key}-tg")), 32),
        task_role_arn: None,
        database: key == "backend",
        cache: key == "backend",
        key: key.to_owned(),
        name,
        image,
        cpu,
        memory,
        port,
        desired_count: desired,
        path: c.path.clone(),
        priority: 0,
        health_check_path: hc,
        container_health_check: c.container_health_check.clone(),
        read_only_root: c.read_only_root_filesystem.unwrap_or(true),
        min_count: min,
        max_count: max,
        cpu_target,
        memory_target: c.memory_target,
        scale_in_cooldown: c.scale_in_cooldown.unwrap_or(300) as i32,
        scale_out_cooldown: c.scale_out_cooldown.unwrap_or(60) as i32,
        environment: c.environment.clone(),
    }))
}

fn check_key(config: &Config, key: &str) -> Result<()> {
    let key_ok = !key.is_empty()
        && key.len() <= 32
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if key_ok {
        return Ok(());
    }
    Err(config.invalid(
        &format!("ecs.services.{key}"),
        "a service key is 1-32 lowercase letters, digits and '-', starting with a letter",
    ))
}

fn service_name(config: &Config, c: &ServiceConfig, tagger: &Tagger, key: &str) -> Result<String> {
    let name = c.name.clone().unwrap_or_else(|| tagger.name(key));
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
    {
        return Err(config.invalid(
            &format!("ecs.services.{key}.name"),
            format!(
                "{name:?} is not a valid ECS service name (1-255 letters, digits, '-' and '_')"
            ),
        ));
    }
    Ok(name)
}

/// A key other than the reference services' is a new service only with its sizes; else it is a typo.
fn check_known(config: &Config, cfg: &EcsConfig, c: &ServiceConfig, key: &str) -> Result<()> {
    let is_reference = REFERENCE.contains(&key);
    if is_reference || c.cpu.is_some() || c.memory.is_some() || c.port.is_some() {
        return Ok(());
    }
    let others: Vec<&str> = REFERENCE
        .into_iter()
        .chain(cfg.services.keys().map(String::as_str))
        .filter(|k| *k != key && !matches!(cfg.services.get(*k), Some(x) if x.cpu.is_none() && x.port.is_none() && !REFERENCE.contains(k)))
        .collect();
    Err(config.invalid(
        &format!("ecs.services.{key}"),
        format!("unknown service {key:?} (no cpu, memory or port); the services are {} — a new one needs at least those", others.join(", ")),
    ))
}

/// CPU units, memory (a Fargate size) and the container port.
fn sizes(config: &Config, c: &ServiceConfig, key: &str) -> Result<(u32, u32, u16)> {
    let at = |f: &str| format!("ecs.services.{key}.{f}");
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
        .ok_or_else(|| config.invalid(&at("port"), format!("{port} is not a port; use 1-65535")))?;
    Ok((cpu, memory, port))
}

/// The task counts: (min, max, desired at creation).
fn counts(config: &Config, c: &ServiceConfig, key: &str) -> Result<(u32, u32, u32)> {
    let at = |f: &str| format!("ecs.services.{key}.{f}");
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
    // In range of u32 by the checks above (0 ≤ min ≤ desired ≤ max).
    Ok((min as u32, max as u32, desired as u32))
}

fn check_path(config: &Config, path: Option<&str>, key: &str) -> Result<()> {
    let at = format!("ecs.services.{key}.path");
    let Some(p) = path else { return Ok(()) };
    if !p.starts_with('/') || p.len() > 128 {
        return Err(config.invalid(
            &at,
            format!("{p:?}: a path pattern starts with '/', like /api/*"),
        ));
    }
    if p.chars().any(char::is_whitespace) {
        return Err(config.invalid(&at, "a path pattern has no spaces"));
    }
    Ok(())
}

/// The target group's health check path (checked for spaces here, for its leading '/' later).
fn health_check(config: &Config, c: &ServiceConfig, key: &str) -> Result<String> {
    let at = |f: &str| format!("ecs.services.{key}.{f}");
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
    Ok(hc)
}

/// Environment variables: valid names, no secrets, no DB_* on the backend (they come from hms-db).
fn check_environment(config: &Config, env: &BTreeMap<String, String>, key: &str) -> Result<()> {
    for k in env.keys() {
        let at = format!("ecs.services.{key}.environment.{k}");
        let upper = k.to_ascii_uppercase();
        let valid = k.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
            && k.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid {
            return Err(config.invalid(
                &at,
                "an environment variable name is letters, digits and '_'",
            ));
        }
        if ["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY"]
            .iter()
            .any(|w| upper.contains(w))
        {
            return Err(config.invalid(
                &at,
                "secrets never come from config: keep it in Secrets Manager (the database password is passed as a reference already)",
            ));
        }
        if key == "backend" && upper.starts_with("DB_") {
            return Err(config.invalid(&at, "DB_* variables come from hms-db's outputs; remove it"));
        }
        if key == "backend" && upper.starts_with("REDIS_") {
            return Err(config.invalid(
                &at,
                "REDIS_* variables come from hms-cache's outputs; remove it",
            ));
        }
    }
    Ok(())
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
}

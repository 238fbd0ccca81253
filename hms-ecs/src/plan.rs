//! The desired cluster, load balancer, services and autoscaling, and the plan against what exists. Pure.

use hms_core::diff::{self, Desired};
use hms_core::plan::{Action, Plan};
use serde_json::{json, Value};

use crate::observe::Observed;
use crate::spec::{Service, Spec};

/// The cluster.
pub const CLUSTER: &str = "ecs.cluster";
/// The load balancer.
pub const ALB: &str = "ecs.alb";
/// The HTTP listener.
pub const HTTP: &str = "ecs.listener.http";
/// The HTTPS listener (with a certificate).
pub const HTTPS: &str = "ecs.listener.https";
/// The TLS policy of the HTTPS listener: TLS 1.3 and 1.2 only.
pub const TLS_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

/// A service's resource addresses.
pub fn log_group(k: &str) -> String {
    format!("ecs.log_group[{k}]")
}
pub fn task_definition(k: &str) -> String {
    format!("ecs.task_definition[{k}]")
}
pub fn target_group(k: &str) -> String {
    format!("ecs.target_group[{k}]")
}
pub fn rule(k: &str) -> String {
    format!("ecs.rule[{k}]")
}
pub fn service(k: &str) -> String {
    format!("ecs.service[{k}]")
}
pub fn scaling_target(k: &str) -> String {
    format!("ecs.scaling_target[{k}]")
}
pub fn cpu_policy(k: &str) -> String {
    format!("ecs.scaling_policy.cpu[{k}]")
}
pub fn memory_policy(k: &str) -> String {
    format!("ecs.scaling_policy.memory[{k}]")
}

/// The service key in an address like `ecs.service[backend]`.
pub fn key_of(address: &str) -> Option<&str> {
    address.rsplit_once('[')?.1.strip_suffix(']')
}

fn unknown(v: &Option<String>, producer: &str) -> String {
    v.clone()
        .unwrap_or_else(|| format!("(known after {producer} up)"))
}

/// The task definition a service should run, in the canonical form that is compared and hashed. The
/// database password is a reference to the managed secret, never a value.
pub fn task_content(spec: &Spec, s: &Service) -> Value {
    let mut env: serde_json::Map<String, Value> = s
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
        .collect();
    let mut secrets = serde_json::Map::new();
    if s.database {
        match &spec.database {
            Some(db) => {
                env.insert("DB_HOST".into(), db.host.clone().into());
                env.insert("DB_PORT".into(), db.port.clone().into());
                env.insert("DB_NAME".into(), db.name.clone().into());
                env.insert("DB_USER".into(), db.user.clone().into());
                secrets.insert(
                    "DB_PASSWORD".into(),
                    format!("{}:password::", db.secret_arn).into(),
                );
            }
            None => {
                env.insert("DB_HOST".into(), "(known after hms-db up)".into());
            }
        }
    }
    json!({
        "family": s.name,
        "cpu": s.cpu.to_string(),
        "memory": s.memory.to_string(),
        "network_mode": "awsvpc",
        "requires": "FARGATE",
        "execution_role": unknown(&spec.execution_role_arn, "hms-security"),
        "task_role": unknown(&s.task_role_arn, "hms-security"),
        "container": {
            "name": s.key,
            "image": s.image,
            "port": s.port,
            "environment": env,
            "secrets": secrets,
            "log_group": s.log_group,
            "region": spec.region,
            "health_check": s.container_health_check,
        }
    })
}

/// A short, stable hash of a task definition's content (what a service runs).
pub fn content_hash(v: &Value) -> String {
    let text = hms_core::policy::normalize(v).to_string();
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{h:016x}")
}

/// Every resource the spec wants.
pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out = Vec::new();
    let t = |a: &str, n: &str| spec.tagger.tags(a, Some(n));
    out.push(
        Desired::new(CLUSTER)
            .attr("name", spec.cluster.clone())
            .attr(
                "container_insights",
                if spec.container_insights {
                    "enabled"
                } else {
                    "disabled"
                },
            )
            .attr("capacity_providers", vec!["FARGATE", "FARGATE_SPOT"])
            .tags(t(CLUSTER, &spec.cluster))
            .replace_on(&["name"]),
    );
    let mut public = spec
        .public_subnets
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    public.sort();
    out.push(
        Desired::new(ALB)
            .attr("name", spec.alb_name.clone())
            .attr("scheme", "internet-facing")
            .attr("subnets", public)
            .attr(
                "security_groups",
                vec![unknown(&spec.alb_sg, "hms-security")],
            )
            .attr("drop_invalid_headers", true)
            .attr("deletion_protection", spec.deletion_protection)
            .tags(t(ALB, &spec.alb_name))
            .replace_on(&["name", "scheme"]),
    );
    let default = spec
        .services
        .iter()
        .find(|s| s.path.is_none())
        .map(|s| target_group(&s.key))
        .unwrap_or_default();
    let (rules_on, http_default) = match &spec.certificate_arn {
        Some(cert) => {
            out.push(
                Desired::new(HTTPS)
                    .attr("port", 443)
                    .attr("protocol", "HTTPS")
                    .attr("certificate", cert.clone())
                    .attr("ssl_policy", TLS_POLICY)
                    .attr("default", default.clone())
                    .replace_on(&["port", "protocol"])
                    .uses([ALB.to_owned(), default.clone()]),
            );
            (HTTPS, "redirect:HTTPS:443".to_owned())
        }
        None => (HTTP, default.clone()),
    };
    let mut http = Desired::new(HTTP)
        .attr("port", 80)
        .attr("protocol", "HTTP")
        .attr("default", http_default.clone())
        .replace_on(&["port", "protocol"]);
    http = http.uses([ALB.to_owned()]);
    if spec.certificate_arn.is_some() {
        // Redirect only once the HTTPS listener is there.
        http = http.after([HTTPS]);
    }
    if http_default.starts_with("ecs.") {
        http = http.uses([http_default]);
    }
    out.push(http);
    let mut private = spec
        .private_subnets
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    private.sort();
    for s in &spec.services {
        let k = s.key.as_str();
        out.push(
            Desired::new(log_group(k))
                .attr("name", s.log_group.clone())
                .attr("retention_in_days", spec.log_retention_days)
                .attr("kms_key", unknown(&spec.logs_key_arn, "hms-security"))
                // Tags are set at creation; reading them back would cost one call per group.
                .replace_on(&["name"]),
        );
        let content = task_content(spec, s);
        out.push(
            Desired::new(task_definition(k))
                .attr("content", content.clone())
                .uses([log_group(k)]),
        );
        out.push(
            Desired::new(target_group(k))
                .attr("name", s.target_group.clone())
                .attr("port", s.port)
                .attr("protocol", "HTTP")
                .attr("target_type", "ip")
                .attr("vpc", unknown(&spec.vpc_id, "hms-vpc"))
                .attr("health_check_path", s.health_check_path.clone())
                .tags(t(&target_group(k), &s.target_group))
                .replace_on(&["name", "port", "protocol", "target_type", "vpc"]),
        );
        let mut routed = vec![rules_on.to_owned()];
        if let Some(p) = &s.path {
            out.push(
                Desired::new(rule(k))
                    .attr("listener", rules_on)
                    .attr("priority", s.priority)
                    .attr("path", p.clone())
                    .attr("target", target_group(k))
                    .replace_on(&["listener"])
                    .uses([rules_on.to_owned(), target_group(k)]),
            );
            routed.push(rule(k));
        }
        let deps = vec![CLUSTER.to_owned(), task_definition(k), target_group(k)];
        out.push(
            Desired::new(service(k))
                .attr("name", s.name.clone())
                .attr("cluster", CLUSTER)
                .attr("launch_type", "FARGATE")
                .attr("task_definition", content_hash(&content))
                .attr("subnets", private.clone())
                .attr(
                    "security_groups",
                    vec![unknown(&spec.ecs_sg, "hms-security")],
                )
                .attr("public_ip", "DISABLED")
                .attr("target_group", target_group(k))
                .attr("container_port", s.port)
                .attr("circuit_breaker", "rollback")
                .attr("deployment", "100-200")
                .tags(t(&service(k), &s.name))
                .replace_on(&[
                    "name",
                    "cluster",
                    "launch_type",
                    "target_group",
                    "container_port",
                ])
                .uses(deps)
                // Its target group must be routed to before the service registers with it; a rule that
                // moves (to the HTTPS listener) does not make a new service.
                .after(routed),
        );
        out.push(
            Desired::new(scaling_target(k))
                .attr("resource", format!("service/{}/{}", spec.cluster, s.name))
                .attr("min", s.min_count)
                .attr("max", s.max_count)
                .replace_on(&["resource"])
                .uses([service(k)]),
        );
        let policy = |metric: &str, target: f64| json!({"metric": metric, "target": target, "scale_in_cooldown": s.scale_in_cooldown, "scale_out_cooldown": s.scale_out_cooldown});
        out.push(
            Desired::new(cpu_policy(k))
                .attr(
                    "config",
                    policy("ECSServiceAverageCPUUtilization", s.cpu_target),
                )
                .uses([scaling_target(k)]),
        );
        if let Some(m) = s.memory_target {
            out.push(
                Desired::new(memory_policy(k))
                    .attr("config", policy("ECSServiceAverageMemoryUtilization", m))
                    .uses([scaling_target(k)]),
            );
        }
    }
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec), &observed.found);
    for c in &mut plan.changes {
        if c.address.starts_with("ecs.task_definition[") && c.action == Action::Update {
            c.reason = String::from("a new revision (older ones stay for rollback until down)");
        }
        if c.address.starts_with("ecs.service[") && c.action == Action::Update {
            let before = c.before.as_ref().and_then(|v| v.get("task_definition"));
            let after = c.after.as_ref().and_then(|v| v.get("task_definition"));
            if before != after {
                c.reason = String::from(
                    "deploys the new task definition (rolling, circuit breaker with rollback)",
                );
            }
        }
    }
    plan
}

/// The plan that deletes everything hms-ecs owns (log groups only with delete_logs).
pub fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
    let mut found = observed.found.clone();
    if !spec.delete_logs {
        found.retain(|a, _| !a.starts_with("ecs.log_group["));
    }
    let mut plan = diff::delete_all(&found, "down");
    for c in &mut plan.changes {
        if c.address.starts_with("ecs.task_definition[") {
            c.reason = String::from("down: every revision is deregistered");
        }
        if c.address.starts_with("ecs.service[") {
            c.reason = String::from("down: scaled to 0 and drained first");
        }
    }
    plan
}

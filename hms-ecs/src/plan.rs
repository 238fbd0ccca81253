//! The desired resources and the plan against what exists. Pure.
//!
//! [`desired`] lists what the spec wants: the cluster, the load balancer and its listeners, and per service
//! its log group, task definition, target group, listener rule (services with a path), the service, its
//! scalable target and policies. Every kind but the scaling policies (which Application Auto Scaling cannot
//! tag) carries its tags, so that a `[stack] tags` change is an update "tags differ" that apply carries out
//! through the tagging APIs alone.

use hms_core::addr::Address;
use hms_core::diff::{self, Desired, Tags};
use hms_core::plan::{Action, Change, Plan};

use crate::addr::Addr;
use crate::desired::{
    access_logs, content_hash, header_condition, log_bucket_lifecycle, log_bucket_policy,
    policy_config, rule_route, scaling_resource, task_content, unknown, OriginHashes, CPU_METRIC,
    MEMORY_METRIC,
};
use crate::observe::Observed;
use crate::spec::{Service, Spec, TLS_POLICY};

fn tags(spec: &Spec, a: &Addr, name: Option<&str>) -> Tags {
    spec.tagger.tags(&a.to_string(), name)
}

/// Every resource the spec wants; `origin` is the origin-verify secret's values as read (hashed), which
/// the header conditions of the rules accept.
pub fn desired(spec: &Spec, origin: &OriginHashes) -> Vec<Desired> {
    let mut out = vec![cluster(spec), log_bucket(spec), alb(spec)];
    out.extend(origin_secret(spec));
    out.extend(listeners(spec));
    for s in &spec.services {
        out.extend(service_resources(spec, s, origin));
    }
    out
}

/// With `ecs.origin_verify`: the secret whose value the CDN sends (made with a random value; only its
/// hash is ever shown).
fn origin_secret(spec: &Spec) -> Option<Desired> {
    let name = spec.origin_secret.as_ref()?;
    Some(
        Desired::new(Addr::OriginSecret)
            .attr("name", name.clone())
            .attr("scheduled_for_deletion", false)
            .tags(tags(spec, &Addr::OriginSecret, Some(name)))
            .replace_on(&["name"]),
    )
}

fn cluster(spec: &Spec) -> Desired {
    Desired::new(Addr::Cluster)
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
        .tags(tags(spec, &Addr::Cluster, Some(&spec.cluster)))
        .replace_on(&["name"])
}

/// The stack's log bucket: the baseline every bucket of the stack has (SSE-S3: load balancers deliver
/// access logs only to SSE-S3 buckets), a lifecycle and the delivery policy.
fn log_bucket(spec: &Spec) -> Desired {
    let a = Addr::LogBucket;
    hms_core::s3::Baseline::desired(
        Desired::new(&a).attr("name", spec.log_bucket.clone()),
        &hms_core::s3::Sse::Aes256,
    )
    .attr("lifecycle", log_bucket_lifecycle(spec.log_bucket_days))
    .attr(
        "policy",
        hms_core::policy::normalize(&log_bucket_policy(spec)),
    )
    .tags(tags(spec, &a, Some(&spec.log_bucket)))
    .replace_on(&["name"])
}

fn alb(spec: &Spec) -> Desired {
    let mut public = spec
        .public_subnets
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    public.sort();
    let alb = Desired::new(Addr::Alb)
        .attr("name", spec.alb_name.clone())
        .attr("scheme", "internet-facing")
        .attr("subnets", public)
        .attr(
            "security_groups",
            vec![unknown(&spec.alb_sg, "hms-security")],
        )
        .attr("drop_invalid_headers", true)
        .attr("deletion_protection", spec.deletion_protection)
        .attr("access_logs", access_logs(spec))
        .tags(tags(spec, &Addr::Alb, Some(&spec.alb_name)))
        .replace_on(&["name", "scheme"]);
    if spec.access_logs {
        // The bucket and its policy first: AWS checks that it may write there.
        alb.uses([Addr::LogBucket])
    } else {
        alb
    }
}

/// The listener the path rules are on: HTTPS with a certificate, else HTTP.
fn rules_on(spec: &Spec) -> Addr {
    if spec.certificate_arn.is_some() {
        Addr::HttpsListener
    } else {
        Addr::HttpListener
    }
}

/// The listener's default action that answers every request no rule forwards, with `ecs.origin_verify`.
pub const FORBIDDEN: &str = "fixed-response:403";

/// HTTP (forwarding to the default service, or redirecting to HTTPS) and, with a certificate, HTTPS.
/// With `ecs.origin_verify` the listener the rules are on answers 403 instead of forwarding, once the
/// default service's own rule is there.
fn listeners(spec: &Spec) -> Vec<Desired> {
    let default_service = spec.services.iter().find(|s| s.path.is_none());
    let default = default_service
        .filter(|_| spec.origin_secret.is_none())
        .map(|s| Addr::TargetGroup(s.key.clone()));
    let default_text = || match (&default, default_service) {
        (Some(tg), _) => tg.to_string(),
        (None, Some(_)) => FORBIDDEN.to_owned(),
        (None, None) => String::new(),
    };

    let mut out = Vec::new();
    let mut http = Desired::new(Addr::HttpListener)
        .attr("port", 80)
        .attr("protocol", "HTTP")
        .tags(tags(spec, &Addr::HttpListener, None))
        .replace_on(&["port", "protocol"])
        .uses([Addr::Alb]);
    match &spec.certificate_arn {
        Some(cert) => {
            let mut https = Desired::new(Addr::HttpsListener)
                .attr("port", 443)
                .attr("protocol", "HTTPS")
                .attr("certificate", cert.clone())
                .attr("ssl_policy", TLS_POLICY)
                .attr("default", default_text())
                .tags(tags(spec, &Addr::HttpsListener, None))
                .replace_on(&["port", "protocol"])
                .uses([Addr::Alb]);
            if let Some(tg) = &default {
                https = https.uses([tg]);
            }
            out.push(https);
            // Redirect only once the HTTPS listener is there.
            http = http
                .attr("default", "redirect:HTTPS:443")
                .after([Addr::HttpsListener]);
        }
        None => {
            http = http.attr("default", default_text());
            if let Some(tg) = &default {
                http = http.uses([tg]);
            }
        }
    }
    out.push(http);
    out
}

/// One service's resources, in the order they are made.
fn service_resources(spec: &Spec, s: &Service, origin: &OriginHashes) -> Vec<Desired> {
    let k = || s.key.clone();
    let (log_group, td, tg, rule, svc, target) = (
        Addr::LogGroup(k()),
        Addr::TaskDefinition(k()),
        Addr::TargetGroup(k()),
        Addr::Rule(k()),
        Addr::Service(k()),
        Addr::ScalingTarget(k()),
    );
    let listener = rules_on(spec);
    let mut out = vec![Desired::new(&log_group)
        .attr("name", s.log_group.clone())
        .attr("retention_in_days", spec.log_retention_days)
        .attr("kms_key", unknown(&spec.logs_key_arn, "hms-security"))
        .tags(tags(spec, &log_group, Some(&s.log_group)))
        .replace_on(&["name"])];
    let content = task_content(spec, s);
    out.push(
        Desired::new(&td)
            .attr("content", content.clone())
            .tags(tags(spec, &td, Some(&s.name)))
            .uses([&log_group]),
    );
    out.push(
        Desired::new(&tg)
            .attr("name", s.target_group.clone())
            .attr("port", s.port)
            .attr("protocol", "HTTP")
            .attr("target_type", "ip")
            .attr("vpc", unknown(&spec.vpc_id, "hms-vpc"))
            .attr("health_check_path", s.health_check_path.clone())
            .tags(tags(spec, &tg, Some(&s.target_group)))
            .replace_on(&["name", "port", "protocol", "target_type", "vpc"]),
    );
    let mut routed = vec![listener.clone()];
    if let Some((priority, path)) = rule_route(spec, s) {
        let mut r = Desired::new(&rule)
            .attr("listener", &listener)
            .attr("priority", priority)
            .attr("path", path)
            .attr("target", &tg)
            .attr("header", header_condition(spec, origin))
            .tags(tags(spec, &rule, None))
            .replace_on(&["listener"])
            .uses([&listener, &tg]);
        if spec.origin_secret.is_some() {
            // The secret's value is read when the rule is made.
            r = r.after([Addr::OriginSecret]);
        }
        out.push(r);
        routed.push(rule);
    }
    out.push(service(spec, s, &content_hash(&content), routed));
    out.push(
        Desired::new(&target)
            .attr("resource", scaling_resource(&spec.cluster, &s.name))
            .attr("min", s.min_count)
            .attr("max", s.max_count)
            .tags(tags(spec, &target, None))
            .replace_on(&["resource"])
            .uses([&svc]),
    );
    let policy = |metric: &str, value: f64| {
        policy_config(metric, value, s.scale_in_cooldown, s.scale_out_cooldown)
    };
    out.push(
        Desired::new(Addr::CpuPolicy(k()))
            .attr("config", policy(CPU_METRIC, s.cpu_target))
            .uses([&target]),
    );
    if let Some(m) = s.memory_target {
        out.push(
            Desired::new(Addr::MemoryPolicy(k()))
                .attr("config", policy(MEMORY_METRIC, m))
                .uses([&target]),
        );
    }
    out
}

fn service(spec: &Spec, s: &Service, td_hash: &str, routed: Vec<Addr>) -> Desired {
    let k = || s.key.clone();
    let mut private = spec
        .private_subnets
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    private.sort();
    let a = Addr::Service(k());
    let d = Desired::new(&a);
    // Tasks in the private subnets pull their images through the NAT gateway: not before its routes.
    let d = if spec.egress_pending {
        d.attr("egress", "(known after hms-vpc up)")
    } else {
        d
    };
    d.attr("name", s.name.clone())
        .attr("cluster", Addr::Cluster)
        .attr("launch_type", "FARGATE")
        .attr("task_definition", td_hash)
        .attr("subnets", private)
        .attr(
            "security_groups",
            vec![unknown(&spec.ecs_sg, "hms-security")],
        )
        .attr("public_ip", "DISABLED")
        .attr("target_group", Addr::TargetGroup(k()))
        .attr("container_port", s.port)
        .attr("circuit_breaker", "rollback")
        .attr("deployment", "100-200")
        .tags(tags(spec, &a, Some(&s.name)))
        .replace_on(&[
            "name",
            "cluster",
            "launch_type",
            "target_group",
            "container_port",
        ])
        .uses([
            Addr::Cluster,
            Addr::TaskDefinition(k()),
            Addr::TargetGroup(k()),
        ])
        // Its target group must be routed to before the service registers with it; a rule that moves (to
        // the HTTPS listener) does not make a new service.
        .after(routed)
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec, &observed.origin), &observed.found);
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Update)
    {
        match Addr::parse(&c.address) {
            // A tag change alone keeps its reason ("tags differ"): it registers nothing.
            Some(Addr::TaskDefinition(_)) if c.changed("content") => {
                c.reason = String::from("a new revision (older ones stay for rollback until down)");
            }
            Some(Addr::Service(key)) if c.changed("task_definition") => {
                c.reason = String::from(
                    "deploys the new task definition (rolling, circuit breaker with rollback)",
                );
                // The compared values are content hashes: the plan says what they stand for (what
                // changes inside is on the task definition's own line).
                let td = Addr::TaskDefinition(key).to_string();
                let now = match c.before.as_ref().and_then(|b| b.get("task_definition")) {
                    Some(serde_json::Value::String(s)) if s.starts_with("other revision") => {
                        s.clone()
                    }
                    _ => format!("the revision of {td} it runs"),
                };
                if let Some(serde_json::Value::Object(b)) = c.before.as_mut() {
                    b.insert("task_definition".into(), now.into());
                }
                if let Some(serde_json::Value::Object(a)) = c.after.as_mut() {
                    a.insert(
                        "task_definition".into(),
                        format!("a new revision of {td}").into(),
                    );
                }
            }
            Some(Addr::Rule(_)) if c.changed("header") => {
                c.reason = header_reason(c);
            }
            _ => {}
        }
    }
    forward_before_forbidding(spec, &mut plan);
    plan.notes.extend(spec.certificate_note.clone());
    match &spec.deploying {
        Some(key) => only_the_deploy(key, observed, &mut plan),
        None => name_reverted_deploys(observed, &mut plan),
    }
    plan
}

/// `deploy SERVICE IMAGE` changes that service's task definition and the service, nothing else: the
/// other pending changes are named in a note and wait for `up`. A service that does not exist yet is
/// made by `up`, not by a deploy.
fn only_the_deploy(key: &str, observed: &Observed, plan: &mut Plan) {
    let td = Addr::TaskDefinition(key.to_owned()).to_string();
    let service = Addr::Service(key.to_owned()).to_string();
    if !observed.found.contains_key(&service) {
        plan.refused.push(format!(
            "deploy {key}: {service} does not exist yet; run 'hms-ecs up' first (it deploys the image in config)"
        ));
        return;
    }
    let (mine, others): (Vec<Change>, Vec<Change>) = std::mem::take(&mut plan.changes)
        .into_iter()
        .partition(|c| c.address == td || c.address == service);
    plan.changes = mine;
    if !others.is_empty() {
        plan.notes.push(format!(
            "deploy changes only {td} and {service}; {} pending for 'hms-ecs up': {}",
            hms_core::plan::count_of(others.len(), "other change"),
            others
                .iter()
                .map(|c| c.address.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// A plain `up` that puts back the config's image over one `deploy` rolled out says so on the change.
fn name_reverted_deploys(observed: &Observed, plan: &mut Plan) {
    for c in plan
        .changes
        .iter_mut()
        .filter(|c| c.action == Action::Update)
    {
        let Some(Addr::TaskDefinition(key)) = Addr::parse(&c.address) else {
            continue;
        };
        let Some(deployed) = observed
            .found
            .get(&c.address)
            .and_then(|f| f.info.get("deployed"))
        else {
            continue;
        };
        let image = |v: &Option<serde_json::Value>| {
            v.as_ref()
                .and_then(|v| v.pointer("/content/container/image"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let (running, wanted) = (image(&c.before), image(&c.after));
        let by_deploy = deployed.get("image").and_then(serde_json::Value::as_str);
        if running.is_some() && running.as_deref() == by_deploy && running != wanted {
            c.reason = format!(
                "reverts the image {} deployed by `hms-ecs deploy` on {} to the config's {} (put the deployed image in config to keep it)",
                by_deploy.unwrap_or_default(),
                deployed.get("at").and_then(serde_json::Value::as_str).unwrap_or("?"),
                wanted.unwrap_or_default()
            );
            plan.notes.push(format!(
                "{} rolls back what `hms-ecs deploy {key}` rolled out",
                Addr::Service(key.clone())
            ));
        }
    }
}

/// When `ecs.origin_verify` comes to a listener that exists, the default service's new rule is made
/// before the listener's default action turns to 403 (the rule then needs the listener's recorded ARN
/// only, not its update): no request of the default service is answered 403 in between.
fn forward_before_forbidding(spec: &Spec, plan: &mut Plan) {
    let Some(default) = spec.services.iter().find(|s| s.path.is_none()) else {
        return;
    };
    if spec.origin_secret.is_none() {
        return;
    }
    let listener = rules_on(spec).to_string();
    let rule = Addr::Rule(default.key.clone()).to_string();
    let updated = plan
        .changes
        .iter()
        .any(|c| c.address == listener && c.action == Action::Update && c.changed("default"));
    let made = plan
        .changes
        .iter()
        .any(|c| c.address == rule && c.action == Action::Create);
    if !(updated && made) {
        return;
    }
    for c in &mut plan.changes {
        if c.address == rule {
            c.depends_on.retain(|d| *d != listener);
        } else if c.address == listener {
            c.depends_on.push(rule.clone());
        }
    }
}

/// Why a rule's header condition changes (the values are shown only as hashes).
fn header_reason(c: &Change) -> String {
    let count = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|v| v.get("header"))
            .and_then(|h| h.get("values_sha256"))
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len)
    };
    match (count(&c.before), count(&c.after)) {
        (0, 0) => String::from("forwards every request (ecs.origin_verify is off)"),
        (_, 0) => String::from("forwards every request again (ecs.origin_verify is off)"),
        (0, _) => String::from("forwards only requests with the origin-verify header"),
        (_, 2) => {
            String::from("accepts the previous origin-verify value too (a rotation is under way)")
        }
        _ => String::from("accepts only the current origin-verify value"),
    }
}

/// The plan that deletes everything hms-ecs owns (the log groups and the log bucket only with
/// delete_logs).
pub fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
    let mut found = observed.found.clone();
    if !spec.delete_logs {
        found.retain(|a, _| !matches!(Addr::parse(a), Some(Addr::LogGroup(_) | Addr::LogBucket)));
    }
    let mut plan = diff::delete_all(&found, "down");
    for c in &mut plan.changes {
        match Addr::parse(&c.address) {
            Some(Addr::TaskDefinition(_)) => {
                c.reason = String::from("down: every revision is deregistered");
            }
            Some(Addr::Service(_)) => {
                c.reason = String::from("down: scaled to 0 and drained first");
            }
            Some(Addr::LogBucket) => {
                c.reason = String::from("down --delete-logs: emptied first");
            }
            Some(Addr::Alb) if spec.disable_deletion_protection => {
                c.reason = String::from("down: deletion protection turned off first");
            }
            _ => {}
        }
    }
    let alb = Addr::Alb.to_string();
    let protected = found
        .get(&alb)
        .and_then(|f| f.attrs.get("deletion_protection"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if protected && !spec.disable_deletion_protection {
        plan.refused.push(format!(
            "load balancer {} ({alb}) has deletion protection on; nothing was deleted. If it must really go: hms-ecs down --disable-deletion-protection",
            spec.alb_name
        ));
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hms_core::cli::NoFlags;
    use hms_core::config::Config;
    use hms_core::contract::{CommandKind, Flags, SpecInput};
    use hms_core::diff::{Found, FoundSet};
    use hms_core::document::{Document, Identity};
    use hms_core::tags::Tagger;
    use serde_json::json;

    use super::*;
    use crate::spec::{self, DownFlags, UpFlags};

    /// The outputs of hms-vpc, hms-security and hms-db after their `up`.
    fn upstream(id: &Identity) -> Document {
        let mut doc = Document::new(id);
        let roles = json!({"backend": "arn:aws:iam::123456789012:role/hms-backend-task", "frontend": "arn:aws:iam::123456789012:role/hms-frontend-task", "worker": "arn:aws:iam::123456789012:role/hms-worker-task"});
        for (section, value) in [
            (
                "vpc",
                json!({"vpc_id": "vpc-1", "public_subnet_ids": ["subnet-p1", "subnet-p2"], "private_subnet_ids": ["subnet-a", "subnet-b"]}),
            ),
            (
                "security",
                json!({"alb_sg_id": "sg-alb", "ecs_sg_id": "sg-ecs", "ecs_execution_role_arn": "arn:aws:iam::123456789012:role/hms-ecs-execution", "kms_key_arns": {"logs": "arn:aws:kms:us-east-1:123456789012:key/logs"}, "task_role_arns": roles}),
            ),
            (
                "db",
                json!({"endpoint": "hms-db.x.us-east-1.rds.amazonaws.com", "port": 5432, "db_name": "hms", "username": "hms_prod", "master_user_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-x"}),
            ),
        ] {
            doc.set_outputs(section, value, &[]);
        }
        doc
    }

    /// The spec of `up` with `config` (TOML) and the stack's own `tags`.
    fn spec_of(config: &str, tags: &[(&str, &str)]) -> Spec {
        spec_with(config, tags, &[], CommandKind::Up).expect("spec")
    }

    /// The spec of `command` with `config`, `tags` and more upstream sections (`("dns", {...})`, with
    /// the unknown output names of a planned one).
    fn spec_with(
        config: &str,
        tags: &[(&str, &str)],
        more: &[(&str, serde_json::Value, &[&str])],
        command: CommandKind,
    ) -> hms_core::Result<Spec> {
        let id = Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        };
        let extra: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let tagger = Tagger::new(id.clone(), "hms-ecs", extra);
        let config = Config::from_toml(config, "hms.toml").expect("config");
        let mut doc = upstream(&id);
        for (section, value, unknown) in more {
            let unknown: Vec<String> = unknown.iter().map(|u| (*u).to_owned()).collect();
            doc.set_outputs(section, value.clone(), &unknown);
        }
        let flags: Flags<NoFlags, UpFlags, DownFlags> = Flags::default();
        spec::build(&SpecInput {
            config: &config,
            tagger: &tagger,
            doc: &doc,
            command,
            flags: &flags,
            yes: false,
            tool: "hms-ecs",
        })
    }

    /// What observe finds once `spec` is applied: every desired resource as it is wanted.
    fn converged(spec: &Spec) -> FoundSet {
        converged_with(spec, &OriginHashes::default())
    }

    /// The same, with the origin secret's values (hashed) as the rules accept them.
    fn converged_with(spec: &Spec, origin: &OriginHashes) -> FoundSet {
        desired(spec, origin)
            .into_iter()
            .map(|d| {
                let mut f = Found::new(format!("id of {}", d.address)).uses(d.depends_on);
                f.attrs = d.attrs;
                f.tags = d.tags;
                (d.address, f)
            })
            .collect()
    }

    fn observed(found: FoundSet) -> Observed {
        Observed {
            found,
            counts: BTreeMap::new(),
            origin: OriginHashes::default(),
        }
    }

    fn observed_with(found: FoundSet, origin: &OriginHashes) -> Observed {
        Observed {
            origin: origin.clone(),
            ..observed(found)
        }
    }

    const ORIGIN_VERIFY: &str = "[ecs]\norigin_verify = true\n";

    fn hashes(current: &str, previous: Option<&str>) -> OriginHashes {
        OriginHashes {
            current: Some(current.to_owned()),
            previous: previous.map(str::to_owned),
        }
    }

    fn after_of(p: &Plan, address: &str) -> serde_json::Value {
        p.get(address)
            .and_then(|c| c.after.clone())
            .unwrap_or_else(|| panic!("{address} changes"))
    }

    #[test]
    fn origin_verify_answers_403_by_default_and_every_rule_requires_the_header() {
        let spec = spec_of(ORIGIN_VERIFY, &[]);
        assert_eq!(
            spec.origin_secret.as_deref(),
            Some("hms/production/edge/origin-verify")
        );
        let p = plan(&spec, &observed(FoundSet::new()));
        assert_eq!(
            p.get("ecs.origin_secret").map(|c| c.action),
            Some(Action::Create)
        );
        assert_eq!(
            after_of(&p, "ecs.listener.http")["default"],
            json!("fixed-response:403")
        );
        let backend = after_of(&p, "ecs.rule[backend]");
        assert_eq!(backend["path"], json!("/api/*"));
        let frontend = after_of(&p, "ecs.rule[frontend]");
        assert_eq!(frontend["path"], json!("/*"));
        assert_eq!(frontend["priority"], json!(50_000));
        assert_eq!(frontend["target"], json!("ecs.target_group[frontend]"));
        for r in [&backend, &frontend] {
            assert_eq!(
                r["header"],
                json!({"name": "X-Origin-Verify", "values_sha256": [crate::desired::NEW_SECRET]})
            );
        }
        // The rules read the secret: made after it.
        assert!(p
            .get("ecs.rule[frontend]")
            .is_some_and(|c| c.depends_on.iter().any(|d| d == "ecs.origin_secret")));
        // Nothing shows a value; the outputs name the secret and the header.
        let outputs = <crate::Ecs as hms_core::contract::Tool>::outputs(
            &spec,
            &hms_core::state::Resources::new(),
        );
        assert_eq!(outputs.value["origin_verify_header"], "X-Origin-Verify");
        assert!(outputs
            .unknown
            .iter()
            .any(|u| u == "origin_verify_secret_arn"));

        // Converged: nothing; without the key the reference stack has neither secret nor header.
        let h = hashes("0123456789abcdef", None);
        let found = converged_with(&spec, &h);
        assert!(plan(&spec, &observed_with(found, &h)).changes.is_empty());
        let reference = spec_of("", &[]);
        let p = plan(&reference, &observed(FoundSet::new()));
        assert!(p.get("ecs.origin_secret").is_none());
        assert!(p.get("ecs.rule[frontend]").is_none());
        assert_eq!(
            after_of(&p, "ecs.listener.http")["default"],
            json!("ecs.target_group[frontend]")
        );
        assert_eq!(after_of(&p, "ecs.rule[backend]")["header"], json!(null));
        let outputs = <crate::Ecs as hms_core::contract::Tool>::outputs(
            &reference,
            &hms_core::state::Resources::new(),
        );
        assert!(outputs.value.get("origin_verify_header").is_none());
    }

    #[test]
    fn with_https_the_https_listener_answers_403_and_http_still_redirects() {
        let config = format!(
            "{ORIGIN_VERIFY}certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/c\"\n"
        );
        let spec = spec_of(&config, &[]);
        let p = plan(&spec, &observed(FoundSet::new()));
        assert_eq!(
            after_of(&p, "ecs.listener.https")["default"],
            json!("fixed-response:403")
        );
        assert_eq!(
            after_of(&p, "ecs.listener.http")["default"],
            json!("redirect:HTTPS:443")
        );
        for r in ["ecs.rule[backend]", "ecs.rule[frontend]"] {
            assert_eq!(
                after_of(&p, r)["listener"],
                json!("ecs.listener.https"),
                "{r}"
            );
            assert_eq!(
                after_of(&p, r)["header"]["name"],
                json!("X-Origin-Verify"),
                "{r}"
            );
        }
    }

    #[test]
    fn origin_verify_on_a_running_stack_routes_the_default_service_before_answering_403() {
        let spec = spec_of(ORIGIN_VERIFY, &[]);
        let p = plan(&spec, &observed(converged(&spec_of("", &[]))));
        let got: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|x| (x.address.as_str(), x.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ecs.origin_secret", Action::Create),
                ("ecs.listener.http", Action::Update),
                ("ecs.rule[backend]", Action::Update),
                ("ecs.rule[frontend]", Action::Create),
            ]
        );
        let deps = |a: &str| p.get(a).map(|c| c.depends_on.clone()).unwrap_or_default();
        assert!(deps("ecs.listener.http").contains(&"ecs.rule[frontend]".to_owned()));
        assert!(!deps("ecs.rule[frontend]").contains(&"ecs.listener.http".to_owned()));
        assert_eq!(
            p.get("ecs.rule[backend]").map(|c| c.reason.as_str()),
            Some("forwards only requests with the origin-verify header")
        );
    }

    #[test]
    fn a_rotation_makes_every_rule_accept_both_values_and_finishing_only_the_new_one() {
        let spec = spec_of(ORIGIN_VERIFY, &[]);
        let old = hashes("aaaaaaaaaaaaaaaa", None);
        let rotating = hashes("bbbbbbbbbbbbbbbb", Some("aaaaaaaaaaaaaaaa"));
        let finished = hashes("bbbbbbbbbbbbbbbb", None);
        // The rules accept the old value; the secret now has a new current one and the old as previous.
        let p = plan(
            &spec,
            &observed_with(converged_with(&spec, &old), &rotating),
        );
        let got: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|x| (x.address.as_str(), x.action))
            .collect();
        assert_eq!(
            got,
            vec![
                ("ecs.rule[backend]", Action::Update),
                ("ecs.rule[frontend]", Action::Update)
            ]
        );
        for c in &p.changes {
            assert_eq!(
                c.after
                    .as_ref()
                    .map(|a| a["header"]["values_sha256"].clone()),
                Some(json!(["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"])),
                "{}",
                c.address
            );
            assert_eq!(
                c.reason,
                "accepts the previous origin-verify value too (a rotation is under way)"
            );
        }
        // What the verb did is what plan wants: converged while rotating, and once finished.
        let both = converged_with(&spec, &rotating);
        assert!(plan(&spec, &observed_with(both.clone(), &rotating))
            .changes
            .is_empty());
        let p = plan(&spec, &observed_with(both, &finished));
        assert_eq!(p.changes.len(), 2);
        for c in &p.changes {
            assert_eq!(
                c.after
                    .as_ref()
                    .map(|a| a["header"]["values_sha256"].clone()),
                Some(json!(["bbbbbbbbbbbbbbbb"]))
            );
            assert_eq!(c.reason, "accepts only the current origin-verify value");
        }
    }

    const WORKER: &str = r#"[ecs.services.worker]
cpu = 256
memory = 512
port = 9000
path = "/worker/*"
"#;

    #[test]
    fn table() {
        use Action::{Create, Delete, Replace, Update};
        struct Case {
            name: &'static str,
            /// The config of the run (TOML) and the stack's tags.
            config: &'static str,
            tags: &'static [(&'static str, &'static str)],
            found: FoundSet,
            want: Vec<(&'static str, Action)>,
            /// When set, the reason of every change.
            reason: Option<&'static str>,
        }
        let reference = converged(&spec_of("", &[]));
        let with_worker = converged(&spec_of(WORKER, &[]));
        let mut other_revision = reference.clone();
        if let Some(f) = other_revision.get_mut("ecs.service[frontend]") {
            f.attrs.insert(
                "task_definition".into(),
                "other revision arn:aws:ecs:us-east-1:123456789012:task-definition/hms-frontend:9"
                    .into(),
            );
        }
        let every_taggable = vec![
            ("ecs.cluster", Update),
            ("ecs.log_bucket", Update),
            ("ecs.alb", Update),
            ("ecs.listener.http", Update),
            ("ecs.log_group[backend]", Update),
            ("ecs.task_definition[backend]", Update),
            ("ecs.target_group[backend]", Update),
            ("ecs.rule[backend]", Update),
            ("ecs.service[backend]", Update),
            ("ecs.scaling_target[backend]", Update),
            ("ecs.log_group[frontend]", Update),
            ("ecs.task_definition[frontend]", Update),
            ("ecs.target_group[frontend]", Update),
            ("ecs.service[frontend]", Update),
            ("ecs.scaling_target[frontend]", Update),
        ];
        let cases = vec![
            Case {
                name: "an empty account creates the reference stack",
                config: "",
                tags: &[],
                found: FoundSet::new(),
                want: vec![
                    ("ecs.cluster", Create),
                    ("ecs.log_bucket", Create),
                    ("ecs.alb", Create),
                    ("ecs.listener.http", Create),
                    ("ecs.log_group[backend]", Create),
                    ("ecs.task_definition[backend]", Create),
                    ("ecs.target_group[backend]", Create),
                    ("ecs.rule[backend]", Create),
                    ("ecs.service[backend]", Create),
                    ("ecs.scaling_target[backend]", Create),
                    ("ecs.scaling_policy.cpu[backend]", Create),
                    ("ecs.log_group[frontend]", Create),
                    ("ecs.task_definition[frontend]", Create),
                    ("ecs.target_group[frontend]", Create),
                    ("ecs.service[frontend]", Create),
                    ("ecs.scaling_target[frontend]", Create),
                    ("ecs.scaling_policy.cpu[frontend]", Create),
                ],
                reason: Some("new"),
            },
            Case {
                name: "a converged stack plans nothing",
                config: "",
                tags: &[],
                found: reference.clone(),
                want: vec![],
                reason: None,
            },
            // Regression: stack tags were planned on some kinds only and applied through none.
            Case {
                name: "a stack tag updates every taggable resource, and only its tags",
                config: "",
                tags: &[("owner", "platform")],
                found: reference.clone(),
                want: every_taggable.clone(),
                reason: Some("tags differ"),
            },
            Case {
                name: "a new image is a new revision and a deploy",
                config: "[ecs.services.backend]\nimage = \"hms/backend:v2\"\n",
                tags: &[],
                found: reference.clone(),
                want: vec![
                    ("ecs.task_definition[backend]", Update),
                    ("ecs.service[backend]", Update),
                ],
                reason: None,
            },
            Case {
                name: "a service running another revision is deployed again",
                config: "",
                tags: &[],
                found: other_revision,
                want: vec![("ecs.service[frontend]", Update)],
                reason: Some(
                    "deploys the new task definition (rolling, circuit breaker with rollback)",
                ),
            },
            Case {
                name: "a certificate adds HTTPS, redirects HTTP and moves the rule, not the services",
                config: "[ecs]\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/c\"\n",
                tags: &[],
                found: reference.clone(),
                want: vec![
                    ("ecs.listener.https", Create),
                    ("ecs.listener.http", Update),
                    ("ecs.rule[backend]", Replace),
                ],
                reason: None,
            },
            Case {
                name: "a memory target adds a policy",
                config: "[ecs.services.backend]\nmemory_target = 80.0\n",
                tags: &[],
                found: reference.clone(),
                want: vec![("ecs.scaling_policy.memory[backend]", Create)],
                reason: Some("new"),
            },
            Case {
                name: "a count range is an update of the scalable target",
                config: "[ecs.services.frontend]\nmax_count = 4\n",
                tags: &[],
                found: reference.clone(),
                want: vec![("ecs.scaling_target[frontend]", Update)],
                reason: Some("max differs"),
            },
            Case {
                name: "a service gone from config is deleted with exactly its resources",
                config: "",
                tags: &[],
                found: with_worker,
                want: vec![
                    ("ecs.log_group[worker]", Delete),
                    ("ecs.rule[worker]", Delete),
                    ("ecs.scaling_policy.cpu[worker]", Delete),
                    ("ecs.scaling_target[worker]", Delete),
                    ("ecs.service[worker]", Delete),
                    ("ecs.target_group[worker]", Delete),
                    ("ecs.task_definition[worker]", Delete),
                ],
                reason: Some("no longer in the config"),
            },
            Case {
                name: "a renamed cluster replaces it and everything on it",
                config: "[ecs]\ncluster_name = \"hms-other\"\n",
                tags: &[],
                found: reference.clone(),
                want: vec![
                    ("ecs.cluster", Replace),
                    ("ecs.service[backend]", Replace),
                    ("ecs.scaling_target[backend]", Replace),
                    ("ecs.scaling_policy.cpu[backend]", Replace),
                    ("ecs.service[frontend]", Replace),
                    ("ecs.scaling_target[frontend]", Replace),
                    ("ecs.scaling_policy.cpu[frontend]", Replace),
                ],
                reason: None,
            },
        ];
        for c in cases {
            let spec = spec_of(c.config, c.tags);
            let plan = plan(&spec, &observed(c.found));
            let got: Vec<(&str, Action)> = plan
                .changes
                .iter()
                .map(|x| (x.address.as_str(), x.action))
                .collect();
            assert_eq!(got, c.want, "{}", c.name);
            if let Some(reason) = c.reason {
                for x in &plan.changes {
                    assert_eq!(x.reason, reason, "{}: {}", c.name, x.address);
                }
            }
        }
    }

    #[test]
    fn a_deploy_and_a_tag_change_say_what_they_do() {
        let spec = spec_of(
            "[ecs.services.backend]\nimage = \"hms/backend:v2\"\n",
            &[("owner", "platform")],
        );
        let plan = plan(&spec, &observed(converged(&spec_of("", &[]))));
        let reason = |a: &str| {
            plan.changes
                .iter()
                .find(|c| c.address == a)
                .map(|c| c.reason.as_str())
        };
        assert_eq!(
            reason("ecs.task_definition[backend]"),
            Some("a new revision (older ones stay for rollback until down)")
        );
        assert_eq!(reason("ecs.task_definition[frontend]"), Some("tags differ"));
        assert_eq!(
            reason("ecs.service[backend]"),
            Some("deploys the new task definition (rolling, circuit breaker with rollback)")
        );
        assert_eq!(reason("ecs.service[frontend]"), Some("tags differ"));
    }

    #[test]
    fn down_keeps_the_log_groups_and_the_log_bucket_unless_asked() {
        let spec = spec_of("", &[]);
        let found = observed(converged(&spec));
        let kept = plan_down(&spec, &found);
        assert_eq!(kept.changes.len(), 14);
        assert!(kept.changes.iter().all(|c| c.action == Action::Delete
            && !matches!(
                Addr::parse(&c.address),
                Some(Addr::LogGroup(_) | Addr::LogBucket)
            )));
        // In production the load balancer is protected: down refuses without the flag.
        assert!(
            kept.refused.len() == 1 && kept.refused[0].contains("--disable-deletion-protection"),
            "{:?}",
            kept.refused
        );
        let all = plan_down(
            &Spec {
                delete_logs: true,
                disable_deletion_protection: true,
                ..spec
            },
            &found,
        );
        assert_eq!(all.changes.len(), 17);
        assert!(all.refused.is_empty(), "{:?}", all.refused);
        assert!(all
            .changes
            .iter()
            .any(|c| c.address == "ecs.log_bucket" && c.reason.contains("emptied first")));
    }

    #[test]
    fn the_stacks_certificate_serves_https_and_an_explicit_one_wins_with_a_note() {
        let cert = "arn:aws:acm:us-east-1:123456789012:certificate/dns";
        let dns = [("dns", json!({"certificate_arn": cert}), &[][..])];
        let spec = spec_with("", &[], &dns, CommandKind::Up).expect("spec");
        assert_eq!(spec.certificate_arn.as_deref(), Some(cert));
        let p = plan(&spec, &observed(converged(&spec_of("", &[]))));
        let https = p.get("ecs.listener.https").expect("an HTTPS listener");
        assert_eq!(https.action, Action::Create);
        assert_eq!(
            https.after.as_ref().map(|a| a["certificate"].clone()),
            Some(json!(cert))
        );
        let http = p
            .get("ecs.listener.http")
            .expect("the HTTP listener changes");
        assert_eq!(
            http.after.as_ref().map(|a| a["default"].clone()),
            Some(json!("redirect:HTTPS:443"))
        );
        assert!(p.notes.is_empty());

        let own = "arn:aws:acm:us-east-1:123456789012:certificate/own";
        let config = format!("[ecs]\ncertificate_arn = \"{own}\"\n");
        let spec = spec_with(&config, &[], &dns, CommandKind::Up).expect("spec");
        assert_eq!(spec.certificate_arn.as_deref(), Some(own));
        let p = plan(&spec, &observed(FoundSet::new()));
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains(own) && n.contains("outputs.dns.certificate_arn")),
            "{:?}",
            p.notes
        );
        assert!(p
            .render()
            .iter()
            .any(|l| l.starts_with("note: ecs.certificate_arn is set")));

        // Only planned upstream: the plan shows HTTPS with a certificate known later; `up` refuses.
        let planned = [(
            "dns",
            json!({"domain_name": "hms.example.org"}),
            &["certificate_arn"][..],
        )];
        let spec = spec_with("", &[], &planned, CommandKind::Plan).expect("plan spec");
        assert_eq!(
            spec.certificate_arn.as_deref(),
            Some("(known after hms-dns up)")
        );
        let err = spec_with("", &[], &planned, CommandKind::Up).expect_err("up needs it");
        assert!(err.to_string().contains("hms-dns up"), "{err}");
    }

    #[test]
    fn the_backend_gets_the_cache_and_a_stack_without_it_gets_nothing() {
        let arn =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:hms/production/cache/auth-AbCdEf";
        let cache = [(
            "cache",
            json!({"primary_endpoint": "master.hms.x.use1.cache.amazonaws.com", "port": 6379, "tls": true, "auth_secret_arn": arn, "auth_secret_version": "v-1"}),
            &[][..],
        )];
        let spec = spec_with("", &[], &cache, CommandKind::Up).expect("spec");
        let backend = spec
            .services
            .iter()
            .find(|s| s.key == "backend")
            .expect("backend");
        let frontend = spec
            .services
            .iter()
            .find(|s| s.key == "frontend")
            .expect("frontend");
        let c = crate::desired::task_content(&spec, backend);
        let env = &c["container"]["environment"];
        assert_eq!(env["REDIS_HOST"], "master.hms.x.use1.cache.amazonaws.com");
        assert_eq!(env["REDIS_PORT"], "6379");
        assert_eq!(env["REDIS_TLS"], "true");
        // Pinned to the current version: a rotated token is a new revision.
        assert_eq!(
            c["container"]["secrets"]["REDIS_AUTH"],
            format!("{arn}:::v-1")
        );
        let f = crate::desired::task_content(&spec, frontend);
        assert!(
            f["container"]["environment"].get("REDIS_HOST").is_none(),
            "{f}"
        );
        // The backend's revision changes when the cache arrives; nothing else does.
        let p = plan(&spec, &observed(converged(&spec_of("", &[]))));
        let got: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(
            got,
            ["ecs.task_definition[backend]", "ecs.service[backend]"]
        );

        let none = crate::desired::task_content(&spec_of("", &[]), backend);
        assert!(
            none["container"]["environment"].get("REDIS_HOST").is_none(),
            "{none}"
        );
        assert!(
            none["container"]["secrets"].get("REDIS_AUTH").is_none(),
            "{none}"
        );

        let planned = [(
            "cache",
            json!({"port": 6379, "tls": true}),
            &["primary_endpoint", "auth_secret_arn"][..],
        )];
        let spec = spec_with("", &[], &planned, CommandKind::Plan).expect("plan spec");
        let backend = spec
            .services
            .iter()
            .find(|s| s.key == "backend")
            .expect("backend");
        let c = crate::desired::task_content(&spec, backend);
        assert_eq!(
            c["container"]["environment"]["REDIS_HOST"],
            "(known after hms-cache up)"
        );
        let err = spec_with("", &[], &planned, CommandKind::Up).expect_err("up needs it");
        assert!(err.to_string().contains("hms-cache up"), "{err}");
        let err = spec_with(
            "[ecs.services.backend.environment]\nREDIS_HOST = \"x\"\n",
            &[],
            &[],
            CommandKind::Up,
        )
        .expect_err("REDIS_* from config");
        assert!(err.to_string().contains("hms-cache"), "{err}");
    }

    /// A revision registered from the spec reads back (lost state) as the content the plan wants, so an
    /// unchanged service is adopted, not rolled onto a new revision.
    #[test]
    fn a_registered_revision_reads_back_as_the_wanted_content() {
        use aws_sdk_ecs::types::{Compatibility, NetworkMode, TaskDefinition};
        let spec = spec_of(
            "[ecs.services.backend]\ncontainer_health_check = \"curl -f http://localhost:8080/health\"\n",
            &[],
        );
        for s in &spec.services {
            let container = crate::apply::task::container(&spec, s, "test").expect("container");
            let td = TaskDefinition::builder()
                .set_volumes(s.read_only_root.then(|| {
                    vec![aws_sdk_ecs::types::Volume::builder()
                        .name(crate::desired::SCRATCH_VOLUME)
                        .build()]
                }))
                .family(&s.name)
                .cpu(s.cpu.to_string())
                .memory(s.memory.to_string())
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .execution_role_arn(spec.execution_role_arn.clone().unwrap_or_default())
                .task_role_arn(s.task_role_arn.clone().unwrap_or_default())
                .container_definitions(container)
                .build();
            let want = crate::desired::task_content(&spec, s);
            assert_eq!(crate::observe::content_of(&td), want, "{}", s.key);
            assert_eq!(
                crate::desired::content_hash(&crate::observe::content_of(&td)),
                crate::desired::content_hash(&want)
            );
        }
    }
}

//! The desired cache resources, and a plan that says how each change of the replication group lands: in
//! place now, in place in the maintenance window (or now with `--apply-immediately`), impossible, or only
//! by replacing the group (after a final snapshot). Pure.

use hms_core::addr::Address;
use hms_core::diff::{self, Desired, Found, FoundSet};
use hms_core::plan::{Action, Change, Plan};
use hms_core::terraform::{kept, kept_str};
use serde_json::{json, Map, Value};

use crate::addr::{Addr, LogKind};
use crate::observe::Observed;
use crate::spec::Spec;

/// Replication group attributes that change only with the maintenance window (or `--apply-immediately`).
const WINDOWED: &[&str] = &["node_type", "engine", "engine_version"];

/// Every resource the spec wants.
/// What was taken over from Terraform keeps what ElastiCache cannot change in place (the subnet group's
/// name; the replication group's port, encryption at rest and key).
pub fn desired(spec: &Spec, found: &FoundSet) -> Vec<Desired> {
    let mut out = vec![
        subnet_group(spec, found),
        parameter_group(spec),
        secret(spec),
    ];
    out.extend(LogKind::ALL.iter().map(|k| log_group(spec, *k)));
    out.push(replication_group(spec, found));
    out
}

/// A value known only after an upstream `up`.
fn unknown(v: &Option<String>, what: &str) -> String {
    v.clone().unwrap_or_else(|| format!("(known after {what})"))
}

fn subnet_group(spec: &Spec, found: &FoundSet) -> Desired {
    let address = Addr::SubnetGroup;
    let name = kept_str(found, &address.to_string(), "name", &spec.subnet_group);
    let mut subnets = spec
        .subnet_ids
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    subnets.sort();
    let mut d = Desired::new(address.to_string())
        .attr("name", name.clone())
        .attr("subnets", subnets);
    // Subnets move in place within the VPC; another VPC needs a new group (and a new replication group).
    if let Some(vpc) = &spec.vpc_id {
        d = d.attr("vpc_id", vpc.clone());
    }
    d.tags(spec.tags(&address, &name))
        .replace_on(&["name", "vpc_id"])
}

/// The parameters in the compared form.
pub fn parameters(spec: &Spec) -> Value {
    Value::Object(
        spec.parameters
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

fn parameter_group(spec: &Spec) -> Desired {
    let address = Addr::parameter_group(&spec.family);
    Desired::new(address.to_string())
        .attr("name", spec.parameter_group.clone())
        .attr("family", spec.family.clone())
        .attr("parameters", parameters(spec))
        .tags(spec.tags(&address, &spec.parameter_group))
        .replace_on(&["name", "family"])
}

fn secret(spec: &Spec) -> Desired {
    let address = Addr::AuthSecret;
    Desired::new(address.to_string())
        .attr("name", spec.secret_name.clone())
        .attr("kms_key", unknown(&spec.kms_key_arn, "hms-security up"))
        .attr("scheduled_for_deletion", false)
        .tags(spec.tags(&address, &spec.secret_name))
        .replace_on(&["name"])
}

fn log_group(spec: &Spec, kind: LogKind) -> Desired {
    let address = Addr::LogGroup(kind);
    let name = spec.log_group(kind);
    Desired::new(address.to_string())
        .attr("name", name)
        .attr("retention_in_days", spec.log_retention_days)
        .attr("kms_key", unknown(&spec.logs_key_arn, "hms-security up"))
        .tags(spec.tags(&address, name))
        .replace_on(&["name"])
}

/// The log delivery in the compared form (the same shape observe reads back).
pub fn log_delivery(spec: &Spec) -> Vec<Value> {
    let mut kinds = LogKind::ALL;
    kinds.sort_by_key(|k| k.log_type());
    kinds
        .iter()
        .map(|k| {
            json!({
                "type": k.log_type(),
                "destination": "cloudwatch-logs",
                "log_group": spec.log_group(*k),
                "format": "json",
            })
        })
        .collect()
}

fn replication_group(spec: &Spec, found: &FoundSet) -> Desired {
    let subnet_group = Addr::SubnetGroup.to_string();
    let parameter_group = Addr::parameter_group(&spec.family).to_string();
    let a = Addr::ReplicationGroup.to_string();
    let keep = |key: &str, derived: Value| kept(found, &a, key, derived);
    let mut d = Desired::new(a.clone());
    // Changes pending for the maintenance window are compared only when asked to apply them now.
    if spec.apply_immediately {
        d = d.attr("pending", Vec::<String>::new());
    }
    d.attr("id", spec.id.clone())
        .attr("engine", spec.engine.name())
        .attr("engine_version", spec.version.clone())
        .attr("node_type", spec.node_type.clone())
        .attr("replicas", spec.replicas)
        .attr("multi_az", spec.multi_az)
        .attr("automatic_failover", spec.automatic_failover)
        .attr("port", keep("port", spec.port.into()))
        .attr(
            "at_rest_encryption",
            keep("at_rest_encryption", true.into()),
        )
        .attr(
            "kms_key",
            keep(
                "kms_key",
                unknown(&spec.kms_key_arn, "hms-security up").into(),
            ),
        )
        .attr("transit_encryption", "required")
        .attr("auth_token", true)
        .attr("auth_secret", Addr::AuthSecret.to_string())
        .attr("subnet_group", subnet_group.clone())
        .attr("parameter_group", parameter_group.clone())
        .attr(
            "security_groups",
            vec![unknown(&spec.security_group_id, "hms-security up")],
        )
        .attr("snapshot_retention_days", spec.snapshot_retention_days)
        .attr("snapshot_window", spec.snapshot_window.clone())
        .attr("maintenance_window", spec.maintenance_window.clone())
        .attr(
            "auto_minor_version_upgrade",
            spec.auto_minor_version_upgrade,
        )
        .attr("log_delivery", log_delivery(spec))
        .attr("created", true)
        .tags(spec.tags(&Addr::ReplicationGroup, &spec.id))
        // The data would have to move to a new group: a final snapshot is taken before the old one goes.
        .replace_on(&[
            "id",
            "port",
            "at_rest_encryption",
            "kms_key",
            "subnet_group",
        ])
        .uses(
            [subnet_group, parameter_group, Addr::AuthSecret.to_string()]
                .into_iter()
                .chain(LogKind::ALL.iter().map(|k| Addr::LogGroup(*k).to_string())),
        )
}

/// The keys whose values differ between a change's before and after.
pub fn changed_keys(change: &Change) -> Vec<String> {
    let (Some(Value::Object(b)), Some(Value::Object(a))) = (&change.before, &change.after) else {
        return vec![];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The plan that makes AWS match the spec, each change of the replication group classified.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec, &observed.found), &observed.found);
    plan.refused.extend(observed.conflicts.iter().cloned());
    let group = Addr::ReplicationGroup.to_string();
    if let Some(found) = observed.found.get(&group) {
        plan.impossible.extend(impossible(spec, found));
    }
    let group_deleted = plan.get(&group).is_some_and(|c| c.action == Action::Delete);
    for c in &mut plan.changes {
        // Pending changes are compared (and shown) only with --apply-immediately.
        if !spec.apply_immediately {
            if let Some(Value::Object(before)) = &mut c.before {
                before.remove("pending");
            }
        }
        match (Addr::parse(&c.address), c.action) {
            (Some(Addr::ReplicationGroup), Action::Update) => {
                if let Some(reason) = group_update_reason(spec, c) {
                    c.reason = reason;
                }
            }
            (Some(Addr::ReplicationGroup), Action::Replace) => {
                c.reason = format!(
                    "{}: a new group, after a final snapshot {}-final-<UTC time> of the old one",
                    c.reason, spec.id
                );
            }
            // A group of another family, left by an engine upgrade: nothing is lost with it, so it goes
            // without --allow-destroy once the replication group has moved to the new one.
            (Some(Addr::ParameterGroup(family)), Action::Delete)
                if family != spec.family && !group_deleted =>
            {
                c.reason = format!(
                    "left by the engine upgrade to {}: deleted once the replication group uses {}",
                    spec.family, spec.parameter_group
                );
                c.drift = true;
            }
            (Some(Addr::AuthSecret), Action::Update) if restored(c) => {
                c.reason = String::from(
                    "scheduled for deletion by an earlier down: restored (RestoreSecret), with the token it holds",
                );
            }
            _ => {}
        }
    }
    plan
}

fn restored(c: &Change) -> bool {
    c.before
        .as_ref()
        .and_then(|b| b.get("scheduled_for_deletion"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// Changes ElastiCache cannot make: valkey back to redis, a lower engine version.
fn impossible(spec: &Spec, found: &Found) -> Vec<String> {
    let mut out = Vec::new();
    let engine = found.attrs.get("engine").and_then(Value::as_str);
    if engine == Some("valkey") && spec.engine.name() == "redis" {
        out.push(String::from(
            "cache.engine = \"redis\": the replication group runs valkey, and ElastiCache cannot move it back to redis; keep engine = \"valkey\", or restore a snapshot into a new group",
        ));
    }
    let have = found
        .info
        .get("resolved_engine_version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if engine == Some(spec.engine.name()) && version_lt(&spec.version, have) {
        out.push(format!(
            "cache.engine_version = \"{}\": the replication group runs {have} and ElastiCache cannot downgrade; keep {have} or later",
            spec.version
        ));
    }
    out
}

/// `a < b` for dotted versions, comparing as many parts as `a` has (`7.1` is not lower than `7.1.0`).
fn version_lt(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    let (a, b) = (parse(a), parse(b));
    let n = a.len().min(b.len());
    !b.is_empty() && a[..n] < b[..n]
}

/// How an update of the replication group lands; `None` keeps the diff's reason (only tags differ: the
/// tagging API alone, nothing is modified).
fn group_update_reason(spec: &Spec, c: &Change) -> Option<String> {
    let keys = changed_keys(c);
    if keys == ["tags"] {
        return None;
    }
    if keys == ["created"] {
        return Some(String::from(
            "still being created: waits until it is available",
        ));
    }
    let before = |k: &str| c.before.as_ref().and_then(|b| b.get(k)).cloned();
    let mut parts: Vec<String> = Vec::new();
    let windowed: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| WINDOWED.contains(k))
        .collect();
    if !windowed.is_empty() {
        let when = if windowed.contains(&"engine") {
            String::from("applied now (an engine change is not deferred to the maintenance window)")
        } else if spec.apply_immediately {
            String::from("applied now (--apply-immediately)")
        } else {
            format!(
                "applied in the maintenance window {} (--apply-immediately applies it now)",
                spec.maintenance_window
            )
        };
        parts.push(format!("{}, {when}", windowed.join(", ")));
    }
    for k in keys
        .iter()
        .filter(|k| !WINDOWED.contains(&k.as_str()) && *k != "tags")
    {
        let part = match k.as_str() {
            "replicas" => {
                let from = before("replicas").and_then(|v| v.as_u64()).unwrap_or(0);
                let verb = if u64::from(spec.replicas) > from {
                    "IncreaseReplicaCount"
                } else {
                    "DecreaseReplicaCount"
                };
                format!("replicas {from} → {} ({verb}, now)", spec.replicas)
            }
            "transit_encryption" => match before("transit_encryption")
                .as_ref()
                .and_then(Value::as_str)
            {
                Some("off") => String::from(
                    "transit encryption on: first preferred (TLS and plain text), then required",
                ),
                _ => String::from("transit encryption preferred → required"),
            },
            "auth_token" => String::from("AUTH on, with the token of the secret (ROTATE)"),
            "auth_secret" => String::from(
                "the token of the new secret (the group's own is gone), accepted next to the old one (ROTATE)",
            ),
            "pending" => String::from(
                "the changes pending for the maintenance window, applied now (--apply-immediately)",
            ),
            "created" => String::from("waits until it is available"),
            other => other.to_owned(),
        };
        parts.push(part);
    }
    if keys.iter().any(|k| k == "tags") {
        parts.push(String::from("tags"));
    }
    Some(format!("in place: {}", parts.join("; ")))
}

/// The plan that deletes everything: the replication group after a final snapshot (unless told
/// otherwise), its groups and log groups, and the secret scheduled for deletion with the default
/// recovery window (one already scheduled is left as it is).
pub fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
    let mut found = observed.found.clone();
    let secret = Addr::AuthSecret.to_string();
    let scheduled = found
        .get(&secret)
        .and_then(|f| f.attrs.get("scheduled_for_deletion"))
        .and_then(Value::as_bool)
        == Some(true);
    if scheduled {
        found.remove(&secret);
    }
    let mut plan = diff::delete_all(&found, "down");
    plan.refused.extend(observed.conflicts.iter().cloned());
    for c in &mut plan.changes {
        match Addr::parse(&c.address) {
            Some(Addr::ReplicationGroup) => {
                c.reason = if spec.skip_final_snapshot {
                    String::from("down, WITHOUT a final snapshot (--skip-final-snapshot)")
                } else {
                    format!("down, after a final snapshot {}-final-<UTC time>", spec.id)
                };
            }
            Some(Addr::AuthSecret) => {
                c.reason = String::from(
                    "down: scheduled for deletion with the default 30-day recovery window (a later up restores it)",
                );
            }
            _ => {}
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use hms_core::contract::Flags;
    use hms_core::diff::FoundSet;

    use super::*;
    use crate::spec::tests::{doc, spec_of};
    use crate::spec::PlanFlags;

    fn spec(config: &str) -> Spec {
        spec_of(config, &doc(true), &Flags::default()).expect("spec")
    }

    /// What exists when AWS matches `spec` (the group running `7.1.0`).
    fn converged(spec: &Spec) -> FoundSet {
        desired(spec, &FoundSet::new())
            .into_iter()
            .map(|d| {
                let mut f = Found::new(d.address.clone());
                f.attrs = d.attrs.clone();
                f.tags = d.tags.clone();
                if d.address == Addr::ReplicationGroup.to_string() {
                    f = f.info("resolved_engine_version", "7.1.0");
                }
                (d.address, f)
            })
            .collect()
    }

    fn set(found: &mut FoundSet, address: &Addr, key: &str, value: Value) {
        if let Some(f) = found.get_mut(&address.to_string()) {
            f.attrs.insert(key.into(), value);
        }
    }

    struct Case {
        name: &'static str,
        config: &'static str,
        apply_immediately: bool,
        found: fn(&mut FoundSet),
        want: &'static [(&'static str, Action, &'static str)],
    }

    #[test]
    fn plans() {
        const GROUP: &str = "cache.replication_group";
        const PARAMS: &str = "cache.parameter_group[redis7]";
        const SECRET: &str = "cache.auth_secret";
        let cases = [
            Case {
                name: "converged",
                config: "",
                apply_immediately: false,
                found: |_| {},
                want: &[],
            },
            Case {
                name: "empty account",
                config: "",
                apply_immediately: false,
                found: FoundSet::clear,
                want: &[
                    ("cache.subnet_group", Action::Create, "new"),
                    (PARAMS, Action::Create, "new"),
                    (SECRET, Action::Create, "new"),
                    ("cache.log_group[slow-log]", Action::Create, "new"),
                    ("cache.log_group[engine-log]", Action::Create, "new"),
                    (GROUP, Action::Create, "new"),
                ],
            },
            Case {
                name: "a node type change waits for the maintenance window",
                config: "[cache]\nnode_type = \"cache.m7g.large\"",
                apply_immediately: false,
                found: |_| {},
                want: &[(GROUP, Action::Update, "node_type, applied in the maintenance window sun:05:00-sun:06:00")],
            },
            Case {
                name: "or is applied now",
                config: "[cache]\nnode_type = \"cache.m7g.large\"",
                apply_immediately: true,
                found: |_| {},
                want: &[(GROUP, Action::Update, "node_type, applied now (--apply-immediately)")],
            },
            Case {
                name: "a pending change is applied now when asked",
                config: "",
                apply_immediately: true,
                found: |f| set(f, &Addr::ReplicationGroup, "pending", json!(["node_type"])),
                want: &[(GROUP, Action::Update, "pending for the maintenance window, applied now")],
            },
            Case {
                name: "retention and windows are in place",
                config: "[cache]\nsnapshot_retention_days = 14\nsnapshot_window = \"01:00-02:00\"",
                apply_immediately: false,
                found: |_| {},
                want: &[(GROUP, Action::Update, "in place: snapshot_retention_days; snapshot_window")],
            },
            Case {
                name: "a minor upgrade waits for the maintenance window",
                config: "",
                apply_immediately: false,
                found: |f| set(f, &Addr::ReplicationGroup, "engine_version", json!("7.0")),
                want: &[(GROUP, Action::Update, "engine_version, applied in the maintenance window")],
            },
            Case {
                name: "a lost secret is made again and its token given to the group",
                config: "",
                apply_immediately: false,
                found: |f| {
                    f.remove(&Addr::AuthSecret.to_string());
                    set(f, &Addr::ReplicationGroup, "auth_secret", json!(""));
                },
                want: &[
                    ("cache.auth_secret", Action::Create, "new"),
                    (GROUP, Action::Update, "the token of the new secret"),
                ],
            },
            Case {
                name: "a second replica",
                config: "[cache]\nreplicas = 2",
                apply_immediately: false,
                found: |_| {},
                want: &[(GROUP, Action::Update, "replicas 1 → 2 (IncreaseReplicaCount, now)")],
            },
            Case {
                name: "a parameter value is the parameter group alone",
                config: "[cache.parameters]\nmaxmemory-policy = \"allkeys-lru\"",
                apply_immediately: false,
                found: |_| {},
                want: &[(PARAMS, Action::Update, "parameters differs")],
            },
            Case {
                name: "another key replaces the group",
                config: "[cache]\nkms_key_arn = \"arn:aws:kms:us-east-1:123456789012:key/other\"",
                apply_immediately: false,
                found: |_| {},
                want: &[
                    (SECRET, Action::Update, "kms_key differs"),
                    (GROUP, Action::Replace, "kms_key cannot change in place: a new group, after a final snapshot hms-cache-final-"),
                ],
            },
            Case {
                name: "transit encryption goes through preferred",
                config: "",
                apply_immediately: false,
                found: |f| set(f, &Addr::ReplicationGroup, "transit_encryption", json!("off")),
                want: &[(GROUP, Action::Update, "first preferred (TLS and plain text), then required")],
            },
            Case {
                name: "a secret scheduled for deletion is restored",
                config: "",
                apply_immediately: false,
                found: |f| set(f, &Addr::AuthSecret, "scheduled_for_deletion", json!(true)),
                want: &[(SECRET, Action::Update, "restored (RestoreSecret)")],
            },
            Case {
                name: "valkey brings its own parameter group",
                config: "[cache]\nengine = \"valkey\"\nengine_version = \"8.0\"",
                apply_immediately: false,
                found: |_| {},
                want: &[
                    (PARAMS, Action::Delete, "left by the engine upgrade to valkey8"),
                    ("cache.parameter_group[valkey8]", Action::Create, "new"),
                    (GROUP, Action::Update, "engine, engine_version, applied now (an engine change is not deferred"),
                ],
            },
        ];
        for case in cases {
            let base = spec("");
            let flags = Flags {
                plan: PlanFlags {
                    apply_immediately: case.apply_immediately,
                },
                ..Flags::default()
            };
            let want_spec = spec_of(case.config, &doc(true), &flags).expect("spec");
            let mut found = converged(&base);
            (case.found)(&mut found);
            let observed = Observed {
                found,
                ..Observed::default()
            };
            let p = plan(&want_spec, &observed);
            let mut got: Vec<(&str, Action)> = p
                .changes
                .iter()
                .map(|c| (c.address.as_str(), c.action))
                .collect();
            got.sort();
            let mut want: Vec<(&str, Action)> =
                case.want.iter().map(|(a, x, _)| (*a, *x)).collect();
            want.sort();
            assert_eq!(got, want, "{}", case.name);
            for (address, _, words) in case.want {
                let reason = p
                    .get(address)
                    .map(|c| c.reason.as_str())
                    .unwrap_or_default();
                assert!(reason.contains(words), "{}: {address}: {reason}", case.name);
            }
            assert!(
                p.impossible.is_empty() && p.refused.is_empty(),
                "{}",
                case.name
            );
            assert!(
                p.destructive().iter().all(|c| c.action == Action::Replace),
                "{}: only a replace destroys",
                case.name
            );
        }
    }

    #[test]
    fn impossible_changes() {
        let mut found = converged(&spec(""));
        set(
            &mut found,
            &Addr::ReplicationGroup,
            "engine",
            json!("valkey"),
        );
        let p = plan(
            &spec(""),
            &Observed {
                found,
                ..Observed::default()
            },
        );
        assert!(
            p.impossible.iter().any(|m| m.contains("back to redis")),
            "{:?}",
            p.impossible
        );
        let p = plan(
            &spec("[cache]\nengine_version = \"7.0\""),
            &Observed {
                found: converged(&spec("")),
                ..Observed::default()
            },
        );
        assert!(
            p.impossible.iter().any(|m| m.contains("cannot downgrade")),
            "{:?}",
            p.impossible
        );
        assert!(
            !version_lt("7.1", "7.1.0") && version_lt("7.0", "7.1.0") && !version_lt("7.1", "")
        );
    }

    #[test]
    fn down_keeps_a_final_snapshot_and_leaves_a_scheduled_secret_alone() {
        let s = spec("");
        let mut found = converged(&s);
        let p = plan_down(
            &s,
            &Observed {
                found: found.clone(),
                ..Observed::default()
            },
        );
        assert_eq!(p.changes.len(), 6);
        let reason = |p: &Plan, a: &str| p.get(a).map(|c| c.reason.clone()).unwrap_or_default();
        assert!(reason(&p, "cache.replication_group").contains("final snapshot hms-cache-final-"));
        assert!(reason(&p, "cache.auth_secret").contains("recovery window"));
        set(
            &mut found,
            &Addr::AuthSecret,
            "scheduled_for_deletion",
            json!(true),
        );
        let p = plan_down(
            &s,
            &Observed {
                found,
                ..Observed::default()
            },
        );
        assert_eq!(p.changes.len(), 5);
        assert!(p.get("cache.auth_secret").is_none());
    }

    #[test]
    fn conflicts_are_refused() {
        let s = spec("");
        let observed = Observed {
            conflicts: vec!["taken".into()],
            ..Observed::default()
        };
        assert_eq!(plan(&s, &observed).refused, vec!["taken".to_owned()]);
    }
}

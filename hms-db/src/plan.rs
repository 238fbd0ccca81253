//! The desired database resources, and a plan that says how each change lands: in place, with a brief
//! outage, impossible, or only by replacing the database. Pure.

use hms_core::addr::Address;
use hms_core::diff::{self, Desired, Found, FoundSet};
use hms_core::plan::{Action, Change, Plan};
use hms_core::terraform::{imported, kept, kept_str};
use serde_json::Value;

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{major_of, Spec, Version};

/// Instance attributes that change in place without downtime.
const IN_PLACE: &[&str] = &[
    "backup_retention_days",
    "backup_window",
    "maintenance_window",
    "allocated_storage",
    "deletion_protection",
    "performance_insights",
    "iam_authentication",
    "auto_minor_version_upgrade",
    "monitoring_interval",
    "monitoring_role",
    "copy_tags_to_snapshot",
    "log_exports",
    "security_groups",
    "multi_az",
    "storage_type",
    "tags",
];

/// Every resource the spec wants. What was taken over from Terraform keeps what RDS cannot change in
/// place (the subnet group's name; the instance's database name, master user name, encryption and key).
pub fn desired(spec: &Spec, found: &FoundSet) -> Vec<Desired> {
    vec![
        subnet_group(spec, found),
        parameter_group(spec),
        instance(spec, found),
        secret_policy(spec),
    ]
}

/// The master secret's resource policy (the secret is RDS's, made with the instance).
fn secret_policy(spec: &Spec) -> Desired {
    let readers = spec
        .secret_readers
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-security up)".into()]);
    Desired::new(Addr::SecretPolicy.to_string())
        .attr(
            "policy",
            hms_core::policy::normalize(&crate::spec::secret_policy(&readers)),
        )
        .uses([Addr::Instance.to_string()])
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
    Desired::new(address.to_string())
        .attr("name", name.clone())
        .attr("subnets", subnets)
        .tags(spec.tags(&address, &name))
        .replace_on(&["name"])
}

fn parameter_group(spec: &Spec) -> Desired {
    let address = Addr::parameter_group(&spec.family);
    Desired::new(address.to_string())
        .attr("name", spec.parameter_group.clone())
        .attr("family", spec.family.clone())
        .attr(
            "parameters",
            spec.parameters
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
        )
        .tags(spec.tags(&address, &spec.parameter_group))
        .replace_on(&["name", "family"])
}

fn instance(spec: &Spec, found: &FoundSet) -> Desired {
    let subnet_group = Addr::SubnetGroup.to_string();
    let parameter_group = Addr::parameter_group(&spec.family).to_string();
    let a = Addr::Instance.to_string();
    let keep = |key: &str, derived: Value| kept(found, &a, key, derived);
    Desired::new(a.clone())
        .attr("identifier", spec.identifier.clone())
        .attr("engine", "postgres")
        .attr("engine_version", spec.version.request())
        .attr("instance_class", spec.instance_class.clone())
        .attr("allocated_storage", spec.allocated_storage)
        .attr("storage_type", spec.storage_type.clone())
        .attr("storage_encrypted", keep("storage_encrypted", true.into()))
        .attr(
            "kms_key",
            keep(
                "kms_key",
                unknown(&spec.kms_key_arn, "hms-security up").into(),
            ),
        )
        .attr(
            "database_name",
            keep("database_name", spec.database_name.clone().into()),
        )
        .attr("port", spec.port)
        .attr("username", keep("username", spec.username.clone().into()))
        .attr("managed_password", true)
        .attr("backup_retention_days", spec.backup_retention_days)
        .attr("backup_window", spec.backup_window.clone())
        .attr("maintenance_window", spec.maintenance_window.clone())
        .attr("multi_az", spec.multi_az)
        .attr("deletion_protection", spec.deletion_protection)
        .attr("performance_insights", spec.performance_insights)
        .attr("iam_authentication", spec.iam_authentication)
        .attr(
            "auto_minor_version_upgrade",
            spec.auto_minor_version_upgrade,
        )
        .attr("monitoring_interval", spec.monitoring_interval)
        .attr(
            "monitoring_role",
            // Off, the role is not RDS's to assume: nothing to compare.
            match spec.monitoring_interval {
                0 => Value::Null,
                _ => Value::from(unknown(&spec.monitoring_role_arn, "hms-security up")),
            },
        )
        .attr("publicly_accessible", false)
        .attr("copy_tags_to_snapshot", true)
        .attr("log_exports", vec!["postgresql"])
        .attr(
            "security_groups",
            vec![unknown(&spec.security_group_id, "hms-security up")],
        )
        .attr("subnet_group", subnet_group.clone())
        .attr("parameter_group", parameter_group.clone())
        .attr("created", true)
        .tags(spec.tags(&Addr::Instance, &spec.identifier))
        // Not changeable in place: the data would have to move to a new instance.
        .replace_on(&["identifier", "engine", "database_name", "username"])
        .uses([subnet_group, parameter_group])
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

/// The plan that makes AWS match the spec, each instance change classified.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec, &observed.found), &observed.found);
    let instance = Addr::Instance.to_string();
    let Some(found) = observed.found.get(&instance) else {
        return plan;
    };
    if imported(&observed.found, &instance) {
        plan.notes.extend(taken_over(spec, found));
    } else {
        plan.impossible.extend(impossible(spec, found));
    }
    // Replacing the instance deletes the database: deletion protection holds it unless lifted explicitly.
    let replaced = plan.get(&instance).map(|c| c.action) == Some(Action::Replace);
    if replaced && observed.deletion_protection && !spec.disable_deletion_protection {
        plan.refused.push(format!(
            "{instance} {} would be replaced (a new, empty database) and has deletion protection on; nothing was changed. If the database must really be replaced: take it down first with hms-db down --disable-deletion-protection (a final snapshot is kept), then run up",
            spec.identifier
        ));
    }
    let updated = plan.get(&instance).map(|c| c.action) == Some(Action::Update);
    if updated {
        plan.impossible.extend(storage_step(spec, found));
    }
    for c in &mut plan.changes {
        if Addr::parse(&c.address) == Some(Addr::Instance) && c.action == Action::Update {
            if let Some(reason) = instance_update_reason(spec, c) {
                c.reason = reason;
            }
        }
    }
    plan
}

/// What an instance taken over from Terraform keeps that the spec would decide otherwise, since RDS
/// cannot change it in place (shown under the plan); shrinking storage or a downgrade stay impossible.
fn taken_over(spec: &Spec, found: &Found) -> Vec<String> {
    let get = |k: &str| found.attrs.get(k);
    let mut out: Vec<String> = impossible(spec, found)
        .into_iter()
        .filter(|m| !m.contains("encrypt"))
        .collect();
    if get("storage_encrypted").and_then(Value::as_bool) == Some(false) {
        out.push(format!(
            "{} {} (from Terraform) stays unencrypted: RDS cannot encrypt in place; to encrypt it, copy a snapshot with the stack's rds key and restore it",
            Addr::Instance,
            spec.identifier
        ));
    }
    if let (Some(have), Some(want)) = (get("kms_key").and_then(Value::as_str), &spec.kms_key_arn) {
        if !have.is_empty() && have != want && !want.ends_with(have) {
            out.push(format!(
                "{} {} (from Terraform) keeps its key {have}: RDS cannot change the key in place",
                Addr::Instance,
                spec.identifier
            ));
        }
    }
    for key in ["database_name", "username"] {
        let want = match key {
            "database_name" => &spec.database_name,
            _ => &spec.username,
        };
        if let Some(have) = get(key).and_then(Value::as_str) {
            if have != want {
                out.push(format!(
                    "{} {} (from Terraform) keeps its {key} {have:?} (db.{key} = {want:?} would replace the database)",
                    Addr::Instance,
                    spec.identifier
                ));
            }
        }
    }
    out
}

/// Changes AWS cannot make at all: shrinking storage, encrypting in place, another key, a downgrade.
fn impossible(spec: &Spec, found: &Found) -> Vec<String> {
    let get = |k: &str| found.attrs.get(k);
    let instance = Addr::Instance;
    let mut out = Vec::new();
    if let Some(have) = get("allocated_storage").and_then(Value::as_i64) {
        if i64::from(spec.allocated_storage) < have {
            out.push(format!(
                "db.allocated_storage = {}: RDS cannot shrink storage (the instance has {have} GiB); keep {have} or more, or restore a snapshot into a new, smaller instance",
                spec.allocated_storage
            ));
        }
    }
    if get("storage_encrypted").and_then(Value::as_bool) == Some(false) {
        out.push(format!(
            "{instance} {} is not encrypted and RDS cannot encrypt it in place; copy a snapshot with encryption and restore it",
            spec.identifier
        ));
    }
    if let (Some(have), Some(want)) = (get("kms_key").and_then(Value::as_str), &spec.kms_key_arn) {
        if !have.is_empty() && have != want && !want.ends_with(have) {
            out.push(format!(
                "{instance} {} is encrypted with {have}, not the stack's rds key {want}; RDS cannot change the key in place",
                spec.identifier
            ));
        }
    }
    if let Some(have) = found
        .info
        .get("resolved_engine_version")
        .and_then(Value::as_str)
    {
        let downgrade = match &spec.version {
            Version::Major(m) => major_of(have).is_some_and(|h| h > *m),
            Version::Exact(_, v) => version_lt(v, have),
        };
        if downgrade {
            out.push(format!(
                "db.engine_version = {}: the instance runs {have} and RDS cannot downgrade; restore a snapshot into a new instance instead",
                spec.version.request()
            ));
        }
    }
    out
}

/// RDS grows storage by at least 10 % at a time.
fn storage_step(spec: &Spec, found: &Found) -> Option<String> {
    let have = found
        .attrs
        .get("allocated_storage")
        .and_then(Value::as_i64)?;
    let want = i64::from(spec.allocated_storage);
    (want > have && want * 10 < have * 11).then(|| {
        format!(
            "db.allocated_storage = {want}: RDS grows storage by at least 10% at a time (the instance has {have} GiB); use {} or more",
            (have * 11 + 9) / 10
        )
    })
}

/// How an update of the instance lands: in place, or with a brief outage (when); `None` keeps the diff's
/// reason (only tags differ: the tagging API alone, nothing is modified).
fn instance_update_reason(spec: &Spec, c: &Change) -> Option<String> {
    let keys = changed_keys(c);
    if keys == ["tags"] {
        return None;
    }
    if keys == ["created"] {
        return Some(String::from(
            "still being created: waits until it is available",
        ));
    }
    let outage: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| match *k {
            "instance_class" => !spec.multi_az,
            "parameter_group" | "engine_version" | "port" => true,
            _ => !IN_PLACE.contains(k),
        })
        .collect();
    if outage.is_empty() {
        return Some(format!("in place, no downtime: {}", keys.join(", ")));
    }
    let when = if spec.apply_immediately {
        String::from("applied now (--apply-immediately)")
    } else {
        format!(
            "applied in the maintenance window {}",
            spec.maintenance_window
        )
    };
    Some(format!(
        "in place with a brief outage (reboot or failover) for {}; {when}",
        outage.join(", ")
    ))
}

/// `a < b` for dotted versions.
fn version_lt(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        s.split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    parse(a) < parse(b)
}

/// The plan that deletes the database (with a final snapshot unless told otherwise) and its groups.
pub fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::delete_all(&observed.found, "down");
    let instance = Addr::Instance;
    if observed.found.contains_key(&instance.to_string()) {
        if observed.deletion_protection && !spec.disable_deletion_protection {
            plan.refused.push(format!(
                "{instance} {} has deletion protection on; nothing was deleted. If the database must really go: hms-db down --disable-deletion-protection",
                spec.identifier
            ));
        }
        for c in &mut plan.changes {
            if Addr::parse(&c.address).as_ref() == Some(&instance) {
                c.reason = if spec.skip_final_snapshot {
                    String::from("down, WITHOUT a final snapshot (--skip-final-snapshot); reserved DB instances are not touched")
                } else {
                    format!(
                        "down, after a final snapshot {}-final-<UTC time>; reserved DB instances are not touched",
                        spec.identifier
                    )
                };
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use hms_core::config::Config;
    use hms_core::contract::{CommandKind, Flags, SpecInput};
    use hms_core::diff::FoundSet;
    use hms_core::document::{Document, Identity};
    use hms_core::tags::Tagger;
    use serde_json::json;

    use super::*;

    const KMS: &str = "arn:aws:kms:us-east-1:123456789012:key/rds";

    /// The spec of `[db]` `config`, with the stack's own `tags`, behind a converged vpc and security.
    fn spec(config: &str, tags: &[(&str, &str)]) -> Spec {
        let id = Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        };
        let extra = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let tagger = Tagger::new(id.clone(), "hms-db", extra);
        let mut doc = Document::new(&id);
        doc.set_outputs(
            "vpc",
            json!({"private_subnet_ids": ["subnet-a", "subnet-b", "subnet-c"]}),
            &[],
        );
        doc.set_outputs(
            "security",
            json!({"database_sg_id": "sg-db", "kms_key_arns": {"rds": KMS}, "ecs_execution_role_arn": "arn:aws:iam::123456789012:role/hms-ecs-execution", "monitoring_role_arn": "arn:aws:iam::123456789012:role/hms-rds-monitoring-role"}),
            &[],
        );
        let config = Config::from_toml(config, "hms.toml").expect("config");
        let flags = Flags::default();
        let input: crate::spec::Input<'_> = SpecInput {
            config: &config,
            tagger: &tagger,
            doc: &doc,
            command: CommandKind::Plan,
            flags: &flags,
            yes: false,
            tool: "hms-db",
        };
        crate::spec::build(&input).expect("spec")
    }

    /// What exists when AWS matches `spec` (the instance running 16.4).
    fn converged(spec: &Spec) -> FoundSet {
        desired(spec, &FoundSet::new())
            .into_iter()
            .map(|d| {
                let mut f = Found::new(d.address.clone());
                f.attrs = d.attrs.clone();
                f.tags = d.tags.clone();
                if d.address == Addr::Instance.to_string() {
                    f = f.info("resolved_engine_version", "16.4");
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
        /// `[db]` config and stack tags of the spec planned for.
        config: &'static str,
        tags: &'static [(&'static str, &'static str)],
        /// What differs in AWS from the converged reference database.
        found: fn(&mut FoundSet),
        /// (address, action, words of the reason) of every change.
        want: &'static [(&'static str, Action, &'static str)],
    }

    #[test]
    fn plans() {
        const SUBNETS: &str = "db.subnet_group";
        const PARAMS: &str = "db.parameter_group[postgres16]";
        const INSTANCE: &str = "db.instance";
        let cases = [
            Case {
                name: "converged",
                config: "",
                tags: &[],
                found: |_| {},
                want: &[],
            },
            Case {
                name: "empty account",
                config: "",
                tags: &[],
                found: FoundSet::clear,
                want: &[
                    (SUBNETS, Action::Create, "new"),
                    (PARAMS, Action::Create, "new"),
                    (INSTANCE, Action::Create, "new"),
                    ("db.master_secret.policy", Action::Create, "new"),
                ],
            },
            Case {
                name: "a stack tag is only tag updates",
                config: "",
                tags: &[("owner", "platform")],
                found: |_| {},
                want: &[
                    (SUBNETS, Action::Update, "tags differ"),
                    (PARAMS, Action::Update, "tags differ"),
                    (INSTANCE, Action::Update, "tags differ"),
                ],
            },
            Case {
                name: "retention is in place",
                config: "[db]\nbackup_retention_days = 14",
                tags: &[],
                found: |_| {},
                want: &[(
                    INSTANCE,
                    Action::Update,
                    "in place, no downtime: backup_retention_days",
                )],
            },
            Case {
                name: "a class change without Multi-AZ is an outage",
                config: "[db]\nmulti_az = false\ninstance_class = \"db.m5.large\"",
                tags: &[],
                found: |f| set(f, &Addr::Instance, "multi_az", Value::Bool(false)),
                want: &[(
                    INSTANCE,
                    Action::Update,
                    "brief outage (reboot or failover) for instance_class",
                )],
            },
            Case {
                name: "another monitoring interval is in place",
                config: "[db]\nmonitoring_interval = 15",
                tags: &[],
                found: |_| {},
                want: &[(
                    INSTANCE,
                    Action::Update,
                    "in place, no downtime: monitoring_interval",
                )],
            },
            Case {
                name: "monitoring turned off by hand is turned on again",
                config: "",
                tags: &[],
                found: |f| {
                    set(f, &Addr::Instance, "monitoring_interval", Value::from(0));
                    set(f, &Addr::Instance, "monitoring_role", Value::Null);
                },
                want: &[(
                    INSTANCE,
                    Action::Update,
                    "in place, no downtime: monitoring_interval, monitoring_role",
                )],
            },
            Case {
                name: "still being created waits",
                config: "",
                tags: &[],
                found: |f| set(f, &Addr::Instance, "created", Value::Bool(false)),
                want: &[(INSTANCE, Action::Update, "still being created")],
            },
            Case {
                name: "a major upgrade brings a new parameter group",
                config: "[db]\nengine_version = 17",
                tags: &[],
                found: |_| {},
                want: &[
                    (PARAMS, Action::Delete, "no longer in the config"),
                    ("db.parameter_group[postgres17]", Action::Create, "new"),
                    (INSTANCE, Action::Update, "brief outage"),
                ],
            },
            Case {
                name: "another database name replaces the instance",
                config: "[db]\ndatabase_name = \"other\"",
                tags: &[],
                found: |_| {},
                // The new instance's new master secret gets the policy again.
                want: &[
                    (INSTANCE, Action::Replace, "database_name cannot change"),
                    ("db.master_secret.policy", Action::Replace, ""),
                ],
            },
        ];
        for case in cases {
            let base = spec("", &[]);
            let want_spec = spec(case.config, case.tags);
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
        }
    }

    #[test]
    fn the_monitoring_interval_is_one_rds_takes() {
        for (text, ok) in [
            ("0", true),
            ("1", true),
            ("60", true),
            ("45", false),
            ("-1", false),
        ] {
            let config = format!("[db]\nmonitoring_interval = {text}");
            let config = Config::from_toml(&config, "hms.toml").expect("config");
            let cfg: crate::spec::DbConfig = config.section("db").expect("db");
            let got = crate::spec::monitoring_interval(&cfg, &config);
            assert_eq!(got.is_ok(), ok, "{text}");
            if let Err(e) = got {
                let e = e.to_string();
                assert!(
                    e.contains("db.monitoring_interval") && e.contains("0, 1, 5, 10, 15, 30, 60"),
                    "{e}"
                );
            }
        }
        // Off needs no role and compares none.
        let off = spec("[db]\nmonitoring_interval = 0", &[]);
        assert_eq!(off.monitoring_role_arn, None);
        let d = desired(&off, &FoundSet::new());
        let instance = d
            .iter()
            .find(|x| x.address == Addr::Instance.to_string())
            .expect("instance");
        assert_eq!(instance.attrs["monitoring_role"], Value::Null);
    }

    #[test]
    fn impossible_and_refused() {
        let s = spec("[db]\nallocated_storage = 50", &[]);
        let mut found = converged(&spec("", &[]));
        set(&mut found, &Addr::Instance, "allocated_storage", json!(100));
        let p = plan(
            &s,
            &Observed {
                found,
                ..Observed::default()
            },
        );
        assert!(
            p.impossible.iter().any(|m| m.contains("cannot shrink")),
            "{:?}",
            p.impossible
        );

        let s = spec("[db]\ndatabase_name = \"other\"", &[]);
        let observed = Observed {
            found: converged(&spec("", &[])),
            deletion_protection: true,
            ..Observed::default()
        };
        let p = plan(&s, &observed);
        assert!(
            p.refused.iter().any(|m| m.contains("deletion protection")),
            "{:?}",
            p.refused
        );
    }

    #[test]
    fn version_order() {
        assert!(version_lt("16.3", "16.10"));
        assert!(!version_lt("16.4", "16.4"));
    }
}

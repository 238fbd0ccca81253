//! The desired database resources, and a plan that says how each change lands: in place, with a brief
//! outage, impossible, or only by replacing the database. Pure.

use hms_core::diff::{self, Desired};
use hms_core::plan::{Action, Plan};
use serde_json::Value;

use crate::observe::Observed;
use crate::spec::{major_of, Spec, Version};

/// The DB subnet group.
pub const SUBNET_GROUP: &str = "db.subnet_group";
/// The DB instance.
pub const INSTANCE: &str = "db.instance";

/// The parameter group of a family (`db.parameter_group[postgres16]`): a major upgrade brings a new one
/// instead of replacing the database.
pub fn parameter_group(family: &str) -> String {
    format!("db.parameter_group[{family}]")
}

/// Instance attributes that change in place without downtime.
const IN_PLACE: &[&str] = &[
    "backup_retention_days",
    "backup_window",
    "maintenance_window",
    "allocated_storage",
    "deletion_protection",
    "performance_insights",
    "auto_minor_version_upgrade",
    "copy_tags_to_snapshot",
    "log_exports",
    "security_groups",
    "multi_az",
    "storage_type",
    "tags",
];

/// Every resource the spec wants.
pub fn desired(spec: &Spec) -> Vec<Desired> {
    let unknown = |v: &Option<String>, what: &str| {
        v.clone().unwrap_or_else(|| format!("(known after {what})"))
    };
    let mut subnets = spec
        .subnet_ids
        .clone()
        .unwrap_or_else(|| vec!["(known after hms-vpc up)".into()]);
    subnets.sort();
    let pg = parameter_group(&spec.family);
    vec![
        Desired::new(SUBNET_GROUP)
            .attr("name", spec.subnet_group.clone())
            .attr("subnets", subnets)
            .tags(spec.tags(SUBNET_GROUP, &spec.subnet_group))
            .replace_on(&["name"]),
        Desired::new(&pg)
            .attr("name", spec.parameter_group.clone())
            .attr("family", spec.family.clone())
            .attr(
                "parameters",
                spec.parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                    .collect::<serde_json::Map<_, _>>(),
            )
            .tags(spec.tags(&pg, &spec.parameter_group))
            .replace_on(&["name", "family"]),
        Desired::new(INSTANCE)
            .attr("identifier", spec.identifier.clone())
            .attr("engine", "postgres")
            .attr("engine_version", spec.version.request())
            .attr("instance_class", spec.instance_class.clone())
            .attr("allocated_storage", spec.allocated_storage)
            .attr("storage_type", spec.storage_type.clone())
            .attr("storage_encrypted", true)
            .attr("kms_key", unknown(&spec.kms_key_arn, "hms-security up"))
            .attr("database_name", spec.database_name.clone())
            .attr("port", spec.port)
            .attr("username", spec.username.clone())
            .attr("managed_password", true)
            .attr("backup_retention_days", spec.backup_retention_days)
            .attr("backup_window", spec.backup_window.clone())
            .attr("maintenance_window", spec.maintenance_window.clone())
            .attr("multi_az", spec.multi_az)
            .attr("deletion_protection", spec.deletion_protection)
            .attr("performance_insights", spec.performance_insights)
            .attr(
                "auto_minor_version_upgrade",
                spec.auto_minor_version_upgrade,
            )
            .attr("publicly_accessible", false)
            .attr("copy_tags_to_snapshot", true)
            .attr("log_exports", vec!["postgresql"])
            .attr(
                "security_groups",
                vec![unknown(&spec.security_group_id, "hms-security up")],
            )
            .attr("subnet_group", SUBNET_GROUP)
            .attr("parameter_group", pg.clone())
            .attr("created", true)
            .tags(spec.tags(INSTANCE, &spec.identifier))
            // Not changeable in place: the data would have to move to a new instance.
            .replace_on(&["identifier", "engine", "database_name", "username"])
            .uses([SUBNET_GROUP.to_owned(), pg]),
    ]
}

fn changed_keys(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let (Some(Value::Object(b)), Some(Value::Object(a))) = (before, after) else {
        return vec![];
    };
    a.iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// The plan that makes AWS match the spec, each instance change classified.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec), &observed.found);
    let Some(found) = observed.found.get(INSTANCE) else {
        return plan;
    };
    let get = |k: &str| found.attrs.get(k);
    // Changes AWS cannot make at all.
    if let Some(have) = get("allocated_storage").and_then(Value::as_i64) {
        if i64::from(spec.allocated_storage) < have {
            plan.impossible.push(format!(
                "db.allocated_storage = {}: RDS cannot shrink storage (the instance has {have} GiB); keep {have} or more, or restore a snapshot into a new, smaller instance",
                spec.allocated_storage
            ));
        }
    }
    if get("storage_encrypted").and_then(Value::as_bool) == Some(false) {
        plan.impossible.push(format!(
            "db.instance {} is not encrypted and RDS cannot encrypt it in place; copy a snapshot with encryption and restore it",
            spec.identifier
        ));
    }
    if let (Some(have), Some(want)) = (get("kms_key").and_then(Value::as_str), &spec.kms_key_arn) {
        if !have.is_empty() && have != want && !want.ends_with(have) {
            plan.impossible.push(format!(
                "db.instance {} is encrypted with {have}, not the stack's rds key {want}; RDS cannot change the key in place",
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
            plan.impossible.push(format!(
                "db.engine_version = {}: the instance runs {have} and RDS cannot downgrade; restore a snapshot into a new instance instead",
                spec.version.request()
            ));
        }
    }
    // Replacing the instance deletes the database: deletion protection holds it unless lifted explicitly.
    let replaced = plan
        .changes
        .iter()
        .any(|c| c.address == INSTANCE && c.action == Action::Replace);
    if replaced && observed.deletion_protection && !spec.disable_deletion_protection {
        plan.refused.push(format!(
            "db.instance {} would be replaced (a new, empty database) and has deletion protection on; nothing was changed. If that is really meant: --set db.disable_deletion_protection=true (a final snapshot is kept)",
            spec.identifier
        ));
    }
    if let (Some(have), Some(Action::Update)) = (
        get("allocated_storage").and_then(Value::as_i64),
        plan.get(INSTANCE).map(|c| c.action),
    ) {
        let want = i64::from(spec.allocated_storage);
        if want > have && want * 10 < have * 11 {
            plan.impossible.push(format!(
                "db.allocated_storage = {want}: RDS grows storage by at least 10% at a time (the instance has {have} GiB); use {} or more",
                (have * 11 + 9) / 10
            ));
        }
    }
    let when = if spec.apply_immediately {
        String::from("applied now (--apply-immediately)")
    } else {
        format!(
            "applied in the maintenance window {}",
            spec.maintenance_window
        )
    };
    for c in &mut plan.changes {
        if c.address != INSTANCE || c.action != Action::Update {
            continue;
        }
        let keys = changed_keys(c.before.as_ref(), c.after.as_ref());
        if keys == ["created"] {
            c.reason = String::from("still being created: waits until it is available");
            continue;
        }
        let outage: Vec<&String> = keys
            .iter()
            .filter(|k| match k.as_str() {
                "instance_class" => !spec.multi_az,
                "parameter_group" | "engine_version" | "port" => true,
                _ => !IN_PLACE.contains(&k.as_str()) && k.as_str() != "instance_class",
            })
            .collect();
        c.reason = if outage.is_empty() {
            format!("in place, no downtime: {}", keys.join(", "))
        } else {
            format!(
                "in place with a brief outage (reboot or failover) for {}; {when}",
                outage
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
    }
    plan
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
    if observed.found.contains_key(INSTANCE) {
        if observed.deletion_protection && !spec.disable_deletion_protection {
            plan.refused.push(format!(
                "db.instance {} has deletion protection on; nothing was deleted. If the database must really go: hms-db down --disable-deletion-protection",
                spec.identifier
            ));
        }
        for c in &mut plan.changes {
            if c.address == INSTANCE {
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
    use super::*;

    #[test]
    fn version_order() {
        assert!(version_lt("16.3", "16.10"));
        assert!(!version_lt("16.4", "16.4"));
    }
}

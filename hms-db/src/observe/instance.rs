//! The DB instance: found by the configured identifier, else by the one in state. A modification pending
//! for the maintenance window counts as made, so that a plan does not ask for it again.

use aws_sdk_rds::types::DbInstance;
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::{Error, Result};

use super::parameter_group::Described;
use super::{not_found, pairs, Pairs};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// The instance `identifier`, else the `recorded` one.
pub(super) async fn describe(
    c: &Clients,
    identifier: &str,
    recorded: Option<&str>,
) -> Result<Option<DbInstance>> {
    match describe_id(c, identifier).await? {
        Some(i) => Ok(Some(i)),
        None => match recorded {
            Some(id) => describe_id(c, id).await,
            None => Ok(None),
        },
    }
}

async fn describe_id(c: &Clients, id: &str) -> Result<Option<DbInstance>> {
    match c
        .rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(o) => Ok(o.db_instances().first().cloned()),
        Err(e) if not_found(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", Addr::Instance),
            "rds:DescribeDBInstances",
            e,
        )),
    }
}

/// The instance's tags (DescribeDBInstances returns them).
pub(super) fn tags(i: &DbInstance) -> Pairs {
    pairs(i.tag_list())
}

/// What the instance has, or will have once its pending modification is made.
struct Effective<'a> {
    class: &'a str,
    storage: i32,
    retention: i32,
    multi_az: bool,
    /// The engine version it runs (or is moving to).
    version: String,
}

impl<'a> Effective<'a> {
    fn of(i: &'a DbInstance) -> Self {
        let pending = i.pending_modified_values();
        Effective {
            class: pending
                .and_then(|p| p.db_instance_class())
                .or(i.db_instance_class())
                .unwrap_or_default(),
            storage: pending
                .and_then(|p| p.allocated_storage())
                .or(i.allocated_storage())
                .unwrap_or_default(),
            retention: pending
                .and_then(|p| p.backup_retention_period())
                .or(i.backup_retention_period())
                .unwrap_or_default(),
            multi_az: pending
                .and_then(|p| p.multi_az())
                .or(i.multi_az())
                .unwrap_or(false),
            version: pending
                .and_then(|p| p.engine_version())
                .or(i.engine_version())
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// The instance as the plan compares it. References to the groups are their addresses when they are
/// the groups hms-db manages, else the names found.
pub(super) fn found(
    spec: &Spec,
    i: &DbInstance,
    tags: Pairs,
    groups: &[Described],
    subnet_group: Option<&str>,
) -> Found {
    let e = Effective::of(i);
    let parameter_group = parameter_group_ref(i, groups);
    let f = Found::new(i.db_instance_identifier().unwrap_or_default());
    let f = engine_attrs(f, spec, i, &e);
    let f = operation_attrs(f, i, &e);
    let f = placement_attrs(f, spec, i, &parameter_group, subnet_group);
    facts(f, i, &e)
        .tags(tags)
        .uses([Addr::SubnetGroup.to_string(), parameter_group])
}

/// The parameter group the instance uses: the address of a group observe found, else its name.
fn parameter_group_ref(i: &DbInstance, groups: &[Described]) -> String {
    let name = i
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name())
        .unwrap_or_default();
    groups
        .iter()
        .find(|d| d.name == name)
        .and_then(|d| d.group.as_ref())
        .map(|g| Addr::parameter_group(g.db_parameter_group_family().unwrap_or_default()))
        .map_or_else(|| name.to_owned(), |a| a.to_string())
}

/// Engine, size, storage and login.
fn engine_attrs(f: Found, spec: &Spec, i: &DbInstance, e: &Effective<'_>) -> Found {
    // A major version asked for is satisfied by any minor of it.
    let version = if spec.version.satisfied_by(&e.version) {
        spec.version.request()
    } else {
        e.version.clone()
    };
    f.attr("identifier", i.db_instance_identifier().unwrap_or_default())
        .attr("engine", i.engine().unwrap_or_default())
        .attr("engine_version", version)
        .attr("instance_class", e.class)
        .attr("allocated_storage", e.storage)
        .attr("storage_type", i.storage_type().unwrap_or_default())
        .attr("storage_encrypted", i.storage_encrypted().unwrap_or(false))
        .attr("kms_key", i.kms_key_id().unwrap_or_default())
        .attr("database_name", i.db_name().unwrap_or_default())
        .attr(
            "port",
            i.endpoint()
                .and_then(|e| e.port())
                .or(i.db_instance_port().filter(|p| *p != 0))
                .unwrap_or_default(),
        )
        .attr("username", i.master_username().unwrap_or_default())
        .attr("managed_password", i.master_user_secret().is_some())
}

/// Backups, maintenance, availability and the operational switches.
fn operation_attrs(f: Found, i: &DbInstance, e: &Effective<'_>) -> Found {
    let mut logs: Vec<String> = i.enabled_cloudwatch_logs_exports().to_vec();
    logs.sort();
    f.attr("backup_retention_days", e.retention)
        .attr(
            "backup_window",
            i.preferred_backup_window().unwrap_or_default(),
        )
        .attr(
            "maintenance_window",
            i.preferred_maintenance_window()
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
        .attr("multi_az", e.multi_az)
        .attr(
            "deletion_protection",
            i.deletion_protection().unwrap_or(false),
        )
        .attr(
            "performance_insights",
            i.performance_insights_enabled().unwrap_or(false),
        )
        .attr(
            "iam_authentication",
            i.iam_database_authentication_enabled().unwrap_or(false),
        )
        .attr(
            "auto_minor_version_upgrade",
            i.auto_minor_version_upgrade().unwrap_or(false),
        )
        .attr("monitoring_interval", i.monitoring_interval().unwrap_or(0))
        .attr(
            "monitoring_role",
            match i.monitoring_interval().unwrap_or(0) {
                0 => serde_json::Value::Null,
                _ => serde_json::Value::from(i.monitoring_role_arn().unwrap_or_default()),
            },
        )
        .attr(
            "publicly_accessible",
            i.publicly_accessible().unwrap_or(false),
        )
        .attr(
            "copy_tags_to_snapshot",
            i.copy_tags_to_snapshot().unwrap_or(false),
        )
        .attr("log_exports", logs)
}

/// Security groups, the groups it is placed with, and whether it still is being created.
fn placement_attrs(
    f: Found,
    spec: &Spec,
    i: &DbInstance,
    parameter_group: &str,
    ours: Option<&str>,
) -> Found {
    let mut sgs: Vec<String> = i
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect();
    sgs.sort();
    let subnet_group = i
        .db_subnet_group()
        .and_then(|g| g.db_subnet_group_name())
        .unwrap_or_default();
    // The stack's group: the configured one, or the one found in its place (taken over under its name).
    let subnet_group = if subnet_group == spec.subnet_group || Some(subnet_group) == ours {
        Addr::SubnetGroup.to_string()
    } else {
        subnet_group.to_owned()
    };
    f.attr("security_groups", sgs)
        .attr("subnet_group", subnet_group)
        .attr("parameter_group", parameter_group)
        .attr("created", i.db_instance_status() != Some("creating"))
}

/// Facts recorded in state, not compared.
fn facts(f: Found, i: &DbInstance, e: &Effective<'_>) -> Found {
    f.info("arn", i.db_instance_arn().unwrap_or_default())
        .info(
            "endpoint",
            i.endpoint().and_then(|e| e.address()).unwrap_or_default(),
        )
        .info("resolved_engine_version", e.version.clone())
        .info(
            "master_user_secret_arn",
            i.master_user_secret()
                .and_then(|s| s.secret_arn())
                .unwrap_or_default(),
        )
        .info("status", i.db_instance_status().unwrap_or_default())
}

//! The DB instance: created with a managed master password and waited for; modified only in what the
//! plan changes (now with `--apply-immediately`, else in the maintenance window); deleted after a final
//! snapshot unless told otherwise.

use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
use aws_sdk_rds::types::{CloudwatchLogsExportConfiguration, DbInstance};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::error::{code_of, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::Value;

use super::{stamp, tags_after, Recorded};
use crate::addr::Addr;
use crate::spec::{major_of, Spec};
use crate::Clients;

/// Statuses an instance does not leave by itself.
const STUCK: &[&str] = &[
    "failed",
    "incompatible-parameters",
    "incompatible-network",
    "storage-full",
    "inaccessible-encryption-credentials",
];

pub(super) async fn create(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let kms = spec
        .kms_key_arn
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: no KMS key")))?;
    let sg = spec
        .security_group_id
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: no security group")))?;
    let out = c
        .rds
        .create_db_instance()
        .db_instance_identifier(&spec.identifier)
        .engine("postgres")
        .engine_version(spec.version.request())
        .db_instance_class(&spec.instance_class)
        .allocated_storage(spec.allocated_storage)
        .storage_type(&spec.storage_type)
        .storage_encrypted(true)
        .kms_key_id(&kms)
        .db_name(&spec.database_name)
        .port(spec.port)
        .master_username(&spec.username)
        // RDS generates the password and keeps it in Secrets Manager, encrypted with the stack's key.
        .manage_master_user_password(true)
        .master_user_secret_kms_key_id(&kms)
        .vpc_security_group_ids(sg)
        .db_subnet_group_name(&spec.subnet_group)
        .db_parameter_group_name(&spec.parameter_group)
        .backup_retention_period(spec.backup_retention_days)
        .preferred_backup_window(&spec.backup_window)
        .preferred_maintenance_window(&spec.maintenance_window)
        .multi_az(spec.multi_az)
        .deletion_protection(spec.deletion_protection)
        .enable_performance_insights(spec.performance_insights)
        .set_performance_insights_kms_key_id(spec.performance_insights.then(|| kms.clone()))
        .enable_iam_database_authentication(spec.iam_authentication)
        .auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
        .monitoring_interval(spec.monitoring_interval)
        .set_monitoring_role_arn(monitoring_role(spec))
        .publicly_accessible(false)
        .copy_tags_to_snapshot(true)
        .enable_cloudwatch_logs_exports("postgresql")
        .set_tags(Some(tags_after(change)))
        .send()
        .await;
    match out {
        Ok(_) => {}
        // A run that died after asking: the instance is ours (tags are checked by observe); wait for it.
        Err(e) if code_of(&e) == Some("DBInstanceAlreadyExists") => {}
        Err(e) => return Err(Error::aws(a, "rds:CreateDBInstance", e)),
    }
    rec.record(
        a,
        Some(Resource::new(&spec.identifier).with("status", "creating")),
    )
    .await?;
    wait_available(c, task, spec, "created", ctx.patience()).await
}

/// Modifies what the plan changes (its tags are already synced); only still being created (a run that
/// timed out waiting) waits, and only tags returns at once.
pub(super) async fn update(
    c: &Clients,
    ctx: &Ctx<'_>,
    spec: &Spec,
    change: &Change,
    r: Recorded,
    task: &Task<'_>,
) -> Result<Resource> {
    let modified = change
        .after
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|m| {
            m.keys()
                .any(|k| k != "created" && k != "tags" && change.changed(k))
        });
    if !modified {
        if change.changed("created") {
            return wait_available(c, task, spec, "available", ctx.patience()).await;
        }
        return Ok(r.resource);
    }
    let a = change.address.as_str();
    modification(c, spec, change, &r)
        .send()
        .await
        .map_err(|e| Error::aws(a, "rds:ModifyDBInstance", e))?;
    if !spec.apply_immediately {
        ctx.ui.info(format!(
            "{a}: changes pending for the maintenance window {} (or run with --apply-immediately)",
            spec.maintenance_window
        ));
        return describe_record(c, spec).await;
    }
    wait_available(c, task, spec, "available", ctx.timeout).await
}

/// The ModifyDBInstance call that makes exactly the planned attribute changes.
fn modification(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: &Recorded,
) -> ModifyDBInstanceFluentBuilder {
    let ch = |k: &str| change.changed(k);
    let mut m = c
        .rds
        .modify_db_instance()
        .db_instance_identifier(&r.id)
        .apply_immediately(spec.apply_immediately);
    if ch("instance_class") {
        m = m.db_instance_class(&spec.instance_class);
    }
    if ch("allocated_storage") {
        m = m.allocated_storage(spec.allocated_storage);
    }
    if ch("storage_type") {
        m = m.storage_type(&spec.storage_type);
    }
    if ch("engine_version") {
        let have = r
            .resource
            .attr("resolved_engine_version")
            .and_then(major_of);
        m = m
            .engine_version(spec.version.request())
            .allow_major_version_upgrade(have != Some(spec.version.major()));
    }
    if ch("port") {
        m = m.db_port_number(spec.port);
    }
    if ch("backup_retention_days") {
        m = m.backup_retention_period(spec.backup_retention_days);
    }
    if ch("backup_window") {
        m = m.preferred_backup_window(&spec.backup_window);
    }
    if ch("maintenance_window") {
        m = m.preferred_maintenance_window(&spec.maintenance_window);
    }
    if ch("multi_az") {
        m = m.multi_az(spec.multi_az);
    }
    if ch("deletion_protection") {
        m = m.deletion_protection(spec.deletion_protection);
    }
    if ch("performance_insights") {
        m = m
            .enable_performance_insights(spec.performance_insights)
            .set_performance_insights_kms_key_id(
                spec.performance_insights
                    .then(|| spec.kms_key_arn.clone())
                    .flatten(),
            );
    }
    if ch("iam_authentication") {
        m = m.enable_iam_database_authentication(spec.iam_authentication);
    }
    if ch("auto_minor_version_upgrade") {
        m = m.auto_minor_version_upgrade(spec.auto_minor_version_upgrade);
    }
    if ch("monitoring_interval") || ch("monitoring_role") {
        m = m
            .monitoring_interval(spec.monitoring_interval)
            .set_monitoring_role_arn(monitoring_role(spec));
    }
    if ch("copy_tags_to_snapshot") {
        m = m.copy_tags_to_snapshot(true);
    }
    if ch("publicly_accessible") {
        m = m.publicly_accessible(false);
    }
    if ch("security_groups") {
        m = m.set_vpc_security_group_ids(spec.security_group_id.clone().map(|g| vec![g]));
    }
    if ch("parameter_group") {
        m = m.db_parameter_group_name(&spec.parameter_group);
    }
    if ch("subnet_group") {
        m = m.db_subnet_group_name(&spec.subnet_group);
    }
    if ch("log_exports") {
        m = m.cloudwatch_logs_export_configuration(
            CloudwatchLogsExportConfiguration::builder()
                .enable_log_types("postgresql")
                .build(),
        );
    }
    if ch("managed_password") {
        m = m
            .manage_master_user_password(true)
            .set_master_user_secret_kms_key_id(spec.kms_key_arn.clone());
    }
    m
}

/// The role enhanced monitoring assumes; none when it is off.
fn monitoring_role(spec: &Spec) -> Option<String> {
    (spec.monitoring_interval != 0)
        .then(|| spec.monitoring_role_arn.clone())
        .flatten()
}

/// The instance's state record, read back.
async fn describe_record(c: &Clients, spec: &Spec) -> Result<Resource> {
    let out = c
        .rds
        .describe_db_instances()
        .db_instance_identifier(&spec.identifier)
        .send()
        .await
        .map_err(|e| Error::aws(Addr::Instance.to_string(), "rds:DescribeDBInstances", e))?;
    let i = out.db_instances().first().ok_or_else(|| {
        Error::Internal(format!("{}: {} vanished", Addr::Instance, spec.identifier))
    })?;
    Ok(record(i))
}

fn record(i: &DbInstance) -> Resource {
    Resource::new(i.db_instance_identifier().unwrap_or_default())
        .with("arn", i.db_instance_arn().unwrap_or_default())
        .with(
            "endpoint",
            i.endpoint().and_then(|e| e.address()).unwrap_or_default(),
        )
        .with(
            "port",
            i.endpoint().and_then(|e| e.port()).unwrap_or_default(),
        )
        .with(
            "resolved_engine_version",
            i.engine_version().unwrap_or_default(),
        )
        .with(
            "master_user_secret_arn",
            i.master_user_secret()
                .and_then(|s| s.secret_arn())
                .unwrap_or_default(),
        )
        .with("status", i.db_instance_status().unwrap_or_default())
}

/// Waits until the instance is `available`, showing its status and the elapsed time.
async fn wait_available(
    c: &Clients,
    task: &Task<'_>,
    spec: &Spec,
    what: &str,
    patience: impl Into<hms_core::ui::Patience>,
) -> Result<Resource> {
    let instance = Addr::Instance.to_string();
    wait_until(
        task,
        &instance,
        &format!("DB instance {} is available ({what})", spec.identifier),
        patience,
        || async {
            let out = c
                .rds
                .describe_db_instances()
                .db_instance_identifier(&spec.identifier)
                .send()
                .await
                .map_err(|e| Error::aws(&instance, "rds:DescribeDBInstances", e))?;
            let Some(i) = out.db_instances().first() else {
                return Ok(None);
            };
            match i.db_instance_status().unwrap_or_default() {
                "available" => Ok(Some(record(i))),
                stuck if STUCK.contains(&stuck) => Err(Error::Aws {
                    resource: format!("{instance} {}", spec.identifier),
                    operation: "rds:DescribeDBInstances".into(),
                    code: stuck.to_owned(),
                    message: String::from(
                        "the instance stopped in this state; see the RDS events for why",
                    ),
                }),
                other => {
                    task.status(&format!("status {other}"), false);
                    Ok(None)
                }
            }
        },
    )
    .await
}

/// Deletes the instance `id` (lifting deletion protection first when the plan allowed it), after a
/// final snapshot unless `--skip-final-snapshot`, and waits until it is gone.
pub(super) async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    id: &str,
    task: &Task<'_>,
) -> Result<()> {
    let a = change.address.as_str();
    let protected = change
        .before
        .as_ref()
        .and_then(|v| v.get("deletion_protection"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if protected {
        // The plan was refused unless --disable-deletion-protection was given.
        c.rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .deletion_protection(false)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| Error::aws(a, "rds:ModifyDBInstance", e))?;
    }
    let snapshot = format!("{id}-final-{}", stamp());
    let d = c
        .rds
        .delete_db_instance()
        .db_instance_identifier(id)
        .delete_automated_backups(false);
    let d = if spec.skip_final_snapshot {
        d.skip_final_snapshot(true)
    } else {
        d.skip_final_snapshot(false)
            .final_db_snapshot_identifier(&snapshot)
    };
    match d.send().await {
        Ok(_) => {}
        Err(e) if is_gone(code_of(&e)) => return Ok(()),
        Err(e) => return Err(Error::aws(a, "rds:DeleteDBInstance", e)),
    }
    if !spec.skip_final_snapshot {
        rec.note("final_snapshot_id", snapshot.clone());
        ctx.ui.info(format!(
            "{a}: final snapshot {snapshot} (kept; delete it by hand when no longer needed)"
        ));
    }
    wait_deleted(c, ctx, a, id, task).await
}

async fn wait_deleted(
    c: &Clients,
    ctx: &Ctx<'_>,
    a: &str,
    id: &str,
    task: &Task<'_>,
) -> Result<()> {
    wait_until(
        task,
        a,
        &format!("DB instance {id} is deleted"),
        ctx.timeout,
        || async {
            match c
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
            {
                Ok(o) => {
                    let status = o
                        .db_instances()
                        .first()
                        .and_then(|i| i.db_instance_status())
                        .unwrap_or("deleted")
                        .to_owned();
                    task.status(&format!("status {status}"), false);
                    Ok((o.db_instances().is_empty()).then_some(()))
                }
                Err(e) if is_gone(code_of(&e)) => Ok(Some(())),
                Err(e) => Err(Error::aws(a, "rds:DescribeDBInstances", e)),
            }
        },
    )
    .await
}

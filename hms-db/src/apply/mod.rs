//! Carries out one step of one change. Creating or modifying an instance waits until it is available,
//! with live progress; the instance is recorded before the wait, so a timeout or a kill loses nothing and
//! the next `up` resumes waiting.

use std::time::SystemTime;

use aws_sdk_rds::types::{ApplyMethod, Parameter, Tag};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, tag_delta, Tags};
use hms_core::error::{code_of, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::plan::{INSTANCE, SUBNET_GROUP};
use crate::spec::Spec;
use crate::Clients;

fn rds_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn changed(change: &Change, key: &str) -> bool {
    change.before.as_ref().and_then(|v| v.get(key))
        != change.after.as_ref().and_then(|v| v.get(key))
}

/// `20261128T030405Z` for snapshot names.
pub fn stamp() -> String {
    hms_core::state::rfc3339(SystemTime::now())
        .replace(['-', ':'], "")
        .to_ascii_lowercase()
}

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    match step {
        Step::Create => create(c, ctx, rec, spec, change, task).await.map(Some),
        Step::Update => update(c, ctx, rec, spec, change, task).await.map(Some),
        Step::Delete => delete(c, ctx, rec, spec, change, task).await.map(|()| None),
    }
}

fn parameters(spec: &Spec) -> Vec<Parameter> {
    spec.parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                // Static parameters only take effect after a reboot; RDS applies dynamic ones at once.
                .apply_method(if k == "rds.force_ssl" {
                    ApplyMethod::PendingReboot
                } else {
                    ApplyMethod::Immediate
                })
                .build()
        })
        .collect()
}

async fn create(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let tags = change_tags(change.after.as_ref());
    if a == SUBNET_GROUP {
        let subnets = spec
            .subnet_ids
            .clone()
            .ok_or_else(|| Error::Internal(format!("{a}: no subnets")))?;
        let out = c
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(&spec.subnet_group)
            .db_subnet_group_description(format!(
                "HMS database subnets ({} {})",
                spec.tagger.id.stack, spec.tagger.id.env
            ))
            .set_subnet_ids(Some(subnets))
            .set_tags(Some(rds_tags(&tags)))
            .send()
            .await
            .map_err(|e| Error::aws(a, "rds:CreateDBSubnetGroup", e))?;
        let arn = out
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_arn())
            .unwrap_or_default();
        return Ok(Resource::new(&spec.subnet_group).with("arn", arn));
    }
    if a.starts_with("db.parameter_group[") {
        let out = c
            .rds
            .create_db_parameter_group()
            .db_parameter_group_name(&spec.parameter_group)
            .db_parameter_group_family(&spec.family)
            .description(format!(
                "HMS PostgreSQL parameters ({} {})",
                spec.tagger.id.stack, spec.tagger.id.env
            ))
            .set_tags(Some(rds_tags(&tags)))
            .send()
            .await;
        let arn = match out {
            Ok(o) => o
                .db_parameter_group()
                .and_then(|g| g.db_parameter_group_arn())
                .unwrap_or_default()
                .to_owned(),
            // Made by a run that died before recording it: adopt it only if it is ours and of this family.
            Err(e) if code_of(&e).is_some_and(|c| c.contains("AlreadyExists")) => {
                let o = c
                    .rds
                    .describe_db_parameter_groups()
                    .db_parameter_group_name(&spec.parameter_group)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "rds:DescribeDBParameterGroups", e))?;
                let g = o
                    .db_parameter_groups()
                    .first()
                    .ok_or_else(|| Error::Internal(format!("{a}: exists but cannot be read")))?;
                let arn = g.db_parameter_group_arn().unwrap_or_default().to_owned();
                let tags = c
                    .rds
                    .list_tags_for_resource()
                    .resource_name(&arn)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "rds:ListTagsForResource", e))?;
                let ours = spec.tagger.owned_address(
                    tags.tag_list()
                        .iter()
                        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
                );
                if ours.as_deref() != Some(a)
                    || g.db_parameter_group_family() != Some(spec.family.as_str())
                {
                    return Err(Error::Refused(format!(
                        "{a}: a parameter group named {} already exists and is not this stack's {}; rename or remove it",
                        spec.parameter_group, spec.family
                    )));
                }
                arn
            }
            Err(e) => return Err(Error::aws(a, "rds:CreateDBParameterGroup", e)),
        };
        rec.record(
            a,
            Some(Resource::new(&spec.parameter_group).with("arn", arn.clone())),
        )
        .await?;
        c.rds
            .modify_db_parameter_group()
            .db_parameter_group_name(&spec.parameter_group)
            .set_parameters(Some(parameters(spec)))
            .send()
            .await
            .map_err(|e| Error::aws(a, "rds:ModifyDBParameterGroup", e))?;
        return Ok(Resource::new(&spec.parameter_group).with("arn", arn));
    }
    if a == INSTANCE {
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
            .auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .publicly_accessible(false)
            .copy_tags_to_snapshot(true)
            .enable_cloudwatch_logs_exports("postgresql")
            .set_tags(Some(rds_tags(&tags)))
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
        return wait_available(c, ctx, task, spec, "created").await;
    }
    Err(Error::Internal(format!("{a}: unknown address")))
}

async fn update(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let id = rec.id(a)?;
    let resource = rec.resource(a).unwrap_or_else(|| Resource::new(&id));
    let arn = resource.attr("arn").unwrap_or_default().to_owned();
    if changed(change, "tags") && !arn.is_empty() {
        let (set, remove) = tag_delta(
            &change_tags(change.before.as_ref()),
            &change_tags(change.after.as_ref()),
        );
        if !set.is_empty() {
            c.rds
                .add_tags_to_resource()
                .resource_name(&arn)
                .set_tags(Some(rds_tags(&set)))
                .send()
                .await
                .map_err(|e| Error::aws(a, "rds:AddTagsToResource", e))?;
        }
        if !remove.is_empty() {
            c.rds
                .remove_tags_from_resource()
                .resource_name(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(a, "rds:RemoveTagsFromResource", e))?;
        }
    }
    if a == SUBNET_GROUP {
        if changed(change, "subnets") {
            c.rds
                .modify_db_subnet_group()
                .db_subnet_group_name(&id)
                .set_subnet_ids(spec.subnet_ids.clone())
                .send()
                .await
                .map_err(|e| Error::aws(a, "rds:ModifyDBSubnetGroup", e))?;
        }
        return Ok(resource);
    }
    if a.starts_with("db.parameter_group[") {
        if changed(change, "parameters") {
            c.rds
                .modify_db_parameter_group()
                .db_parameter_group_name(&id)
                .set_parameters(Some(parameters(spec)))
                .send()
                .await
                .map_err(|e| Error::aws(a, "rds:ModifyDBParameterGroup", e))?;
        }
        return Ok(resource);
    }
    if a != INSTANCE {
        return Err(Error::Internal(format!("{a}: no in-place update")));
    }
    // Only still being created (a run that timed out waiting) or only tags: nothing to modify.
    let only_waiting = change
        .after
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|m| {
            m.keys()
                .all(|k| k == "created" || k == "tags" || !changed(change, k))
        });
    if !only_waiting {
        let mut m = c
            .rds
            .modify_db_instance()
            .db_instance_identifier(&id)
            .apply_immediately(spec.apply_immediately);
        if changed(change, "instance_class") {
            m = m.db_instance_class(&spec.instance_class);
        }
        if changed(change, "allocated_storage") {
            m = m.allocated_storage(spec.allocated_storage);
        }
        if changed(change, "storage_type") {
            m = m.storage_type(&spec.storage_type);
        }
        if changed(change, "engine_version") {
            let have = resource
                .attr("resolved_engine_version")
                .and_then(crate::spec::major_of);
            m = m
                .engine_version(spec.version.request())
                .allow_major_version_upgrade(have != Some(spec.version.major()));
        }
        if changed(change, "port") {
            m = m.db_port_number(spec.port);
        }
        if changed(change, "backup_retention_days") {
            m = m.backup_retention_period(spec.backup_retention_days);
        }
        if changed(change, "backup_window") {
            m = m.preferred_backup_window(&spec.backup_window);
        }
        if changed(change, "maintenance_window") {
            m = m.preferred_maintenance_window(&spec.maintenance_window);
        }
        if changed(change, "multi_az") {
            m = m.multi_az(spec.multi_az);
        }
        if changed(change, "deletion_protection") {
            m = m.deletion_protection(spec.deletion_protection);
        }
        if changed(change, "performance_insights") {
            m = m
                .enable_performance_insights(spec.performance_insights)
                .set_performance_insights_kms_key_id(
                    spec.performance_insights
                        .then(|| spec.kms_key_arn.clone())
                        .flatten(),
                );
        }
        if changed(change, "auto_minor_version_upgrade") {
            m = m.auto_minor_version_upgrade(spec.auto_minor_version_upgrade);
        }
        if changed(change, "copy_tags_to_snapshot") {
            m = m.copy_tags_to_snapshot(true);
        }
        if changed(change, "publicly_accessible") {
            m = m.publicly_accessible(false);
        }
        if changed(change, "security_groups") {
            m = m.set_vpc_security_group_ids(spec.security_group_id.clone().map(|g| vec![g]));
        }
        if changed(change, "parameter_group") {
            m = m.db_parameter_group_name(&spec.parameter_group);
        }
        if changed(change, "subnet_group") {
            m = m.db_subnet_group_name(&spec.subnet_group);
        }
        if changed(change, "log_exports") {
            m = m.cloudwatch_logs_export_configuration(
                aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                    .enable_log_types("postgresql")
                    .build(),
            );
        }
        if changed(change, "managed_password") {
            m = m
                .manage_master_user_password(true)
                .set_master_user_secret_kms_key_id(spec.kms_key_arn.clone());
        }
        m.send()
            .await
            .map_err(|e| Error::aws(a, "rds:ModifyDBInstance", e))?;
        if !spec.apply_immediately {
            ctx.ui.info(format!("{a}: changes pending for the maintenance window {} (or run with --apply-immediately)", spec.maintenance_window));
            return describe_record(c, spec).await;
        }
    }
    wait_available(c, ctx, task, spec, "available").await
}

/// The instance's state record, read back.
async fn describe_record(c: &Clients, spec: &Spec) -> Result<Resource> {
    let out = c
        .rds
        .describe_db_instances()
        .db_instance_identifier(&spec.identifier)
        .send()
        .await
        .map_err(|e| Error::aws(INSTANCE, "rds:DescribeDBInstances", e))?;
    let i = out
        .db_instances()
        .first()
        .ok_or_else(|| Error::Internal(format!("{INSTANCE}: {} vanished", spec.identifier)))?;
    Ok(record(i))
}

fn record(i: &aws_sdk_rds::types::DbInstance) -> Resource {
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
    ctx: &Ctx<'_>,
    task: &Task<'_>,
    spec: &Spec,
    what: &str,
) -> Result<Resource> {
    wait_until(
        task,
        INSTANCE,
        &format!("DB instance {} is available ({what})", spec.identifier),
        ctx.timeout,
        || async {
            let out = c
                .rds
                .describe_db_instances()
                .db_instance_identifier(&spec.identifier)
                .send()
                .await
                .map_err(|e| Error::aws(INSTANCE, "rds:DescribeDBInstances", e))?;
            let Some(i) = out.db_instances().first() else {
                return Ok(None);
            };
            let status = i.db_instance_status().unwrap_or_default();
            match status {
                "available" => Ok(Some(record(i))),
                "failed"
                | "incompatible-parameters"
                | "incompatible-network"
                | "storage-full"
                | "inaccessible-encryption-credentials" => Err(Error::Aws {
                    resource: format!("{INSTANCE} {}", spec.identifier),
                    operation: "rds:DescribeDBInstances".into(),
                    code: status.to_owned(),
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

async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<()> {
    let a = change.address.as_str();
    let Some(res) = rec.resource(a) else {
        return Ok(());
    };
    let id = res.id.clone();
    if a == SUBNET_GROUP {
        return match c
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(&id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_gone(code_of(&e)) => Ok(()),
            Err(e) => Err(Error::aws(a, "rds:DeleteDBSubnetGroup", e)),
        };
    }
    if a.starts_with("db.parameter_group[") {
        return match c
            .rds
            .delete_db_parameter_group()
            .db_parameter_group_name(&id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_gone(code_of(&e)) => Ok(()),
            Err(e) => Err(Error::aws(a, "rds:DeleteDBParameterGroup", e)),
        };
    }
    if a != INSTANCE {
        return Err(Error::Internal(format!("{a}: unknown address")));
    }
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
            .db_instance_identifier(&id)
            .deletion_protection(false)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| Error::aws(a, "rds:ModifyDBInstance", e))?;
    }

    let snapshot = format!("{id}-final-{}", stamp());
    let mut d = c
        .rds
        .delete_db_instance()
        .db_instance_identifier(&id)
        .delete_automated_backups(false);
    d = if spec.skip_final_snapshot {
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
    wait_until(
        task,
        a,
        &format!("DB instance {id} is deleted"),
        ctx.timeout,
        || async {
            match c
                .rds
                .describe_db_instances()
                .db_instance_identifier(&id)
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

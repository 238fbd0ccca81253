//! The replication group: created with the secret's token and waited for; modified only in what the plan
//! changes (node type and engine version now with `--apply-immediately`, else in the maintenance window;
//! replicas through Increase/DecreaseReplicaCount; transit encryption through `preferred`); deleted after
//! a final snapshot `<id>-final-<UTC>` unless `down --skip-final-snapshot`.

use aws_sdk_elasticache::operation::modify_replication_group::builders::ModifyReplicationGroupFluentBuilder;
use aws_sdk_elasticache::types::{
    AuthTokenUpdateStrategyType, CacheCluster, CloudWatchLogsDestinationDetails,
    DestinationDetails, DestinationType, LogDeliveryConfigurationRequest, LogFormat, LogType,
    ReplicationGroup, TransitEncryptionMode,
};
use hms_core::apply::Recorder;
use hms_core::aws_tags::ElastiCacheTags;
use hms_core::contract::Ctx;
use hms_core::error::{code_of, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::Value;

use super::secret::current_token;
use super::{description, ec_tags, need, stamp, Recorded};
use crate::addr::{Addr, LogKind};
use crate::spec::Spec;
use crate::Clients;

/// Statuses a group does not leave by itself.
const STUCK: &[&str] = &["create-failed"];

/// The log delivery requests: the spec's two logs enabled, and `disable` (found, no longer wanted) off.
fn log_requests(spec: &Spec, disable: &[String]) -> Result<Vec<LogDeliveryConfigurationRequest>> {
    let mut out: Vec<LogDeliveryConfigurationRequest> = LogKind::ALL
        .iter()
        .map(|k| {
            let details = DestinationDetails::builder()
                .cloud_watch_logs_details(
                    CloudWatchLogsDestinationDetails::builder()
                        .log_group(spec.log_group(*k))
                        .build(),
                )
                .build();
            LogDeliveryConfigurationRequest::builder()
                .log_type(LogType::from(k.log_type()))
                .destination_type(DestinationType::CloudWatchLogs)
                .destination_details(details)
                .log_format(LogFormat::Json)
                .enabled(true)
                .build()
        })
        .collect();
    for t in disable {
        if !LogKind::ALL.iter().any(|k| k.log_type() == t) {
            out.push(
                LogDeliveryConfigurationRequest::builder()
                    .log_type(LogType::from(t.as_str()))
                    .enabled(false)
                    .build(),
            );
        }
    }
    Ok(out)
}

pub(super) async fn create(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let kms = need(&spec.kms_key_arn, "cache key", a)?;
    let sg = need(&spec.security_group_id, "cache security group", a)?;
    let secret = rec
        .resource(&Addr::AuthSecret.to_string())
        .map(|r| r.id)
        .unwrap_or_else(|| spec.secret_name.clone());
    let token = current_token(c, &secret).await?;
    let azs = spec.member_azs();
    let send = || {
        c.elasticache
            .create_replication_group()
            .replication_group_id(&spec.id)
            .replication_group_description(description(spec, "cache and sessions"))
            .engine(spec.engine.name())
            .engine_version(&spec.version)
            .cache_node_type(&spec.node_type)
            .num_cache_clusters(i32::from(spec.replicas) + 1)
            .set_preferred_cache_cluster_azs((!azs.is_empty()).then(|| azs.clone()))
            .automatic_failover_enabled(spec.automatic_failover)
            .multi_az_enabled(spec.multi_az)
            .port(spec.port)
            .cache_subnet_group_name(&spec.subnet_group)
            .cache_parameter_group_name(&spec.parameter_group)
            .security_group_ids(&sg)
            .at_rest_encryption_enabled(true)
            .kms_key_id(&kms)
            .transit_encryption_enabled(true)
            .transit_encryption_mode(TransitEncryptionMode::Required)
            .auth_token(token.expose())
            .snapshot_retention_limit(spec.snapshot_retention_days)
            .snapshot_window(&spec.snapshot_window)
            .preferred_maintenance_window(&spec.maintenance_window)
            .auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .set_tags(Some(ec_tags(change)))
    };
    let out = send()
        .set_log_delivery_configurations(Some(log_requests(spec, &[])?))
        .send()
        .await;
    match out {
        Ok(_) => {}
        Err(e) if code_of(&e).is_some_and(|c| c.contains("AlreadyExists")) => {
            // A run that died after asking (observe checked it is ours), or a group still being deleted
            // by a replace that was interrupted: wait for that to finish, then create.
            let existing = describe(c, &spec.id).await?;
            if existing.as_ref().and_then(|g| g.status()) == Some("deleting") {
                wait_deleted(c, ctx, a, &spec.id, task).await?;
                send()
                    .set_log_delivery_configurations(Some(log_requests(spec, &[])?))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "elasticache:CreateReplicationGroup", e))?;
            }
        }
        Err(e) => return Err(Error::aws(a, "elasticache:CreateReplicationGroup", e)),
    }
    rec.record(a, Some(Resource::new(&spec.id).with("status", "creating")))
        .await?;
    wait_available(c, ctx.patience(), task, a, &spec.id).await
}

/// Modifies what the plan changes (its tags are synced first); only still being created (a run that
/// timed out waiting) waits, and only tags returns at once.
pub(super) async fn update(
    c: &Clients,
    ctx: &Ctx<'_>,
    spec: &Spec,
    change: &Change,
    r: Recorded,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    hms_core::tags::sync(&ElastiCacheTags(&c.elasticache), &r.arn(change)?, change).await?;
    let ch = |k: &str| change.changed(k);
    let before = |k: &str| change.before.as_ref().and_then(|b| b.get(k)).cloned();
    let modified = change
        .after
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|m| m.keys().any(|k| k != "created" && k != "tags" && ch(k)));
    if !modified {
        if ch("created") {
            return wait_available(c, ctx.patience(), task, a, &r.id).await;
        }
        return Ok(r.resource);
    }
    let replicas_before = before("replicas").and_then(|v| v.as_u64()).unwrap_or(0);
    let replicas = u64::from(spec.replicas);
    if ch("replicas") && replicas > replicas_before {
        task.status(
            &format!("adding replicas: {replicas_before} → {replicas}"),
            true,
        );
        c.elasticache
            .increase_replica_count()
            .replication_group_id(&r.id)
            .new_replica_count(i32::from(spec.replicas))
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:IncreaseReplicaCount", e))?;
        wait_available(c, ctx.timeout, task, a, &r.id).await?;
    }
    if ch("transit_encryption") {
        if before("transit_encryption")
            .as_ref()
            .and_then(Value::as_str)
            == Some("off")
        {
            task.status("transit encryption: preferred first", true);
            modify(c, &r.id)
                .transit_encryption_enabled(true)
                .transit_encryption_mode(TransitEncryptionMode::Preferred)
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticache:ModifyReplicationGroup", e))?;
            wait_available(c, ctx.timeout, task, a, &r.id).await?;
        }
        task.status("transit encryption: required", true);
        modify(c, &r.id)
            .transit_encryption_mode(TransitEncryptionMode::Required)
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:ModifyReplicationGroup", e))?;
        wait_available(c, ctx.timeout, task, a, &r.id).await?;
    }
    if let Some(m) = modification(c, spec, change, &r).await? {
        m.send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:ModifyReplicationGroup", e))?;
        let windowed: Vec<&str> = ["node_type", "engine", "engine_version"]
            .into_iter()
            .filter(|k| ch(k))
            .collect();
        if !windowed.is_empty() && !spec.apply_immediately && !ch("engine") {
            ctx.ui.info(format!(
                "{a}: {} change pending for the maintenance window {} (or run with --apply-immediately)",
                windowed.join(", "),
                spec.maintenance_window
            ));
        }
        if ch("auth_token") || ch("auth_secret") {
            ctx.ui.info(format!(
                "{a}: accepts the token of {} next to the one it had; once every service runs with it ('hms-ecs deploy'), run 'hms-cache rotate-auth --finish'",
                spec.secret_name
            ));
        }
        wait_available(c, ctx.timeout, task, a, &r.id).await?;
    }
    if ch("replicas") && replicas < replicas_before {
        task.status(
            &format!("removing replicas: {replicas_before} → {replicas}"),
            true,
        );
        c.elasticache
            .decrease_replica_count()
            .replication_group_id(&r.id)
            .new_replica_count(i32::from(spec.replicas))
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:DecreaseReplicaCount", e))?;
    }
    wait_available(c, ctx.timeout, task, a, &r.id).await
}

fn modify(c: &Clients, id: &str) -> ModifyReplicationGroupFluentBuilder {
    c.elasticache
        .modify_replication_group()
        .replication_group_id(id)
        .apply_immediately(true)
}

/// The ModifyReplicationGroup call that makes the planned changes not made by their own calls
/// (replicas, transit encryption); `None` when there are none.
async fn modification(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: &Recorded,
) -> Result<Option<ModifyReplicationGroupFluentBuilder>> {
    let ch = |k: &str| change.changed(k);
    let mut any = false;
    let mut m = c
        .elasticache
        .modify_replication_group()
        .replication_group_id(&r.id)
        // ElastiCache does not defer an engine change (redis to valkey) to the maintenance window.
        .apply_immediately(spec.apply_immediately || ch("engine"));
    let mut set = |yes: bool,
                   f: &dyn Fn(
        ModifyReplicationGroupFluentBuilder,
    ) -> ModifyReplicationGroupFluentBuilder| {
        if yes {
            any = true;
            m = f(m.clone());
        }
    };
    let waiting = |k: &str| {
        ch("pending")
            && change
                .before
                .as_ref()
                .and_then(|b| b.get("pending"))
                .and_then(Value::as_array)
                .is_some_and(|p| p.iter().any(|x| x.as_str() == Some(k)))
    };
    set(ch("node_type") || waiting("node_type"), &|m| {
        m.cache_node_type(&spec.node_type)
    });
    set(ch("engine"), &|m| m.engine(spec.engine.name()));
    set(
        ch("engine") || ch("engine_version") || waiting("engine_version"),
        &|m| m.engine_version(&spec.version),
    );
    set(ch("parameter_group"), &|m| {
        m.cache_parameter_group_name(&spec.parameter_group)
    });
    set(ch("security_groups"), &|m| {
        m.set_security_group_ids(spec.security_group_id.clone().map(|g| vec![g]))
    });
    set(ch("snapshot_retention_days"), &|m| {
        m.snapshot_retention_limit(spec.snapshot_retention_days)
    });
    set(ch("snapshot_window"), &|m| {
        m.snapshot_window(&spec.snapshot_window)
    });
    set(ch("maintenance_window"), &|m| {
        m.preferred_maintenance_window(&spec.maintenance_window)
    });
    set(ch("auto_minor_version_upgrade"), &|m| {
        m.auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
    });
    set(ch("multi_az") || ch("automatic_failover"), &|m| {
        m.automatic_failover_enabled(spec.automatic_failover)
            .multi_az_enabled(spec.multi_az)
    });
    let found_logs: Vec<String> = change
        .before
        .as_ref()
        .and_then(|b| b.get("log_delivery"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| l.get("type").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let logs = log_requests(spec, &found_logs)?;
    set(ch("log_delivery"), &|m| {
        m.set_log_delivery_configurations(Some(logs.clone()))
    });
    if ch("auth_token") || ch("auth_secret") {
        // A group without AUTH (or whose secret was lost and made anew) takes the secret's token next to
        // the one it has (ROTATE), so that running clients keep working until `rotate-auth --finish`.
        let secret = spec.secret_name.clone();
        let token = current_token(c, &secret).await?;
        any = true;
        m = m
            .auth_token(token.expose())
            .auth_token_update_strategy(AuthTokenUpdateStrategyType::Rotate);
    }
    Ok(any.then_some(m))
}

pub(crate) async fn describe(c: &Clients, id: &str) -> Result<Option<ReplicationGroup>> {
    match c
        .elasticache
        .describe_replication_groups()
        .replication_group_id(id)
        .send()
        .await
    {
        Ok(o) => Ok(o.replication_groups().first().cloned()),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", Addr::ReplicationGroup),
            "elasticache:DescribeReplicationGroups",
            e,
        )),
    }
}

async fn members(c: &Clients, ids: &[String]) -> Result<Vec<CacheCluster>> {
    let mut out = Vec::new();
    for id in ids {
        match c
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
        {
            Ok(o) => out.extend(o.cache_clusters().iter().cloned()),
            Err(e) if is_gone(code_of(&e)) => {}
            Err(e) => {
                return Err(Error::aws(
                    format!("cache cluster {id}"),
                    "elasticache:DescribeCacheClusters",
                    e,
                ))
            }
        }
    }
    Ok(out)
}

/// The group's state record: endpoints, members (the primary first) and the version it runs.
async fn record(c: &Clients, rg: &ReplicationGroup) -> Result<Resource> {
    let node_group = rg.node_groups().first();
    let primary = node_group
        .into_iter()
        .flat_map(|g| g.node_group_members())
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .map(str::to_owned);
    let mut ids: Vec<String> = rg.member_clusters().to_vec();
    if let Some(p) = &primary {
        ids.retain(|i| i != p);
        ids.insert(0, p.clone());
    }
    let first = members(c, &ids[..ids.len().min(1)]).await?;
    let m = first.first();
    let version = m
        .and_then(|m| m.pending_modified_values())
        .and_then(|p| p.engine_version())
        .or(m.and_then(|m| m.engine_version()))
        .unwrap_or_default();
    let endpoint = |e: Option<&aws_sdk_elasticache::types::Endpoint>| {
        e.and_then(|e| e.address()).unwrap_or_default().to_owned()
    };
    Ok(Resource::new(rg.replication_group_id().unwrap_or_default())
        .with("arn", rg.arn().unwrap_or_default())
        .with(
            "primary_endpoint",
            endpoint(node_group.and_then(|g| g.primary_endpoint())),
        )
        .with(
            "reader_endpoint",
            endpoint(node_group.and_then(|g| g.reader_endpoint())),
        )
        .with("members", ids)
        .with("resolved_engine_version", version)
        .with("status", rg.status().unwrap_or_default()))
}

pub(crate) async fn wait_available(
    c: &Clients,
    patience: impl Into<hms_core::ui::Patience>,
    task: &Task<'_>,
    a: &str,
    id: &str,
) -> Result<Resource> {
    let rg = wait_until(
        task,
        a,
        &format!("replication group {id} is available"),
        patience,
        || async {
            let Some(rg) = describe(c, id).await? else {
                return Err(Error::Aws {
                    resource: format!("{a} {id}"),
                    operation: "elasticache:DescribeReplicationGroups".into(),
                    code: "ReplicationGroupNotFoundFault".into(),
                    message: String::from("the replication group vanished while waiting for it"),
                });
            };
            match rg.status().unwrap_or_default() {
                "available" => Ok(Some(rg)),
                stuck if STUCK.contains(&stuck) => Err(Error::Aws {
                    resource: format!("{a} {id}"),
                    operation: "elasticache:DescribeReplicationGroups".into(),
                    code: stuck.to_owned(),
                    message: String::from(
                        "the replication group stopped in this state; see the ElastiCache events for why",
                    ),
                }),
                other => {
                    task.status(&format!("status {other}"), false);
                    Ok(None)
                }
            }
        },
    )
    .await?;
    record(c, &rg).await
}

/// Deletes the group `id` after a final snapshot (unless `down --skip-final-snapshot`) and waits until
/// it is gone. A replace always keeps a final snapshot.
pub(super) async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    a: &str,
    id: &str,
    task: &Task<'_>,
) -> Result<()> {
    let snapshot = (!spec.skip_final_snapshot).then(|| format!("{id}-final-{}", stamp()));
    let send = || {
        c.elasticache
            .delete_replication_group()
            .replication_group_id(id)
            .set_final_snapshot_identifier(snapshot.clone())
            .send()
    };
    match send().await {
        Ok(_) => {}
        Err(e) if is_gone(code_of(&e)) => return Ok(()),
        // Being modified (or still being created): wait until it is available, then delete.
        Err(e) if code_of(&e) == Some("InvalidReplicationGroupState") => {
            wait_available(c, ctx.timeout, task, a, id).await?;
            send()
                .await
                .map_err(|e| Error::aws(a, "elasticache:DeleteReplicationGroup", e))?;
        }
        Err(e) => return Err(Error::aws(a, "elasticache:DeleteReplicationGroup", e)),
    }
    if let Some(s) = &snapshot {
        rec.note("final_snapshot_id", s.clone());
        ctx.ui.info(format!(
            "{a}: final snapshot {s} (kept; delete it by hand when no longer needed)"
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
        &format!("replication group {id} is deleted"),
        ctx.timeout,
        || async {
            match describe(c, id).await? {
                None => Ok(Some(())),
                Some(g) => {
                    task.status(
                        &format!("status {}", g.status().unwrap_or("deleting")),
                        false,
                    );
                    Ok(None)
                }
            }
        },
    )
    .await
}

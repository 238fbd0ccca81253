//! The replication group and its member cache clusters. What AWS reports only on the members (engine
//! version, parameter and subnet groups, security groups, maintenance window, AZs, pending changes) is
//! read from them; a change pending for the maintenance window counts as made, so that a plan does not
//! ask for it again.

use aws_sdk_elasticache::types::{
    AutomaticFailoverStatus, CacheCluster, MultiAzStatus, ReplicationGroup,
};
use futures::future::try_join_all;
use hms_core::diff::Found;
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};
use serde_json::{json, Value};

use super::groups::Described;
use super::Pairs;
use crate::addr::{Addr, LogKind};
use crate::spec::{version_satisfied, Spec};
use crate::Clients;

pub(super) async fn describe(c: &Clients, id: &str) -> Result<Option<ReplicationGroup>> {
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

/// The member cache clusters `ids` (those gone meanwhile are left out).
pub(super) async fn members(c: &Clients, ids: &[String]) -> Result<Vec<CacheCluster>> {
    let read = try_join_all(ids.iter().map(|id| async move {
        match c
            .elasticache
            .describe_cache_clusters()
            .cache_cluster_id(id)
            .send()
            .await
        {
            Ok(o) => Ok(o.cache_clusters().first().cloned()),
            Err(e) if is_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(
                format!("cache cluster {id}"),
                "elasticache:DescribeCacheClusters",
                e,
            )),
        }
    }))
    .await?;
    Ok(read.into_iter().flatten().collect())
}

/// How the group encrypts in transit: `off`, `preferred` (TLS and plain text) or `required`.
pub fn transit(rg: &ReplicationGroup) -> &'static str {
    if rg.transit_encryption_enabled() != Some(true) {
        return "off";
    }
    match rg.transit_encryption_mode().map(|m| m.as_str()) {
        Some("preferred") => "preferred",
        _ => "required",
    }
}

/// The log deliveries as the plan compares them (those being disabled are gone already).
fn log_delivery(rg: &ReplicationGroup) -> Vec<Value> {
    let mut logs: Vec<Value> = rg
        .log_delivery_configurations()
        .iter()
        .filter(|l| l.status().map(|s| s.as_str()) != Some("disabling"))
        .map(|l| {
            json!({
                "type": l.log_type().map(|t| t.as_str()).unwrap_or_default(),
                "destination": l.destination_type().map(|t| t.as_str()).unwrap_or_default(),
                "log_group": l.destination_details()
                    .and_then(|d| d.cloud_watch_logs_details())
                    .and_then(|d| d.log_group())
                    .unwrap_or_default(),
                "format": l.log_format().map(|f| f.as_str()).unwrap_or_default(),
            })
        })
        .collect();
    logs.sort_by_key(|l| l["type"].as_str().unwrap_or_default().to_owned());
    logs
}

/// The primary member's security groups, sorted.
fn security_groups(primary: Option<&CacheCluster>) -> Vec<String> {
    let mut security_groups: Vec<String> = primary
        .map(|m| {
            m.security_groups()
                .iter()
                .filter_map(|g| g.security_group_id().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    security_groups.sort();
    security_groups
}

/// The parameter group: its address when it is one hms-cache manages (found among `parameter_groups`),
/// else the name found.
fn parameter_group(primary: Option<&CacheCluster>, parameter_groups: &[Described]) -> String {
    let parameter_group = primary
        .and_then(|m| m.cache_parameter_group())
        .and_then(|g| g.cache_parameter_group_name())
        .unwrap_or_default();
    let parameter_group = parameter_groups
        .iter()
        .find(|d| d.name == parameter_group)
        .and_then(|d| d.group.as_ref())
        .map(|g| {
            Addr::parameter_group(g.cache_parameter_group_family().unwrap_or_default()).to_string()
        })
        .unwrap_or_else(|| parameter_group.to_owned());
    parameter_group
}

/// The group as the plan compares it. The subnet and parameter groups are their addresses when they are
/// the ones hms-cache manages, else the names found.
#[allow(clippy::too_many_arguments)]
pub(super) fn found(
    spec: &Spec,
    rg: &ReplicationGroup,
    member_ids: &[String],
    members: &[CacheCluster],
    parameter_groups: &[Described],
    secret_found: bool,
    tags: Pairs,
    ours: Option<&str>,
) -> Found {
    let primary = members.first();
    let pending = primary.and_then(|m| m.pending_modified_values());
    let version = pending
        .and_then(|p| p.engine_version())
        .or(primary.and_then(|m| m.engine_version()))
        .unwrap_or_default()
        .to_owned();
    let compared_version = if version_satisfied(&spec.version, &version) {
        spec.version.clone()
    } else {
        version.clone()
    };
    let node_type = pending
        .and_then(|p| p.cache_node_type())
        .or(rg.cache_node_type())
        .unwrap_or_default();
    // What waits for the maintenance window, so that `--apply-immediately` can apply it now.
    let mut waiting: Vec<&str> = Vec::new();
    if pending.and_then(|p| p.cache_node_type()).is_some() {
        waiting.push("node_type");
    }
    if pending.and_then(|p| p.engine_version()).is_some() {
        waiting.push("engine_version");
    }
    let node_group = rg.node_groups().first();
    let endpoint = |e: Option<&aws_sdk_elasticache::types::Endpoint>| {
        e.and_then(|e| e.address()).unwrap_or_default().to_owned()
    };
    let port = node_group
        .and_then(|g| g.primary_endpoint())
        .and_then(|e| e.port())
        .unwrap_or_default();
    let subnet_group = primary
        .and_then(|m| m.cache_subnet_group_name())
        .unwrap_or_default();
    // The stack's group: the configured one, or the one found in its place (taken over under its name).
    let subnet_group = if subnet_group == spec.subnet_group || Some(subnet_group) == ours {
        Addr::SubnetGroup.to_string()
    } else {
        subnet_group.to_owned()
    };
    let parameter_group = parameter_group(primary, parameter_groups);
    let security_groups = security_groups(primary);
    let logs = log_delivery(rg);
    let azs: Vec<String> = members
        .iter()
        .map(|m| {
            m.preferred_availability_zone()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let status = rg.status().unwrap_or_default();
    let id = rg.replication_group_id().unwrap_or_default();
    Found::new(id)
        .attr("id", id)
        .attr(
            "engine",
            rg.engine()
                .or(primary.and_then(|m| m.engine()))
                .unwrap_or_default(),
        )
        .attr("engine_version", compared_version)
        .attr("node_type", node_type)
        .attr("replicas", member_ids.len().saturating_sub(1))
        .attr("multi_az", rg.multi_az() == Some(&MultiAzStatus::Enabled))
        .attr(
            "automatic_failover",
            matches!(
                rg.automatic_failover(),
                Some(AutomaticFailoverStatus::Enabled | AutomaticFailoverStatus::Enabling)
            ),
        )
        .attr("port", port)
        .attr(
            "at_rest_encryption",
            rg.at_rest_encryption_enabled() == Some(true),
        )
        .attr("kms_key", rg.kms_key_id().unwrap_or_default())
        .attr("transit_encryption", transit(rg))
        .attr("auth_token", rg.auth_token_enabled() == Some(true))
        // The token comes from the secret: a group whose secret is gone must take the new secret's.
        .attr(
            "auth_secret",
            if secret_found {
                Addr::AuthSecret.to_string()
            } else {
                String::new()
            },
        )
        .attr("subnet_group", subnet_group)
        .attr("parameter_group", parameter_group.clone())
        .attr("security_groups", security_groups)
        .attr(
            "snapshot_retention_days",
            rg.snapshot_retention_limit().unwrap_or_default(),
        )
        .attr("snapshot_window", rg.snapshot_window().unwrap_or_default())
        .attr(
            "maintenance_window",
            primary
                .and_then(|m| m.preferred_maintenance_window())
                .unwrap_or_default()
                .to_ascii_lowercase(),
        )
        .attr(
            "auto_minor_version_upgrade",
            rg.auto_minor_version_upgrade() == Some(true),
        )
        .attr("log_delivery", logs)
        .attr("created", status != "creating")
        .attr("pending", waiting)
        .info("arn", rg.arn().unwrap_or_default())
        .info(
            "primary_endpoint",
            endpoint(node_group.and_then(|g| g.primary_endpoint())),
        )
        .info(
            "reader_endpoint",
            endpoint(node_group.and_then(|g| g.reader_endpoint())),
        )
        .info("members", member_ids.to_vec())
        .info("azs", azs)
        .info("resolved_engine_version", version)
        .info("status", status)
        .tags(tags)
        .uses(
            [
                Addr::SubnetGroup.to_string(),
                parameter_group,
                Addr::AuthSecret.to_string(),
            ]
            .into_iter()
            .chain(LogKind::ALL.iter().map(|k| Addr::LogGroup(*k).to_string())),
        )
}

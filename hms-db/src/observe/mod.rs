//! What exists: the instance, its subnet and parameter groups (with their parameters and tags), in one
//! round of concurrent calls when state knows the groups' ARNs.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{DbInstance, DbParameterGroup, DbSubnetGroup};
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::plan::{self, INSTANCE, SUBNET_GROUP};
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// The instance's status (`available`, `creating`, …).
    pub status: Option<String>,
    /// Whether the instance has deletion protection on.
    pub deletion_protection: bool,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }
}

async fn tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    match c
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()),
        Err(e)
            if code_of(&e)
                .is_some_and(|c| c.ends_with("NotFound") || c.ends_with("NotFoundFault")) =>
        {
            Ok(vec![])
        }
        Err(e) => Err(Error::aws(arn, "rds:ListTagsForResource", e)),
    }
}

fn not_found(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

/// Reads everything hms-db owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let pg_name = &spec.parameter_group;
    // Parameter groups of other majors (left by an upgrade) are found through state.
    let mut pg_names: Vec<String> = vec![pg_name.clone()];
    for (a, r) in &state.resources {
        if a.starts_with("db.parameter_group[") && !pg_names.contains(&r.id) {
            pg_names.push(r.id.clone());
        }
    }
    let recorded_arn = |a: &str| {
        state
            .resources
            .get(a)
            .and_then(|r| r.attr("arn"))
            .map(str::to_owned)
    };
    // By the configured identifier, else by the one in state (the identifier was changed in config: the
    // old instance is found, and the plan replaces it instead of orphaning it).
    let describe = |id: String| async move {
        match c
            .rds
            .describe_db_instances()
            .db_instance_identifier(&id)
            .send()
            .await
        {
            Ok(o) => Ok(o.db_instances().first().cloned()),
            Err(e) if not_found(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(
                format!("db.instance {id}"),
                "rds:DescribeDBInstances",
                e,
            )),
        }
    };
    let recorded_id = state
        .id(INSTANCE)
        .filter(|id| *id != spec.identifier)
        .map(str::to_owned);
    let instance = async {
        match describe(spec.identifier.clone()).await? {
            Some(i) => Ok(Some(i)),
            None => match recorded_id.clone() {
                Some(id) => describe(id).await,
                None => Ok(None),
            },
        }
    };
    let subnet_group = async {
        match c
            .rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&spec.subnet_group)
            .send()
            .await
        {
            Ok(o) => Ok(o.db_subnet_groups().first().cloned()),
            Err(e) if not_found(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(
                format!("db.subnet_group {}", spec.subnet_group),
                "rds:DescribeDBSubnetGroups",
                e,
            )),
        }
    };
    let param_groups = futures::future::try_join_all(pg_names.iter().map(|name| async move {
        let group = match c
            .rds
            .describe_db_parameter_groups()
            .db_parameter_group_name(name)
            .send()
            .await
        {
            Ok(o) => o.db_parameter_groups().first().cloned(),
            Err(e) if not_found(code_of(&e)) => None,
            Err(e) => {
                return Err(Error::aws(
                    format!("db parameter group {name}"),
                    "rds:DescribeDBParameterGroups",
                    e,
                ))
            }
        };
        let params: BTreeMap<String, String> = match group {
            None => BTreeMap::new(),
            Some(_) => {
                let all: Vec<aws_sdk_rds::types::Parameter> = c
                    .rds
                    .describe_db_parameters()
                    .db_parameter_group_name(name)
                    .source("user")
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| {
                        Error::aws(
                            format!("db parameter group {name}"),
                            "rds:DescribeDBParameters",
                            e,
                        )
                    })?;
                all.iter()
                    .filter_map(|p| {
                        Some((
                            p.parameter_name()?.to_owned(),
                            p.parameter_value()?.to_owned(),
                        ))
                    })
                    .collect()
            }
        };
        Ok::<_, Error>((name.clone(), group, params))
    }));
    // Tags of the groups, concurrently, when state already knows their ARNs.
    let sg_arn = recorded_arn(SUBNET_GROUP);
    let pg_arn = recorded_arn(&plan::parameter_group(&spec.family));
    let early_tags = async {
        let a = async {
            match &sg_arn {
                Some(arn) => tags(c, arn).await.map(Some),
                None => Ok(None),
            }
        };
        let b = async {
            match &pg_arn {
                Some(arn) => tags(c, arn).await.map(Some),
                None => Ok(None),
            }
        };
        tokio::try_join!(a, b)
    };
    let (instance, subnet_group, param_groups, (sg_tags, pg_tags)) =
        tokio::try_join!(instance, subnet_group, param_groups, early_tags)?;

    let mut found = FoundSet::new();
    let tagger = &spec.tagger;
    let owned = |what: &str, name: &str, pairs: &[(String, String)], address: &str| -> Result<()> {
        if tagger
            .owned_address(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .as_deref()
            == Some(address)
        {
            return Ok(());
        }
        Err(Error::Refused(format!(
            "{what} {name} already exists and is not this stack's ({address} in stack {} env {}); rename it in config (db.identifier) or remove it",
            tagger.id.stack, tagger.id.env
        )))
    };

    if let Some(g) = &subnet_group {
        let arn = g.db_subnet_group_arn().unwrap_or_default().to_owned();
        let t = match (sg_tags, Some(&arn) == sg_arn.as_ref()) {
            (Some(t), true) => t,
            _ => tags(c, &arn).await?,
        };
        owned("DB subnet group", &spec.subnet_group, &t, SUBNET_GROUP)?;
        found.insert(SUBNET_GROUP.to_owned(), subnet_group_found(g, t));
    }
    for (name, group, params) in &param_groups {
        let Some(g) = group else { continue };
        let family = g.db_parameter_group_family().unwrap_or_default();
        let address = plan::parameter_group(family);
        let arn = g.db_parameter_group_arn().unwrap_or_default().to_owned();
        let t = match (&pg_tags, Some(&arn) == pg_arn.as_ref()) {
            (Some(t), true) => t.clone(),
            _ => tags(c, &arn).await?,
        };
        owned("DB parameter group", name, &t, &address)?;
        found.insert(address, parameter_group_found(g, params, t));
    }
    let mut status = None;
    let mut deletion_protection = false;
    if let Some(i) = &instance {
        let t: Vec<(String, String)> = i
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        owned("DB instance", &spec.identifier, &t, INSTANCE)?;
        status = i.db_instance_status().map(str::to_owned);
        deletion_protection = i.deletion_protection().unwrap_or(false);
        found.insert(
            INSTANCE.to_owned(),
            instance_found(spec, i, t, &param_groups),
        );
    }
    Ok(Observed {
        found,
        status,
        deletion_protection,
    })
}

fn subnet_group_found(g: &DbSubnetGroup, tags: Vec<(String, String)>) -> Found {
    let mut subnets: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    subnets.sort();
    Found::new(g.db_subnet_group_name().unwrap_or_default())
        .attr("name", g.db_subnet_group_name().unwrap_or_default())
        .attr("subnets", subnets)
        .info("arn", g.db_subnet_group_arn().unwrap_or_default())
        .info("vpc_id", g.vpc_id().unwrap_or_default())
        .tags(tags)
}

fn parameter_group_found(
    g: &DbParameterGroup,
    params: &BTreeMap<String, String>,
    tags: Vec<(String, String)>,
) -> Found {
    Found::new(g.db_parameter_group_name().unwrap_or_default())
        .attr("name", g.db_parameter_group_name().unwrap_or_default())
        .attr("family", g.db_parameter_group_family().unwrap_or_default())
        .attr(
            "parameters",
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
        )
        .info("arn", g.db_parameter_group_arn().unwrap_or_default())
        .tags(tags)
}

/// The instance as the plan compares it. A modification pending for the maintenance window counts as made,
/// so that a plan does not ask for it again.
fn instance_found(
    spec: &Spec,
    i: &DbInstance,
    tags: Vec<(String, String)>,
    groups: &[(String, Option<DbParameterGroup>, BTreeMap<String, String>)],
) -> Found {
    let pending = i.pending_modified_values();
    let class = pending
        .and_then(|p| p.db_instance_class())
        .or(i.db_instance_class())
        .unwrap_or_default();
    let storage = pending
        .and_then(|p| p.allocated_storage())
        .or(i.allocated_storage())
        .unwrap_or_default();
    let retention = pending
        .and_then(|p| p.backup_retention_period())
        .or(i.backup_retention_period())
        .unwrap_or_default();
    let multi_az = pending
        .and_then(|p| p.multi_az())
        .or(i.multi_az())
        .unwrap_or(false);
    let actual_version = pending
        .and_then(|p| p.engine_version())
        .or(i.engine_version())
        .unwrap_or_default()
        .to_owned();
    // A major version asked for is satisfied by any minor of it.
    let version = if spec.version.satisfied_by(&actual_version) {
        spec.version.request()
    } else {
        actual_version.clone()
    };
    let mut sgs: Vec<String> = i
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
        .collect();
    sgs.sort();
    let pg_name = i
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name())
        .unwrap_or_default();
    let pg_ref = groups
        .iter()
        .find(|(n, g, _)| n == pg_name && g.is_some())
        .and_then(|(_, g, _)| g.as_ref())
        .map(|g| plan::parameter_group(g.db_parameter_group_family().unwrap_or_default()))
        .unwrap_or_else(|| pg_name.to_owned());
    let subnet_group = i
        .db_subnet_group()
        .and_then(|g| g.db_subnet_group_name())
        .unwrap_or_default();
    let sg_ref = if subnet_group == spec.subnet_group {
        SUBNET_GROUP.to_owned()
    } else {
        subnet_group.to_owned()
    };
    let mut logs: Vec<String> = i.enabled_cloudwatch_logs_exports().to_vec();
    logs.sort();
    let status = i.db_instance_status().unwrap_or_default();
    Found::new(i.db_instance_identifier().unwrap_or_default())
        .attr("identifier", i.db_instance_identifier().unwrap_or_default())
        .attr("engine", i.engine().unwrap_or_default())
        .attr("engine_version", version)
        .attr("instance_class", class)
        .attr("allocated_storage", storage)
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
        .attr("backup_retention_days", retention)
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
        .attr("multi_az", multi_az)
        .attr(
            "deletion_protection",
            i.deletion_protection().unwrap_or(false),
        )
        .attr(
            "performance_insights",
            i.performance_insights_enabled().unwrap_or(false),
        )
        .attr(
            "auto_minor_version_upgrade",
            i.auto_minor_version_upgrade().unwrap_or(false),
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
        .attr("security_groups", sgs)
        .attr("subnet_group", sg_ref)
        .attr("parameter_group", pg_ref.clone())
        .attr("created", status != "creating")
        .info("arn", i.db_instance_arn().unwrap_or_default())
        .info(
            "endpoint",
            i.endpoint().and_then(|e| e.address()).unwrap_or_default(),
        )
        .info("resolved_engine_version", actual_version)
        .info(
            "master_user_secret_arn",
            i.master_user_secret()
                .and_then(|s| s.secret_arn())
                .unwrap_or_default(),
        )
        .info("status", status)
        .tags(tags)
        .uses([SUBNET_GROUP.to_owned(), pg_ref])
}

//! The parameter group of the spec's family: created (or adopted when a run died before recording it),
//! then its parameters written; parameters changed in place, those no longer configured reset to the
//! engine's defaults.

use aws_sdk_elasticache::types::ParameterNameValue;
use hms_core::apply::Recorder;
use hms_core::aws_tags::ElastiCacheTags;
use hms_core::error::{code_of, deleted};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{description, ec_tags, Recorded};
use crate::spec::Spec;
use crate::Clients;

/// Writes `names` (all when `None`) with the spec's values.
async fn write(
    c: &Clients,
    a: &str,
    name: &str,
    spec: &Spec,
    only: Option<&[String]>,
) -> Result<()> {
    let values: Vec<ParameterNameValue> = spec
        .parameters
        .iter()
        .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
        .map(|(k, v)| {
            ParameterNameValue::builder()
                .parameter_name(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    c.elasticache
        .modify_cache_parameter_group()
        .cache_parameter_group_name(name)
        .set_parameter_name_values(Some(values))
        .send()
        .await
        .map_err(|e| Error::aws(a, "elasticache:ModifyCacheParameterGroup", e))?;
    Ok(())
}

pub(super) async fn create(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let out = c
        .elasticache
        .create_cache_parameter_group()
        .cache_parameter_group_name(&spec.parameter_group)
        .cache_parameter_group_family(&spec.family)
        .description(description(spec, "cache parameters"))
        .set_tags(Some(ec_tags(change)))
        .send()
        .await;
    let arn = match out {
        Ok(o) => o
            .cache_parameter_group()
            .and_then(|g| g.arn())
            .unwrap_or_default()
            .to_owned(),
        Err(e) if code_of(&e).is_some_and(|c| c.contains("AlreadyExists")) => String::new(),
        Err(e) => return Err(Error::aws(a, "elasticache:CreateCacheParameterGroup", e)),
    };
    let resource = Resource::new(&spec.parameter_group).with("arn", arn);
    rec.record(a, Some(resource.clone())).await?;
    write(c, a, &spec.parameter_group, spec, None).await?;
    Ok(resource)
}

pub(super) async fn update(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: Recorded,
) -> Result<Resource> {
    let a = change.address.as_str();
    hms_core::tags::sync(&ElastiCacheTags(&c.elasticache), &r.arn(change)?, change).await?;
    if !change.changed("parameters") {
        return Ok(r.resource);
    }
    let found = change
        .before
        .as_ref()
        .and_then(|b| b.get("parameters"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let removed: Vec<ParameterNameValue> = found
        .keys()
        .filter(|k| !spec.parameters.contains_key(*k))
        .map(|k| ParameterNameValue::builder().parameter_name(k).build())
        .collect();
    if !removed.is_empty() {
        c.elasticache
            .reset_cache_parameter_group()
            .cache_parameter_group_name(&r.id)
            .set_parameter_name_values(Some(removed))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:ResetCacheParameterGroup", e))?;
    }
    let differ: Vec<String> = spec
        .parameters
        .iter()
        .filter(|(k, v)| found.get(*k).and_then(Value::as_str) != Some(v.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    write(c, a, &r.id, spec, Some(&differ)).await?;
    Ok(r.resource)
}

pub(super) async fn delete(c: &Clients, a: &str, name: &str) -> Result<()> {
    deleted(
        c.elasticache
            .delete_cache_parameter_group()
            .cache_parameter_group_name(name)
            .send()
            .await,
        a,
        "elasticache:DeleteCacheParameterGroup",
    )
}

//! The cache subnet group: created on the private subnets (adopted when a run died before recording
//! it), its subnets changed in place.

use hms_core::aws_tags::ElastiCacheTags;
use hms_core::error::{code_of, deleted};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{description, ec_tags, Recorded};
use crate::spec::Spec;
use crate::Clients;

pub(super) async fn create(c: &Clients, spec: &Spec, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let subnets = spec
        .subnet_ids
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: no subnets")))?;
    let out = c
        .elasticache
        .create_cache_subnet_group()
        .cache_subnet_group_name(&spec.subnet_group)
        .cache_subnet_group_description(description(spec, "cache subnets"))
        .set_subnet_ids(Some(subnets))
        .set_tags(Some(ec_tags(change)))
        .send()
        .await;
    let arn = match out {
        Ok(o) => o
            .cache_subnet_group()
            .and_then(|g| g.arn())
            .unwrap_or_default()
            .to_owned(),
        // Made by a run that died before recording it (observe saw it was not there a moment ago).
        Err(e) if code_of(&e).is_some_and(|c| c.contains("AlreadyExists")) => String::new(),
        Err(e) => return Err(Error::aws(a, "elasticache:CreateCacheSubnetGroup", e)),
    };
    Ok(Resource::new(&spec.subnet_group).with("arn", arn))
}

pub(super) async fn update(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: Recorded,
) -> Result<Resource> {
    let a = change.address.as_str();
    hms_core::tags::sync(&ElastiCacheTags(&c.elasticache), &r.arn(change)?, change).await?;
    if change.changed("subnets") {
        c.elasticache
            .modify_cache_subnet_group()
            .cache_subnet_group_name(&r.id)
            .set_subnet_ids(spec.subnet_ids.clone())
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticache:ModifyCacheSubnetGroup", e))?;
    }
    Ok(r.resource)
}

pub(super) async fn delete(c: &Clients, a: &str, name: &str) -> Result<()> {
    deleted(
        c.elasticache
            .delete_cache_subnet_group()
            .cache_subnet_group_name(name)
            .send()
            .await,
        a,
        "elasticache:DeleteCacheSubnetGroup",
    )
}

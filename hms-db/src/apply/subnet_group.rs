//! The DB subnet group: created on the private subnets, its subnets changed in place.

use hms_core::error::{code_of, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{tags_after, Recorded};
use crate::spec::Spec;
use crate::Clients;

pub(super) async fn create(c: &Clients, spec: &Spec, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
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
        .set_tags(Some(tags_after(change)))
        .send()
        .await
        .map_err(|e| Error::aws(a, "rds:CreateDBSubnetGroup", e))?;
    let arn = out
        .db_subnet_group()
        .and_then(|g| g.db_subnet_group_arn())
        .unwrap_or_default();
    Ok(Resource::new(&spec.subnet_group).with("arn", arn))
}

pub(super) async fn update(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: Recorded,
) -> Result<Resource> {
    if change.changed("subnets") {
        c.rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&r.id)
            .set_subnet_ids(spec.subnet_ids.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "rds:ModifyDBSubnetGroup", e))?;
    }
    Ok(r.resource)
}

pub(super) async fn delete(c: &Clients, a: &str, name: &str) -> Result<()> {
    match c
        .rds
        .delete_db_subnet_group()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        Err(e) => Err(Error::aws(a, "rds:DeleteDBSubnetGroup", e)),
    }
}

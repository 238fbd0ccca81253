//! A log group the slow log or the engine log goes to: created KMS-encrypted with its tags (an existing
//! one is adopted), its retention set; an update re-associates the key if it differs and syncs the tags.

use hms_core::aws_tags::LogsTags;
use hms_core::diff::change_tags;
use hms_core::error::{code_of, deleted};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{need, Recorded};
use crate::addr::LogKind;
use crate::spec::Spec;
use crate::Clients;

async fn retention(c: &Clients, a: &str, name: &str, spec: &Spec) -> Result<()> {
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(spec.log_retention_days)
        .send()
        .await
        .map_err(|e| Error::aws(a, "logs:PutRetentionPolicy", e))?;
    Ok(())
}

pub(super) async fn create(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    kind: LogKind,
) -> Result<Resource> {
    let a = change.address.as_str();
    let name = spec.log_group(kind);
    let key = need(&spec.logs_key_arn, "logs key", a)?;
    match c
        .logs
        .create_log_group()
        .log_group_name(name)
        .kms_key_id(key)
        .set_tags(Some(
            change_tags(change.after.as_ref()).into_iter().collect(),
        ))
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(Error::aws(a, "logs:CreateLogGroup", e)),
    }
    retention(c, a, name, spec).await?;
    Ok(Resource::new(name))
}

pub(super) async fn update(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: Recorded,
    kind: LogKind,
) -> Result<Resource> {
    let a = change.address.as_str();
    let name = spec.log_group(kind);
    hms_core::tags::sync(&LogsTags(&c.logs), &r.arn(change)?, change).await?;
    if change.changed("kms_key") {
        c.logs
            .associate_kms_key()
            .log_group_name(name)
            .kms_key_id(need(&spec.logs_key_arn, "logs key", a)?)
            .send()
            .await
            .map_err(|e| Error::aws(a, "logs:AssociateKmsKey", e))?;
    }
    if change.changed("retention_in_days") {
        retention(c, a, name, spec).await?;
    }
    Ok(r.resource)
}

pub(super) async fn delete(c: &Clients, a: &str, name: &str) -> Result<()> {
    deleted(
        c.logs.delete_log_group().log_group_name(name).send().await,
        a,
        "logs:DeleteLogGroup",
    )
}

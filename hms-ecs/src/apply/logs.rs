//! A service's log group: created KMS-encrypted with its tags (an existing one is adopted), its retention
//! set; an update re-associates the key if it differs and syncs the tags.

use hms_core::aws_tags::LogsTags;
use hms_core::error::{code_of, deleted};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{need, Op};

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let s = op.service()?;
    let key = need(&spec.logs_key_arn, "logs key", a)?;
    if op.create {
        match c
            .logs
            .create_log_group()
            .log_group_name(&s.log_group)
            .kms_key_id(&key)
            .set_tags(Some(op.tags().into_iter().collect()))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
            Err(e) => return Err(Error::aws(a, "logs:CreateLogGroup", e)),
        }
    } else {
        if op.changed("kms_key") {
            c.logs
                .associate_kms_key()
                .log_group_name(&s.log_group)
                .kms_key_id(&key)
                .send()
                .await
                .map_err(|e| Error::aws(a, "logs:AssociateKmsKey", e))?;
        }
        op.sync_tags(&LogsTags(&c.logs)).await?;
    }
    if op.changed("retention_in_days") {
        c.logs
            .put_retention_policy()
            .log_group_name(&s.log_group)
            .retention_in_days(spec.log_retention_days)
            .send()
            .await
            .map_err(|e| Error::aws(a, "logs:PutRetentionPolicy", e))?;
    }
    Ok(op
        .rec
        .resource(a)
        .filter(|r| r.id == s.log_group)
        .unwrap_or_else(|| Resource::new(&s.log_group)))
}

pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.logs
            .delete_log_group()
            .log_group_name(&res.id)
            .send()
            .await,
        op.a,
        "logs:DeleteLogGroup",
    )
}

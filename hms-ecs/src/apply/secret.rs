//! The origin-verify secret: made with a new random value (encrypted with Secrets Manager's default key:
//! only the load balancer's rules, through hms-ecs, and hms-edge read it, never a task); restored when an
//! earlier `down` scheduled it for deletion; scheduled for deletion (default recovery window) by `down`.

use hms_core::aws_tags::SecretsTags;
use hms_core::error::{code_of, is_gone};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::Op;
use crate::secret::Value;

fn record(arn: &str) -> Resource {
    Resource::new(arn).with("arn", arn)
}

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let (c, a) = (op.c, op.a);
    let name = op
        .spec
        .origin_secret
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: ecs.origin_verify is off")))?;
    if !op.create {
        let arn = op.arn()?;
        if op.changed("scheduled_for_deletion") {
            restore(op, &arn).await?;
        }
        op.sync_tags(&SecretsTags(&c.secrets)).await?;
        return Ok(record(&arn));
    }
    let value = Value::generate()?;
    let tags = op
        .tags()
        .iter()
        .map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect();
    let out = c
        .secrets
        .create_secret()
        .name(&name)
        .description(format!(
            "{}/{}: the header value CloudFront sends to the load balancer (hms-ecs; read by hms-edge)",
            op.spec.tagger.id.stack, op.spec.tagger.id.env
        ))
        .secret_string(value.expose())
        .set_tags(Some(tags))
        .send()
        .await;
    match out {
        Ok(o) => Ok(record(o.arn().unwrap_or_default())),
        // Made by a run that died before recording it: keep it (and its value), restoring it if needed.
        Err(e) if code_of(&e) == Some("ResourceExistsException") => {
            let d = crate::secret::describe(c, &name)
                .await?
                .ok_or_else(|| Error::Internal(format!("{a}: {name} exists and does not")))?;
            let arn = d.arn().unwrap_or_default().to_owned();
            if d.deleted_date().is_some() {
                restore(op, &arn).await?;
            }
            Ok(record(&arn))
        }
        Err(e) => Err(Error::aws(a, "secretsmanager:CreateSecret", e)),
    }
}

async fn restore(op: &Op<'_>, id: &str) -> Result<()> {
    op.c.secrets
        .restore_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(op.a, "secretsmanager:RestoreSecret", e))?;
    Ok(())
}

pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    // No RecoveryWindowInDays: the default window (30 days), in which a later `up` restores it.
    match op.c.secrets.delete_secret().secret_id(&res.id).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        // Already scheduled for deletion.
        Err(e) if code_of(&e) == Some("InvalidRequestException") => Ok(()),
        Err(e) => Err(Error::aws(op.a, "secretsmanager:DeleteSecret", e)),
    }
}

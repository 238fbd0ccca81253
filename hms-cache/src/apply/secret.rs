//! The AUTH secret: made with a new random token, encrypted with the cache key; restored when an earlier
//! `down` scheduled it for deletion; scheduled for deletion (default recovery window) by `down`. The
//! token goes from the OS's random source to Secrets Manager and nowhere else.

use hms_core::aws_tags::SecretsTags;
use hms_core::diff::change_tags;
use hms_core::error::{code_of, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{description, need, Recorded};
use crate::spec::Spec;
use crate::token::Token;
use crate::Clients;

/// The secret as recorded: its ARN and the version labelled `AWSCURRENT` (services pin it, so that a
/// new token is a new task definition).
fn record(arn: &str, version: &str) -> Resource {
    Resource::new(arn).with("arn", arn).with("version", version)
}

pub(super) async fn create(c: &Clients, spec: &Spec, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let kms = need(&spec.kms_key_arn, "cache key", a)?;
    let token = Token::generate()?;
    let tags = change_tags(change.after.as_ref())
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
        .name(&spec.secret_name)
        .description(description(spec, "cache AUTH token (hms-cache)"))
        .kms_key_id(kms)
        .secret_string(token.expose())
        .set_tags(Some(tags))
        .send()
        .await;
    match out {
        Ok(o) => Ok(record(
            o.arn().unwrap_or_default(),
            o.version_id().unwrap_or_default(),
        )),
        // Made by a run that died before recording it: keep it (and its token), restoring it if needed.
        Err(e) if code_of(&e) == Some("ResourceExistsException") => {
            let d = c
                .secrets
                .describe_secret()
                .secret_id(&spec.secret_name)
                .send()
                .await
                .map_err(|e| Error::aws(a, "secretsmanager:DescribeSecret", e))?;
            let arn = d.arn().unwrap_or_default().to_owned();
            if d.deleted_date().is_some() {
                restore(c, a, &arn).await?;
            }
            Ok(record(&arn, &crate::observe::current_version(&d)))
        }
        Err(e) => Err(Error::aws(a, "secretsmanager:CreateSecret", e)),
    }
}

async fn restore(c: &Clients, a: &str, id: &str) -> Result<()> {
    c.secrets
        .restore_secret()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| Error::aws(a, "secretsmanager:RestoreSecret", e))?;
    Ok(())
}

pub(super) async fn update(c: &Clients, change: &Change, r: Recorded) -> Result<Resource> {
    let a = change.address.as_str();
    if change.changed("scheduled_for_deletion") {
        restore(c, a, &r.id).await?;
    }
    hms_core::tags::sync(&SecretsTags(&c.secrets), &r.id, change).await?;
    if change.changed("kms_key") {
        let key = change
            .after
            .as_ref()
            .and_then(|v| v.get("kms_key"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        // A new version of the same value: the token is re-encrypted with the new key now.
        let token = current_token(c, &r.id).await?;
        let out = c
            .secrets
            .update_secret()
            .secret_id(&r.id)
            .kms_key_id(key)
            .secret_string(token.expose())
            .send()
            .await
            .map_err(|e| Error::aws(a, "secretsmanager:UpdateSecret", e))?;
        return Ok(r
            .resource
            .with("version", out.version_id().unwrap_or_default()));
    }
    Ok(r.resource)
}

/// The token the secret holds now (`AWSCURRENT`).
pub async fn current_token(c: &Clients, secret_id: &str) -> Result<Token> {
    staged_token(c, secret_id, "AWSCURRENT")
        .await?
        .map(|(t, _)| t)
        .ok_or_else(|| {
            Error::Refused(format!(
                "the AUTH secret {secret_id} holds no current value; run 'hms-cache rotate-auth' to set one"
            ))
        })
}

/// The token at a staging label and its version id; `None` when no version has the label.
pub async fn staged_token(
    c: &Clients,
    secret_id: &str,
    stage: &str,
) -> Result<Option<(Token, String)>> {
    match c
        .secrets
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage(stage)
        .send()
        .await
    {
        Ok(o) => {
            let version = o.version_id().unwrap_or_default().to_owned();
            Ok(o.secret_string()
                .map(|s| (Token::from_secret(s.to_owned()), version)))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("secret {secret_id}"),
            "secretsmanager:GetSecretValue",
            e,
        )),
    }
}

pub(super) async fn delete(c: &Clients, a: &str, id: &str) -> Result<()> {
    // No RecoveryWindowInDays: the default window (30 days), in which a later `up` restores it.
    match c.secrets.delete_secret().secret_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        // Already scheduled for deletion.
        Err(e) if code_of(&e) == Some("InvalidRequestException") => Ok(()),
        Err(e) => Err(Error::aws(a, "secretsmanager:DeleteSecret", e)),
    }
}

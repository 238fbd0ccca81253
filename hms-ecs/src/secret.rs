//! The CDN's origin-verify secret: a random header value that CloudFront (hms-edge) sends to the load
//! balancer and the listener rules require (with `ecs.origin_verify`). Its value goes from the OS's random
//! source to Secrets Manager, and from there only to ELBv2 rule conditions; plans, state and output hold
//! only [`short_hash`]es of it.
//!
//! The secret's string is the bare header value (what hms-edge reads at `AWSCURRENT`). A rotation
//! (`rotate-origin-secret`) is under way while a version carries the `AWSPREVIOUS` label: the rules then
//! accept that value too, until `rotate-origin-secret --finish` takes the label off. The rotation state is
//! the secret's own staging labels, so it survives a lost state file and is the same for every reader.

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};

use crate::Clients;

/// The header CloudFront sends and the rules require.
pub const HEADER: &str = "X-Origin-Verify";

/// The label of the version the rules accept next to the current one while a rotation is under way.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// The label of the value in use.
pub const CURRENT: &str = "AWSCURRENT";
/// The label of a new value staged by `rotate-origin-secret` before it becomes current.
pub const PENDING: &str = "AWSPENDING";

/// The header value: a secret hms-ecs generates (letters and digits; an ALB header condition value holds
/// at most 128 characters). Plans, state and output hold only its [`short_hash`].
pub use hms_core::secret::{short_hash, Secret as Value};

/// The secret as described (tags, labels, deletion), by name or ARN; `None` when it does not exist.
pub async fn describe(c: &Clients, id: &str) -> Result<Option<DescribeSecretOutput>> {
    match c.secrets.describe_secret().secret_id(id).send().await {
        Ok(o) => Ok(Some(o)),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", crate::addr::Addr::OriginSecret),
            "secretsmanager:DescribeSecret",
            e,
        )),
    }
}

/// The id of the version that carries `label`, as described.
pub fn version_with(d: &DescribeSecretOutput, label: &str) -> Option<String> {
    d.version_ids_to_stages().and_then(|m| {
        m.iter()
            .find(|(_, stages)| stages.iter().any(|s| s == label))
            .map(|(v, _)| v.clone())
    })
}

/// The value at a staging label and its version id; `None` when no version has the label.
pub async fn staged(c: &Clients, id: &str, label: &str) -> Result<Option<(Value, String)>> {
    match c
        .secrets
        .get_secret_value()
        .secret_id(id)
        .version_stage(label)
        .send()
        .await
    {
        Ok(o) => {
            let version = o.version_id().unwrap_or_default().to_owned();
            Ok(o.secret_string()
                .map(|s| (Value::from_secret(s.to_owned()), version)))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", crate::addr::Addr::OriginSecret),
            "secretsmanager:GetSecretValue",
            e,
        )),
    }
}

/// The values the rules accept: the current one, and the previous one while a rotation is under way.
pub async fn accepted(c: &Clients, id: &str) -> Result<Vec<Value>> {
    let d = describe(c, id).await?;
    let current = staged(c, id, CURRENT)
        .await?
        .map(|(v, _)| v)
        .ok_or_else(|| {
            Error::Refused(format!(
                "the origin-verify secret {id} holds no current value; run 'hms-ecs up' to make it"
            ))
        })?;
    let mut out = vec![current];
    if d.as_ref().and_then(|d| version_with(d, PREVIOUS)).is_some() {
        if let Some((v, _)) = staged(c, id, PREVIOUS).await? {
            out.push(v);
        }
    }
    Ok(out)
}

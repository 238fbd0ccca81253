//! The AUTH secret, by its name; a secret scheduled for deletion (by an earlier `down`) is found as such,
//! so that `up` restores it instead of failing on its name.

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use hms_core::diff::Found;
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::Clients;

pub(super) async fn describe(c: &Clients, name: &str) -> Result<Option<DescribeSecretOutput>> {
    match c.secrets.describe_secret().secret_id(name).send().await {
        Ok(o) => Ok(Some(o)),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {name}", Addr::AuthSecret),
            "secretsmanager:DescribeSecret",
            e,
        )),
    }
}

pub(super) fn tags(s: &DescribeSecretOutput) -> super::Pairs {
    s.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The id of the version labelled `AWSCURRENT`.
pub(crate) fn current_version(s: &DescribeSecretOutput) -> String {
    s.version_ids_to_stages()
        .into_iter()
        .flatten()
        .find(|(_, stages)| stages.iter().any(|x| x == "AWSCURRENT"))
        .map(|(id, _)| id.clone())
        .unwrap_or_default()
}

pub(super) fn found(s: &DescribeSecretOutput) -> Found {
    let arn = s.arn().unwrap_or_default();
    Found::new(arn)
        .info("version", current_version(s))
        .attr("name", s.name().unwrap_or_default())
        .attr("kms_key", s.kms_key_id().unwrap_or_default())
        .attr("scheduled_for_deletion", s.deleted_date().is_some())
        .info("arn", arn)
        .tags(tags(s))
}

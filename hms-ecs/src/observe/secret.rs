//! The origin-verify secret, by its name (or the ARN in state once the config no longer wants it): its
//! tags and labels, and with `ecs.origin_verify` the hashes of its current value and, while a rotation is
//! under way (a version labelled `AWSPREVIOUS`), of the previous one. The values themselves stay here.

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use hms_core::diff::{Found, FoundSet};
use hms_core::state::State;
use hms_core::Result;

use super::{owned, Pairs};
use crate::addr::Addr;
use crate::desired::OriginHashes;
use crate::secret::{self, CURRENT, PREVIOUS};
use crate::spec::Spec;
use crate::Clients;

/// The secret as read: its description and the hashes of the values the rules should accept.
pub(super) struct Secret {
    described: Option<DescribeSecretOutput>,
    hashes: OriginHashes,
}

pub(super) async fn fetch(c: &Clients, spec: &Spec, state: &State) -> Result<Secret> {
    let recorded = state.id(&Addr::OriginSecret.to_string()).map(str::to_owned);
    let Some(id) = spec.origin_secret.clone().or(recorded) else {
        return Ok(Secret {
            described: None,
            hashes: OriginHashes::default(),
        });
    };
    let described = secret::describe(c, &id).await?;
    let mut hashes = OriginHashes::default();
    if let (Some(d), Some(_)) = (&described, &spec.origin_secret) {
        if d.deleted_date().is_none() {
            let previous = secret::version_with(d, PREVIOUS).is_some();
            let (cur, prev) = tokio::try_join!(secret::staged(c, &id, CURRENT), async {
                if previous {
                    secret::staged(c, &id, PREVIOUS).await
                } else {
                    Ok(None)
                }
            })?;
            hashes.current = cur.map(|(v, _)| v.hash());
            hashes.previous = prev.map(|(v, _)| v.hash());
        }
    }
    Ok(Secret { described, hashes })
}

fn tags(d: &DescribeSecretOutput) -> Pairs {
    d.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Records the secret (refused when a secret of that name is not this stack's); returns the hashes.
pub(super) fn build(spec: &Spec, s: Secret, found: &mut FoundSet) -> Result<OriginHashes> {
    let Some(d) = &s.described else {
        return Ok(s.hashes);
    };
    let address = Addr::OriginSecret.to_string();
    let tags = tags(d);
    owned(
        &spec.tagger,
        "secret",
        d.name().unwrap_or_default(),
        &tags,
        &address,
    )?;
    let arn = d.arn().unwrap_or_default();
    found.insert(
        address,
        Found::new(arn)
            .attr("name", d.name().unwrap_or_default())
            .attr("scheduled_for_deletion", d.deleted_date().is_some())
            .info("arn", arn)
            .tags(tags),
    );
    Ok(s.hashes)
}

//! The alias records: UPSERT (observe has checked that nothing of someone else's is at those names),
//! DELETE with the alias read (a record already gone counts as deleted).

use aws_sdk_route53::types::{
    AliasTarget, Change as R53Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use hms_core::apply::Recorder;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::built;
use crate::addr::{Addr, Record};
use crate::spec::{Spec, CLOUDFRONT_ZONE_ID};
use crate::Clients;

fn s(v: Option<&Value>, key: &str) -> Option<String> {
    v.and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// One record step.
pub async fn apply(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    r: Record,
    step: Step,
) -> Result<Option<Resource>> {
    let address = change.address.clone();
    let (action, value) = match step {
        Step::Create | Step::Update => (ChangeAction::Upsert, change.after.as_ref()),
        Step::Delete => (ChangeAction::Delete, change.before.as_ref()),
    };
    let zone = s(value, "zone_id").ok_or_else(|| Error::Internal(format!("{address}: no zone")))?;
    let name = s(value, "name").ok_or_else(|| Error::Internal(format!("{address}: no name")))?;
    let kind = s(value, "type").unwrap_or_else(|| "A".into());
    let (target, target_zone) = if step == Step::Delete {
        let t = s(value, "target").unwrap_or_default();
        let t = if t == Addr::Distribution.to_string() {
            rec.resource(&t)
                .and_then(|d| d.attr("domain_name").map(str::to_owned))
                .unwrap_or_default()
        } else {
            t
        };
        (t, s(value, "target_zone_id").unwrap_or_default())
    } else if r == Record::Origin {
        (
            spec.alb.dns_name.clone().ok_or_else(|| {
                Error::Refused("needs outputs.ecs.alb_dns_name: run 'hms-ecs up' first".into())
            })?,
            spec.alb.zone_id.clone().ok_or_else(|| {
                Error::Refused("needs outputs.ecs.alb_zone_id: run 'hms-ecs up' first".into())
            })?,
        )
    } else {
        let d = rec
            .resource(&Addr::Distribution.to_string())
            .and_then(|d| d.attr("domain_name").map(str::to_owned))
            .ok_or_else(|| {
                Error::Internal("edge.distribution has no domain name (plan order)".into())
            })?;
        (d, CLOUDFRONT_ZONE_ID.to_owned())
    };
    if target.is_empty() {
        // Nothing to say what the alias was: a plain record we recorded is left for a person.
        return Ok(None);
    }
    let set = built(
        ResourceRecordSet::builder()
            .name(format!("{name}."))
            .r#type(RrType::from(kind.as_str()))
            .alias_target(built(
                AliasTarget::builder()
                    .dns_name(format!("{target}."))
                    .hosted_zone_id(&target_zone)
                    .evaluate_target_health(r == Record::Origin)
                    .build(),
            )?)
            .build(),
    )?;
    let batch = built(
        ChangeBatch::builder()
            .comment("hms-edge")
            .changes(built(
                R53Change::builder()
                    .action(action.clone())
                    .resource_record_set(set)
                    .build(),
            )?)
            .build(),
    )?;
    match c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if step == Step::Delete
                && matches!(code_of(&e), Some("InvalidChangeBatch" | "NoSuchHostedZone")) =>
        {
            return Ok(None)
        }
        Err(e) => {
            return Err(Error::aws(
                format!("{address} {name} {kind} in zone {zone}"),
                "route53:ChangeResourceRecordSets",
                e,
            ))
        }
    }
    if step == Step::Delete {
        return Ok(None);
    }
    Ok(Some(
        Resource::new(name.clone())
            .with("zone_id", zone)
            .with("name", name)
            .with("type", kind),
    ))
}

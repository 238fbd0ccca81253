//! The X-Ray sampling rule and group: created with their tags; updated in place (UpdateSamplingRule,
//! UpdateGroup) only when more than their tags differ; tags through TagResource / UntagResource.

use aws_sdk_xray::error::ProvideErrorMetadata;
use aws_sdk_xray::types::{InsightsConfiguration, SamplingRule, SamplingRuleUpdate, Tag};
use hms_core::apply::Recorder;
use hms_core::aws_tags::XrayTags;
use hms_core::diff::change_tags;
use hms_core::error::is_gone;
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::sync;
use hms_core::{Error, Result};

use super::{internal, only_tags_changed, recorded_arn};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

fn tags(change: &Change) -> Result<Vec<Tag>> {
    change_tags(change.after.as_ref())
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(internal))
        .collect()
}

/// Creates (or adopts) or updates the sampling rule.
pub(super) async fn sampling_rule(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let name = &spec.sampling.name;
    let arn = if create {
        if let Some(arn) = create_rule(c, spec, change).await? {
            return Ok(Resource::new(name).with("arn", arn));
        }
        // Created by a run that died before recording it: updated, and given the full tag set.
        let arn = update_rule(c, spec).await?;
        let adopted = Change {
            before: None,
            ..change.clone()
        };
        sync(&XrayTags(&c.xray), &arn, &adopted).await?;
        arn
    } else {
        let arn = if only_tags_changed(change) {
            recorded_arn(rec, change)?
        } else {
            update_rule(c, spec).await?
        };
        sync(&XrayTags(&c.xray), &arn, change).await?;
        arn
    };
    Ok(Resource::new(name).with("arn", arn))
}

/// The new rule's ARN; `None` when a rule with its name already exists.
async fn create_rule(c: &Clients, spec: &Spec, change: &Change) -> Result<Option<String>> {
    let r = &spec.sampling;
    let rule = SamplingRule::builder()
        .rule_name(&r.name)
        .resource_arn("*")
        .priority(r.priority)
        .fixed_rate(r.fixed_rate)
        .reservoir_size(r.reservoir_size)
        .service_name("*")
        .service_type("*")
        .host("*")
        .http_method("*")
        .url_path("*")
        .version(1)
        .build()
        .map_err(internal)?;
    match c
        .xray
        .create_sampling_rule()
        .sampling_rule(rule)
        .set_tags(Some(tags(change)?))
        .send()
        .await
    {
        Ok(o) => Ok(Some(
            o.sampling_rule_record()
                .and_then(|x| x.sampling_rule())
                .and_then(|x| x.rule_arn())
                .unwrap_or_default()
                .to_owned(),
        )),
        Err(e)
            if e.as_service_error()
                .and_then(|s| s.message())
                .is_some_and(|m| m.contains("already exists")) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::aws(
            format!("{} {}", Addr::SamplingRule, r.name),
            "xray:CreateSamplingRule",
            e,
        )),
    }
}

/// Updates the rule's settings; returns its ARN.
async fn update_rule(c: &Clients, spec: &Spec) -> Result<String> {
    let r = &spec.sampling;
    let update = SamplingRuleUpdate::builder()
        .rule_name(&r.name)
        .resource_arn("*")
        .priority(r.priority)
        .fixed_rate(r.fixed_rate)
        .reservoir_size(r.reservoir_size)
        .service_name("*")
        .service_type("*")
        .host("*")
        .http_method("*")
        .url_path("*")
        .build();
    let o = c
        .xray
        .update_sampling_rule()
        .sampling_rule_update(update)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {}", Addr::SamplingRule, r.name),
                "xray:UpdateSamplingRule",
                e,
            )
        })?;
    Ok(o.sampling_rule_record()
        .and_then(|x| x.sampling_rule())
        .and_then(|x| x.rule_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Creates or updates the group.
pub(super) async fn group(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let name = &spec.group_name;
    let what = || format!("{} {name}", Addr::Group);
    let insights = InsightsConfiguration::builder()
        .insights_enabled(false)
        .notifications_enabled(false)
        .build();
    if create {
        let o = c
            .xray
            .create_group()
            .group_name(name)
            .filter_expression(&spec.group_filter)
            .insights_configuration(insights)
            .set_tags(Some(tags(change)?))
            .send()
            .await
            .map_err(|e| Error::aws(what(), "xray:CreateGroup", e))?;
        let arn = o.group().and_then(|g| g.group_arn()).unwrap_or_default();
        return Ok(Resource::new(name).with("arn", arn));
    }
    let arn = if only_tags_changed(change) {
        recorded_arn(rec, change)?
    } else {
        let o = c
            .xray
            .update_group()
            .group_name(name)
            .filter_expression(&spec.group_filter)
            .insights_configuration(insights)
            .send()
            .await
            .map_err(|e| Error::aws(what(), "xray:UpdateGroup", e))?;
        o.group()
            .and_then(|g| g.group_arn())
            .unwrap_or_default()
            .to_owned()
    };
    sync(&XrayTags(&c.xray), &arn, change).await?;
    Ok(Resource::new(name).with("arn", arn))
}

pub(super) async fn delete_rule(c: &Clients, address: &str, name: &str) -> Result<()> {
    match c.xray.delete_sampling_rule().rule_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if missing(&e) => Ok(()),
        Err(e) => Err(Error::aws(address, "xray:DeleteSamplingRule", e)),
    }
}

pub(super) async fn delete_group(c: &Clients, address: &str, name: &str) -> Result<()> {
    match c.xray.delete_group().group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if missing(&e) => Ok(()),
        Err(e) => Err(Error::aws(address, "xray:DeleteGroup", e)),
    }
}

/// X-Ray answers a missing rule or group with a generic InvalidRequestException; its message says so.
fn missing<E: ProvideErrorMetadata>(e: &E) -> bool {
    is_gone(e.code())
        || (e.code() == Some("InvalidRequestException")
            && e.message().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("not found") || m.contains("does not exist") || m.contains("unknown")
            }))
}

//! Carries out one step of one change, in the room of its resource kind. Creating or modifying the
//! replication group waits until it is available, with live progress; the group is recorded before the
//! wait, so a timeout or a kill loses nothing and the next `up` resumes waiting.
//!
//! Tags are set on create, and an update brings them to what the plan says through the tagging API of
//! the resource's service (`hms_core::tags::sync`) before anything else: an update whose only difference
//! is tags calls nothing but that API.

mod group;
mod logs;
mod parameter_group;
mod secret;
mod subnet_group;

pub(crate) use group::{describe as describe_group, wait_available};
pub(crate) use secret::{current_token, staged_token};

use std::time::SystemTime;

use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::change_tags;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let addr = Addr::parse(a).ok_or_else(|| Error::Internal(format!("{a}: unknown address")))?;
    match step {
        Step::Create => match addr {
            Addr::SubnetGroup => subnet_group::create(c, spec, change).await,
            Addr::ParameterGroup(_) => parameter_group::create(c, rec, spec, change).await,
            Addr::AuthSecret => secret::create(c, spec, change).await,
            Addr::LogGroup(kind) => logs::create(c, spec, change, kind).await,
            Addr::ReplicationGroup => group::create(c, ctx, rec, spec, change, task).await,
        }
        .map(Some),
        Step::Update => {
            let r = Recorded::of(rec, change)?;
            match addr {
                Addr::SubnetGroup => subnet_group::update(c, spec, change, r).await,
                Addr::ParameterGroup(_) => parameter_group::update(c, spec, change, r).await,
                Addr::AuthSecret => secret::update(c, change, r).await,
                Addr::LogGroup(kind) => logs::update(c, spec, change, r, kind).await,
                Addr::ReplicationGroup => group::update(c, ctx, spec, change, r, task).await,
            }
            .map(Some)
        }
        Step::Delete => {
            let Some(resource) = rec.resource(a) else {
                return Ok(None);
            };
            match addr {
                Addr::SubnetGroup => subnet_group::delete(c, a, &resource.id).await,
                Addr::ParameterGroup(_) => parameter_group::delete(c, a, &resource.id).await,
                Addr::AuthSecret => secret::delete(c, a, &resource.id).await,
                Addr::LogGroup(_) => logs::delete(c, a, &resource.id).await,
                Addr::ReplicationGroup => {
                    group::delete(c, ctx, rec, spec, a, &resource.id, task).await
                }
            }
            .map(|()| None)
        }
    }
}

/// The recorded resource an update works on.
struct Recorded {
    id: String,
    resource: Resource,
}

impl Recorded {
    fn of(rec: &Recorder<'_>, change: &Change) -> Result<Self> {
        let id = rec.id(&change.address)?;
        let resource = rec
            .resource(&change.address)
            .unwrap_or_else(|| Resource::new(&id));
        Ok(Recorded { id, resource })
    }

    /// The ARN the tagging APIs take (recorded by observe).
    fn arn(&self, change: &Change) -> Result<String> {
        match self.resource.attr("arn").filter(|s| !s.is_empty()) {
            Some(arn) => Ok(arn.to_owned()),
            None if hms_core::tags::TagDelta::of(change).is_empty() => Ok(String::new()),
            None => Err(Error::Internal(format!(
                "{}: no ARN recorded to tag",
                change.address
            ))),
        }
    }
}

/// An upstream value the plan needed, or an internal error (the spec lets no `up` run without it).
fn need(v: &Option<String>, what: &str, a: &str) -> Result<String> {
    v.clone()
        .ok_or_else(|| Error::Internal(format!("{a}: no {what}")))
}

/// ElastiCache tags for a create call.
fn ec_tags(change: &Change) -> Vec<aws_sdk_elasticache::types::Tag> {
    change_tags(change.after.as_ref())
        .iter()
        .map(|(k, v)| {
            aws_sdk_elasticache::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}

/// A description naming the stack.
fn description(spec: &Spec, what: &str) -> String {
    format!(
        "HMS {what} ({} {})",
        spec.tagger.id.stack, spec.tagger.id.env
    )
}

/// `20261128t030405z` for snapshot names.
pub fn stamp() -> String {
    hms_core::state::rfc3339(SystemTime::now())
        .replace(['-', ':'], "")
        .to_ascii_lowercase()
}

//! Carries out one step of one change, in the room of its resource kind. Creating or modifying the
//! instance waits until it is available, with live progress; the instance is recorded before the wait,
//! so a timeout or a kill loses nothing and the next `up` resumes waiting.
//!
//! Tags are set on create, and an update brings them to what the plan says through the RDS tagging API
//! (`hms_core::tags::sync`) before anything else: an update whose only difference is tags calls nothing
//! but that API.

mod instance;
mod parameter_group;
mod subnet_group;

use std::time::SystemTime;

use aws_sdk_rds::types::Tag;
use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::aws_tags::RdsTags;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, Tags};
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
    if addr == Addr::SecretPolicy {
        return secret_policy(c, rec, change, step).await;
    }
    match step {
        Step::Create => match addr {
            Addr::SubnetGroup => subnet_group::create(c, spec, change).await,
            Addr::ParameterGroup(_) => parameter_group::create(c, rec, spec, change).await,
            Addr::Instance => instance::create(c, ctx, rec, spec, change, task).await,
            Addr::Snapshot | Addr::Reservation | Addr::SecretPolicy => Err(not_planned(a)),
        }
        .map(Some),
        Step::Update => {
            let resource = Recorded::of(rec, change)?;
            resource.sync_tags(c, change).await?;
            match addr {
                Addr::SubnetGroup => subnet_group::update(c, spec, change, resource).await,
                Addr::ParameterGroup(_) => parameter_group::update(c, spec, change, resource).await,
                Addr::Instance => instance::update(c, ctx, spec, change, resource, task).await,
                Addr::Snapshot | Addr::Reservation | Addr::SecretPolicy => Err(not_planned(a)),
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
                Addr::Instance => {
                    instance::delete(c, ctx, rec, spec, change, &resource.id, task).await
                }
                Addr::Snapshot | Addr::Reservation | Addr::SecretPolicy => Err(not_planned(a)),
            }
            .map(|()| None)
        }
    }
}

fn not_planned(a: &str) -> Error {
    Error::Internal(format!("{a}: not a planned resource"))
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

    /// Brings the resource's tags to the change's `after` (nothing when they already match).
    async fn sync_tags(&self, c: &Clients, change: &Change) -> Result<()> {
        let arn = self.resource.attr("arn").unwrap_or_default();
        if arn.is_empty() {
            if hms_core::tags::TagDelta::of(change).is_empty() {
                return Ok(());
            }
            return Err(Error::Internal(format!(
                "{}: no ARN recorded to tag",
                change.address
            )));
        }
        hms_core::tags::sync(&RdsTags(&c.rds), arn, change).await?;
        Ok(())
    }
}

/// Tags for a create call.
fn rds_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags a created resource carries.
fn tags_after(change: &Change) -> Vec<Tag> {
    rds_tags(&change_tags(change.after.as_ref()))
}

/// `20261128t030405z` for snapshot names.
pub fn stamp() -> String {
    hms_core::state::rfc3339(SystemTime::now())
        .replace(['-', ':'], "")
        .to_ascii_lowercase()
}

/// Puts (create, update) or removes (delete) the master secret's resource policy. The secret is the
/// instance's: its ARN is recorded with the instance.
async fn secret_policy(
    c: &Clients,
    rec: &Recorder<'_>,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let secret = rec
        .resource(&Addr::Instance.to_string())
        .and_then(|r| r.attr("master_user_secret_arn").map(str::to_owned))
        .filter(|s| !s.is_empty());
    if step == Step::Delete {
        let Some(arn) = rec.resource(a).map(|r| r.id).or(secret) else {
            return Ok(None);
        };
        hms_core::error::deleted(
            c.secrets
                .delete_resource_policy()
                .secret_id(&arn)
                .send()
                .await,
            a,
            "secretsmanager:DeleteResourcePolicy",
        )?;
        return Ok(None);
    }
    let arn = secret.ok_or_else(|| {
        Error::Internal(format!(
            "{a}: the instance records no managed master secret"
        ))
    })?;
    let policy = change
        .after
        .as_ref()
        .and_then(|v| v.get("policy"))
        .map(serde_json::Value::to_string)
        .ok_or_else(|| Error::Internal(format!("{a}: no policy planned")))?;
    c.secrets
        .put_resource_policy()
        .secret_id(&arn)
        .resource_policy(policy)
        .block_public_policy(true)
        .send()
        .await
        .map_err(|e| Error::aws(a, "secretsmanager:PutResourcePolicy", e))?;
    Ok(Some(Resource::new(&arn)))
}

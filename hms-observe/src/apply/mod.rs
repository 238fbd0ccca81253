//! Carries out one step of one change, by kind: [`topic`] (the topic, its key and its email
//! subscriptions), [`alarms`], [`events`] (the RDS event subscriptions), [`dashboard`], [`xray`] (the sampling rule and the group). Every call is idempotent: an
//! alarm or dashboard put twice is the same alarm, a topic created twice is the same topic, a sampling rule
//! that already exists is updated. An update whose only difference is tags calls only the tagging API
//! (through [`hms_core::tags::sync`]).

mod alarms;
mod dashboard;
mod deletions;
mod events;
mod topic;
mod xray;

use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

/// Whether a change differs in its tags alone (then only the tagging API is called).
fn only_tags_changed(change: &Change) -> bool {
    let strip = |v: Option<&Value>| {
        v.and_then(Value::as_object).map(|m| {
            let mut m = m.clone();
            m.remove("tags");
            m
        })
    };
    strip(change.before.as_ref()) == strip(change.after.as_ref())
}

/// The ARN recorded for the change's resource (observed, or written by the last apply).
fn recorded_arn(rec: &Recorder<'_>, change: &Change) -> Result<String> {
    rec.resource(&change.address)
        .and_then(|r| r.attr("arn").map(str::to_owned))
        .filter(|a| !a.is_empty())
        .ok_or_else(|| internal(format!("{}: no recorded ARN", change.address)))
}

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    _ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let addr = Addr::parse(a).ok_or_else(|| internal(format!("{a}: unknown address")))?;
    let create = match step {
        Step::Delete => return delete(c, rec, &addr, a, task).await.map(|()| None),
        Step::Create => true,
        Step::Update => false,
    };
    let done = match addr {
        Addr::Topic => topic::put(c, rec, spec, change, create).await?,
        Addr::Subscription(email) => topic::subscribe(c, rec, a, &email, task).await?,
        Addr::Alarm(key) => {
            let alarm = spec
                .alarm(&key)
                .ok_or_else(|| internal(format!("{a}: not in the spec")))?;
            alarms::put(c, rec, spec, alarm, change, create).await?
        }
        Addr::RdsEvents(_) if create => events::create(c, rec, change).await?,
        Addr::RdsEvents(_) => events::update(c, rec, change).await?,
        Addr::BackupDeletions => deletions::put(c, rec, change).await?,
        Addr::Dashboard => dashboard::put(c, spec, task).await?,
        Addr::SamplingRule => xray::sampling_rule(c, rec, spec, change, create).await?,
        Addr::Group => xray::group(c, rec, spec, change, create).await?,
    };
    Ok(Some(done))
}

/// Deletes what is recorded at `a`; nothing recorded, or already gone, is done.
async fn delete(
    c: &Clients,
    rec: &Recorder<'_>,
    addr: &Addr,
    a: &str,
    task: &Task<'_>,
) -> Result<()> {
    let Some(id) = rec.resource(a).map(|r| r.id) else {
        return Ok(());
    };
    match addr {
        Addr::Topic => topic::delete(c, a, &id).await,
        Addr::Subscription(_) => topic::unsubscribe(c, a, &id, task).await,
        Addr::Alarm(_) => alarms::delete(c, a, &id).await,
        Addr::RdsEvents(_) => events::delete(c, a, &id).await,
        Addr::BackupDeletions => deletions::delete(c, a, &id).await,
        Addr::Dashboard => dashboard::delete(c, a, &id).await,
        Addr::SamplingRule => xray::delete_rule(c, a, &id).await,
        Addr::Group => xray::delete_group(c, a, &id).await,
    }
}

//! Carries out one step of one change, idempotently, in the room of its kind: security groups and rules
//! ([`groups`]), IAM roles and policies ([`roles`]), KMS keys and aliases ([`keys`]). A change whose only
//! difference is tags calls only the tagging API of its kind (`hms_core::tags::sync`).

mod groups;
mod keys;
mod roles;

use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::documents::render;
use crate::spec::Spec;
use crate::Clients;

pub use keys::KEY_DELETION_WINDOW_DAYS;

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let addr = Addr::parse(a).ok_or_else(|| Error::Internal(format!("{a}: unknown address")))?;
    match step {
        Step::Create => create(c, rec, spec, &addr, change).await.map(Some),
        Step::Update => update(c, rec, &addr, change).await.map(Some),
        Step::Delete => {
            // Nothing recorded, nothing to delete.
            let Some(res) = rec.resource(a) else {
                return Ok(None);
            };
            delete(c, ctx, rec, &addr, change, &res)
                .await
                .map(|()| None)
        }
    }
}

async fn create(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    addr: &Addr,
    change: &Change,
) -> Result<Resource> {
    match addr {
        Addr::Group(_) => groups::create_group(c, rec, spec, change).await,
        Addr::Rule { .. } => groups::create_rule(c, rec, spec, change).await,
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole => {
            roles::create_role(c, rec, spec, change).await
        }
        Addr::ExecutionManaged | Addr::MonitoringManaged => {
            roles::attach_managed(c, rec, addr, change).await
        }
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) => {
            roles::put_inline(c, rec, addr, change).await
        }
        Addr::Key(_) => keys::create_key(c, rec, change).await,
        Addr::Alias(name) => keys::create_alias(c, rec, name, change).await,
    }
}

async fn update(c: &Clients, rec: &Recorder<'_>, addr: &Addr, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let id = rec.id(a)?;
    let resource = rec.resource(a).unwrap_or_else(|| Resource::new(&id));
    match addr {
        Addr::Group(_) => groups::update_group(c, &id, change).await?,
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) => {
            return roles::put_inline(c, rec, addr, change).await
        }
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole => {
            roles::update_role(c, rec, &id, change).await?
        }
        Addr::Key(_) => keys::update_key(c, rec, &id, change).await?,
        Addr::Alias(name) => keys::update_alias(c, rec, &id, name, change).await?,
        Addr::Rule { .. } | Addr::ExecutionManaged | Addr::MonitoringManaged => {
            return Err(Error::Internal(format!("{a}: no in-place update")))
        }
    }
    Ok(resource)
}

async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    addr: &Addr,
    change: &Change,
    res: &Resource,
) -> Result<()> {
    match addr {
        Addr::Group(_) => groups::delete_group(c, change, &res.id).await,
        Addr::Rule { .. } => groups::delete_rule(c, rec, change, res).await,
        Addr::ExecutionManaged | Addr::MonitoringManaged => {
            roles::detach_managed(c, rec, addr, change).await
        }
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) => {
            roles::delete_inline(c, change, &res.id).await
        }
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole => {
            roles::delete_role(c, change, &res.id).await
        }
        Addr::Alias(_) => keys::delete_alias(c, change, &res.id).await,
        Addr::Key(_) => keys::delete_key(c, ctx, change, &res.id).await,
    }
}

/// A value of a change's `after`.
fn after<'a>(change: &'a Change, key: &str) -> Option<&'a Value> {
    change.after.as_ref().and_then(|v| v.get(key))
}

/// A string of a change's `after` (empty when absent).
fn after_str(change: &Change, key: &str) -> String {
    after(change, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Whether `key` differs between a change's `before` and `after`.
fn differs(change: &Change, key: &str) -> bool {
    change.before.as_ref().and_then(|v| v.get(key)) != after(change, key)
}

/// The ARN recorded for the resource at `address`.
fn recorded_arn(rec: &Recorder<'_>, address: &str) -> Option<String> {
    rec.resource(address)
        .and_then(|r| r.attr("arn").map(str::to_owned))
}

/// A policy document from a change's `after`, with ARNs known by now filled in.
fn document(rec: &Recorder<'_>, change: &Change, key: &str) -> Result<String> {
    let doc = after(change, key)
        .ok_or_else(|| Error::Internal(format!("{}: no {key} in plan", change.address)))?;
    let doc = render(doc, &|a| recorded_arn(rec, a));
    let text = doc.to_string();
    if text.contains("${") {
        return Err(Error::Internal(format!(
            "{}: {key} still refers to an unknown ARN: {text}",
            change.address
        )));
    }
    Ok(text)
}

//! Carries out one step of one change, idempotently, in the room of its kind: security groups and rules
//! ([`groups`]), IAM roles and policies ([`roles`]), KMS keys and aliases ([`keys`]). A change whose only
//! difference is tags calls only the tagging API of its kind (`hms_core::tags::sync`).

mod flow_logs;
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
        Step::Update => update(c, rec, spec, &addr, change).await.map(Some),
        Step::Delete => {
            // Nothing recorded, nothing to delete.
            let Some(res) = rec.resource(a) else {
                return Ok(None);
            };
            delete(c, ctx, rec, spec, &addr, change, &res)
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
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole | Addr::ReplicationRole => {
            roles::create_role(c, rec, spec, change).await
        }
        Addr::ExecutionManaged | Addr::MonitoringManaged => {
            roles::attach_managed(c, rec, addr, change).await
        }
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) | Addr::ReplicationPolicy => {
            roles::put_inline(c, rec, addr, change).await
        }
        Addr::Key(name) => {
            let (kms, region) = kms_of(c, spec, rec, name);
            keys::create_key(&kms, rec, change, region.as_deref()).await
        }
        Addr::Alias(name) => {
            let (kms, _) = kms_of(c, spec, rec, name);
            keys::create_alias(&kms, rec, name, change).await
        }
        Addr::FlowLogsEncryption => flow_logs::associate(c, rec, change).await,
    }
}

async fn update(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    addr: &Addr,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let id = rec.id(a)?;
    let resource = rec.resource(a).unwrap_or_else(|| Resource::new(&id));
    match addr {
        Addr::Group(_) => groups::update_group(c, &id, change).await?,
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) | Addr::ReplicationPolicy => {
            return roles::put_inline(c, rec, addr, change).await
        }
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole | Addr::ReplicationRole => {
            roles::update_role(c, rec, &id, change).await?
        }
        Addr::Key(name) => {
            keys::update_key(&kms_of(c, spec, rec, name).0, rec, &id, change).await?
        }
        Addr::Alias(name) => {
            keys::update_alias(&kms_of(c, spec, rec, name).0, rec, &id, name, change).await?
        }
        Addr::FlowLogsEncryption => return flow_logs::associate(c, rec, change).await,
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
    spec: &Spec,
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
        Addr::ExecutionPolicy | Addr::TaskPolicy(_) | Addr::ReplicationPolicy => {
            roles::delete_inline(c, change, &res.id).await
        }
        Addr::ExecutionRole | Addr::TaskRole(_) | Addr::MonitoringRole | Addr::ReplicationRole => {
            roles::delete_role(c, change, &res.id).await
        }
        Addr::Alias(name) => {
            keys::delete_alias(&kms_of(c, spec, rec, name).0, change, &res.id).await
        }
        Addr::Key(name) => {
            keys::delete_key(&kms_of(c, spec, rec, name).0, ctx, change, &res.id).await
        }
        Addr::FlowLogsEncryption => flow_logs::disassociate(c, change, &res.id).await,
    }
}

/// The KMS client for the key `name` (or its alias) and the region to record with it: the replica key
/// (and a duplicate of it) lives in the replica's region — `backup.replica_region`, else where state
/// recorded it — every other key in the stack's.
fn kms_of(
    c: &Clients,
    spec: &Spec,
    rec: &Recorder<'_>,
    name: &str,
) -> (aws_sdk_kms::Client, Option<String>) {
    let base = name.split(crate::addr::DUPLICATE).next().unwrap_or(name);
    if base != crate::spec::REPLICA_KEY {
        return (c.kms.clone(), None);
    }
    let recorded = rec
        .resource(&Addr::key(name).to_string())
        .and_then(|r| r.attr("region").map(str::to_owned));
    match recorded.or_else(|| spec.replica.as_ref().map(|r| r.region.clone())) {
        Some(region) => (c.kms_in(&region), Some(region)),
        None => (c.kms.clone(), None),
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

//! Carries out one step of the plan. Every step is idempotent (AlreadyExists → adopt, NotFound on delete
//! → done) and records what it made as soon as it exists.

pub mod bucket;
pub mod distribution;
pub mod logs;
pub mod policies;
pub mod records;
pub mod waf;

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

/// Turns an SDK builder's error into an internal error.
pub fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Internal(format!("cannot build a request: {e}")))
}

/// A string attribute of the change's `before` value.
pub fn before_str(change: &Change, key: &str) -> Option<String> {
    change
        .before
        .as_ref()
        .and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Whether a change's compared attributes (not only its tags) differ.
pub fn attrs_changed(change: &Change) -> bool {
    let strip = |v: Option<&Value>| {
        v.and_then(Value::as_object).map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "tags")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<serde_json::Map<String, Value>>()
        })
    };
    strip(change.before.as_ref()) != strip(change.after.as_ref())
}

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
    let Some(addr) = Addr::parse(&change.address) else {
        return Err(Error::Internal(format!(
            "{}: not an hms-edge address",
            change.address
        )));
    };
    let id = rec.resource(&change.address).map(|r| r.id);
    match addr {
        Addr::Bucket => bucket::apply(c, rec, spec, change, step, task).await,
        Addr::BucketPolicy => bucket::policy(c, rec, spec, change, step).await,
        Addr::OriginAccessControl => policies::oac(c, rec, spec, step, id).await,
        Addr::HeadersPolicy => policies::headers(c, rec, spec, step, id).await,
        Addr::WebAcl(door) => {
            if step == Step::Update && !attrs_changed(change) {
                let arn =
                    id.ok_or_else(|| Error::Internal(format!("{}: no id", change.address)))?;
                waf::sync_tags(c, door, &arn, change).await?;
                return Ok(Some(Resource::new(arn)));
            }
            let r = waf::web_acl(c, rec, spec, door, step, id).await?;
            if let (Step::Update, Some(r)) = (step, &r) {
                waf::sync_tags(c, door, &r.id, change).await?;
            }
            Ok(r)
        }
        Addr::AlbAssociation => waf::association(c, spec, change, step, id, rec).await,
        Addr::Distribution => distribution::apply(c, ctx, rec, spec, change, step, id, task).await,
        Addr::Record(r) => records::apply(c, rec, spec, change, r, step).await,
        Addr::LogGroup => logs::log_group(c, rec, spec, change, step).await,
        Addr::LogDelivery => logs::delivery(c, rec, spec, step, id).await,
    }
}

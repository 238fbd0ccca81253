//! Record sets: CREATE (never over someone else's record), UPSERT of one of ours, DELETE with the values
//! read (a record already gone counts as deleted).

use aws_sdk_route53::error::ProvideErrorMetadata;
use aws_sdk_route53::types::{
    Change as R53Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use hms_core::apply::Recorder;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::observe::records::{self, value_form};
use crate::Clients;

/// A record set to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub kind: String,
    pub ttl: i64,
    pub values: Vec<String>,
}

impl Record {
    /// From a plan value (`name`, `type`, `ttl`, `values`).
    pub fn from_value(v: &Value) -> Option<Record> {
        Some(Record {
            name: v.get("name")?.as_str()?.to_owned(),
            kind: v.get("type")?.as_str()?.to_owned(),
            ttl: v.get("ttl")?.as_i64()?,
            values: v
                .get("values")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        })
    }

    /// The state record.
    pub fn resource(&self) -> Resource {
        Resource::new(self.name.clone())
            .with("name", self.name.clone())
            .with("type", self.kind.clone())
            .with("ttl", self.ttl)
            .with("values", self.values.clone())
    }

    fn set(&self) -> Result<ResourceRecordSet> {
        let values = self
            .values
            .iter()
            .map(|v| {
                // CNAME targets are written fully qualified.
                let v = if self.kind == "CNAME" {
                    format!("{v}.")
                } else {
                    v.clone()
                };
                ResourceRecord::builder()
                    .value(v)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        ResourceRecordSet::builder()
            .name(format!("{}.", self.name))
            .r#type(RrType::from(self.kind.as_str()))
            .ttl(self.ttl)
            .set_resource_records(Some(values))
            .build()
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

/// What a ChangeResourceRecordSets call did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// CREATE of a record set that exists.
    Exists,
    /// DELETE of a record set that is not there.
    Missing,
}

/// One change to one record set in `zone`.
pub async fn write(
    c: &Clients,
    zone: &str,
    action: ChangeAction,
    r: &Record,
    why: &str,
) -> Result<Outcome> {
    let batch = ChangeBatch::builder()
        .comment(why)
        .changes(
            R53Change::builder()
                .action(action.clone())
                .resource_record_set(r.set()?)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    match c
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
    {
        Ok(_) => Ok(Outcome::Done),
        Err(e) => {
            let text = ProvideErrorMetadata::message(&e).unwrap_or_default();
            match (code_of(&e), action) {
                (Some("InvalidChangeBatch"), ChangeAction::Create)
                    if text.contains("already exists") =>
                {
                    Ok(Outcome::Exists)
                }
                (Some("InvalidChangeBatch"), ChangeAction::Delete)
                    if text.contains("not found") =>
                {
                    Ok(Outcome::Missing)
                }
                (Some("NoSuchHostedZone"), ChangeAction::Delete) => Ok(Outcome::Missing),
                _ => Err(Error::aws(
                    format!("record {} {} in zone {zone}", r.name, r.kind),
                    "route53:ChangeResourceRecordSets",
                    e,
                )),
            }
        }
    }
}

/// Creates `r` unless the same record set is there already (then adopted); someone else's record set with
/// other values is never overwritten.
pub async fn create(c: &Clients, zone: &str, r: &Record, address: &str) -> Result<()> {
    if write(c, zone, ChangeAction::Create, r, "hms-dns").await? == Outcome::Exists {
        let now = records::get(c, zone, &r.name, &r.kind).await?;
        let mut want: Vec<String> = r.values.iter().map(|v| value_form(&r.kind, v)).collect();
        want.sort();
        match now {
            Some(found) if found.values == want => {}
            Some(found) => {
                return Err(Error::Refused(format!(
                    "{address}: {} {} already holds {:?} and hms-dns did not write it; nothing was overwritten — delete or correct it, then run again",
                    r.name, r.kind, found.values
                )))
            }
            // Gone again meanwhile: write it.
            None => {
                write(c, zone, ChangeAction::Create, r, "hms-dns").await?;
            }
        }
    }
    Ok(())
}

fn record_of(change: &Change, v: Option<&Value>) -> Result<Record> {
    v.and_then(Record::from_value)
        .ok_or_else(|| Error::Internal(format!("{}: no record in the plan", change.address)))
}

/// Runs one step of a record set change.
pub async fn apply(
    c: &Clients,
    rec: &Recorder<'_>,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let zone = super::zone_id(rec)?;
    match step {
        Step::Create => {
            let r = record_of(change, change.after.as_ref())?;
            create(c, &zone, &r, &change.address).await?;
            Ok(Some(r.resource()))
        }
        Step::Update => {
            let r = record_of(change, change.after.as_ref())?;
            write(c, &zone, ChangeAction::Upsert, &r, "hms-dns").await?;
            Ok(Some(r.resource()))
        }
        Step::Delete => {
            let r = record_of(change, change.before.as_ref())?;
            write(c, &zone, ChangeAction::Delete, &r, "hms-dns").await?;
            Ok(None)
        }
    }
}

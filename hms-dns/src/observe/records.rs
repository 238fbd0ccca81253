//! Record sets in the zone, read one name and type at a time (the zone may hold many records that are not
//! ours; they are never listed, compared or touched).

use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use hms_core::{Error, Result};

use crate::spec::normalize;
use crate::Clients;

/// A simple record set as Route 53 holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    pub name: String,
    pub kind: String,
    pub ttl: Option<i64>,
    /// Values, normalized for CNAMEs (no trailing dot), sorted.
    pub values: Vec<String>,
    /// Alias, weighted, latency … records are not simple ones: never adopted.
    pub simple: bool,
}

/// Normalizes a record value of `kind` for comparison.
pub fn value_form(kind: &str, v: &str) -> String {
    if kind == "CNAME" {
        normalize(v)
    } else {
        v.trim().to_owned()
    }
}

fn from_set(r: &ResourceRecordSet) -> RecordSet {
    let kind = r.r#type().as_str().to_owned();
    let mut values: Vec<String> = r
        .resource_records()
        .iter()
        .map(|v| value_form(&kind, v.value()))
        .collect();
    values.sort();
    RecordSet {
        name: normalize(r.name()),
        simple: r.set_identifier().is_none()
            && r.alias_target().is_none()
            && r.traffic_policy_instance_id().is_none(),
        kind,
        ttl: r.ttl(),
        values,
    }
}

/// The record set `name`/`kind` in the zone, if any (ListResourceRecordSets from that name, one item).
pub async fn get(c: &Clients, zone_id: &str, name: &str, kind: &str) -> Result<Option<RecordSet>> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(format!("{name}."))
        .start_record_type(RrType::from(kind))
        .max_items(1)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("record {name} {kind} in zone {zone_id}"),
                "route53:ListResourceRecordSets",
                e,
            )
        })?;
    Ok(out
        .resource_record_sets()
        .iter()
        .map(from_set)
        .find(|r| r.name == name && r.kind == kind))
}

/// Every record set of the zone that is not NS or SOA (to name them when a zone cannot be deleted).
pub async fn others(c: &Clients, zone_id: &str) -> Result<Vec<RecordSet>> {
    let mut out = Vec::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let page = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .set_start_record_name(start.as_ref().map(|s| s.0.clone()))
            .set_start_record_type(start.as_ref().map(|s| s.1.clone()))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("zone {zone_id}"),
                    "route53:ListResourceRecordSets",
                    e,
                )
            })?;
        out.extend(
            page.resource_record_sets()
                .iter()
                .map(from_set)
                .filter(|r| r.kind != "NS" && r.kind != "SOA"),
        );
        match (
            page.is_truncated(),
            page.next_record_name(),
            page.next_record_type(),
        ) {
            (true, Some(n), Some(t)) => start = Some((n.to_owned(), t.clone())),
            _ => break,
        }
    }
    Ok(out)
}

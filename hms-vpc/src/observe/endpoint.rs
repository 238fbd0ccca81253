//! The S3 gateway endpoint (after the route tables, which it refers to).

use aws_sdk_ec2::types::VpcEndpoint;
use hms_core::addr::Address;
use hms_core::diff::Found;

use super::{pairs, Builder};
use crate::addr::Addr;

/// An endpoint's policy document in the compared form.
fn policy(doc: Option<&str>) -> serde_json::Value {
    let Some(text) = doc else {
        return serde_json::Value::Null;
    };
    // A policy document as a string (URL-encoded or not) normalizes to its parsed form.
    hms_core::policy::normalize(&serde_json::Value::from(text))
}

/// The S3 endpoint of our VPC; its route tables as addresses when they are ours.
pub(super) fn s3(b: &mut Builder<'_>, endpoints: Vec<VpcEndpoint>) {
    // Deleted endpoints stay listed for a while.
    let live = endpoints
        .into_iter()
        .filter(|e| {
            !matches!(
                e.state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .as_deref(),
                Some("deleted" | "deleting")
            )
        })
        .filter(|e| b.in_vpc(e.vpc_id()))
        .collect();
    for (a, e) in b.pick(live, |a| *a == Addr::Endpoint) {
        let mut tables: Vec<String> = e
            .route_table_ids()
            .iter()
            .map(|id| b.reference(id))
            .collect();
        tables.sort();
        let mut deps = vec![Addr::Vpc.to_string()];
        deps.extend(tables.iter().filter(|t| Addr::parse(t).is_some()).cloned());
        b.insert(
            &a,
            Found::new(e.vpc_endpoint_id().unwrap_or_default())
                .attr("service_name", e.service_name().unwrap_or_default())
                .attr("route_tables", tables)
                .attr("policy", policy(e.policy_document()))
                .tags(pairs(e.tags()))
                .uses(deps),
        );
    }
}

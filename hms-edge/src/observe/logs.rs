//! The access log group and the log delivery (standard logging v2), in us-east-1.

use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};

use super::Part;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// The delivery source's name for this stack (one per distribution).
pub fn source_name(spec: &Spec) -> String {
    spec.name("cdn-access-logs")
}

/// Reads the log group (by name) and the delivery (by the recorded id, else by the source's name).
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let mut part = Part::default();
    let lg_address = Addr::LogGroup.to_string();
    let name = spec
        .logging
        .as_ref()
        .map(|l| l.log_group.clone())
        .or_else(|| state.id(&lg_address).map(str::to_owned))
        .unwrap_or_else(|| {
            format!(
                "/hms/{}/{}/cloudfront",
                spec.tagger.id.stack, spec.tagger.id.env
            )
        });
    let source = source_name(spec);
    let (groups, deliveries) = tokio::join!(
        async {
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(&name)
                .send()
                .await
                .map_err(|e| Error::aws(&lg_address, "logs:DescribeLogGroups", e))
        },
        async {
            c.logs.describe_deliveries().send().await.map_err(|e| {
                Error::aws(Addr::LogDelivery.to_string(), "logs:DescribeDeliveries", e)
            })
        }
    );
    if let Some(g) = groups?
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
    {
        let arn = g
            .arn()
            .unwrap_or_default()
            .trim_end_matches(":*")
            .to_owned();
        let tags = match c
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
        {
            Ok(t) => t.tags().cloned().unwrap_or_default(),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Default::default(),
            Err(e) => return Err(Error::aws(&arn, "logs:ListTagsForResource", e)),
        };
        part.found.insert(
            lg_address.clone(),
            Found::new(&name)
                .attr("name", name.clone())
                .attr("retention_days", g.retention_in_days())
                .attr("kms_key", g.kms_key_id())
                .tags(tags)
                .info("arn", arn),
        );
    }
    let recorded = state.id(&Addr::LogDelivery.to_string()).map(str::to_owned);
    let deliveries = deliveries?;
    if let Some(d) = deliveries.deliveries().iter().find(|d| {
        recorded.as_deref() == d.id() || d.delivery_source_name() == Some(source.as_str())
    }) {
        // The destination's ARN names the log group; the source names the distribution.
        let destination = d.delivery_destination_arn().unwrap_or_default();
        let dest = if destination.contains(&spec.name("cdn-access-logs-destination")) {
            lg_address.clone()
        } else {
            destination.to_owned()
        };
        part.found.insert(
            Addr::LogDelivery.to_string(),
            Found::new(d.id().unwrap_or_default())
                .attr("source", Addr::Distribution.to_string())
                .attr("destination", dest)
                .attr("log_type", "ACCESS_LOGS")
                .uses([Addr::Distribution.to_string(), lg_address])
                .info("source_name", source),
        );
    }
    Ok(part)
}

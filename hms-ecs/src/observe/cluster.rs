//! The cluster: its settings, capacity providers and tags in one `DescribeClusters`.

use aws_sdk_ecs::types::{Cluster, ClusterField};
use hms_core::diff::{Found, FoundSet};
use hms_core::state::State;
use hms_core::{Error, Result};

use super::{owned, sorted, Pairs};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// The active cluster of the spec's name.
pub(super) async fn fetch(c: &Clients, spec: &Spec) -> Result<Option<Cluster>> {
    c.ecs
        .describe_clusters()
        .clusters(&spec.cluster)
        .include(ClusterField::Settings)
        .include(ClusterField::Tags)
        .send()
        .await
        .map(|o| {
            o.clusters()
                .iter()
                .find(|x| x.status() == Some("ACTIVE"))
                .cloned()
        })
        .map_err(|e| {
            Error::aws(
                format!("{} {}", Addr::Cluster, spec.cluster),
                "ecs:DescribeClusters",
                e,
            )
        })
}

/// The cluster's record; a same-named cluster of another stack is refused.
pub(super) fn build(
    spec: &Spec,
    state: &State,
    cluster: Option<Cluster>,
    found: &mut FoundSet,
) -> Result<()> {
    let Some(cl) = cluster else { return Ok(()) };
    let tags: Pairs = cl
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let address = Addr::Cluster.to_string();
    // Recorded in state under its name (taken over from Terraform before its first tags): ours.
    let pairs = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if state.id(&address) != cl.cluster_name() || spec.tagger.claimed_elsewhere(pairs) {
        owned(&spec.tagger, "ECS cluster", &spec.cluster, &tags, &address)?;
    }
    let insights = cl
        .settings()
        .iter()
        .find(|s| s.name().map(|n| n.as_str()) == Some("containerInsights"))
        .and_then(|s| s.value())
        .unwrap_or("disabled");
    found.insert(
        address,
        Found::new(cl.cluster_name().unwrap_or_default())
            .attr("name", cl.cluster_name().unwrap_or_default())
            .attr(
                "container_insights",
                if insights == "disabled" {
                    "disabled"
                } else {
                    "enabled"
                },
            )
            .attr(
                "capacity_providers",
                sorted(cl.capacity_providers().to_vec()),
            )
            .info("arn", cl.cluster_arn().unwrap_or_default())
            .tags(tags),
    );
    Ok(())
}

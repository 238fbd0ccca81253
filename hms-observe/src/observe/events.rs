//! The RDS event subscriptions, by their names (derived from the stack: found whether state records them
//! or not), with their tags.

use aws_sdk_rds::types::EventSubscription;
use futures::future::try_join_all;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};

use super::{not_ours, Part};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Each subscription at its name, else (renamed) at the name state recorded.
pub(super) async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let wanted: Vec<(Addr, Vec<String>)> = spec
        .event_names
        .iter()
        .map(|(key, name)| {
            let address = Addr::rds_events(key);
            let names = super::with_recorded(state, &address, Some(name.as_str()));
            (address, names)
        })
        .collect();
    let parts = try_join_all(
        wanted
            .iter()
            .map(|(address, names)| first(c, spec, state, address, names)),
    )
    .await?;
    let mut out = Part::default();
    for (found, conflicts) in parts {
        out.0.extend(found);
        out.1.extend(conflicts);
    }
    Ok(out)
}

async fn first(
    c: &Clients,
    spec: &Spec,
    state: &State,
    address: &Addr,
    names: &[String],
) -> Result<Part> {
    for name in names {
        let Some(s) = subscription(c, name).await? else {
            continue;
        };
        let arn = s.event_subscription_arn().unwrap_or_default().to_owned();
        let tags = tags(c, &arn).await?;
        let what = format!("{address} {name}");
        let recorded = state.id(&address.to_string()) == Some(name.as_str());
        if let Some(conflict) = not_ours(spec, address, &what, &tags, recorded) {
            return Ok((FoundSet::new(), vec![conflict]));
        }
        let mut ids: Vec<String> = s.source_ids_list().to_vec();
        ids.sort();
        let mut categories: Vec<String> = s.event_categories_list().to_vec();
        categories.sort();
        let found = Found::new(name)
            .attr("name", name.as_str())
            // The topic is compared by its address, as the alarms' actions are.
            .attr(
                "topic",
                match s.sns_topic_arn() {
                    Some(t) if t.rsplit(':').next() == Some(spec.topic_name.as_str()) => {
                        Addr::Topic.to_string()
                    }
                    other => other.unwrap_or_default().to_owned(),
                },
            )
            .attr("source_type", s.source_type().unwrap_or_default())
            .attr("source_ids", ids)
            .attr("categories", categories)
            .attr("enabled", s.enabled().unwrap_or(false))
            .tags(tags)
            .info("arn", arn)
            .uses([Addr::Topic]);
        return Ok((FoundSet::from([(address.to_string(), found)]), vec![]));
    }
    Ok(Part::default())
}

/// `None` when there is no subscription of that name.
async fn subscription(c: &Clients, name: &str) -> Result<Option<EventSubscription>> {
    match c
        .rds
        .describe_event_subscriptions()
        .subscription_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.event_subscriptions_list().first().cloned()),
        Err(e) if code_of(&e).is_some_and(|c| c.starts_with("SubscriptionNotFound")) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("RDS event subscription {name}"),
            "rds:DescribeEventSubscriptions",
            e,
        )),
    }
}

async fn tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    let out = c
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| Error::aws(arn, "rds:ListTagsForResource", e))?;
    Ok(out
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect())
}

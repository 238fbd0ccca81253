//! The RDS event subscriptions to the alarm topic.

use hms_core::apply::Recorder;
use hms_core::aws_tags::RdsTags;
use hms_core::diff::change_tags;
use hms_core::error::code_of;
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::sync;
use hms_core::{Error, Result};
use serde_json::Value;

use super::internal;
use crate::addr::Addr;
use crate::Clients;

fn strings(change: &Change, key: &str) -> Vec<String> {
    change
        .after
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text(change: &Change, key: &str) -> String {
    change
        .after
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Subscribes the topic to the source's events, as the plan says. One of that name already there (a run
/// that died before recording it; observe checked its tags) is adopted.
pub(super) async fn create(c: &Clients, rec: &Recorder<'_>, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let name = text(change, "name");
    let topic_arn = rec.id(&Addr::Topic.to_string())?;
    let tags = change_tags(change.after.as_ref())
        .iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .collect::<Vec<_>>();
    let out = c
        .rds
        .create_event_subscription()
        .subscription_name(&name)
        .sns_topic_arn(&topic_arn)
        .source_type(text(change, "source_type"))
        .set_source_ids(Some(strings(change, "source_ids")))
        .set_event_categories(Some(strings(change, "categories")))
        .enabled(true)
        .set_tags(Some(tags))
        .send()
        .await;
    let arn = match out {
        Ok(o) => o
            .event_subscription()
            .and_then(|s| s.event_subscription_arn())
            .unwrap_or_default()
            .to_owned(),
        Err(e) if code_of(&e).is_some_and(|c| c.starts_with("SubscriptionAlreadyExist")) => c
            .rds
            .describe_event_subscriptions()
            .subscription_name(&name)
            .send()
            .await
            .map_err(|e| Error::aws(a, "rds:DescribeEventSubscriptions", e))?
            .event_subscriptions_list()
            .first()
            .and_then(|s| s.event_subscription_arn())
            .map(str::to_owned)
            .ok_or_else(|| internal(format!("{a}: {name} exists but cannot be described")))?,
        Err(e) => return Err(Error::aws(a, "rds:CreateEventSubscription", e)),
    };
    Ok(Resource::new(&name).with("arn", arn))
}

/// Only tags change in place (everything else is a replacement: see the plan).
pub(super) async fn update(c: &Clients, rec: &Recorder<'_>, change: &Change) -> Result<Resource> {
    let arn = super::recorded_arn(rec, change)?;
    sync(&RdsTags(&c.rds), &arn, change).await?;
    rec.resource(&change.address)
        .ok_or_else(|| internal(format!("{}: not recorded", change.address)))
}

pub(super) async fn delete(c: &Clients, address: &str, name: &str) -> Result<()> {
    match c
        .rds
        .delete_event_subscription()
        .subscription_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e).is_some_and(|c| c.starts_with("SubscriptionNotFound")) => Ok(()),
        Err(e) => Err(Error::aws(address, "rds:DeleteEventSubscription", e)),
    }
}

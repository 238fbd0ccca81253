//! The alarms: PutMetricAlarm creates or changes one (its tags only when it is created), TagResource /
//! UntagResource keep the tags of an existing one.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use hms_core::apply::Recorder;
use hms_core::aws_tags::CloudWatchTags;
use hms_core::diff::change_tags;
use hms_core::error::deleted;
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::sync;
use hms_core::{Error, Result};

use super::{internal, only_tags_changed};
use crate::addr::Addr;
use crate::spec::{partition, Alarm, Spec};
use crate::Clients;

/// Creates or updates `alarm`.
pub(super) async fn put(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    alarm: &Alarm,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let topic_arn = rec.id(&Addr::Topic.to_string())?;
    // arn:aws:sns:<region>:<account>:<name>
    let account = topic_arn.split(':').nth(4).unwrap_or_default().to_owned();
    let arn = format!(
        "arn:{}:cloudwatch:{}:{account}:alarm:{}",
        partition(&spec.region),
        spec.region,
        alarm.name
    );
    if create || !only_tags_changed(change) {
        put_metric_alarm(c, alarm, change, &topic_arn).await?;
    }
    if !create {
        // PutMetricAlarm ignores the tags of an alarm that exists.
        sync(&CloudWatchTags(&c.cloudwatch), &arn, change).await?;
    }
    Ok(Resource::new(&alarm.name).with("arn", arn))
}

async fn put_metric_alarm(
    c: &Clients,
    alarm: &Alarm,
    change: &Change,
    topic_arn: &str,
) -> Result<()> {
    let mut dims = Vec::new();
    for (k, v) in &alarm.dimensions {
        let v = v
            .clone()
            .ok_or_else(|| internal(format!("{}: dimension {k} not known", change.address)))?;
        dims.push(Dimension::builder().name(k).value(v).build());
    }
    let tags: Vec<Tag> = change_tags(change.after.as_ref())
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    c.cloudwatch
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .alarm_description(&alarm.description)
        .namespace(&alarm.namespace)
        .metric_name(&alarm.metric)
        .statistic(Statistic::from(alarm.statistic.as_str()))
        .set_dimensions(Some(dims))
        .comparison_operator(ComparisonOperator::from(alarm.comparison.as_str()))
        .threshold(alarm.threshold)
        .period(alarm.period)
        .evaluation_periods(alarm.evaluation_periods)
        .treat_missing_data(&alarm.treat_missing_data)
        .actions_enabled(true)
        .alarm_actions(topic_arn)
        .ok_actions(topic_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {}", change.address, alarm.name),
                "cloudwatch:PutMetricAlarm",
                e,
            )
        })?;
    Ok(())
}

pub(super) async fn delete(c: &Clients, address: &str, name: &str) -> Result<()> {
    deleted(
        c.cloudwatch.delete_alarms().alarm_names(name).send().await,
        address,
        "cloudwatch:DeleteAlarms",
    )
}

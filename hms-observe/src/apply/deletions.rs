//! The backup bucket's event notification of deletions to the topic. S3 keeps one notification
//! configuration per bucket: each write reads it, replaces only our topic configuration (by its id) and
//! puts it back, so that anyone else's notifications on the bucket stay.

use aws_sdk_s3::types::{Event, NotificationConfiguration, TopicConfiguration};
use hms_core::apply::Recorder;
use hms_core::error::code_of;
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::internal;
use crate::addr::Addr;
use crate::plan::{BACKUP_DELETIONS_ID, BACKUP_DELETION_EVENTS};
use crate::Clients;

fn bucket_of(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| v.get("bucket"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Reads the bucket's notifications, puts `ours` in place of our topic configuration (`None`: removes
/// it) and writes them back; no write when there is nothing to remove.
async fn rewrite(
    c: &Clients,
    a: &str,
    bucket: &str,
    ours: Option<TopicConfiguration>,
) -> Result<()> {
    let current = match c
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(o) => o,
        // Gone with its notifications: nothing to remove (a create then fails below, naming it).
        Err(e) if code_of(&e) == Some("NoSuchBucket") && ours.is_none() => return Ok(()),
        Err(e) => return Err(Error::aws(a, "s3:GetBucketNotificationConfiguration", e)),
    };
    let mut topics: Vec<TopicConfiguration> = current
        .topic_configurations()
        .iter()
        .filter(|t| t.id() != Some(BACKUP_DELETIONS_ID))
        .cloned()
        .collect();
    if ours.is_none() && topics.len() == current.topic_configurations().len() {
        return Ok(());
    }
    topics.extend(ours);
    let cfg = NotificationConfiguration::builder()
        .set_topic_configurations(Some(topics))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(current.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build();
    c.s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(cfg)
        .send()
        .await
        .map_err(|e| Error::aws(a, "s3:PutBucketNotificationConfiguration", e))?;
    Ok(())
}

/// Creates or updates our topic configuration on the bucket (S3 checks that it may publish: the topic's
/// policy and key allow it).
pub(super) async fn put(c: &Clients, rec: &Recorder<'_>, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let bucket = bucket_of(change.after.as_ref())
        .ok_or_else(|| internal(format!("{a}: no bucket planned")))?;
    let topic_arn = rec.id(&Addr::Topic.to_string())?;
    let ours = TopicConfiguration::builder()
        .id(BACKUP_DELETIONS_ID)
        .topic_arn(topic_arn)
        .set_events(Some(
            BACKUP_DELETION_EVENTS
                .iter()
                .map(|e| Event::from(*e))
                .collect(),
        ))
        .build()
        .map_err(internal)?;
    rewrite(c, a, &bucket, Some(ours)).await?;
    Ok(Resource::new(&bucket))
}

/// Removes our topic configuration, leaving the bucket's others.
pub(super) async fn delete(c: &Clients, a: &str, bucket: &str) -> Result<()> {
    rewrite(c, a, bucket, None).await
}

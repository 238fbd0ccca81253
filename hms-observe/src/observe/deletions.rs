//! The backup bucket's event notification of deletions to the topic: our topic configuration (by its id)
//! among the bucket's notifications, one GetBucketNotificationConfiguration.

use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};

use super::Part;
use crate::addr::Addr;
use crate::plan::BACKUP_DELETIONS_ID;
use crate::spec::Spec;
use crate::Clients;

/// The bucket to look at: the stack's backup bucket, else (hms-backup gone from the stack) the recorded one.
fn bucket(spec: &Spec, state: &State) -> Option<String> {
    spec.backup_bucket
        .as_ref()
        .and_then(|b| b.known())
        .or_else(|| {
            state
                .id(&Addr::BackupDeletions.to_string())
                .map(str::to_owned)
        })
}

pub(super) async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let Some(bucket) = bucket(spec, state) else {
        return Ok(Part::default());
    };
    let a = Addr::BackupDeletions.to_string();
    let read = match c
        .s3
        .get_bucket_notification_configuration()
        .bucket(&bucket)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(Part::default()),
        Err(e) => {
            return Err(Error::aws(
                format!("{a} {bucket}"),
                "s3:GetBucketNotificationConfiguration",
                e,
            ))
        }
    };
    let Some(ours) = read
        .topic_configurations()
        .iter()
        .find(|t| t.id() == Some(BACKUP_DELETIONS_ID))
    else {
        return Ok(Part::default());
    };
    let topic = ours.topic_arn();
    let mut events: Vec<String> = ours
        .events()
        .iter()
        .map(|e| e.as_str().to_owned())
        .collect();
    events.sort();
    let found = Found::new(&bucket)
        .attr("bucket", bucket.clone())
        .attr("id", BACKUP_DELETIONS_ID)
        // The topic by its address, as the alarms' actions are.
        .attr(
            "topic",
            if topic.rsplit(':').next() == Some(spec.topic_name.as_str()) {
                Addr::Topic.to_string()
            } else {
                topic.to_owned()
            },
        )
        .attr("events", events)
        .uses([Addr::Topic]);
    Ok((FoundSet::from([(a, found)]), vec![]))
}

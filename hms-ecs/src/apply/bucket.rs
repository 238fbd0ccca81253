//! The stack's log bucket: made with ACLs off and its tags in one call, then its baseline, lifecycle and
//! delivery policy; an update writes only the parts that differ; `down --delete-logs` empties and
//! deletes it.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use hms_core::aws_tags::S3BucketTags;
use hms_core::error::code_of;
use hms_core::s3::{Created, Sse};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{built, Op};
use crate::desired::log_bucket_policy;

fn record(name: &str) -> Resource {
    Resource::new(name).with("arn", format!("arn:aws:s3:::{name}"))
}

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let name = spec.log_bucket.as_str();
    let resource = format!("{a} {name}");
    if op.create {
        let created =
            hms_core::s3::create_bucket(&c.s3, &resource, name, &spec.region, &op.tags(), op.task)
                .await?;
        if created == Created::Taken {
            return Err(Error::Refused(format!(
                "{resource}: the name is taken by another AWS account (bucket names are global); choose another [stack] name"
            )));
        }
        op.rec.record(a, Some(record(name))).await?;
    }
    if op.create
        || [
            "ownership",
            "public_access_block",
            "versioning",
            "encryption",
        ]
        .iter()
        .any(|k| op.changed(k))
    {
        op.task.status(
            "writing ownership, public-access block, versioning, encryption",
            false,
        );
        hms_core::s3::write_baseline(&c.s3, &resource, name, &Sse::Aes256).await?;
    }
    if op.changed("lifecycle") {
        let days = spec.log_bucket_days;
        let rule = built(
            LifecycleRule::builder()
                .id("expire-logs")
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .expiration(LifecycleExpiration::builder().days(days).build())
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(days)
                        .build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(7)
                        .build(),
                )
                .build(),
        )?;
        c.s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(built(
                BucketLifecycleConfiguration::builder().rules(rule).build(),
            )?)
            .send()
            .await
            .map_err(|e| Error::aws(&resource, "s3:PutBucketLifecycleConfiguration", e))?;
    }
    if op.changed("policy") {
        c.s3.put_bucket_policy()
            .bucket(name)
            .policy(log_bucket_policy(spec).to_string())
            .send()
            .await
            .map_err(|e| Error::aws(&resource, "s3:PutBucketPolicy", e))?;
    }
    hms_core::tags::sync(&S3BucketTags(&c.s3), name, op.change).await?;
    Ok(record(name))
}

/// `down --delete-logs`: every log object (and version) first, then the bucket.
pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    let s3 = &op.c.s3;
    let name = res.id.as_str();
    let resource = format!("{} {name}", op.a);
    hms_core::s3::empty(s3, &resource, name, false, op.task).await?;
    match s3.delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(()),
        // A log delivered after it was emptied (the load balancer or S3 logging still writing).
        Err(e) if code_of(&e) == Some("BucketNotEmpty") => Err(Error::Refused(format!(
            "{resource}: logs arrived after it was emptied; run 'hms-ecs down --delete-logs' again once the load balancer and the backup bucket's logging are gone"
        ))),
        Err(e) => Err(Error::aws(&resource, "s3:DeleteBucket", e)),
    }
}

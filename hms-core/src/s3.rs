//! What the tools that own an S3 bucket (hms-backup, hms-edge) read the same way.

use crate::error::code_of;
use crate::{Error, Result};

/// Whether the bucket holds any object version or delete marker (one ListObjectVersions call);
/// `false` when the bucket is gone. `resource` names the bucket in an error (`backup.bucket NAME`).
pub async fn has_versions(s3: &aws_sdk_s3::Client, resource: &str, name: &str) -> Result<bool> {
    match s3
        .list_object_versions()
        .bucket(name)
        .max_keys(1)
        .send()
        .await
    {
        Ok(o) => Ok(!o.versions().is_empty() || !o.delete_markers().is_empty()),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(false),
        Err(e) => Err(Error::aws(resource, "s3:ListObjectVersions", e)),
    }
}

/// How [`create_bucket`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Made now.
    New,
    /// It already was this account's (a run stopped before recording it): adopt it.
    Ours,
    /// The name is another account's (bucket names are global).
    Taken,
}

/// CreateBucket with ACLs off (the bucket owner owns every object) and the tags in the same call, so a
/// run stopped right after it leaves a bucket the next run recognises as its own. That needs
/// s3:TagResource; a role without it gets the bucket untagged here (said on the task's line) and the
/// caller's PutBucketTagging tags it right after. `resource` names the bucket in an error.
pub async fn create_bucket(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    region: &str,
    tags: &crate::diff::Tags,
    task: &crate::ui::Task<'_>,
) -> Result<Created> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration, ObjectOwnership};
    let tag_set: Vec<aws_sdk_s3::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_s3::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::Internal(format!("tag {k}: {e}")))
        })
        .collect::<Result<_>>()?;
    let create = |with_tags: bool| {
        let mut cfg = CreateBucketConfiguration::builder();
        if with_tags && !tag_set.is_empty() {
            cfg = cfg.set_tags(Some(tag_set.clone()));
        }
        // us-east-1 is S3's default and must not be named.
        if region != "us-east-1" {
            cfg = cfg.location_constraint(BucketLocationConstraint::from(region));
        }
        s3.create_bucket()
            .bucket(name)
            .create_bucket_configuration(cfg.build())
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .send()
    };
    let mut result = create(true).await;
    if matches!(&result, Err(e) if code_of(e) == Some("AccessDenied")) {
        task.status(
            "no s3:TagResource for tags at creation; tagging after",
            false,
        );
        result = create(false).await;
    }
    match result {
        Ok(_) => Ok(Created::New),
        Err(e) if code_of(&e) == Some("BucketAlreadyOwnedByYou") => {
            task.status("already exists in this account; adopting it", false);
            Ok(Created::Ours)
        }
        Err(e) if code_of(&e) == Some("BucketAlreadyExists") => Ok(Created::Taken),
        Err(e) => Err(Error::aws(resource, "s3:CreateBucket", e)),
    }
}

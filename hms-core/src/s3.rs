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

/// Whether a bucket found by the name a tool uses (derived or configured), without the tool's tags and not in its state, is
/// the tool's own leftover: a run killed between CreateBucket and PutBucketTagging leaves exactly that —
/// a bucket with no tags at all, no bucket policy and no object. Such a bucket is adopted (with a note
/// saying so); anything else found under the name stays refused as not this tool's. HeadBucket has already
/// answered 200 for the caller, so the bucket is this account's (or one it may fully use).
pub async fn is_leftover(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    tags: &[(String, String)],
    has_policy: bool,
) -> Result<bool> {
    if !tags.is_empty() || has_policy {
        return Ok(false);
    }
    Ok(!has_versions(s3, resource, name).await?)
}

/// The note of an adopted leftover bucket.
pub fn leftover_note(resource: &str, name: &str, tool: &str) -> String {
    format!(
        "{resource} {name}: adopted an empty bucket without tags or policy under the name {tool} uses (left by a run stopped between CreateBucket and its tagging); {tool} tags and configures it now"
    )
}

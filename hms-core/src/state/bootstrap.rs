//! `state bootstrap s3://BUCKET/PREFIX`: the S3 state bucket, created idempotently and checked setting by
//! setting on every run (an existing bucket is fixed, never replaced): ACLs off (`BucketOwnerEnforced`),
//! every public-access block, versioning (every state version kept), default encryption (SSE-KMS with
//! `[state] kms_key`, else SSE-S3), a policy that refuses requests without TLS, a lifecycle that expires
//! noncurrent state versions after 90 days, and tags.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use serde_json::{json, Value};

use crate::diff::Tags;
use crate::error::{code_of, Error, Result};
use crate::tags::{TagApi, TagDelta};

use super::s3::S3Location;

/// The id of the lifecycle rule bootstrap owns.
pub const RULE_ID: &str = "hms-state-noncurrent-versions";
/// Days a replaced state version is kept.
pub const NONCURRENT_DAYS: i32 = 90;

/// What the bucket should be.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    pub location: &'a S3Location,
    pub region: &'a str,
    pub kms_key: Option<&'a str>,
    pub tags: Tags,
}

/// The TLS-only bucket policy.
pub fn policy(bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

/// Not configured yet (rather than a failure).
fn absent(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "NoSuchTagSet"
                | "NoSuchTagSetError"
                | "OwnershipControlsNotFoundError"
                | "NoSuchPublicAccessBlockConfiguration"
                | "ServerSideEncryptionConfigurationNotFoundError"
                | "NoSuchBucketPolicy"
                | "NoSuchLifecycleConfiguration"
        )
    )
}

/// Makes the bucket match; returns one line per thing it changed (empty when it was already right).
pub async fn ensure(s3: &aws_sdk_s3::Client, w: &Wanted<'_>) -> Result<Vec<String>> {
    let bucket = w.location.bucket.as_str();
    let mut did = Vec::new();

    match s3.head_bucket().bucket(bucket).send().await {
        Ok(o) => {
            let region = o.bucket_region().unwrap_or(w.region);
            if region != w.region {
                return Err(Error::usage(format!(
                    "state bucket {bucket} is in {region}; pass [state] region = \"{region}\" (or --region {region})"
                )));
            }
        }
        Err(err) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            if status == Some(403) {
                return Err(Error::Refused(format!(
                    "state bucket {bucket} exists but is not accessible (403): another account owns the name, or the caller lacks s3:ListBucket; choose another bucket name"
                )));
            }
            if status != Some(404) && !matches!(code_of(&err), Some("NotFound" | "NoSuchBucket")) {
                return Err(Error::aws(bucket, "s3:HeadBucket", err));
            }
            let mut cfg = CreateBucketConfiguration::builder();
            if w.region != "us-east-1" {
                cfg = cfg.location_constraint(BucketLocationConstraint::from(w.region));
            }
            match s3
                .create_bucket()
                .bucket(bucket)
                .create_bucket_configuration(cfg.build())
                .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                .send()
                .await
            {
                Ok(_) => did.push(format!("created bucket {bucket} in {}", w.region)),
                Err(err) if code_of(&err) == Some("BucketAlreadyOwnedByYou") => {}
                Err(err) if code_of(&err) == Some("BucketAlreadyExists") => {
                    return Err(Error::Refused(format!(
                        "state bucket {bucket}: the name is taken by another AWS account (bucket names are global); choose another"
                    )))
                }
                Err(err) => return Err(Error::aws(bucket, "s3:CreateBucket", err)),
            }
        }
    }

    ownership(s3, bucket, &mut did).await?;
    public_access(s3, bucket, &mut did).await?;
    versioning(s3, bucket, &mut did).await?;
    encryption(s3, bucket, w.kms_key, &mut did).await?;
    tls_policy(s3, bucket, &mut did).await?;
    lifecycle(s3, bucket, &mut did).await?;
    tags(s3, bucket, &w.tags, &mut did).await?;
    Ok(did)
}

async fn ownership(s3: &aws_sdk_s3::Client, bucket: &str, did: &mut Vec<String>) -> Result<()> {
    let current = match s3
        .get_bucket_ownership_controls()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(o) => o
            .ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().clone()),
        Err(err) if absent(code_of(&err)) => None,
        Err(err) => return Err(Error::aws(bucket, "s3:GetBucketOwnershipControls", err)),
    };
    if current == Some(ObjectOwnership::BucketOwnerEnforced) {
        return Ok(());
    }
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .map_err(internal)?;
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(
            OwnershipControls::builder()
                .rules(rule)
                .build()
                .map_err(internal)?,
        )
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutBucketOwnershipControls", err))?;
    did.push(String::from("ACLs turned off (BucketOwnerEnforced)"));
    Ok(())
}

async fn public_access(s3: &aws_sdk_s3::Client, bucket: &str, did: &mut Vec<String>) -> Result<()> {
    let all_on = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(o) => o.public_access_block_configuration().is_some_and(|p| {
            p.block_public_acls() == Some(true)
                && p.ignore_public_acls() == Some(true)
                && p.block_public_policy() == Some(true)
                && p.restrict_public_buckets() == Some(true)
        }),
        Err(err) if absent(code_of(&err)) => false,
        Err(err) => return Err(Error::aws(bucket, "s3:GetPublicAccessBlock", err)),
    };
    if all_on {
        return Ok(());
    }
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutPublicAccessBlock", err))?;
    did.push(String::from("every public-access block turned on"));
    Ok(())
}

async fn versioning(s3: &aws_sdk_s3::Client, bucket: &str, did: &mut Vec<String>) -> Result<()> {
    let v = s3
        .get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:GetBucketVersioning", err))?;
    if v.status() == Some(&BucketVersioningStatus::Enabled) {
        return Ok(());
    }
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutBucketVersioning", err))?;
    did.push(String::from(
        "versioning enabled (every state version is kept)",
    ));
    Ok(())
}

async fn encryption(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    kms_key: Option<&str>,
    did: &mut Vec<String>,
) -> Result<()> {
    let current = match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(o) => o
            .server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| {
                (
                    d.sse_algorithm().clone(),
                    d.kms_master_key_id().map(str::to_owned),
                )
            }),
        Err(err) if absent(code_of(&err)) => None,
        Err(err) => return Err(Error::aws(bucket, "s3:GetBucketEncryption", err)),
    };
    let wanted = match kms_key {
        Some(k) => (ServerSideEncryption::AwsKms, Some(k.to_owned())),
        None => (ServerSideEncryption::Aes256, None),
    };
    if current.as_ref() == Some(&wanted) {
        return Ok(());
    }
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(wanted.0.clone())
        .set_kms_master_key_id(wanted.1.clone())
        .build()
        .map_err(internal)?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(kms_key.is_some())
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(internal)?,
        )
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutBucketEncryption", err))?;
    did.push(match kms_key {
        Some(k) => format!("default encryption: SSE-KMS with {k}"),
        None => String::from("default encryption: SSE-S3"),
    });
    Ok(())
}

async fn tls_policy(s3: &aws_sdk_s3::Client, bucket: &str, did: &mut Vec<String>) -> Result<()> {
    let wanted = crate::policy::normalize(&policy(bucket));
    let current = match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(o) => o
            .policy()
            .map(|p| crate::policy::normalize(&Value::from(p))),
        Err(err) if absent(code_of(&err)) => None,
        Err(err) => return Err(Error::aws(bucket, "s3:GetBucketPolicy", err)),
    };
    if current.as_ref() == Some(&wanted) {
        return Ok(());
    }
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy(bucket).to_string())
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutBucketPolicy", err))?;
    did.push(String::from("policy: requests without TLS are denied"));
    Ok(())
}

async fn lifecycle(s3: &aws_sdk_s3::Client, bucket: &str, did: &mut Vec<String>) -> Result<()> {
    let ok = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(o) => o.rules().iter().any(|r| {
            r.id() == Some(RULE_ID)
                && r.status() == &ExpirationStatus::Enabled
                && r.noncurrent_version_expiration()
                    .and_then(|n| n.noncurrent_days())
                    == Some(NONCURRENT_DAYS)
        }),
        Err(err) if absent(code_of(&err)) => false,
        Err(err) => {
            return Err(Error::aws(
                bucket,
                "s3:GetBucketLifecycleConfiguration",
                err,
            ))
        }
    };
    if ok {
        return Ok(());
    }
    let rule = LifecycleRule::builder()
        .id(RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(NONCURRENT_DAYS)
                .build(),
        )
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(7)
                .build(),
        )
        .build()
        .map_err(internal)?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(internal)?,
        )
        .send()
        .await
        .map_err(|err| Error::aws(bucket, "s3:PutBucketLifecycleConfiguration", err))?;
    did.push(format!(
        "lifecycle: replaced state versions expire after {NONCURRENT_DAYS} days"
    ));
    Ok(())
}

async fn tags(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    wanted: &Tags,
    did: &mut Vec<String>,
) -> Result<()> {
    let current: Tags = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(o) => o
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(err) if absent(code_of(&err)) => Tags::new(),
        Err(err) => return Err(Error::aws(bucket, "s3:GetBucketTagging", err)),
    };
    // Tags someone else put on the bucket stay.
    let mut all = current.clone();
    all.extend(wanted.iter().map(|(k, v)| (k.clone(), v.clone())));
    let delta = TagDelta::between(&current, &all);
    if delta.is_empty() {
        return Ok(());
    }
    crate::aws_tags::S3BucketTags(s3)
        .write(bucket, &delta)
        .await?;
    did.push(String::from("tagged"));
    Ok(())
}

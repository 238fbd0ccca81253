//! Carries out one step: create the bucket and write its settings, rewrite the settings that differ, or
//! empty (when asked) and delete it. The bucket is recorded as soon as it exists, so a run killed before
//! its settings are written loses nothing: the next `up` finds it and writes them.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLoggingStatus,
    BucketVersioningStatus, DefaultRetention, Delete, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter, LoggingEnabled, NoncurrentVersionExpiration,
    ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
    ObjectLockRule, ObjectOwnership, OwnershipControls, OwnershipControlsRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Transition,
    TransitionStorageClass, VersioningConfiguration,
};
use hms_core::apply::Recorder;
use hms_core::aws_tags::S3BucketTags;
use hms_core::contract::Ctx;
use hms_core::diff::change_tags;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{Encryption, Logging, Spec, RULE_ID};
use crate::Clients;

const BUCKET: Addr = Addr::Bucket;

/// Settings in the order they are written on create.
const SETTINGS: &[&str] = &[
    "ownership",
    "public_access_block",
    "versioning",
    "object_lock",
    "encryption",
    "policy",
    "lifecycle",
    "logging",
];

fn err<E>(name: &str, op: &str, e: E) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::aws(format!("{BUCKET} {name}"), op, e)
}

/// The bucket a step works on: the new one for create/update, the old one for a delete (a replace deletes
/// the recorded bucket, not the new name).
fn bucket_name(change: &Change, step: Step) -> Result<String> {
    let (first, second) = if step == Step::Delete {
        (&change.before, &change.after)
    } else {
        (&change.after, &change.before)
    };
    first
        .as_ref()
        .or(second.as_ref())
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Internal(format!("{}: no bucket name", change.address)))
}

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    _ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    match step {
        Step::Create => create(c, rec, spec, change, task).await.map(Some),
        Step::Update => {
            let name = bucket_name(change, step)?;
            let changed: Vec<&str> = SETTINGS
                .iter()
                .copied()
                .chain(["tags"])
                .filter(|k| {
                    change.before.as_ref().and_then(|v| v.get(*k))
                        != change.after.as_ref().and_then(|v| v.get(*k))
                })
                .collect();
            write_settings(c, spec, &name, change, &changed, task).await?;
            Ok(Some(record(&name, spec)))
        }
        Step::Delete => {
            let name = bucket_name(change, step)?;
            delete(c, spec, &name, task).await.map(|()| None)
        }
    }
}

fn record(name: &str, spec: &Spec) -> Resource {
    Resource::new(name)
        .with("arn", format!("arn:aws:s3:::{name}"))
        .with("region", spec.region.clone())
}

async fn create(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let name = bucket_name(change, Step::Create)?;
    let tags = change_tags(change.after.as_ref());
    let created = hms_core::s3::create_bucket(
        &c.s3,
        &format!("{BUCKET} {name}"),
        &name,
        &spec.region,
        &tags,
        task,
    )
    .await?;
    if created == hms_core::s3::Created::Taken {
        return Err(Error::Refused(format!(
            "{BUCKET} {name}: the name is taken by another AWS account (bucket names are global); set backup.append_account_id = true or choose another backup.bucket"
        )));
    }
    rec.record(&BUCKET.to_string(), Some(record(&name, spec)))
        .await?;
    let mut all: Vec<&str> = SETTINGS.to_vec();
    all.push("tags");
    write_settings(c, spec, &name, change, &all, task).await?;
    Ok(record(&name, spec))
}

/// Writes the settings in `keys`, one call each, in order (S3 refuses concurrent changes to one bucket's
/// configuration).
async fn write_settings(
    c: &Clients,
    spec: &Spec,
    name: &str,
    change: &Change,
    keys: &[&str],
    task: &Task<'_>,
) -> Result<()> {
    let s3 = &c.s3;
    for key in keys {
        task.status(&format!("writing {}", key.replace('_', " ")), false);
        match *key {
            "ownership" => {
                let controls = OwnershipControls::builder()
                    .rules(
                        OwnershipControlsRule::builder()
                            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                            .build()
                            .map_err(|e| Error::Internal(e.to_string()))?,
                    )
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?;
                s3.put_bucket_ownership_controls()
                    .bucket(name)
                    .ownership_controls(controls)
                    .send()
                    .await
                    .map_err(|e| err(name, "s3:PutBucketOwnershipControls", e))?;
            }
            "public_access_block" => {
                s3.put_public_access_block()
                    .bucket(name)
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
                    .map_err(|e| err(name, "s3:PutPublicAccessBlock", e))?;
            }
            "versioning" => {
                s3.put_bucket_versioning()
                    .bucket(name)
                    .versioning_configuration(
                        VersioningConfiguration::builder()
                            .status(BucketVersioningStatus::Enabled)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| err(name, "s3:PutBucketVersioning", e))?;
            }
            "object_lock" => put_object_lock(s3, spec, name, change).await?,
            "encryption" => put_encryption(s3, spec, name).await?,
            "policy" => {
                s3.put_bucket_policy()
                    .bucket(name)
                    .policy(spec.policy(name).to_string())
                    .send()
                    .await
                    .map_err(|e| err(name, "s3:PutBucketPolicy", e))?;
            }
            "lifecycle" => put_lifecycle(s3, spec, name).await?,
            "logging" => put_logging(s3, spec, name, change).await?,
            "tags" => {
                hms_core::tags::sync(&S3BucketTags(s3), name, change).await?;
            }
            other => {
                return Err(Error::Internal(format!(
                    "{BUCKET}: unknown setting {other}"
                )))
            }
        }
    }
    Ok(())
}

/// Object Lock with the default retention (after versioning, which it needs). With no retention wanted:
/// nothing on a bucket without Object Lock, else the default retention removed (S3 keeps Object Lock on).
async fn put_object_lock(
    s3: &aws_sdk_s3::Client,
    spec: &Spec,
    name: &str,
    change: &Change,
) -> Result<()> {
    let rule = spec.object_lock.as_ref().map(|l| {
        let mode = if l.mode == "COMPLIANCE" {
            ObjectLockRetentionMode::Compliance
        } else {
            ObjectLockRetentionMode::Governance
        };
        ObjectLockRule::builder()
            .default_retention(DefaultRetention::builder().mode(mode).days(l.days).build())
            .build()
    });
    let had = change
        .before
        .as_ref()
        .and_then(|b| b.get("object_lock"))
        .is_some_and(|v| !v.is_null());
    if rule.is_none() && !had {
        return Ok(());
    }
    s3.put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .set_rule(rule)
                .build(),
        )
        .send()
        .await
        .map_err(|e| err(name, "s3:PutObjectLockConfiguration", e))?;
    Ok(())
}

/// Default encryption: SSE-KMS with the key and a bucket key, or SSE-S3.
async fn put_encryption(s3: &aws_sdk_s3::Client, spec: &Spec, name: &str) -> Result<()> {
    let default = match &spec.encryption {
        Encryption::Aes256 => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
        }
        Encryption::Kms(key) => ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .set_kms_master_key_id(key.clone()),
    }
    .build()
    .map_err(|e| Error::Internal(e.to_string()))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(matches!(spec.encryption, Encryption::Kms(_)))
        .build();
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| err(name, "s3:PutBucketEncryption", e))?;
    Ok(())
}

/// Server access logging to the log bucket under `s3/<bucket>/`, or off. Off on a new bucket that has
/// none is no call.
async fn put_logging(
    s3: &aws_sdk_s3::Client,
    spec: &Spec,
    name: &str,
    change: &Change,
) -> Result<()> {
    let enabled = match &spec.logging {
        Logging::To(target) => Some(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(Spec::log_prefix(name))
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        ),
        Logging::Unknown => {
            return Err(Error::Internal(format!(
                "{BUCKET} {name}: the log bucket is not known yet"
            )))
        }
        Logging::Off => None,
    };
    let had = change
        .before
        .as_ref()
        .and_then(|b| b.get("logging"))
        .is_some_and(|v| !v.is_null());
    if enabled.is_none() && !had {
        return Ok(());
    }
    s3.put_bucket_logging()
        .bucket(name)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .set_logging_enabled(enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| err(name, "s3:PutBucketLogging", e))?;
    Ok(())
}

/// The lifecycle rule (or none).
async fn put_lifecycle(s3: &aws_sdk_s3::Client, spec: &Spec, name: &str) -> Result<()> {
    match &spec.lifecycle {
        None => {
            s3.delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .map_err(|e| err(name, "s3:DeleteBucketLifecycle", e))?;
        }
        Some(l) => {
            let mut rule = LifecycleRule::builder()
                .id(RULE_ID)
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix(&l.prefix).build());
            for t in &l.transitions {
                rule = rule.transitions(
                    Transition::builder()
                        .days(t.days)
                        .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                        .build(),
                );
            }
            if let Some(d) = l.expiration_days {
                rule = rule.expiration(LifecycleExpiration::builder().days(d).build());
            }
            if let Some(d) = l.noncurrent_expiration_days {
                rule = rule.noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(d)
                        .build(),
                );
            }
            if let Some(d) = l.abort_incomplete_multipart_days {
                rule = rule.abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(d)
                        .build(),
                );
            }
            let cfg = BucketLifecycleConfiguration::builder()
                .rules(rule.build().map_err(|e| Error::Internal(e.to_string()))?)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?;
            s3.put_bucket_lifecycle_configuration()
                .bucket(name)
                .lifecycle_configuration(cfg)
                .send()
                .await
                .map_err(|e| err(name, "s3:PutBucketLifecycleConfiguration", e))?;
        }
    }
    Ok(())
}

/// Deletes the bucket; with `force_empty`, every object version and delete marker first (1000 per call).
async fn delete(c: &Clients, spec: &Spec, name: &str, task: &Task<'_>) -> Result<()> {
    let s3 = &c.s3;
    if spec.force_empty {
        let mut removed = 0usize;
        let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
        loop {
            let page = match s3
                .list_object_versions()
                .bucket(name)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(()),
                Err(e) => return Err(err(name, "s3:ListObjectVersions", e)),
            };
            let mut ids: Vec<ObjectIdentifier> = Vec::new();
            for v in page.versions() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(v.key().unwrap_or_default())
                        .set_version_id(v.version_id().map(str::to_owned))
                        .build()
                        .map_err(|e| Error::Internal(e.to_string()))?,
                );
            }
            for m in page.delete_markers() {
                ids.push(
                    ObjectIdentifier::builder()
                        .key(m.key().unwrap_or_default())
                        .set_version_id(m.version_id().map(str::to_owned))
                        .build()
                        .map_err(|e| Error::Internal(e.to_string()))?,
                );
            }
            if !ids.is_empty() {
                let n = ids.len();
                let out = s3
                    .delete_objects()
                    .bucket(name)
                    // Versions under Object Lock's governance retention (the caller needs
                    // s3:BypassGovernanceRetention; `down` said so before it started).
                    .bypass_governance_retention(true)
                    .delete(
                        Delete::builder()
                            .set_objects(Some(ids))
                            .quiet(true)
                            .build()
                            .map_err(|e| Error::Internal(e.to_string()))?,
                    )
                    .send()
                    .await
                    .map_err(|e| err(name, "s3:DeleteObjects", e))?;
                if let Some(first) = out.errors().first() {
                    return Err(Error::Aws {
                        resource: format!(
                            "{BUCKET} {name} object {}",
                            first.key().unwrap_or_default()
                        ),
                        operation: "s3:DeleteObjects".into(),
                        code: first.code().unwrap_or("Unknown").to_owned(),
                        message: format!(
                            "{} of {n} versions not deleted: {}",
                            out.errors().len(),
                            first.message().unwrap_or_default()
                        ),
                    });
                }
                removed += n;
                task.status(&format!("emptying: {removed} versions deleted"), false);
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
        }
    }
    match s3.delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(()),
        Err(e) if code_of(&e) == Some("BucketNotEmpty") => Err(Error::Refused(format!(
            "{BUCKET} {name} is not empty (objects arrived meanwhile); nothing else was deleted. Run 'hms-backup down --force-empty' to delete every version too"
        ))),
        Err(e) => Err(err(name, "s3:DeleteBucket", e)),
    }
}

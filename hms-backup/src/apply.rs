//! Carries out one step: create a bucket (the backup bucket or its replica) and write its settings, rewrite
//! the settings that differ, or empty (when asked) and delete it; put or delete the replication
//! configuration. A bucket is recorded as soon as it exists, so a run killed before its settings are
//! written loses nothing: the next `up` finds it and writes them.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLoggingStatus,
    DefaultRetention, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, LoggingEnabled, NoncurrentVersionExpiration, ObjectIdentifier,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    Transition, TransitionStorageClass,
};
use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration,
    ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    SourceSelectionCriteria, SseKmsEncryptedObjects, SseKmsEncryptedObjectsStatus,
};
use hms_core::addr::Address;
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
use crate::spec::{Encryption, Logging, Spec, REPLICATION_RULE_ID, RULE_ID};
use crate::Clients;

/// The bucket a step works on: which one, through which client, and the settings that differ between the
/// backup bucket and its replica.
struct Target {
    addr: Addr,
    s3: aws_sdk_s3::Client,
    region: String,
    encryption: Encryption,
    logging: Logging,
}

impl Target {
    /// The backup bucket, or the replica in its region (the plan's, else the recorded one's).
    fn of(c: &Clients, spec: &Spec, addr: Addr, change: &Change) -> Target {
        if addr != Addr::Replica {
            return Target {
                addr,
                s3: c.s3.clone(),
                region: spec.region.clone(),
                encryption: spec.encryption.clone(),
                logging: spec.logging.clone(),
            };
        }
        let region = [&change.after, &change.before]
            .into_iter()
            .flatten()
            .find_map(|v| v.get("region").and_then(Value::as_str).map(str::to_owned))
            .or_else(|| spec.replica.as_ref().map(|r| r.region.clone()))
            .unwrap_or_else(|| spec.region.clone());
        Target {
            addr,
            s3: c.s3_in(&region),
            region,
            encryption: spec
                .replica
                .as_ref()
                .map_or(Encryption::Aes256, |r| r.encryption.clone()),
            // S3 delivers access logs only to a bucket in the same region: the replica logs nowhere.
            logging: Logging::Off,
        }
    }
}

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

fn err<E>(t: &Target, name: &str, op: &str, e: E) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::aws(format!("{} {name}", t.addr), op, e)
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
    let addr = Addr::parse(&change.address)
        .ok_or_else(|| Error::Internal(format!("{}: unknown address", change.address)))?;
    if addr == Addr::Replication {
        return replication(c, spec, change, step).await;
    }
    let t = &Target::of(c, spec, addr, change);
    match step {
        Step::Create => create(t, rec, spec, change, task).await.map(Some),
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
            write_settings(t, spec, &name, change, &changed, task).await?;
            Ok(Some(record(&name, &t.region)))
        }
        Step::Delete => {
            let name = bucket_name(change, step)?;
            delete(t, spec, &name, task).await.map(|()| None)
        }
    }
}

fn record(name: &str, region: &str) -> Resource {
    Resource::new(name)
        .with("arn", format!("arn:aws:s3:::{name}"))
        .with("region", region)
}

async fn create(
    t: &Target,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let name = bucket_name(change, Step::Create)?;
    let tags = change_tags(change.after.as_ref());
    let created = hms_core::s3::create_bucket(
        &t.s3,
        &format!("{} {name}", t.addr),
        &name,
        &t.region,
        &tags,
        task,
    )
    .await?;
    if created == hms_core::s3::Created::Taken {
        return Err(Error::Refused(format!(
            "{} {name}: the name is taken by another AWS account (bucket names are global); set backup.append_account_id = true or choose another backup.bucket",
            t.addr
        )));
    }
    rec.record(&t.addr.to_string(), Some(record(&name, &t.region)))
        .await?;
    let mut all: Vec<&str> = SETTINGS.to_vec();
    all.push("tags");
    write_settings(t, spec, &name, change, &all, task).await?;
    Ok(record(&name, &t.region))
}

/// Writes the settings in `keys`, one call each, in order (S3 refuses concurrent changes to one bucket's
/// configuration).
async fn write_settings(
    t: &Target,
    spec: &Spec,
    name: &str,
    change: &Change,
    keys: &[&str],
    task: &Task<'_>,
) -> Result<()> {
    let s3 = &t.s3;
    let resource = format!("{} {name}", t.addr);
    for key in keys {
        task.status(&format!("writing {}", key.replace('_', " ")), false);
        match *key {
            "ownership" => hms_core::s3::put_ownership(s3, &resource, name).await?,
            "public_access_block" => {
                hms_core::s3::put_public_access_block(s3, &resource, name).await?
            }
            "versioning" => hms_core::s3::put_versioning(s3, &resource, name).await?,
            "object_lock" => put_object_lock(t, spec, name, change).await?,
            "encryption" => {
                hms_core::s3::put_encryption(s3, &resource, name, &t.encryption).await?
            }
            "policy" => {
                s3.put_bucket_policy()
                    .bucket(name)
                    .policy(spec.policy(name).to_string())
                    .send()
                    .await
                    .map_err(|e| err(t, name, "s3:PutBucketPolicy", e))?;
            }
            "lifecycle" => put_lifecycle(t, spec, name).await?,
            "logging" => put_logging(t, name, change).await?,
            "tags" => {
                hms_core::tags::sync(&S3BucketTags(s3), name, change).await?;
            }
            other => {
                return Err(Error::Internal(format!(
                    "{}: unknown setting {other}",
                    t.addr
                )))
            }
        }
    }
    Ok(())
}

/// Object Lock with the default retention (after versioning, which it needs). With no retention wanted:
/// nothing on a bucket without Object Lock, else the default retention removed (S3 keeps Object Lock on).
async fn put_object_lock(t: &Target, spec: &Spec, name: &str, change: &Change) -> Result<()> {
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
    t.s3.put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .set_rule(rule)
                .build(),
        )
        .send()
        .await
        .map_err(|e| err(t, name, "s3:PutObjectLockConfiguration", e))?;
    Ok(())
}

/// Default encryption: SSE-KMS with the key and a bucket key, or SSE-S3.
/// Server access logging to the log bucket under `s3/<bucket>/`, or off. Off on a new bucket that has
/// none is no call.
async fn put_logging(t: &Target, name: &str, change: &Change) -> Result<()> {
    let enabled = match &t.logging {
        Logging::To(target) => Some(
            LoggingEnabled::builder()
                .target_bucket(target)
                .target_prefix(Spec::log_prefix(name))
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        ),
        Logging::Unknown => {
            return Err(Error::Internal(format!(
                "{} {name}: the log bucket is not known yet",
                t.addr
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
    t.s3.put_bucket_logging()
        .bucket(name)
        .bucket_logging_status(
            BucketLoggingStatus::builder()
                .set_logging_enabled(enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| err(t, name, "s3:PutBucketLogging", e))?;
    Ok(())
}

/// The lifecycle rule (or none).
async fn put_lifecycle(t: &Target, spec: &Spec, name: &str) -> Result<()> {
    let s3 = &t.s3;
    match &spec.lifecycle {
        None => {
            s3.delete_bucket_lifecycle()
                .bucket(name)
                .send()
                .await
                .map_err(|e| err(t, name, "s3:DeleteBucketLifecycle", e))?;
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
                .map_err(|e| err(t, name, "s3:PutBucketLifecycleConfiguration", e))?;
        }
    }
    Ok(())
}

/// Deletes the bucket; with `force_empty`, every object version and delete marker first (1000 per call).
async fn delete(t: &Target, spec: &Spec, name: &str, task: &Task<'_>) -> Result<()> {
    let s3 = &t.s3;
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
                Err(e) => return Err(err(t, name, "s3:ListObjectVersions", e)),
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
                    .map_err(|e| err(t, name, "s3:DeleteObjects", e))?;
                if let Some(first) = out.errors().first() {
                    return Err(Error::Aws {
                        resource: format!(
                            "{} {name} object {}",
                            t.addr,
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
            "{} {name} is not empty (objects arrived meanwhile); nothing else was deleted. Run 'hms-backup down --force-empty' to delete every version too",
            t.addr
        ))),
        Err(e) => Err(err(t, name, "s3:DeleteBucket", e)),
    }
}

/// The replication configuration of the backup bucket: one rule for every object version and delete
/// marker, SSE-KMS objects included (re-encrypted with the replica key), through the replication role.
async fn replication(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let t = &Target::of(c, spec, Addr::Replication, change);
    let side = if step == Step::Delete {
        &change.before
    } else {
        &change.after
    };
    let name = side
        .as_ref()
        .and_then(|v| v.get("bucket"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::Internal(format!("{}: no bucket name", change.address)))?;
    if step == Step::Delete {
        return match c.s3.delete_bucket_replication().bucket(&name).send().await {
            Ok(_) => Ok(None),
            Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(err(t, &name, "s3:DeleteBucketReplication", e)),
        };
    }
    let internal = |e: aws_sdk_s3::error::BuildError| Error::Internal(e.to_string());
    let replica = spec
        .replica
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("{}: no replica in the spec", change.address)))?;
    let role = replica
        .role_arn
        .clone()
        .ok_or_else(|| Error::Internal(format!("{}: the role is not known yet", change.address)))?;
    let mut destination =
        Destination::builder().bucket(format!("arn:aws:s3:::{}", Spec::replica_name(&name)));
    let mut rule = ReplicationRule::builder()
        .id(REPLICATION_RULE_ID)
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder()
                .status(DeleteMarkerReplicationStatus::Enabled)
                .build(),
        );
    if let Encryption::Kms(key) = &replica.encryption {
        let key = key.clone().ok_or_else(|| {
            Error::Internal(format!(
                "{}: the replica key is not known yet",
                change.address
            ))
        })?;
        destination = destination.encryption_configuration(
            EncryptionConfiguration::builder()
                .replica_kms_key_id(key)
                .build(),
        );
        rule = rule.source_selection_criteria(
            SourceSelectionCriteria::builder()
                .sse_kms_encrypted_objects(
                    SseKmsEncryptedObjects::builder()
                        .status(SseKmsEncryptedObjectsStatus::Enabled)
                        .build()
                        .map_err(internal)?,
                )
                .build(),
        );
    }
    let rule = rule
        .destination(destination.build().map_err(internal)?)
        .build()
        .map_err(internal)?;
    c.s3.put_bucket_replication()
        .bucket(&name)
        .replication_configuration(
            ReplicationConfiguration::builder()
                .role(role)
                .rules(rule)
                .build()
                .map_err(internal)?,
        )
        .send()
        .await
        .map_err(|e| err(t, &name, "s3:PutBucketReplication", e))?;
    Ok(Some(
        Resource::new(&name).with("replica", Spec::replica_name(&name)),
    ))
}

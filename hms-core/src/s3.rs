//! What the tools that own an S3 bucket (hms-backup, hms-edge, hms-ecs's log bucket) do the same way.

use serde_json::{json, Value};

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

/// Codes that mean "this setting is not configured" (or the bucket is not there) when a bucket's
/// setting is read.
pub const NOT_CONFIGURED: &[&str] = &[
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy",
    "ObjectLockConfigurationNotFoundError",
    "ReplicationConfigurationNotFoundError",
    "NoSuchBucket",
];

/// A setting's read: `None` when it is not configured ([`NOT_CONFIGURED`]); another error names
/// `resource` and `op`.
pub fn optional<T, E>(r: std::result::Result<T, E>, resource: &str, op: &str) -> Result<Option<T>>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match code_of(&e) {
            Some(c) if NOT_CONFIGURED.contains(&c) => Ok(None),
            _ => Err(Error::aws(resource, op, e)),
        },
    }
}

/// The default encryption as plans show it: `{"algorithm": "AES256"}`, or the KMS key and whether the
/// bucket key is on; null when there is none.
pub fn encryption_value(
    cfg: Option<&aws_sdk_s3::types::ServerSideEncryptionConfiguration>,
) -> Value {
    let Some(rule) = cfg.and_then(|c| c.rules().first()) else {
        return Value::Null;
    };
    let default = rule.apply_server_side_encryption_by_default();
    let algorithm = default
        .map(|d| d.sse_algorithm().as_str().to_owned())
        .unwrap_or_default();
    if algorithm == "AES256" {
        return json!({"algorithm": "AES256"});
    }
    json!({
        "algorithm": algorithm,
        "kms_key": default.and_then(|d| d.kms_master_key_id()).unwrap_or_default(),
        "bucket_key": rule.bucket_key_enabled().unwrap_or(false),
    })
}

/// A bucket's default encryption: SSE-S3, or SSE-KMS with a key (the bucket key on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sse {
    Aes256,
    /// The key's ARN; `None` while it is only planned upstream (hms-security's key).
    Kms(Option<String>),
}

impl Sse {
    /// The shape [`encryption_value`] reads back.
    pub fn value(&self) -> Value {
        match self {
            Sse::Aes256 => json!({"algorithm": "AES256"}),
            Sse::Kms(key) => json!({
                "algorithm": "aws:kms",
                "kms_key": key.clone().unwrap_or_else(|| "(known after hms-security up)".into()),
                "bucket_key": true,
            }),
        }
    }
}

/// Whether the bucket exists (HeadBucket): `Ok(false)` when not; `Err(conflict)` when another account owns
/// the name (`fix` says what to change, e.g. "choose another edge.bucket").
pub async fn exists(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    fix: &str,
) -> Result<std::result::Result<bool, String>> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(Ok(true)),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match (code_of(&e), status) {
                (Some("NotFound" | "NoSuchBucket"), _) | (_, Some(404)) => Ok(Ok(false)),
                (_, Some(403)) => Ok(Err(format!(
                    "{resource} exists but is not accessible (another AWS account owns the name); {fix}"
                ))),
                _ => Err(Error::aws(resource, "s3:HeadBucket", e)),
            }
        }
    }
}

/// What a bucket's baseline reads back as: the settings every bucket of the stack has.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    pub tags: Vec<(String, String)>,
    /// The object ownership rule (`BucketOwnerEnforced`: ACLs off), null when none.
    pub ownership: Value,
    /// The four public-access-block switches, null when none.
    pub public_access_block: Value,
    /// `Enabled`, `Suspended` or `Disabled` (never enabled).
    pub versioning: String,
    /// As [`encryption_value`].
    pub encryption: Value,
    /// The bucket policy as stored, when there is one.
    pub policy: Option<String>,
}

/// Reads the bucket's baseline in one concurrent round (tags, ownership, public-access block, versioning,
/// encryption, policy); `resource` names the bucket in an error.
pub async fn read_baseline(s3: &aws_sdk_s3::Client, resource: &str, n: &str) -> Result<Baseline> {
    let r = resource;
    let (tags, ownership, pab, versioning, enc, policy) = tokio::join!(
        async {
            optional(
                s3.get_bucket_tagging().bucket(n).send().await,
                r,
                "s3:GetBucketTagging",
            )
        },
        async {
            optional(
                s3.get_bucket_ownership_controls().bucket(n).send().await,
                r,
                "s3:GetBucketOwnershipControls",
            )
        },
        async {
            optional(
                s3.get_public_access_block().bucket(n).send().await,
                r,
                "s3:GetPublicAccessBlock",
            )
        },
        async {
            optional(
                s3.get_bucket_versioning().bucket(n).send().await,
                r,
                "s3:GetBucketVersioning",
            )
        },
        async {
            optional(
                s3.get_bucket_encryption().bucket(n).send().await,
                r,
                "s3:GetBucketEncryption",
            )
        },
        async {
            optional(
                s3.get_bucket_policy().bucket(n).send().await,
                r,
                "s3:GetBucketPolicy",
            )
        },
    );
    Ok(Baseline {
        tags: tags?
            .map(|t| {
                t.tag_set()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect()
            })
            .unwrap_or_default(),
        ownership: ownership?
            .and_then(|o| {
                o.ownership_controls()
                    .and_then(|c| c.rules().first())
                    .map(|r| r.object_ownership().as_str().to_owned())
            })
            .map(Value::from)
            .unwrap_or(Value::Null),
        public_access_block: pab?
            .and_then(|p| p.public_access_block_configuration().cloned())
            .map(|p| {
                json!({
                    "block_public_acls": p.block_public_acls().unwrap_or(false),
                    "ignore_public_acls": p.ignore_public_acls().unwrap_or(false),
                    "block_public_policy": p.block_public_policy().unwrap_or(false),
                    "restrict_public_buckets": p.restrict_public_buckets().unwrap_or(false),
                })
            })
            .unwrap_or(Value::Null),
        versioning: versioning?
            .and_then(|v| v.status().map(|s| s.as_str().to_owned()))
            .unwrap_or_else(|| "Disabled".into()),
        encryption: encryption_value(
            enc?.as_ref()
                .and_then(|e| e.server_side_encryption_configuration()),
        ),
        policy: policy?.and_then(|p| p.policy().map(str::to_owned)),
    })
}

impl Baseline {
    /// The baseline's attributes on a found bucket (the tags included; the policy is the caller's).
    pub fn attrs(&self, found: crate::diff::Found) -> crate::diff::Found {
        found
            .attr("ownership", self.ownership.clone())
            .attr("public_access_block", self.public_access_block.clone())
            .attr("versioning", self.versioning.clone())
            .attr("encryption", self.encryption.clone())
            .tags(self.tags.clone())
    }

    /// The baseline every bucket of the stack should have, as [`Baseline::attrs`] shows it.
    pub fn desired(d: crate::diff::Desired, sse: &Sse) -> crate::diff::Desired {
        d.attr("ownership", "BucketOwnerEnforced")
            .attr(
                "public_access_block",
                json!({
                    "block_public_acls": true,
                    "ignore_public_acls": true,
                    "block_public_policy": true,
                    "restrict_public_buckets": true,
                }),
            )
            .attr("versioning", "Enabled")
            .attr("encryption", sse.value())
    }
}

fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Internal(e.to_string()))
}

/// Ownership `BucketOwnerEnforced`: ACLs off, the bucket owner owns every object. `resource` names the
/// bucket in an error.
pub async fn put_ownership(s3: &aws_sdk_s3::Client, resource: &str, name: &str) -> Result<()> {
    use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
    s3.put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(built(
            OwnershipControls::builder()
                .rules(built(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build(),
                )?)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| Error::aws(resource, "s3:PutBucketOwnershipControls", e))?;
    Ok(())
}

/// All four public-access blocks on.
pub async fn put_public_access_block(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
) -> Result<()> {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
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
        .map_err(|e| Error::aws(resource, "s3:PutPublicAccessBlock", e))?;
    Ok(())
}

/// Versioning `Enabled` (S3 leaves MFA delete as it is).
pub async fn put_versioning(s3: &aws_sdk_s3::Client, resource: &str, name: &str) -> Result<()> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    s3.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::aws(resource, "s3:PutBucketVersioning", e))?;
    Ok(())
}

/// The default encryption (with SSE-KMS, the bucket key on).
pub async fn put_encryption(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    sse: &Sse,
) -> Result<()> {
    use aws_sdk_s3::types::{
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule,
    };
    let default = built(
        match sse {
            Sse::Aes256 => {
                ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
            }
            Sse::Kms(key) => ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .set_kms_master_key_id(key.clone()),
        }
        .build(),
    )?;
    s3.put_bucket_encryption()
        .bucket(name)
        .server_side_encryption_configuration(built(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .bucket_key_enabled(matches!(sse, Sse::Kms(_)))
                        .build(),
                )
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| Error::aws(resource, "s3:PutBucketEncryption", e))?;
    Ok(())
}

/// Writes the baseline (ownership: ACLs off; the public-access block; versioning on; the default
/// encryption), one call each in turn (S3 refuses concurrent changes to one bucket's configuration).
pub async fn write_baseline(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    sse: &Sse,
) -> Result<()> {
    put_ownership(s3, resource, name).await?;
    put_public_access_block(s3, resource, name).await?;
    put_versioning(s3, resource, name).await?;
    put_encryption(s3, resource, name, sse).await
}

/// Deletes every object version and delete marker (`bypass_governance`: also those under Object Lock's
/// governance mode), a page at a time; nothing to do when the bucket is gone.
pub async fn empty(
    s3: &aws_sdk_s3::Client,
    resource: &str,
    name: &str,
    bypass_governance: bool,
    task: &crate::ui::Task<'_>,
) -> Result<()> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    loop {
        let page = match s3.list_object_versions().bucket(name).send().await {
            Ok(p) => p,
            Err(e) if code_of(&e) == Some("NoSuchBucket") => return Ok(()),
            Err(e) => return Err(Error::aws(resource, "s3:ListObjectVersions", e)),
        };
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        for (key, version) in versions.chain(markers) {
            ids.push(built(
                ObjectIdentifier::builder()
                    .key(key.unwrap_or_default())
                    .set_version_id(version.map(str::to_owned))
                    .build(),
            )?);
        }
        if ids.is_empty() {
            return Ok(());
        }
        task.status(&format!("emptying: {} versions", ids.len()), false);
        let n = ids.len();
        let mut call = s3.delete_objects().bucket(name).delete(built(
            Delete::builder().set_objects(Some(ids)).quiet(true).build(),
        )?);
        if bypass_governance {
            call = call.bypass_governance_retention(true);
        }
        let out = call
            .send()
            .await
            .map_err(|e| Error::aws(resource, "s3:DeleteObjects", e))?;
        // A version S3 would not delete (denied, under retention) would be listed again forever.
        if let Some(first) = out.errors().first() {
            return Err(Error::Aws {
                resource: format!("{resource} object {}", first.key().unwrap_or_default()),
                operation: "s3:DeleteObjects".into(),
                code: first.code().unwrap_or("Unknown").to_owned(),
                message: format!(
                    "{} of {n} versions not deleted: {}",
                    out.errors().len(),
                    first.message().unwrap_or_default()
                ),
            });
        }
    }
}

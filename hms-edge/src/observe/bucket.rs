//! The static bucket: its settings and its policy, one call each, concurrently.

use aws_sdk_s3::types::ServerSideEncryptionConfiguration;
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use super::Part;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

const BUCKET: Addr = Addr::Bucket;

/// Codes that mean "this setting is not configured" (or the bucket is not there).
const NOT_CONFIGURED: &[&str] = &[
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "OwnershipControlsNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchBucketPolicy",
    "NoSuchBucket",
];

fn optional<T, E>(r: std::result::Result<T, E>, name: &str, op: &str) -> Result<Option<T>>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) => match code_of(&e) {
            Some(c) if NOT_CONFIGURED.contains(&c) => Ok(None),
            _ => Err(Error::aws(format!("{BUCKET} {name}"), op, e)),
        },
    }
}

fn encryption(cfg: Option<&ServerSideEncryptionConfiguration>) -> Value {
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

/// Whether the bucket exists (HeadBucket): `Ok(false)` when not, a conflict when it is not accessible.
async fn exists(c: &Clients, name: &str) -> Result<std::result::Result<bool, String>> {
    match c.s3.head_bucket().bucket(name).send().await {
        Ok(_) => Ok(Ok(true)),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match (code_of(&e), status) {
                (Some("NotFound" | "NoSuchBucket"), _) | (_, Some(404)) => Ok(Ok(false)),
                (_, Some(403)) => Ok(Err(format!(
                    "{BUCKET} {name} exists but is not accessible (another AWS account owns the name); choose another edge.bucket"
                ))),
                _ => Err(Error::aws(format!("{BUCKET} {name}"), "s3:HeadBucket", e)),
            }
        }
    }
}

/// Reads the bucket and its policy.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let name = state
        .id(&BUCKET.to_string())
        .map(str::to_owned)
        .unwrap_or_else(|| spec.bucket.clone());
    let recorded = state.id(&BUCKET.to_string()).is_some();
    let s3 = &c.s3;
    let n = name.as_str();
    let (head, tags, ownership, pab, versioning, enc, policy) = tokio::join!(
        exists(c, n),
        async {
            optional(
                s3.get_bucket_tagging().bucket(n).send().await,
                n,
                "s3:GetBucketTagging",
            )
        },
        async {
            optional(
                s3.get_bucket_ownership_controls().bucket(n).send().await,
                n,
                "s3:GetBucketOwnershipControls",
            )
        },
        async {
            optional(
                s3.get_public_access_block().bucket(n).send().await,
                n,
                "s3:GetPublicAccessBlock",
            )
        },
        async {
            optional(
                s3.get_bucket_versioning().bucket(n).send().await,
                n,
                "s3:GetBucketVersioning",
            )
        },
        async {
            optional(
                s3.get_bucket_encryption().bucket(n).send().await,
                n,
                "s3:GetBucketEncryption",
            )
        },
        async {
            optional(
                s3.get_bucket_policy().bucket(n).send().await,
                n,
                "s3:GetBucketPolicy",
            )
        },
    );
    let mut part = Part::default();
    match head? {
        Ok(true) => {}
        Ok(false) => return Ok(part),
        Err(conflict) => {
            part.conflicts.push(conflict);
            return Ok(part);
        }
    }
    let tags: Vec<(String, String)> = tags?
        .map(|t| {
            t.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let owned = spec
        .tagger
        .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .as_deref()
        == Some(BUCKET.to_string().as_str());
    let policy = policy?.and_then(|p| p.policy().map(str::to_owned));
    if !recorded && !owned {
        part.conflicts.push(format!(
            "{BUCKET} {name} already exists and hms-edge did not make it; choose another edge.bucket, or tag it hms:stack={}, hms:env={}, hms:tool=hms-edge, hms:address={BUCKET} to adopt it",
            spec.tagger.id.stack, spec.tagger.id.env
        ));
        return Ok(part);
    }
    let found = Found::new(&name)
        .attr("name", name.clone())
        .attr(
            "ownership",
            ownership?
                .and_then(|o| {
                    o.ownership_controls()
                        .and_then(|c| c.rules().first())
                        .map(|r| r.object_ownership().as_str().to_owned())
                })
                .map(Value::from)
                .unwrap_or(Value::Null),
        )
        .attr(
            "public_access_block",
            pab?.and_then(|p| p.public_access_block_configuration().cloned())
                .map(|p| {
                    json!({
                        "block_public_acls": p.block_public_acls().unwrap_or(false),
                        "ignore_public_acls": p.ignore_public_acls().unwrap_or(false),
                        "block_public_policy": p.block_public_policy().unwrap_or(false),
                        "restrict_public_buckets": p.restrict_public_buckets().unwrap_or(false),
                    })
                })
                .unwrap_or(Value::Null),
        )
        .attr(
            "versioning",
            versioning?
                .and_then(|v| v.status().map(|s| s.as_str().to_owned()))
                .unwrap_or_else(|| "Disabled".into()),
        )
        .attr(
            "encryption",
            encryption(
                enc?.as_ref()
                    .and_then(|e| e.server_side_encryption_configuration()),
            ),
        )
        .tags(tags)
        .info("arn", format!("arn:aws:s3:::{name}"));
    part.found.insert(BUCKET.to_string(), found);
    if let Some(p) = policy {
        part.found.insert(
            Addr::BucketPolicy.to_string(),
            Found::new(&name)
                .attr("bucket", name.clone())
                .attr("policy", normalize(&Value::from(p)))
                .uses([BUCKET.to_string(), Addr::Distribution.to_string()]),
        );
    }
    Ok(part)
}

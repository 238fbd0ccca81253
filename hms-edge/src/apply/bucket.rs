//! The static bucket: created with ACLs off, then its settings; its policy (once the distribution exists);
//! deleted (emptied first with `--force-empty`).

use hms_core::apply::Recorder;
use hms_core::aws_tags::S3BucketTags;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use super::before_str;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

const BUCKET: Addr = Addr::Bucket;

fn err<E>(name: &str, op: &str, e: E) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::aws(format!("{BUCKET} {name}"), op, e)
}

fn record(name: &str) -> Resource {
    Resource::new(name).with("arn", format!("arn:aws:s3:::{name}"))
}

/// Runs one step of the bucket.
pub async fn apply(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    match step {
        Step::Create => {
            let name = spec.bucket.clone();
            let created = hms_core::s3::create_bucket(
                &c.s3,
                &format!("{BUCKET} {name}"),
                &name,
                &spec.region,
                &hms_core::diff::change_tags(change.after.as_ref()),
                task,
            )
            .await?;
            if created == hms_core::s3::Created::Taken {
                return Err(Error::Refused(format!(
                    "{BUCKET} {name}: the name is taken by another AWS account; choose another edge.bucket"
                )));
            }
            rec.record(&BUCKET.to_string(), Some(record(&name))).await?;
            settings(c, spec, &name, change, task).await?;
            Ok(Some(record(&name)))
        }
        Step::Update => {
            settings(c, spec, &spec.bucket, change, task).await?;
            Ok(Some(record(&spec.bucket)))
        }
        Step::Delete => {
            let name = before_str(change, "name").unwrap_or_else(|| spec.bucket.clone());
            delete(c, spec, &name, task).await.map(|()| None)
        }
    }
}

/// Writes the settings when new or when one differs (each call is idempotent), then the tags: a change of
/// tags alone (a bucket taken over from Terraform) writes only the tags.
async fn settings(
    c: &Clients,
    spec: &Spec,
    name: &str,
    change: &Change,
    task: &Task<'_>,
) -> Result<()> {
    let baseline = [
        "ownership",
        "public_access_block",
        "versioning",
        "encryption",
    ];
    if change.before.is_none() || baseline.iter().any(|k| change.changed(k)) {
        task.status(
            "writing ownership, public-access block, versioning, encryption",
            false,
        );
        hms_core::s3::write_baseline(&c.s3, &format!("{BUCKET} {name}"), name, &spec.encryption)
            .await?;
    }
    hms_core::tags::sync(&S3BucketTags(&c.s3), name, change).await?;
    Ok(())
}

/// The bucket policy: only the distribution (its ARN from state) may read.
pub async fn policy(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let name = before_str(change, "bucket").unwrap_or_else(|| spec.bucket.clone());
    match step {
        Step::Create | Step::Update => {
            let dist = rec
                .resource(&Addr::Distribution.to_string())
                .and_then(|r| r.attr("arn").map(str::to_owned))
                .ok_or_else(|| {
                    Error::Internal("edge.distribution has no recorded ARN (plan order)".into())
                })?;
            let doc = crate::plan::bucket_policy(&spec.bucket, &dist);
            c.s3.put_bucket_policy()
                .bucket(&spec.bucket)
                .policy(doc.to_string())
                .send()
                .await
                .map_err(|e| err(&spec.bucket, "s3:PutBucketPolicy", e))?;
            Ok(Some(Resource::new(spec.bucket.clone())))
        }
        Step::Delete => match c.s3.delete_bucket_policy().bucket(&name).send().await {
            Ok(_) => Ok(None),
            Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(None),
            Err(e) => Err(err(&name, "s3:DeleteBucketPolicy", e)),
        },
    }
}

/// Deletes the bucket; with `--force-empty`, every object version and delete marker first.
async fn delete(c: &Clients, spec: &Spec, name: &str, task: &Task<'_>) -> Result<()> {
    let s3 = &c.s3;
    if spec.force_empty {
        hms_core::s3::empty(s3, &format!("{BUCKET} {name}"), name, false, task).await?;
    }
    match s3.delete_bucket().bucket(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("NoSuchBucket") => Ok(()),
        Err(e) if code_of(&e) == Some("BucketNotEmpty") => Err(Error::Refused(format!(
            "{BUCKET} {name} is not empty; run 'hms-edge down --force-empty' to delete its objects too"
        ))),
        Err(e) => Err(err(name, "s3:DeleteBucket", e)),
    }
}

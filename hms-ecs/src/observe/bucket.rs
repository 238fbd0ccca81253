//! The stack's log bucket: whether it is there (HeadBucket), its baseline (hms_core::s3, one concurrent
//! round) and its lifecycle, all at once.

use aws_sdk_s3::types::LifecycleRule;
use hms_core::diff::{Found, FoundSet};
use hms_core::policy::normalize;
use hms_core::s3::{self, Baseline};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// What was read of the log bucket, when it is there.
pub(super) struct Read {
    name: String,
    baseline: Baseline,
    lifecycle: Value,
}

/// The lifecycle rules in the compared form (`desired::log_bucket_lifecycle`).
fn lifecycle(rules: &[LifecycleRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                json!({
                    "id": r.id().unwrap_or_default(),
                    "enabled": r.status().as_str() == "Enabled",
                    "expiration_days": r.expiration().and_then(|e| e.days()),
                    "noncurrent_days": r
                        .noncurrent_version_expiration()
                        .and_then(|e| e.noncurrent_days()),
                    "abort_multipart_days": r
                        .abort_incomplete_multipart_upload()
                        .and_then(|a| a.days_after_initiation()),
                })
            })
            .collect(),
    )
}

pub(super) async fn fetch(c: &Clients, spec: &Spec, state: &State) -> Result<Option<Read>> {
    let a = Addr::LogBucket.to_string();
    let name = state
        .id(&a)
        .map(str::to_owned)
        .unwrap_or_else(|| spec.log_bucket.clone());
    let resource = format!("{a} {name}");
    let (head, baseline, rules) = tokio::join!(
        s3::exists(
            &c.s3,
            &resource,
            &name,
            "the log bucket's name is <stack>-logs-<env>: choose another [stack] name"
        ),
        s3::read_baseline(&c.s3, &resource, &name),
        async {
            s3::optional(
                c.s3.get_bucket_lifecycle_configuration()
                    .bucket(&name)
                    .send()
                    .await,
                &resource,
                "s3:GetBucketLifecycleConfiguration",
            )
        },
    );
    match head? {
        Ok(true) => {}
        Ok(false) => return Ok(None),
        Err(conflict) => return Err(Error::Refused(conflict)),
    }
    let rules = rules?;
    Ok(Some(Read {
        baseline: baseline?,
        lifecycle: lifecycle(rules.as_ref().map(|r| r.rules()).unwrap_or_default()),
        name,
    }))
}

/// Records the bucket when it is ours (recorded in state, or tagged as ours); a same-named bucket of
/// someone else is refused, never adopted.
pub(super) fn build(
    spec: &Spec,
    state: &State,
    read: Option<Read>,
    found: &mut FoundSet,
) -> Result<()> {
    let Some(Read {
        name,
        baseline,
        lifecycle,
    }) = read
    else {
        return Ok(());
    };
    let a = Addr::LogBucket.to_string();
    if state.id(&a).is_none() {
        super::owned(&spec.tagger, "log bucket", &name, &baseline.tags, &a)?;
    }
    let policy = baseline
        .policy
        .as_deref()
        .map(|p| normalize(&Value::from(p)))
        .unwrap_or(Value::Null);
    found.insert(
        a,
        baseline
            .attrs(Found::new(&name).attr("name", name.clone()))
            .attr("lifecycle", lifecycle)
            .attr("policy", policy)
            .info("arn", format!("arn:aws:s3:::{name}")),
    );
    Ok(())
}

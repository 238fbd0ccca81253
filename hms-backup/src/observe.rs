//! What exists: the bucket and every setting the tool manages, its replication configuration, and the
//! replica bucket in its region, read in one round of concurrent calls.

use aws_sdk_s3::types::{LifecycleRule, ReplicationConfiguration, ReplicationRule};
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::s3::optional;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use hms_core::contract::Observation;

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

const BUCKET: Addr = Addr::Bucket;
const REPLICA: Addr = Addr::Replica;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The bucket name this run manages (with the account id appended when configured).
    pub name: String,
    pub found: FoundSet,
    /// Reasons the bucket cannot be managed (owned by another account or another stack, other region).
    pub conflicts: Vec<String>,
}

impl Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }

    fn conflicts(&self) -> &[String] {
        &self.conflicts
    }
}

fn rule(r: &LifecycleRule) -> Value {
    let prefix = r
        .filter()
        .and_then(|f| f.prefix())
        .or(
            #[allow(deprecated)]
            r.prefix(),
        )
        .unwrap_or_default();
    let mut v = json!({
        "id": r.id().unwrap_or_default(),
        "enabled": r.status().as_str() == "Enabled",
        "prefix": prefix,
        "transitions": r.transitions().iter().map(|t| json!({
            "days": t.days(),
            "storage_class": t.storage_class().map(|c| c.as_str()).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "expiration_days": r.expiration().and_then(|e| e.days()),
        "noncurrent_expiration_days": r.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()),
        "abort_incomplete_multipart_days": r.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()),
    });
    // Anything the tool does not write makes the rule differ, so that a plain `up` puts it back.
    let filter_extra = r.filter().is_some_and(|f| {
        f.tag().is_some()
            || f.and().is_some()
            || f.object_size_greater_than().is_some()
            || f.object_size_less_than().is_some()
    });
    let extra = filter_extra
        || !r.noncurrent_version_transitions().is_empty()
        || r.expiration()
            .is_some_and(|e| e.date().is_some() || e.expired_object_delete_marker().is_some())
        || r.noncurrent_version_expiration()
            .is_some_and(|e| e.newer_noncurrent_versions().is_some());
    if extra {
        v["other_settings"] = Value::Bool(true);
    }
    v
}

/// A replication rule in the compared form.
fn replication_rule(r: &ReplicationRule) -> Value {
    let prefix = r
        .filter()
        .and_then(|f| f.prefix())
        .or(
            #[allow(deprecated)]
            r.prefix(),
        )
        .unwrap_or_default();
    let destination = r.destination();
    let mut v = json!({
        "id": r.id().unwrap_or_default(),
        "priority": r.priority(),
        "enabled": r.status().as_str() == "Enabled",
        "prefix": prefix,
        "delete_marker_replication": r
            .delete_marker_replication()
            .and_then(|d| d.status())
            .is_some_and(|s| s.as_str() == "Enabled"),
        "destination": destination.map(|d| d.bucket()).unwrap_or_default(),
        "sse_kms_encrypted_objects": r
            .source_selection_criteria()
            .and_then(|c| c.sse_kms_encrypted_objects())
            .is_some_and(|s| s.status().as_str() == "Enabled"),
        "replica_kms_key": destination
            .and_then(|d| d.encryption_configuration())
            .and_then(|e| e.replica_kms_key_id()),
    });
    // Anything the tool does not write makes the rule differ, so that a plain `up` puts it back.
    let extra = r
        .filter()
        .is_some_and(|f| f.tag().is_some() || f.and().is_some())
        || r.existing_object_replication().is_some()
        || destination.is_some_and(|d| {
            d.storage_class().is_some()
                || d.account().is_some()
                || d.access_control_translation().is_some()
                || d.replication_time().is_some()
                || d.metrics().is_some()
        });
    if extra {
        v["other_settings"] = Value::Bool(true);
    }
    v
}

/// The replication configuration in the compared form (`null`: none).
fn replication(cfg: Option<&ReplicationConfiguration>) -> Value {
    cfg.map(|c| {
        json!({
            "role": c.role(),
            "rules": c.rules().iter().map(replication_rule).collect::<Vec<_>>(),
        })
    })
    .unwrap_or(Value::Null)
}

/// What HeadBucket says about a name.
enum Head {
    Missing,
    /// 403: another account's bucket, or this account's without s3:ListBucket for the caller.
    Inaccessible,
    /// 301/307/400 with `x-amz-bucket-region`: the bucket lives in another region.
    OtherRegion(String),
    Here(String),
}

/// Where the bucket is, by HeadBucket (`region`: where it should be).
async fn head(s3: &aws_sdk_s3::Client, addr: Addr, want: &str, name: &str) -> Result<Head> {
    match s3.head_bucket().bucket(name).send().await {
        Ok(o) => Ok(Head::Here(o.bucket_region().unwrap_or_default().to_owned())),
        Err(e) => {
            let raw = e.raw_response();
            let status = raw.map(|r| r.status().as_u16());
            let region = raw
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned);
            match (code_of(&e), status, region) {
                (Some("NotFound" | "NoSuchBucket"), _, _) | (_, Some(404), _) => Ok(Head::Missing),
                (_, Some(301 | 307 | 400), Some(r)) if r != want => Ok(Head::OtherRegion(r)),
                (_, Some(403), _) | (Some("Forbidden" | "AccessDenied"), _, _) => {
                    Ok(Head::Inaccessible)
                }
                _ => Err(Error::aws(format!("{addr} {name}"), "s3:HeadBucket", e)),
            }
        }
    }
}

/// The bucket's settings as read back, each `None` when not configured.
struct Settings {
    tags: Vec<(String, String)>,
    ownership: Value,
    public_access_block: Value,
    versioning: String,
    encryption: Value,
    policy: Value,
    lifecycle: Value,
    object_lock: Value,
    logging: Value,
    replication: Value,
}

/// Reads every setting the tool manages, concurrently (one call each).
async fn settings(s3: &aws_sdk_s3::Client, addr: Addr, name: &str) -> Result<Settings> {
    let what = &format!("{addr} {name}");
    let (baseline, lifecycle, lock, logging, replicated) = tokio::join!(
        hms_core::s3::read_baseline(s3, what, name),
        async {
            optional(
                s3.get_bucket_lifecycle_configuration()
                    .bucket(name)
                    .send()
                    .await,
                what,
                "s3:GetBucketLifecycleConfiguration",
            )
        },
        async {
            optional(
                s3.get_object_lock_configuration().bucket(name).send().await,
                what,
                "s3:GetObjectLockConfiguration",
            )
        },
        async {
            optional(
                s3.get_bucket_logging().bucket(name).send().await,
                what,
                "s3:GetBucketLogging",
            )
        },
        async {
            optional(
                s3.get_bucket_replication().bucket(name).send().await,
                what,
                "s3:GetBucketReplication",
            )
        },
    );
    let baseline = baseline?;
    Ok(Settings {
        policy: baseline
            .policy
            .as_deref()
            .map(|p| normalize(&Value::from(p)))
            .unwrap_or(Value::Null),
        tags: baseline.tags,
        ownership: baseline.ownership,
        public_access_block: baseline.public_access_block,
        versioning: baseline.versioning,
        encryption: baseline.encryption,
        // An empty rule list is no lifecycle configuration.
        lifecycle: lifecycle?
            .filter(|l| !l.rules().is_empty())
            .map(|l| Value::Array(l.rules().iter().map(rule).collect()))
            .unwrap_or(Value::Null),
        // Object Lock enabled without a default retention keeps nothing: the same as none.
        object_lock: lock?
            .and_then(|l| {
                let retention = l.object_lock_configuration()?.rule()?.default_retention()?;
                Some(json!({
                    "mode": retention.mode()?.as_str(),
                    "days": retention.days()?,
                }))
            })
            .unwrap_or(Value::Null),
        // Grants are not written (ACLs are off; the log bucket's policy lets the logging service write):
        // any makes the setting differ, so that `up` puts back exactly target and prefix.
        logging: logging?
            .and_then(|l| l.logging_enabled().cloned())
            .map(|l| {
                let mut v = json!({
                    "target_bucket": l.target_bucket(),
                    "target_prefix": l.target_prefix(),
                });
                if !l.target_grants().is_empty() || l.target_object_key_format().is_some() {
                    v["other_settings"] = Value::Bool(true);
                }
                v
            })
            .unwrap_or(Value::Null),
        replication: replication(
            replicated?
                .as_ref()
                .and_then(|r| r.replication_configuration()),
        ),
    })
}

/// Why a bucket found by name cannot be managed, if it cannot: only a bucket this tool made (tagged with
/// its address, or recorded in state) is, since taking over someone else's bucket would rewrite its
/// lifecycle and policy, and `down` could delete it.
fn not_ours(
    spec: &Spec,
    addr: Addr,
    name: &str,
    tags: &[(String, String)],
    recorded: bool,
) -> Option<String> {
    let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if recorded || spec.tagger.owned_address(pairs()).as_deref() == Some(addr.to_string().as_str())
    {
        return None;
    }
    let owner: Vec<String> = pairs()
        .filter(|(k, _)| k.starts_with("hms:"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(if owner.is_empty() {
        format!(
            "{addr} {name} already exists in this account and hms-backup did not make it; choose another backup.bucket, or adopt it on purpose by tagging it hms:stack={}, hms:env={}, hms:tool=hms-backup, hms:address={addr}",
            spec.tagger.id.stack, spec.tagger.id.env
        )
    } else {
        format!(
            "{addr} {name} belongs to another stack or tool ({}); choose another backup.bucket",
            owner.join(", ")
        )
    })
}

/// One bucket found: the resource, reasons it cannot be managed, its replication configuration.
type Bucket = (Option<Found>, Vec<String>, Value);

/// Reads one bucket (`addr` in `region`, through `s3`); `None` when it does not exist (in this account).
/// `recorded`: state says it is ours. HeadBucket and the settings are read in one concurrent round.
async fn bucket(
    s3: &aws_sdk_s3::Client,
    spec: &Spec,
    addr: Addr,
    want_region: &str,
    name: &str,
    recorded: bool,
) -> Result<Bucket> {
    let (head, settings) =
        tokio::join!(head(s3, addr, want_region, name), settings(s3, addr, name));
    let region = match head? {
        Head::Missing => return Ok((None, vec![], Value::Null)),
        Head::Inaccessible => {
            return Ok((
                None,
                vec![format!(
                    "{addr} {name} exists but is not accessible (s3:HeadBucket: 403): another AWS account owns the name (bucket names are global; set backup.append_account_id = true or choose another backup.bucket), or the caller lacks s3:ListBucket on it"
                )],
                Value::Null,
            ))
        }
        Head::OtherRegion(r) => {
            return Ok((
                None,
                vec![format!(
                    "{addr} {name} exists in {r}, not {want_region}: S3 cannot move a bucket, and the name may be another account's; set backup.append_account_id = true or choose another backup.bucket"
                )],
                Value::Null,
            ))
        }
        Head::Here(r) => r,
    };
    let st = settings?;
    if let Some(conflict) = not_ours(spec, addr, name, &st.tags, recorded) {
        return Ok((None, vec![conflict], Value::Null));
    }
    let mut conflicts = Vec::new();
    if !region.is_empty() && region != want_region {
        conflicts.push(format!(
            "{addr} {name} is in {region}, not {want_region}; S3 cannot move a bucket — choose another backup.bucket"
        ));
    }
    let found = Found::new(name)
        .attr("name", name)
        .attr("region", region.clone())
        .attr("ownership", st.ownership)
        .attr("public_access_block", st.public_access_block)
        .attr("versioning", st.versioning)
        .attr("object_lock", st.object_lock)
        .attr("encryption", st.encryption)
        .attr("policy", st.policy)
        .attr("lifecycle", st.lifecycle)
        .attr("logging", st.logging)
        .tags(st.tags)
        .info("arn", format!("arn:aws:s3:::{name}"))
        .info("region", region);
    Ok((Some(found), conflicts, st.replication))
}

/// Reads everything hms-backup owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let account = if spec.append_account_id {
        let me = c
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?;
        Some(me.account().unwrap_or_default().to_owned())
    } else {
        None
    };
    let name = spec.bucket(account.as_deref());
    let mut observed = Observed {
        name: name.clone(),
        ..Observed::default()
    };
    // State first: the recorded bucket is the managed one; a name changed in config makes the plan replace
    // it (never orphan it). The configured name is checked too, so a bucket with that name is not taken over.
    let recorded = state.id(&BUCKET.to_string()).map(str::to_owned);
    // The replica in `backup.replica_region`, else where state recorded it (one no longer configured is
    // found, so that the plan deletes it); by its recorded name first, as the backup bucket.
    let replica_region = spec.replica.as_ref().map(|r| r.region.clone()).or_else(|| {
        state
            .resources
            .get(&REPLICA.to_string())
            .and_then(|r| r.attr("region"))
            .map(str::to_owned)
    });
    let replica_name = state
        .id(&REPLICA.to_string())
        .map_or_else(|| Spec::replica_name(&name), str::to_owned);
    let replica_recorded = state.id(&REPLICA.to_string()).is_some();
    let replica = async {
        match &replica_region {
            Some(r) => {
                let s3 = c.s3_in(r);
                bucket(&s3, spec, REPLICA, r, &replica_name, replica_recorded)
                    .await
                    .map(Some)
            }
            None => Ok(None),
        }
    };
    let (main, replica) = tokio::join!(
        bucket(
            &c.s3,
            spec,
            BUCKET,
            &spec.region,
            &name,
            recorded.as_deref() == Some(name.as_str())
        ),
        replica
    );
    let (found, mut conflicts, mut replication) = main?;
    if let Some((replica, replica_conflicts, _)) = replica? {
        conflicts.extend(replica_conflicts);
        if let Some(f) = replica {
            observed.found.insert(REPLICA.to_string(), f);
        }
    }
    if let Some(old) = recorded.filter(|id| *id != name) {
        let (old_found, old_conflicts, old_replication) =
            bucket(&c.s3, spec, BUCKET, &spec.region, &old, true).await?;
        conflicts.extend(old_conflicts);
        if let Some(f) = old_found {
            replication = old_replication;
            if found.is_some() {
                conflicts.push(format!(
                    "{BUCKET}: both the recorded bucket {old} and the configured {name} exist; keep one (move backup.bucket back to {old}, or delete {old} by hand after copying what you need)"
                ));
            }
            observed.found.insert(BUCKET.to_string(), f);
        }
    }
    if let Some(f) = found {
        observed.found.entry(BUCKET.to_string()).or_insert(f);
    }
    // The replication configuration lives on the backup bucket found.
    if let (Some(source), false) = (
        observed.found.get(&BUCKET.to_string()),
        replication.is_null(),
    ) {
        let bucket = source.id.clone();
        observed.found.insert(
            Addr::Replication.to_string(),
            Found::new(&bucket)
                .attr("bucket", bucket.clone())
                .attr("role", replication["role"].clone())
                .attr("rules", replication["rules"].clone())
                .uses([BUCKET.to_string(), REPLICA.to_string()]),
        );
    }
    observed.conflicts = conflicts;
    Ok(observed)
}

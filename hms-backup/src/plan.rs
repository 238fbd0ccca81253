//! The desired bucket and the plan against what exists. Pure.
//!
//! The bucket is one resource whose compared attributes are its settings (ownership, public-access block,
//! versioning, Object Lock, encryption, policy, lifecycle, server access logging, tags): an update
//! rewrites only the settings that differ. The replica bucket (with `backup.replica_region`) has the same
//! settings in its region (its own key and name, no access logging); the replication configuration is
//! a resource of its own that uses both buckets.

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use serde_json::{json, Value};

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{
    Encryption, Lifecycle, Logging, ObjectLock, Replica, Spec, REPLICATION_RULE_ID, RULE_ID,
};

/// The lifecycle rule in the compared form (the same shape observe reads back).
pub fn lifecycle(l: &Lifecycle) -> Value {
    json!([{
        "id": RULE_ID,
        "enabled": true,
        "prefix": l.prefix,
        "transitions": l.transitions.iter().map(|t| json!({"days": t.days, "storage_class": t.storage_class})).collect::<Vec<_>>(),
        "expiration_days": l.expiration_days,
        "noncurrent_expiration_days": l.noncurrent_expiration_days,
        "abort_incomplete_multipart_days": l.abort_incomplete_multipart_days,
    }])
}

/// The Object Lock default retention in the compared form (`null`: none).
pub fn object_lock(l: Option<&ObjectLock>) -> Value {
    l.map(|l| json!({"mode": l.mode, "days": l.days}))
        .unwrap_or(Value::Null)
}

/// Server access logging in the compared form (`null`: off), as observe reads GetBucketLogging back.
pub fn logging(l: &Logging, name: &str) -> Value {
    let target = match l {
        Logging::Off => return Value::Null,
        Logging::Unknown => "(known after hms-ecs up)",
        Logging::To(bucket) => bucket.as_str(),
    };
    json!({"target_bucket": target, "target_prefix": Spec::log_prefix(name)})
}

/// Default encryption in the compared form.
pub fn encryption(e: &Encryption) -> Value {
    e.value()
}

/// The replication rules in the compared form (the same shape observe reads back).
pub fn replication_rules(r: &Replica, replica: &str) -> Value {
    let key = match &r.encryption {
        Encryption::Kms(key) => Some(
            key.clone()
                .unwrap_or_else(|| "(known after hms-security up)".into()),
        ),
        Encryption::Aes256 => None,
    };
    json!([{
        "id": REPLICATION_RULE_ID,
        "priority": 1,
        "enabled": true,
        "prefix": "",
        "delete_marker_replication": true,
        "destination": format!("arn:aws:s3:::{replica}"),
        "sse_kms_encrypted_objects": key.is_some(),
        "replica_kms_key": key,
    }])
}

/// The buckets and the replication configuration as the spec wants them.
pub fn desired(spec: &Spec, name: &str) -> Vec<Desired> {
    let mut out = vec![bucket(
        spec,
        Addr::Bucket,
        name,
        &spec.region,
        &spec.encryption,
        logging(&spec.logging, name),
    )];
    if let Some(r) = &spec.replica {
        let replica = Spec::replica_name(name);
        out.push(bucket(
            spec,
            Addr::Replica,
            &replica,
            &r.region,
            &r.encryption,
            Value::Null,
        ));
        out.push(
            Desired::new(Addr::Replication.to_string())
                .attr("bucket", name)
                .attr(
                    "role",
                    r.role_arn
                        .clone()
                        .unwrap_or_else(|| "(known after hms-security up)".into()),
                )
                .attr("rules", replication_rules(r, &replica))
                .replace_on(&["bucket"])
                .uses([Addr::Bucket.to_string(), Addr::Replica.to_string()]),
        );
    }
    out
}

/// One bucket (the backup bucket or its replica) with every setting.
fn bucket(
    spec: &Spec,
    addr: Addr,
    name: &str,
    region: &str,
    enc: &Encryption,
    logging: Value,
) -> Desired {
    let bucket = addr.to_string();
    Desired::new(&bucket)
        .attr("name", name)
        .attr("region", region)
        .attr("ownership", "BucketOwnerEnforced")
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
        .attr("object_lock", object_lock(spec.object_lock.as_ref()))
        .attr("encryption", encryption(enc))
        .attr("policy", hms_core::policy::normalize(&spec.policy(name)))
        .attr(
            "lifecycle",
            spec.lifecycle
                .as_ref()
                .map(lifecycle)
                .unwrap_or(Value::Null),
        )
        .attr("logging", logging)
        .tags(spec.tags(&bucket, name))
        .replace_on(&["name", "region"])
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec, &observed.name), &observed.found);
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan.notes.extend(spec.notes.iter().cloned());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::config::Config;
    use hms_core::diff::Found;
    use hms_core::document::Identity;
    use hms_core::plan::Action;
    use hms_core::tags::Tagger;
    use std::collections::BTreeMap;

    fn spec(text: &str) -> Spec {
        let config = Config::from_toml(text, "hms.toml").expect("config");
        let cfg: crate::spec::BackupConfig = config.section("backup").expect("section");
        Spec {
            bucket_base: "hms-backups-production".into(),
            append_account_id: false,
            region: "us-east-1".into(),
            encryption: Encryption::Kms(Some("arn:aws:kms:us-east-1:123456789012:key/k1".into())),
            lifecycle: crate::spec::lifecycle(&config, cfg.lifecycle.as_ref()).expect("lifecycle"),
            object_lock: Some(crate::spec::ObjectLock {
                mode: "GOVERNANCE",
                days: 30,
            }),
            logging: Logging::To("hms-logs-production".into()),
            replica: None,
            notes: vec![],
            force_empty: false,
            force_empty_confirmed: false,
            production: true,
            tagger: Tagger::new(
                Identity {
                    stack: "hms".into(),
                    env: "production".into(),
                    region: "us-east-1".into(),
                },
                "hms-backup",
                BTreeMap::new(),
            ),
        }
    }

    fn found_as(spec: &Spec) -> Observed {
        let d = &desired(spec, "hms-backups-production")[0];
        let mut f = Found::new("hms-backups-production");
        f.attrs = d.attrs.clone();
        f.tags = d.tags.clone();
        Observed {
            name: "hms-backups-production".into(),
            found: [(Addr::Bucket.to_string(), f)].into_iter().collect(),
            conflicts: vec![],
        }
    }

    #[test]
    fn empty_account_creates_the_bucket() {
        let s = spec("");
        let p = plan(
            &s,
            &Observed {
                name: "hms-backups-production".into(),
                ..Observed::default()
            },
        );
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action, Action::Create);
    }

    #[test]
    fn converged_is_empty_and_lifecycle_change_is_one_update() {
        let s = spec("");
        let observed = found_as(&s);
        assert!(plan(&s, &observed).is_empty());
        let changed = spec("[backup.lifecycle]\nexpiration_days = 730");
        let p = plan(&changed, &observed);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action, Action::Update);
        assert!(
            p.changes[0].reason.contains("lifecycle"),
            "{}",
            p.changes[0].reason
        );
    }

    #[test]
    fn a_policy_allowing_plain_http_is_drift() {
        let s = spec("");
        let mut observed = found_as(&s);
        if let Some(f) = observed.found.get_mut(&Addr::Bucket.to_string()) {
            f.attrs.insert("policy".into(), Value::Null);
            f.attrs.insert("versioning".into(), "Suspended".into());
        }
        let p = plan(&s, &observed);
        assert_eq!(p.changes[0].action, Action::Update);
        assert!(p.changes[0].reason.contains("policy"));
        assert!(p.changes[0].reason.contains("versioning"));
    }

    #[test]
    fn logging_missing_or_elsewhere_is_an_update_and_off_without_a_log_bucket() {
        let s = spec("");
        let want = logging(&s.logging, "hms-backups-production");
        assert_eq!(
            want,
            json!({"target_bucket": "hms-logs-production", "target_prefix": "s3/hms-backups-production/"})
        );
        for found in [
            Value::Null,
            json!({"target_bucket": "other-logs", "target_prefix": "s3/hms-backups-production/"}),
        ] {
            let mut observed = found_as(&s);
            if let Some(f) = observed.found.get_mut(&Addr::Bucket.to_string()) {
                f.attrs.insert("logging".into(), found);
            }
            let p = plan(&s, &observed);
            assert_eq!(p.changes.len(), 1);
            assert_eq!(p.changes[0].action, Action::Update);
            assert!(
                p.changes[0].reason.contains("logging"),
                "{}",
                p.changes[0].reason
            );
        }
        let mut off = spec("");
        off.logging = Logging::Off;
        assert_eq!(logging(&off.logging, "b"), Value::Null);
        let p = plan(&off, &found_as(&off));
        assert!(p.is_empty());
    }

    #[test]
    fn a_replica_adds_its_bucket_and_the_rule_and_removing_it_deletes_both() {
        let mut s = spec("");
        s.replica = Some(Replica {
            region: "us-west-2".into(),
            encryption: Encryption::Kms(Some("arn:aws:kms:us-west-2:123456789012:key/r1".into())),
            role_arn: Some("arn:aws:iam::123456789012:role/replication".into()),
        });
        let p = plan(&s, &found_as(&spec("")));
        let made: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(
            made,
            [
                ("backup.replica", Action::Create),
                ("backup.replication", Action::Create)
            ]
        );
        let replica = desired(&s, "hms-backups-production")
            .into_iter()
            .find(|d| d.address == "backup.replica")
            .expect("replica");
        assert_eq!(replica.attrs["name"], "hms-backups-production-replica");
        assert_eq!(replica.attrs["region"], "us-west-2");
        assert_eq!(
            replica.attrs["encryption"]["kms_key"],
            "arn:aws:kms:us-west-2:123456789012:key/r1"
        );
        assert_eq!(replica.attrs["logging"], Value::Null);
        assert_eq!(replica.attrs["object_lock"]["mode"], "GOVERNANCE");
        // Everything found as desired: converged; without the replica both go.
        let mut all = found_as(&spec(""));
        for d in desired(&s, "hms-backups-production") {
            let mut f = Found::new(d.address.clone());
            f.attrs = d.attrs.clone();
            f.tags = d.tags.clone();
            all.found.insert(d.address.clone(), f);
        }
        assert!(plan(&s, &all).is_empty());
        let p = plan(&spec(""), &all);
        let gone: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(gone.len(), 2, "{gone:?}");
        assert!(gone.contains(&("backup.replica", Action::Delete)));
        assert!(gone.contains(&("backup.replication", Action::Delete)));
    }

    #[test]
    fn conflicts_are_refused() {
        let s = spec("");
        let mut observed = found_as(&s);
        observed.conflicts.push("taken".into());
        assert_eq!(plan(&s, &observed).refused, vec!["taken".to_owned()]);
    }
}

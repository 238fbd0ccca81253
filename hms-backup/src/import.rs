//! `hms-backup import`: the Terraform backup bucket (by name: `backup.bucket`, with the account id when
//! `backup.append_account_id`), its `aws_s3_bucket_*` settings part of it. A bucket cannot be renamed, so
//! one of another name is left with the key to set.

use hms_core::terraform::{Mapping, TfState};

use crate::addr::Addr;
use crate::spec::Spec;

/// Maps the state's backup bucket and its sub-resources.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let ours = |name: &str| {
        if spec.append_account_id {
            name.strip_prefix(&spec.bucket_base)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|acct| acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()))
        } else {
            name == spec.bucket_base
        }
    };
    let mut bucket = None;
    for r in tf.resources.iter().filter(|r| r.kind == "aws_s3_bucket") {
        let Some(name) = r.str("bucket").or_else(|| r.id()) else {
            continue;
        };
        if ours(&name) && bucket.is_none() {
            m.map(r, Addr::Bucket.to_string(), &name);
            bucket = Some(name);
        }
        // Another bucket is the log bucket's or the edge's (or not the stack's): left to them.
    }
    let Some(bucket) = bucket else {
        return m;
    };
    for r in tf
        .resources
        .iter()
        .filter(|r| r.kind.starts_with("aws_s3_bucket_"))
    {
        if r.str("bucket").as_deref() == Some(bucket.as_str()) {
            m.cover(r, Addr::Bucket.to_string());
        }
    }
    m
}

//! `hms-edge import`: a Terraform distribution (the one serving the stack's domain, `aliases`), its
//! origin access control, response headers policy and web ACLs (by the names hms-edge gives them), the
//! static-assets bucket (by name, its `aws_s3_bucket_*` settings part of it), the access log group, and the
//! alias records and web ACL association as part of the distribution and the ACL.

use hms_core::terraform::{Mapping, TfState};
use serde_json::Value;

use crate::addr::{Addr, Door};
use crate::spec::Spec;

/// Maps the state's resources of hms-edge's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let mut bucket = false;
    for r in &tf.resources {
        let name = r.str("name").unwrap_or_default();
        let arn = r.str("arn").or_else(|| r.id()).unwrap_or_default();
        match r.kind.as_str() {
            "aws_cloudfront_distribution" => {
                let serves = r
                    .get("aliases")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(spec.domain_name.as_str())));
                if serves && !m.mapped.iter().any(|x| x.address == Addr::Distribution.to_string()) {
                    m.map(r, Addr::Distribution.to_string(), r.id().unwrap_or_default());
                } else {
                    m.skip(r, format!("does not serve {} (its aliases)", spec.domain_name));
                }
            }
            "aws_cloudfront_origin_access_control" if name == spec.name("static-oac") => {
                m.map(r, Addr::OriginAccessControl.to_string(), r.id().unwrap_or_default());
            }
            "aws_cloudfront_response_headers_policy" if name == spec.name("security-headers") => {
                m.map(r, Addr::HeadersPolicy.to_string(), r.id().unwrap_or_default());
            }
            "aws_cloudfront_origin_access_control" | "aws_cloudfront_response_headers_policy" => m.skip(
                r,
                format!("not named as hms-edge names its own ({}); hms-edge makes its own and the distribution moves to it", spec.name("…")),
            ),
            "aws_wafv2_web_acl" => {
                let door = match r.str("scope").as_deref() {
                    Some("CLOUDFRONT") => Door::Cdn,
                    _ => Door::Alb,
                };
                if name == spec.name(&format!("{}-web-acl", door.word())) {
                    m.map_with(r, Addr::WebAcl(door).to_string(), &arn, &[("arn", arn.clone().into())]);
                } else {
                    m.skip(r, "not named as hms-edge names its web ACLs; hms-edge makes its own and attaches it");
                }
            }
            "aws_s3_bucket" if r.str("bucket").as_deref() == Some(spec.bucket.as_str()) => {
                m.map(r, Addr::Bucket.to_string(), &spec.bucket);
                bucket = true;
            }
            "aws_cloudwatch_log_group" => {
                if let Some(l) = spec.logging.as_ref().filter(|l| l.log_group == name) {
                    m.map(r, Addr::LogGroup.to_string(), &l.log_group);
                }
            }
            _ => {}
        }
    }
    for r in &tf.resources {
        let ours = |k: &str| m.mapped.iter().any(|x| x.address == k);
        match r.kind.as_str() {
            k if k.starts_with("aws_s3_bucket_")
                && bucket
                && r.str("bucket").as_deref() == Some(spec.bucket.as_str()) =>
            {
                let by = if k == "aws_s3_bucket_policy" {
                    Addr::BucketPolicy
                } else {
                    Addr::Bucket
                };
                m.cover(r, by.to_string());
            }
            "aws_wafv2_web_acl_association" if ours(&Addr::WebAcl(Door::Alb).to_string()) => {
                m.cover(r, Addr::AlbAssociation.to_string());
            }
            "aws_route53_record" if ours(&Addr::Distribution.to_string()) => {
                let name = r.str("name").unwrap_or_default();
                let name = name.trim_end_matches('.');
                let alias = r
                    .get("alias")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if alias && name == spec.domain_name {
                    let by = match r.str("type").as_deref() {
                        Some("AAAA") => Addr::Record(crate::addr::Record::Aaaa),
                        _ => Addr::Record(crate::addr::Record::A),
                    };
                    m.cover(r, by.to_string());
                }
            }
            _ => {}
        }
    }
    m
}

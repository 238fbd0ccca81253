//! The desired resources and the plan against what exists. Pure.
//!
//! Attributes that name another resource of hms-edge hold its address (`"edge.origin_access_control"`),
//! never its id, so that the plan is complete on an empty account; observe writes the address back where
//! the id it reads is the found resource's. The origin secret is compared by a hash only.

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use serde_json::{json, Value};

use crate::addr::{Addr, Door, Record};
use crate::observe::Observed;
use crate::spec::{
    Spec, Waf, ALL_VIEWER_EXCEPT_HOST_HEADER, CACHING_DISABLED, CACHING_OPTIMIZED,
    CLOUDFRONT_ZONE_ID, HSTS_MAX_AGE,
};

/// Methods of the default (ALB) behaviour and of the static ones, sorted as observe sorts them.
pub const ALL_METHODS: &[&str] = &["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];
pub const READ_METHODS: &[&str] = &["GET", "HEAD"];

/// The id of the ALB origin and of the bucket origin inside the distribution.
pub const ALB_ORIGIN: &str = "alb";
pub const STATIC_ORIGIN: &str = "static";

/// The rate rule's name.
pub const RATE_RULE: &str = "rate-limit-per-ip";

/// The bucket policy: only this distribution (`source_arn`) may read objects, through its OAC.
pub fn bucket_policy(bucket: &str, source_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AllowCloudFrontOnly",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": source_arn}}
        }, {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
}

/// The web ACL rules in the compared form (the same shape observe reads back).
pub fn rules(waf: &Waf) -> Value {
    let mut out: Vec<Value> = waf
        .managed
        .iter()
        .enumerate()
        .map(|(i, g)| json!({"name": g, "priority": i, "managed": format!("AWS/{g}"), "metrics": true}))
        .collect();
    if let Some(limit) = waf.rate_limit {
        out.push(json!({
            "name": RATE_RULE,
            "priority": waf.managed.len(),
            "rate_limit": limit,
            "window_seconds": 300,
            "key": "IP",
            "action": "block",
            "metrics": true,
        }));
    }
    Value::Array(out)
}

/// The response headers policy's headers in the compared form.
pub fn headers(spec: &Spec) -> Value {
    json!({
        "hsts": {"max_age": HSTS_MAX_AGE, "include_subdomains": true, "preload": spec.hsts_preload, "override": true},
        "content_type_options": true,
        "frame_options": "DENY",
        "referrer_policy": "strict-origin-when-cross-origin",
        "content_security_policy": spec.csp,
    })
}

/// The distribution's managed configuration in the compared form.
pub fn distribution(spec: &Spec, secret_hash: Option<&str>) -> Value {
    let header = match (&spec.origin_secret_arn, secret_hash) {
        (None, _) if spec.origin_secret_pending => json!({
            "name": spec.origin_header,
            "value_sha256": "(known after hms-ecs up)",
        }),
        (None, _) => Value::Null,
        (Some(_), hash) => json!({
            "name": spec.origin_header,
            "value_sha256": hash.unwrap_or("(known after hms-ecs up)"),
        }),
    };
    let rhp = Addr::HeadersPolicy.to_string();
    let behaviors: Vec<Value> = spec
        .static_paths
        .iter()
        .map(|p| {
            json!({
                "path": p,
                "origin": STATIC_ORIGIN,
                "viewer_protocol": "redirect-to-https",
                "methods": READ_METHODS,
                "cache_policy": CACHING_OPTIMIZED,
                "origin_request_policy": Value::Null,
                "response_headers_policy": rhp,
                "compress": true,
            })
        })
        .collect();
    json!({
        "enabled": true,
        "comment": spec.comment(),
        "aliases": [spec.domain_name],
        "certificate": spec.certificate_arn.clone().unwrap_or_else(|| "(known after hms-dns up)".into()),
        "ssl_support_method": "sni-only",
        "minimum_protocol_version": "TLSv1.2_2021",
        "origins": {
            ALB_ORIGIN: {
                "domain": spec.origin_domain(),
                "protocol_policy": "https-only",
                "https_port": 443,
                "ssl_protocols": ["TLSv1.2"],
                "header": header,
            },
            STATIC_ORIGIN: {
                "domain": spec.bucket_domain(),
                "origin_access_control": Addr::OriginAccessControl.to_string(),
            },
        },
        "default_behavior": {
            "origin": ALB_ORIGIN,
            "viewer_protocol": "redirect-to-https",
            "methods": ALL_METHODS,
            "cache_policy": CACHING_DISABLED,
            "origin_request_policy": ALL_VIEWER_EXCEPT_HOST_HEADER,
            "response_headers_policy": rhp,
            "compress": true,
        },
        "behaviors": behaviors,
        "web_acl": spec.waf.as_ref().map(|_| Addr::WebAcl(Door::Cdn).to_string()),
        "http_version": "http2and3",
        "ipv6": true,
        "price_class": spec.price_class,
    })
}

/// Everything the spec wants, in the shapes observe reads back.
pub fn desired(spec: &Spec, observed: &Observed) -> Vec<Desired> {
    let mut out = Vec::new();
    let bucket = Addr::Bucket.to_string();
    let dist = Addr::Distribution.to_string();
    out.push(
        hms_core::s3::Baseline::desired(
            Desired::new(&bucket).attr("name", spec.bucket.clone()),
            &spec.encryption,
        )
        .tags(spec.tagger.tags(&bucket, Some(&spec.bucket)))
        .replace_on(&["name"]),
    );
    out.push(
        Desired::new(Addr::BucketPolicy.to_string())
            .attr("bucket", spec.bucket.clone())
            .attr(
                "policy",
                hms_core::policy::normalize(&bucket_policy(&spec.bucket, &dist)),
            )
            .uses([bucket.clone(), dist.clone()]),
    );
    let oac = Addr::OriginAccessControl.to_string();
    out.push(
        Desired::new(&oac)
            .attr("name", spec.name("static-oac"))
            .attr("origin_type", "s3")
            .attr("signing_protocol", "sigv4")
            .attr("signing_behavior", "always"),
    );
    let rhp = Addr::HeadersPolicy.to_string();
    out.push(
        Desired::new(&rhp)
            .attr("name", spec.name("security-headers"))
            .attr("headers", headers(spec)),
    );
    let mut dist_uses = vec![bucket.clone(), oac, rhp];
    if let Some(waf) = &spec.waf {
        let doors: &[Door] = if waf.alb {
            &[Door::Cdn, Door::Alb]
        } else {
            &[Door::Cdn]
        };
        for door in doors {
            let a = Addr::WebAcl(*door).to_string();
            out.push(
                Desired::new(&a)
                    .attr("name", spec.name(&format!("{}-web-acl", door.word())))
                    .attr("scope", door.scope())
                    .attr("default_action", "allow")
                    .attr("metrics", true)
                    .attr("rules", rules(waf))
                    .tags(
                        spec.tagger
                            .tags(&a, Some(&spec.name(&format!("{}-web-acl", door.word())))),
                    )
                    .replace_on(&["name", "scope"]),
            );
        }
        dist_uses.push(Addr::WebAcl(Door::Cdn).to_string());
        if waf.alb {
            let acl = Addr::WebAcl(Door::Alb).to_string();
            out.push(
                Desired::new(Addr::AlbAssociation.to_string())
                    .attr("web_acl", acl.clone())
                    .attr(
                        "resource",
                        spec.alb
                            .arn
                            .clone()
                            .unwrap_or_else(|| "(known after hms-ecs up)".into()),
                    )
                    .uses([acl])
                    .replace_on(&["web_acl", "resource"]),
            );
        }
    }
    out.push(
        Desired::new(&dist)
            .attr(
                "config",
                distribution(spec, observed.secret_hash.as_deref()),
            )
            .tags(spec.tagger.tags(&dist, Some(&spec.name("cdn"))))
            .uses(dist_uses),
    );
    let zone = spec
        .zone_id
        .clone()
        .unwrap_or_else(|| "(known after hms-dns up)".into());
    for (r, kind) in [(Record::A, "A"), (Record::Aaaa, "AAAA")] {
        out.push(
            Desired::new(Addr::Record(r).to_string())
                .attr("zone_id", zone.clone())
                .attr("name", spec.domain_name.clone())
                .attr("type", kind)
                .attr("target", dist.clone())
                .attr("target_zone_id", CLOUDFRONT_ZONE_ID)
                .uses([dist.clone()])
                .replace_on(&["zone_id", "name", "type"]),
        );
    }
    out.push(
        Desired::new(Addr::Record(Record::Origin).to_string())
            .attr("zone_id", zone)
            .attr("name", spec.origin_domain())
            .attr("type", "A")
            .attr(
                "target",
                spec.alb
                    .dns_name
                    .as_deref()
                    .map(crate::observe::dns)
                    .unwrap_or_else(|| "(known after hms-ecs up)".into()),
            )
            .attr(
                "target_zone_id",
                spec.alb
                    .zone_id
                    .clone()
                    .unwrap_or_else(|| "(known after hms-ecs up)".into()),
            )
            .replace_on(&["zone_id", "name", "type"]),
    );
    if let Some(l) = &spec.logging {
        let lg = Addr::LogGroup.to_string();
        out.push(
            Desired::new(&lg)
                .attr("name", l.log_group.clone())
                .attr("retention_days", l.retention_days)
                .attr("kms_key", l.kms_key.clone())
                .tags(spec.tagger.tags(&lg, None))
                .replace_on(&["name"]),
        );
        out.push(
            Desired::new(Addr::LogDelivery.to_string())
                .attr("source", dist.clone())
                .attr("destination", lg.clone())
                .attr("log_type", "ACCESS_LOGS")
                .uses([dist.clone(), lg])
                .replace_on(&["source", "destination", "log_type"]),
        );
    }
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec, observed), &observed.found);
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::config::Config;
    use hms_core::contract::{CommandKind, Flags, SpecInput};
    use hms_core::diff::Found;
    use hms_core::document::{Document, Identity};
    use hms_core::plan::Action;
    use hms_core::tags::Tagger;
    use std::collections::BTreeMap;

    fn spec(text: &str) -> Spec {
        let config = Config::from_toml(text, "hms.toml").expect("config");
        let tagger = Tagger::new(
            Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "us-east-1".into(),
            },
            "hms-edge",
            BTreeMap::new(),
        );
        let doc: Document = serde_json::from_value(json!({
            "hms": 1, "stack": "hms", "env": "production", "region": "us-east-1",
            "outputs": {
                "dns": {"domain_name": "hms.example.org", "zone_id": "Z1", "cdn_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/c"},
                "ecs": {"alb_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1", "alb_dns_name": "a.elb.amazonaws.com", "alb_zone_id": "Z35"}
            }
        }))
        .expect("doc");
        let flags = Flags::default();
        let input = SpecInput {
            config: &config,
            tagger: &tagger,
            doc: &doc,
            command: CommandKind::Plan,
            flags: &flags,
            yes: false,
            tool: "hms-edge",
        };
        crate::spec::build(&input).expect("spec")
    }

    fn converged(s: &Spec) -> Observed {
        let mut o = Observed::default();
        for d in desired(s, &Observed::default()) {
            let mut f = Found::new(format!("id-{}", d.address));
            f.attrs = d.attrs.clone();
            f.tags = d.tags.clone();
            o.found.insert(d.address.clone(), f);
        }
        o
    }

    #[test]
    fn empty_account_creates_everything() {
        let s = spec("");
        let p = plan(&s, &Observed::default());
        assert!(p.changes.iter().all(|c| c.action == Action::Create));
        assert_eq!(
            p.changes.len(),
            13,
            "{:?}",
            p.changes.iter().map(|c| &c.address).collect::<Vec<_>>()
        );
    }

    #[test]
    fn converged_is_empty_and_a_csp_change_is_one_update() {
        let s = spec("");
        let o = converged(&s);
        assert!(plan(&s, &o).is_empty());
        let changed = spec("[edge]\ncontent_security_policy = \"default-src 'self'\"");
        let p = plan(&changed, &o);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].address, "edge.response_headers_policy");
        assert_eq!(p.changes[0].action, Action::Update);
    }

    #[test]
    fn a_behaviour_added_is_one_distribution_update() {
        let s = spec("");
        let o = converged(&s);
        let changed = spec("[edge]\nstatic_paths = [\"/static/*\", \"/assets/*\"]");
        let p = plan(&changed, &o);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].address, "edge.distribution");
        assert_eq!(p.changes[0].action, Action::Update);
    }

    #[test]
    fn waf_off_deletes_the_acls() {
        let s = spec("");
        let o = converged(&s);
        let off = spec("[edge.waf]\nmanaged_rule_groups = []\nrate_limit = 0");
        let p = plan(&off, &o);
        let deleted: Vec<&str> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .map(|c| c.address.as_str())
            .collect();
        assert_eq!(
            deleted,
            vec![
                "edge.web_acl.alb",
                "edge.web_acl.cdn",
                "edge.web_acl_association.alb"
            ]
        );
        assert!(p
            .get("edge.distribution")
            .is_some_and(|c| c.action == Action::Update));
    }

    #[test]
    fn the_secret_is_only_a_hash() {
        let mut s = spec("");
        s.origin_secret_arn = Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:x".into());
        let v = distribution(&s, Some("abcd1234"));
        assert_eq!(v["origins"]["alb"]["header"]["value_sha256"], "abcd1234");
        assert_eq!(v["origins"]["alb"]["header"]["name"], "X-Origin-Verify");
    }
}

//! The distribution, the origin access control and the response headers policy.

use aws_sdk_cloudfront::types::{DistributionConfig, ResponseHeadersPolicyType};
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use super::{short_hash, Part};
use crate::addr::{Addr, Door};
use crate::spec::Spec;
use crate::Clients;

/// The managed configuration of a distribution in the compared form (the shape plan writes).
pub fn config_value(cfg: &DistributionConfig) -> Value {
    let mut origins = serde_json::Map::new();
    for o in cfg.origins().map(|o| o.items()).unwrap_or_default() {
        let mut v = json!({"domain": super::dns(o.domain_name())});
        if let Some(custom) = o.custom_origin_config() {
            let mut protocols: Vec<String> = custom
                .origin_ssl_protocols()
                .map(|p| p.items().iter().map(|x| x.as_str().to_owned()).collect())
                .unwrap_or_default();
            protocols.sort();
            let header = o
                .custom_headers()
                .map(|h| h.items())
                .unwrap_or_default()
                .first()
                .map(|h| json!({"name": h.header_name(), "value_sha256": short_hash(h.header_value())}))
                .unwrap_or(Value::Null);
            v["protocol_policy"] = custom.origin_protocol_policy().as_str().into();
            v["https_port"] = custom.https_port().into();
            v["ssl_protocols"] = protocols.into();
            v["header"] = header;
        } else {
            v["origin_access_control"] = o.origin_access_control_id().unwrap_or_default().into();
        }
        origins.insert(o.id().to_owned(), v);
    }
    let methods = |m: Option<&aws_sdk_cloudfront::types::AllowedMethods>| {
        let mut v: Vec<String> = m
            .map(|m| m.items().iter().map(|x| x.as_str().to_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    let none_if_empty = |s: Option<&str>| -> Value {
        match s {
            Some(s) if !s.is_empty() => s.into(),
            _ => Value::Null,
        }
    };
    let default_behavior = cfg.default_cache_behavior().map(|d| {
        json!({
            "origin": d.target_origin_id(),
            "viewer_protocol": d.viewer_protocol_policy().as_str(),
            "methods": methods(d.allowed_methods()),
            "cache_policy": none_if_empty(d.cache_policy_id()),
            "origin_request_policy": none_if_empty(d.origin_request_policy_id()),
            "response_headers_policy": none_if_empty(d.response_headers_policy_id()),
            "compress": d.compress().unwrap_or(false),
        })
    });
    let behaviors: Vec<Value> = cfg
        .cache_behaviors()
        .map(|b| b.items())
        .unwrap_or_default()
        .iter()
        .map(|b| {
            json!({
                "path": b.path_pattern(),
                "origin": b.target_origin_id(),
                "viewer_protocol": b.viewer_protocol_policy().as_str(),
                "methods": methods(b.allowed_methods()),
                "cache_policy": none_if_empty(b.cache_policy_id()),
                "origin_request_policy": none_if_empty(b.origin_request_policy_id()),
                "response_headers_policy": none_if_empty(b.response_headers_policy_id()),
                "compress": b.compress().unwrap_or(false),
            })
        })
        .collect();
    let viewer = cfg.viewer_certificate();
    json!({
        "enabled": cfg.enabled(),
        "comment": cfg.comment(),
        "aliases": cfg.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
        "certificate": viewer.and_then(|v| v.acm_certificate_arn()).unwrap_or_default(),
        "ssl_support_method": viewer.and_then(|v| v.ssl_support_method()).map(|s| s.as_str()).unwrap_or_default(),
        "minimum_protocol_version": viewer.and_then(|v| v.minimum_protocol_version()).map(|s| s.as_str()).unwrap_or_default(),
        "origins": origins,
        "default_behavior": default_behavior,
        "behaviors": behaviors,
        "web_acl": none_if_empty(cfg.web_acl_id()),
        "http_version": cfg.http_version().map(|h| h.as_str()).unwrap_or_default(),
        "ipv6": cfg.is_ipv6_enabled().unwrap_or(false),
        "price_class": cfg.price_class().map(|p| p.as_str()).unwrap_or_default(),
    })
}

/// The tags of a CloudFront resource.
pub async fn tags_of(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    let out = c
        .cloudfront
        .list_tags_for_resource()
        .resource(arn)
        .send()
        .await
        .map_err(|e| Error::aws(arn, "cloudfront:ListTagsForResource", e))?;
    Ok(out
        .tags()
        .map(|t| t.items())
        .unwrap_or_default()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
        .collect())
}

/// Finds the distribution: the recorded id, else the one with this stack's comment and tags.
pub async fn distribution(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let address = Addr::Distribution.to_string();
    let recorded = state.id(&address).map(str::to_owned);
    let mut part = Part::default();
    let mut candidates: Vec<(String, String)> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = c
            .cloudfront
            .list_distributions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&address, "cloudfront:ListDistributions", e))?;
        let Some(list) = page.distribution_list() else {
            break;
        };
        for d in list.items() {
            if recorded.as_deref() == Some(d.id()) || d.comment() == spec.comment() {
                candidates.push((d.id().to_owned(), d.arn().to_owned()));
            }
        }
        match list.next_marker() {
            Some(m) if list.is_truncated() && !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    // The recorded one first.
    candidates.sort_by_key(|(id, _)| recorded.as_deref() != Some(id.as_str()));
    for (id, arn) in candidates {
        let tags = tags_of(c, &arn).await?;
        let owned = spec
            .tagger
            .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .as_deref()
            == Some(address.as_str());
        if recorded.as_deref() != Some(id.as_str()) && !owned {
            continue;
        }
        let got = match c.cloudfront.get_distribution().id(&id).send().await {
            Ok(g) => g,
            Err(e) if code_of(&e) == Some("NoSuchDistribution") => continue,
            Err(e) => {
                return Err(Error::aws(
                    format!("{address} {id}"),
                    "cloudfront:GetDistribution",
                    e,
                ))
            }
        };
        let Some(d) = got.distribution() else {
            continue;
        };
        let Some(cfg) = d.distribution_config() else {
            continue;
        };
        let f = Found::new(&id)
            .attr("config", config_value(cfg))
            .tags(tags)
            .info("arn", d.arn())
            .info("domain_name", d.domain_name())
            .info("status", d.status())
            .uses([
                Addr::Bucket.to_string(),
                Addr::OriginAccessControl.to_string(),
                Addr::HeadersPolicy.to_string(),
                Addr::WebAcl(Door::Cdn).to_string(),
            ]);
        part.found.insert(address.clone(), f);
        break;
    }
    Ok(part)
}

/// The origin access control, by the recorded id or by its name.
pub async fn origin_access_control(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let address = Addr::OriginAccessControl.to_string();
    let recorded = state.id(&address).map(str::to_owned);
    let name = spec.name("static-oac");
    let mut part = Part::default();
    let out = c
        .cloudfront
        .list_origin_access_controls()
        .send()
        .await
        .map_err(|e| Error::aws(&address, "cloudfront:ListOriginAccessControls", e))?;
    let items = out
        .origin_access_control_list()
        .map(|l| l.items())
        .unwrap_or_default();
    let pick = items
        .iter()
        .find(|o| recorded.as_deref() == Some(o.id()))
        .or_else(|| items.iter().find(|o| o.name() == name));
    if let Some(o) = pick {
        part.found.insert(
            address,
            Found::new(o.id())
                .attr("name", o.name())
                .attr(
                    "origin_type",
                    o.origin_access_control_origin_type().as_str(),
                )
                .attr("signing_protocol", o.signing_protocol().as_str())
                .attr("signing_behavior", o.signing_behavior().as_str()),
        );
    }
    Ok(part)
}

/// The response headers policy, by the recorded id or by its name.
pub async fn headers_policy(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let address = Addr::HeadersPolicy.to_string();
    let recorded = state.id(&address).map(str::to_owned);
    let name = spec.name("security-headers");
    let mut part = Part::default();
    let out = c
        .cloudfront
        .list_response_headers_policies()
        .r#type(ResponseHeadersPolicyType::Custom)
        .send()
        .await
        .map_err(|e| Error::aws(&address, "cloudfront:ListResponseHeadersPolicies", e))?;
    let items: Vec<&aws_sdk_cloudfront::types::ResponseHeadersPolicy> = out
        .response_headers_policy_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.response_headers_policy())
        .collect();
    let name_of = |p: &aws_sdk_cloudfront::types::ResponseHeadersPolicy| {
        p.response_headers_policy_config()
            .map(|c| c.name().to_owned())
            .unwrap_or_default()
    };
    let pick = items
        .iter()
        .find(|p| recorded.as_deref() == Some(p.id()))
        .or_else(|| items.iter().find(|p| name_of(p) == name));
    if let Some(p) = pick {
        let sec = p
            .response_headers_policy_config()
            .and_then(|c| c.security_headers_config());
        let hsts = sec.and_then(|s| s.strict_transport_security()).map(|h| {
            json!({
                "max_age": h.access_control_max_age_sec(),
                "include_subdomains": h.include_subdomains().unwrap_or(false),
                "preload": h.preload().unwrap_or(false),
                "override": h.r#override(),
            })
        });
        let headers = json!({
            "hsts": hsts,
            "content_type_options": sec.and_then(|s| s.content_type_options()).is_some(),
            "frame_options": sec.and_then(|s| s.frame_options()).map(|f| f.frame_option().as_str()),
            "referrer_policy": sec.and_then(|s| s.referrer_policy()).map(|r| r.referrer_policy().as_str()),
            "content_security_policy": sec.and_then(|s| s.content_security_policy()).map(|c| c.content_security_policy()),
        });
        part.found.insert(
            address,
            Found::new(p.id())
                .attr("name", name_of(p))
                .attr("headers", headers),
        );
    }
    Ok(part)
}

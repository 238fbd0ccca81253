//! The web ACLs (CLOUDFRONT in us-east-1, REGIONAL in the stack's region) and the ALB's association.

use aws_sdk_wafv2::types::{Rule, Scope};
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use super::Part;
use crate::addr::{Addr, Door};
use crate::spec::Spec;
use crate::Clients;

/// A rule in the compared form (the shape plan writes).
fn rule_value(r: &Rule) -> Value {
    let metrics = r
        .visibility_config()
        .is_some_and(|v| v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled());
    let st = r.statement();
    if let Some(m) = st.and_then(|s| s.managed_rule_group_statement()) {
        let mut v = json!({
            "name": r.name(),
            "priority": r.priority(),
            "managed": format!("{}/{}", m.vendor_name(), m.name()),
            "metrics": metrics,
        });
        if !m.excluded_rules().is_empty() || !m.rule_action_overrides().is_empty() {
            v["other_settings"] = true.into();
        }
        return v;
    }
    if let Some(rate) = st.and_then(|s| s.rate_based_statement()) {
        let action = r.action().map(|a| {
            if a.block().is_some() {
                "block"
            } else if a.count().is_some() {
                "count"
            } else {
                "other"
            }
        });
        return json!({
            "name": r.name(),
            "priority": r.priority(),
            "rate_limit": rate.limit(),
            "window_seconds": rate.evaluation_window_sec(),
            "key": rate.aggregate_key_type().as_str(),
            "action": action,
            "metrics": metrics,
        });
    }
    json!({"name": r.name(), "priority": r.priority(), "other": true})
}

/// Name and id from a web ACL ARN (`…:<scope>/webacl/<name>/<id>`).
pub fn name_and_id(arn: &str) -> Option<(String, String)> {
    let mut parts = arn.rsplitn(3, '/');
    let id = parts.next()?;
    let name = parts.next()?;
    Some((name.to_owned(), id.to_owned()))
}

/// A web ACL with its rules and lock token, by ARN; `None` when it is gone.
pub async fn get(
    c: &Clients,
    door: Door,
    arn: &str,
) -> Result<Option<(aws_sdk_wafv2::types::WebAcl, String)>> {
    let Some((name, id)) = name_and_id(arn) else {
        return Ok(None);
    };
    match c
        .waf_of(door)
        .get_web_acl()
        .name(name)
        .id(id)
        .scope(Scope::from(door.scope()))
        .send()
        .await
    {
        Ok(out) => Ok(out
            .web_acl()
            .cloned()
            .map(|w| (w, out.lock_token().unwrap_or_default().to_owned()))),
        Err(e) if code_of(&e) == Some("WAFNonexistentItemException") => Ok(None),
        Err(e) => Err(Error::aws(arn, "wafv2:GetWebACL", e)),
    }
}

/// The web ACL of `door`: the recorded ARN, else the one with its name (checked by tags).
pub async fn web_acl(c: &Clients, spec: &Spec, state: &State, door: Door) -> Result<Part> {
    let address = Addr::WebAcl(door).to_string();
    let recorded = state.id(&address).map(str::to_owned);
    let name = spec.name(&format!("{}-web-acl", door.word()));
    let client = c.waf_of(door);
    let mut part = Part::default();
    let mut arns: Vec<String> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = client
            .list_web_acls()
            .scope(Scope::from(door.scope()))
            .set_next_marker(marker.clone())
            .send()
            .await
            .map_err(|e| Error::aws(&address, "wafv2:ListWebACLs", e))?;
        for w in out.web_acls() {
            let arn = w.arn().unwrap_or_default();
            if recorded.as_deref() == Some(arn) || w.name() == Some(name.as_str()) {
                arns.push(arn.to_owned());
            }
        }
        match out.next_marker() {
            Some(m) if !m.is_empty() && !out.web_acls().is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    arns.sort_by_key(|a| recorded.as_deref() != Some(a.as_str()));
    let Some(arn) = arns.first().cloned() else {
        return Ok(part);
    };
    let (got, tags) = tokio::join!(get(c, door, &arn), async {
        client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| Error::aws(&arn, "wafv2:ListTagsForResource", e))
    });
    let Some((acl, _token)) = got? else {
        return Ok(part);
    };
    let tags: Vec<(String, String)> = tags?
        .tag_info_for_resource()
        .map(|t| t.tag_list())
        .unwrap_or_default()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    let owned = spec
        .tagger
        .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .as_deref()
        == Some(address.as_str());
    if recorded.as_deref() != Some(arn.as_str()) && !owned {
        part.conflicts.push(format!(
            "{address}: a web ACL named {name} already exists ({arn}) and hms-edge did not make it; delete or rename it"
        ));
        return Ok(part);
    }
    let mut rules: Vec<&Rule> = acl.rules().iter().collect();
    rules.sort_by_key(|r| r.priority());
    let default_action = acl.default_action().map(|d| {
        if d.allow().is_some() {
            "allow"
        } else {
            "block"
        }
    });
    let metrics = acl
        .visibility_config()
        .is_some_and(|v| v.cloud_watch_metrics_enabled() && v.sampled_requests_enabled());
    part.found.insert(
        address,
        Found::new(&arn)
            .attr("name", acl.name())
            .attr("scope", door.scope())
            .attr("default_action", default_action)
            .attr("metrics", metrics)
            .attr(
                "rules",
                Value::Array(rules.into_iter().map(rule_value).collect()),
            )
            .tags(tags)
            .info("arn", arn.clone()),
    );
    Ok(part)
}

/// The ALB's association with the regional web ACL.
pub async fn association(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let address = Addr::AlbAssociation.to_string();
    let mut part = Part::default();
    let alb = spec
        .alb
        .arn
        .clone()
        .or_else(|| state.id(&address).map(str::to_owned));
    let Some(alb) = alb else {
        return Ok(part);
    };
    let out = match c
        .waf
        .get_web_acl_for_resource()
        .resource_arn(&alb)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if code_of(&e) == Some("WAFNonexistentItemException") => return Ok(part),
        Err(e) => return Err(Error::aws(&alb, "wafv2:GetWebACLForResource", e)),
    };
    if let Some(acl) = out.web_acl() {
        let recorded = state.id(&address).is_some();
        let ours = acl.name() == spec.name("alb-web-acl");
        if recorded || ours {
            part.found.insert(
                address,
                Found::new(&alb)
                    .attr("web_acl", acl.arn())
                    .attr("resource", alb.clone())
                    .uses([Addr::WebAcl(Door::Alb).to_string()]),
            );
        }
    }
    Ok(part)
}

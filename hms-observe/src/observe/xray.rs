//! The X-Ray sampling rule and group (by name: the configured one, else the recorded one), with their tags.

use aws_sdk_xray::types::{GroupSummary, SamplingRule};
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};

use super::{not_ours, Part};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// The sampling rule named `names[0]`, else `names[1]` (the recorded name).
pub(super) async fn sampling_rule(
    c: &Clients,
    spec: &Spec,
    state: &State,
    names: &[String],
) -> Result<Part> {
    let Some(r) = find_rule(c, names).await? else {
        return Ok(Part::default());
    };
    let name = r.rule_name().unwrap_or_default().to_owned();
    let found = Found::new(name.clone())
        .attr("name", name.clone())
        .attr("priority", r.priority())
        .attr("reservoir_size", r.reservoir_size())
        .attr("fixed_rate", r.fixed_rate())
        .attr("service_name", r.service_name())
        .attr("service_type", r.service_type())
        .attr("host", r.host())
        .attr("http_method", r.http_method())
        .attr("url_path", r.url_path())
        .attr("resource_arn", r.resource_arn())
        .attr("version", r.version());
    let what = format!("X-Ray sampling rule {name}");
    let arn = r.rule_arn().unwrap_or_default();
    owned(c, spec, state, Addr::SamplingRule, &what, arn, found).await
}

/// The group named `names[0]`, else `names[1]` (the recorded name).
pub(super) async fn group(
    c: &Clients,
    spec: &Spec,
    state: &State,
    names: &[String],
) -> Result<Part> {
    let Some(g) = find_group(c, names).await? else {
        return Ok(Part::default());
    };
    let name = g.group_name().unwrap_or_default().to_owned();
    let found = Found::new(name.clone())
        .attr("name", name.clone())
        .attr(
            "filter_expression",
            g.filter_expression().unwrap_or_default(),
        )
        .attr(
            "insights",
            g.insights_configuration()
                .and_then(|i| i.insights_enabled())
                .unwrap_or(false),
        );
    let what = format!("X-Ray group {name}");
    let arn = g.group_arn().unwrap_or_default();
    owned(c, spec, state, Addr::Group, &what, arn, found).await
}

/// `found` with its tags at `address`, or the conflict when it is not ours.
async fn owned(
    c: &Clients,
    spec: &Spec,
    state: &State,
    address: Addr,
    what: &str,
    arn: &str,
    found: Found,
) -> Result<Part> {
    let tags = tags(c, arn).await?;
    let recorded = state.id(&address.to_string()) == Some(found.id.as_str());
    if let Some(c) = not_ours(spec, &address, what, &tags, recorded) {
        return Ok((FoundSet::new(), vec![c]));
    }
    let found = found.tags(tags).info("arn", arn);
    Ok((FoundSet::from([(address.to_string(), found)]), vec![]))
}

/// The configured name wins over the recorded one.
fn pick(names: &[String], current: Option<&str>, candidate: Option<&str>) -> bool {
    let Some(candidate) = candidate else {
        return false;
    };
    names.iter().any(|n| n == candidate)
        && (current.is_none() || names.first().map(String::as_str) == Some(candidate))
}

async fn find_rule(c: &Clients, names: &[String]) -> Result<Option<SamplingRule>> {
    let mut token = None;
    let mut rule: Option<SamplingRule> = None;
    loop {
        let o = c
            .xray
            .get_sampling_rules()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("X-Ray sampling rules", "xray:GetSamplingRules", e))?;
        for sr in o
            .sampling_rule_records()
            .iter()
            .filter_map(|r| r.sampling_rule())
        {
            let current = rule.as_ref().and_then(|r| r.rule_name());
            if pick(names, current, sr.rule_name()) {
                rule = Some(sr.clone());
            }
        }
        token = o.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(rule);
        }
    }
}

async fn find_group(c: &Clients, names: &[String]) -> Result<Option<GroupSummary>> {
    let mut token = None;
    let mut group: Option<GroupSummary> = None;
    loop {
        let o = c
            .xray
            .get_groups()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("X-Ray groups", "xray:GetGroups", e))?;
        for g in o.groups() {
            let current = group.as_ref().and_then(|g| g.group_name());
            if pick(names, current, g.group_name()) {
                group = Some(g.clone());
            }
        }
        token = o.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(group);
        }
    }
}

async fn tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        match c
            .xray
            .list_tags_for_resource()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(o) => {
                out.extend(
                    o.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned())),
                );
                token = o.next_token().map(str::to_owned);
                if token.is_none() {
                    return Ok(out);
                }
            }
            Err(e) if is_gone(code_of(&e)) => return Ok(out),
            Err(e) => return Err(Error::aws(arn, "xray:ListTagsForResource", e)),
        }
    }
}

//! The load balancer with its attributes, listeners and rules, and the target groups; then the tags of all
//! of them in `DescribeTags` calls of 20 ARNs.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, Rule, TargetGroup};
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use super::{address_of, owned, sorted, Pairs, TargetGroups};
use crate::addr::Addr;
use crate::secret::short_hash;
use crate::spec::Spec;
use crate::Clients;

/// The load balancer as read.
pub(super) struct Lb {
    lb: LoadBalancer,
    attrs: BTreeMap<String, String>,
    /// Each listener with its rules.
    listeners: Vec<(Listener, Vec<Rule>)>,
}

/// Everything Elastic Load Balancing holds of ours.
pub(super) struct Elb {
    lb: Option<Lb>,
    target_groups: Vec<TargetGroup>,
    /// ARN → tags, for the load balancer, listeners, rules and target groups.
    tags: BTreeMap<String, Pairs>,
}

impl Elb {
    fn tags_of(&self, arn: &str) -> Pairs {
        self.tags.get(arn).cloned().unwrap_or_default()
    }
}

pub(super) async fn fetch(c: &Clients, spec: &Spec, state: &State) -> Result<Elb> {
    let (lb, target_groups) =
        tokio::try_join!(load_balancer(c, spec), target_groups(c, spec, state))?;
    let mut arns: Vec<String> = target_groups
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_owned))
        .collect();
    if let Some(lb) = &lb {
        arns.extend(lb.lb.load_balancer_arn().map(str::to_owned));
        for (l, rules) in &lb.listeners {
            arns.extend(l.listener_arn().map(str::to_owned));
            arns.extend(
                rules
                    .iter()
                    .filter(|r| r.is_default() != Some(true))
                    .filter_map(|r| r.rule_arn().map(str::to_owned)),
            );
        }
    }
    let tags = describe_tags(c, &arns).await?;
    Ok(Elb {
        lb,
        target_groups,
        tags,
    })
}

async fn load_balancer(c: &Clients, spec: &Spec) -> Result<Option<Lb>> {
    let lb = match c
        .elb
        .describe_load_balancers()
        .names(&spec.alb_name)
        .send()
        .await
    {
        Ok(o) => o.load_balancers().first().cloned(),
        Err(e) if is_gone(code_of(&e)) => None,
        Err(e) => {
            return Err(Error::aws(
                format!("{} {}", Addr::Alb, spec.alb_name),
                "elasticloadbalancing:DescribeLoadBalancers",
                e,
            ))
        }
    };
    let Some(lb) = lb else { return Ok(None) };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
    let at = Addr::Alb.to_string();
    let (attrs, listeners) = tokio::try_join!(
        async {
            c.elb
                .describe_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .send()
                .await
                .map(|o| {
                    o.attributes()
                        .iter()
                        .map(|a| {
                            (
                                a.key().unwrap_or_default().to_owned(),
                                a.value().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect::<BTreeMap<_, _>>()
                })
                .map_err(|e| {
                    Error::aws(
                        &at,
                        "elasticloadbalancing:DescribeLoadBalancerAttributes",
                        e,
                    )
                })
        },
        async {
            c.elb
                .describe_listeners()
                .load_balancer_arn(&arn)
                .send()
                .await
                .map(|o| o.listeners().to_vec())
                .map_err(|e| Error::aws(&at, "elasticloadbalancing:DescribeListeners", e))
        },
    )?;
    let rules = try_join_all(listeners.iter().map(|l| async {
        c.elb
            .describe_rules()
            .listener_arn(l.listener_arn().unwrap_or_default())
            .send()
            .await
            .map(|o| o.rules().to_vec())
            .map_err(|e| Error::aws(&at, "elasticloadbalancing:DescribeRules", e))
    }))
    .await?;
    Ok(Some(Lb {
        lb,
        attrs,
        listeners: listeners.into_iter().zip(rules).collect(),
    }))
}

/// The target groups the spec names, and those recorded in state.
async fn target_groups(c: &Clients, spec: &Spec, state: &State) -> Result<Vec<TargetGroup>> {
    let all: Vec<TargetGroup> = c
        .elb
        .describe_target_groups()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            Error::aws(
                "target groups",
                "elasticloadbalancing:DescribeTargetGroups",
                e,
            )
        })?;
    let mut names: Vec<&str> = spec
        .services
        .iter()
        .map(|s| s.target_group.as_str())
        .collect();
    names.extend(
        state
            .resources
            .iter()
            .filter(|(a, _)| matches!(Addr::parse(a), Some(Addr::TargetGroup(_))))
            .filter_map(|(_, r)| r.attr("name")),
    );
    Ok(all
        .into_iter()
        .filter(|t| t.target_group_name().is_some_and(|n| names.contains(&n)))
        .collect())
}

async fn describe_tags(c: &Clients, arns: &[String]) -> Result<BTreeMap<String, Pairs>> {
    let sets = try_join_all(arns.chunks(20).map(|batch| async move {
        c.elb
            .describe_tags()
            .set_resource_arns(Some(batch.to_vec()))
            .send()
            .await
            .map(|o| o.tag_descriptions().to_vec())
            .map_err(|e| {
                Error::aws(
                    "load balancer resources",
                    "elasticloadbalancing:DescribeTags",
                    e,
                )
            })
    }))
    .await?;
    Ok(sets
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d.resource_arn().unwrap_or_default().to_owned(),
                d.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            )
        })
        .collect())
}

/// Records the target groups, the load balancer, its listeners and rules; returns the target groups by
/// ARN (listeners and services point at them).
pub(super) fn build(
    spec: &Spec,
    state: &State,
    elb: &Elb,
    found: &mut FoundSet,
) -> Result<TargetGroups> {
    let tgs = target_group_records(spec, state, elb, found)?;
    if let Some(lb) = &elb.lb {
        load_balancer_record(spec, state, elb, lb, found)?;
        for (l, rules) in &lb.listeners {
            let Some(address) = l.port().and_then(Addr::listener) else {
                continue;
            };
            listener_record(elb, &tgs, &address, l, found);
            for r in rules.iter().filter(|r| r.is_default() != Some(true)) {
                rule_record(elb, &tgs, &address, r, found);
            }
        }
    }
    Ok(tgs)
}

fn target_group_records(
    spec: &Spec,
    state: &State,
    elb: &Elb,
    found: &mut FoundSet,
) -> Result<TargetGroups> {
    let mut tgs = TargetGroups::new();
    for t in &elb.target_groups {
        let arn = t.target_group_arn().unwrap_or_default().to_owned();
        let tags = elb.tags_of(&arn);
        let pairs = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let by_state = || recorded(state, &arn).filter(|_| !spec.tagger.claimed_elsewhere(pairs));
        let Some(address) = address_of(&spec.tagger, &tags).or_else(by_state) else {
            owned(
                &spec.tagger,
                "target group",
                t.target_group_name().unwrap_or_default(),
                &tags,
                &Addr::TargetGroup("…".into()).to_string(),
            )?;
            continue;
        };
        tgs.insert(arn.clone(), address.clone());
        found.insert(
            address.to_string(),
            Found::new(arn.clone())
                .attr("name", t.target_group_name().unwrap_or_default())
                .attr("port", t.port().unwrap_or_default())
                .attr(
                    "protocol",
                    t.protocol()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr(
                    "target_type",
                    t.target_type()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("vpc", t.vpc_id().unwrap_or_default())
                .attr(
                    "health_check_path",
                    t.health_check_path().unwrap_or_default(),
                )
                .info("arn", arn)
                .tags(tags),
        );
    }
    Ok(tgs)
}

fn load_balancer_record(
    spec: &Spec,
    state: &State,
    elb: &Elb,
    lb: &Lb,
    found: &mut FoundSet,
) -> Result<()> {
    let arn = lb.lb.load_balancer_arn().unwrap_or_default();
    let tags = elb.tags_of(arn);
    let address = Addr::Alb.to_string();
    let pairs = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if state.id(&address) != Some(arn) || spec.tagger.claimed_elsewhere(pairs) {
        owned(
            &spec.tagger,
            "load balancer",
            &spec.alb_name,
            &tags,
            &address,
        )?;
    }
    let subnets = sorted(
        lb.lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_owned))
            .collect(),
    );
    let attr = |k: &str| lb.attrs.get(k).map(String::as_str) == Some("true");
    found.insert(
        address,
        Found::new(arn)
            .attr("name", lb.lb.load_balancer_name().unwrap_or_default())
            .attr(
                "scheme",
                lb.lb
                    .scheme()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
            .attr("subnets", subnets)
            .attr("security_groups", sorted(lb.lb.security_groups().to_vec()))
            .attr(
                "drop_invalid_headers",
                attr("routing.http.drop_invalid_header_fields.enabled"),
            )
            .attr("deletion_protection", attr("deletion_protection.enabled"))
            .attr("access_logs", access_logs(&lb.attrs))
            .info("arn", arn)
            .info("dns_name", lb.lb.dns_name().unwrap_or_default())
            .info(
                "zone_id",
                lb.lb.canonical_hosted_zone_id().unwrap_or_default(),
            )
            .tags(tags),
    );
    Ok(())
}

/// The access-log attributes in the compared form (`desired::access_logs`).
fn access_logs(attrs: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
    if get("access_logs.s3.enabled") == "true" {
        serde_json::json!({
            "enabled": true,
            "bucket": get("access_logs.s3.bucket"),
            "prefix": get("access_logs.s3.prefix"),
        })
    } else {
        serde_json::json!({"enabled": false})
    }
}

fn listener_record(
    elb: &Elb,
    tgs: &TargetGroups,
    address: &Addr,
    l: &Listener,
    found: &mut FoundSet,
) {
    let arn = l.listener_arn().unwrap_or_default();
    let action = l.default_actions().first();
    let target = action
        .and_then(|a| a.target_group_arn())
        .map(|t| tgs.get(t).ok_or(t));
    let fixed = action.and_then(|a| a.fixed_response_config());
    let default = match (action.and_then(|a| a.redirect_config()), &target) {
        _ if fixed.is_some() => format!(
            "fixed-response:{}",
            fixed.and_then(|f| f.status_code()).unwrap_or_default()
        ),
        (Some(r), _) => format!(
            "redirect:{}:{}",
            r.protocol().unwrap_or_default(),
            r.port().unwrap_or_default()
        ),
        (None, Some(Ok(tg))) => tg.to_string(),
        (None, Some(Err(arn))) => (*arn).to_owned(),
        (None, None) => String::new(),
    };
    let mut f = Found::new(arn)
        .attr("port", l.port().unwrap_or_default())
        .attr(
            "protocol",
            l.protocol()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
        )
        .attr("default", default)
        .info("arn", arn)
        .tags(elb.tags_of(arn))
        .uses([Addr::Alb]);
    if let Some(Ok(tg)) = target {
        f = f.uses([tg]);
    }
    if *address == Addr::HttpsListener {
        f = f
            .attr(
                "certificate",
                l.certificates()
                    .first()
                    .and_then(|c| c.certificate_arn())
                    .unwrap_or_default(),
            )
            .attr("ssl_policy", l.ssl_policy().unwrap_or_default());
    }
    found.insert(address.to_string(), f);
}

/// A path rule of ours: one that forwards to one of our target groups.
fn rule_record(elb: &Elb, tgs: &TargetGroups, listener: &Addr, r: &Rule, found: &mut FoundSet) {
    let target = r
        .actions()
        .first()
        .and_then(|a| a.target_group_arn())
        .unwrap_or_default();
    let Some(Addr::TargetGroup(key)) = tgs.get(target) else {
        return;
    };
    let tg = Addr::TargetGroup(key.clone());
    let path = r
        .conditions()
        .iter()
        .find(|c| c.field() == Some("path-pattern"))
        .and_then(|c| {
            c.path_pattern_config()
                .and_then(|p| p.values().first().cloned())
                .or_else(|| c.values().first().cloned())
        })
        .unwrap_or_default();
    let arn = r.rule_arn().unwrap_or_default();
    // The header condition as its name and the hashes of the values it accepts (never the values).
    let header = r
        .conditions()
        .iter()
        .find(|c| c.field() == Some("http-header"))
        .and_then(|c| c.http_header_config())
        .map_or(Value::Null, |h| {
            let mut values: Vec<String> = h.values().iter().map(|v| short_hash(v)).collect();
            values.sort();
            values.dedup();
            json!({"name": h.http_header_name().unwrap_or_default(), "values_sha256": values})
        });
    found.insert(
        Addr::Rule(key.clone()).to_string(),
        Found::new(arn)
            .attr("listener", listener)
            .attr(
                "priority",
                r.priority()
                    .and_then(|p| p.parse::<i64>().ok())
                    .unwrap_or_default(),
            )
            .attr("path", path)
            .attr("target", &tg)
            .attr("header", header)
            .info("arn", arn)
            .tags(elb.tags_of(arn))
            .uses([listener, &tg]),
    );
}

/// The address state records `id` at (a resource taken over from Terraform before its first tags).
pub(super) fn recorded(state: &State, id: &str) -> Option<Addr> {
    state
        .resources
        .iter()
        .find(|(_, r)| r.id == id)
        .and_then(|(a, _)| Addr::parse(a))
}

//! This stack's security groups (found by tags) and their rules, one found rule per peer.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use ipnet::IpNet;
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::GROUPS;
use crate::Clients;

/// The groups tagged as this tool's (rules included), and those state records that the tags did not find
/// (a group taken over from Terraform before its first tags, or whose tags were removed by hand).
pub(super) async fn describe(
    c: &Clients,
    tagger: &Tagger,
    state: &State,
) -> Result<Vec<SecurityGroup>> {
    let filters: Vec<Filter> = tagger
        .filters()
        .into_iter()
        .map(|(n, v)| Filter::builder().name(n).values(v).build())
        .collect();
    let mut groups: Vec<SecurityGroup> = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("security groups", "ec2:DescribeSecurityGroups", e))?;
    let missing: Vec<String> = recorded(state)
        .into_keys()
        .filter(|id| !groups.iter().any(|g| g.group_id() == Some(id.as_str())))
        .collect();
    for id in missing {
        // One by one: a recorded group deleted outside the tool is absence, not an error.
        match c.ec2.describe_security_groups().group_ids(&id).send().await {
            Ok(out) => groups.extend(out.security_groups().iter().cloned()),
            Err(e) if code_of(&e) == Some("InvalidGroup.NotFound") => {}
            Err(e) => {
                return Err(Error::aws(
                    format!("security group {id}"),
                    "ec2:DescribeSecurityGroups",
                    e,
                ))
            }
        }
    }
    Ok(groups)
}

/// The group ids state records, id → group key.
pub(super) fn recorded(state: &State) -> BTreeMap<String, String> {
    state
        .resources
        .iter()
        .filter_map(|(a, r)| match Addr::parse(a) {
            Some(Addr::Group(key)) => Some((r.id.clone(), key)),
            _ => None,
        })
        .collect()
}

/// The ids of the managed prefix lists the spec's rules name, id → name (none asked: no call).
pub(super) async fn prefix_lists(
    c: &Clients,
    names: &[String],
) -> Result<BTreeMap<String, String>> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let lists: Vec<_> = c
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .set_values(Some(names.to_vec()))
                .build(),
        )
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("managed prefix lists", "ec2:DescribeManagedPrefixLists", e))?;
    Ok(lists
        .into_iter()
        .filter_map(|l| {
            Some((
                l.prefix_list_id()?.to_owned(),
                l.prefix_list_name()?.to_owned(),
            ))
        })
        .collect())
}

/// Adds the groups that are ours and their rules to `out`; returns group id → group key. A rule from a
/// prefix list named in `prefix_lists` (id → name) is found by that name, as the spec names it.
pub(super) fn found(
    tagger: &Tagger,
    groups: Vec<SecurityGroup>,
    recorded: &BTreeMap<String, String>,
    prefix_lists: &BTreeMap<String, String>,
    out: &mut FoundSet,
) -> BTreeMap<String, String> {
    let mut group_ids = BTreeMap::new();
    let mut ours: Vec<(String, SecurityGroup)> = Vec::new();
    for g in groups {
        let tags = g
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        let by_tags = match tagger.owned_address(tags).as_deref().and_then(Addr::parse) {
            Some(Addr::Group(key)) => Some(key),
            _ => None,
        };
        let tagged = by_tags.is_some();
        let pairs = g
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        let by_state = || {
            recorded
                .get(g.group_id().unwrap_or_default())
                .filter(|_| !tagger.claimed_elsewhere(pairs.clone()))
                .cloned()
        };
        let Some(key) = by_tags.or_else(by_state) else {
            continue;
        };
        // A recorded group the tags did not find yields to a tagged one at the same address.
        if !tagged && ours.iter().any(|(k, _)| *k == key) {
            continue;
        }
        if !GROUPS.contains(&key.as_str()) {
            continue;
        }
        group_ids.insert(g.group_id().unwrap_or_default().to_owned(), key.clone());
        ours.push((key, g));
    }
    // Rules name their peers by key, so every group is known before any rule is read.
    for (key, g) in &ours {
        let id = g.group_id().unwrap_or_default();
        out.insert(
            Addr::group(key).to_string(),
            Found::new(id)
                .attr("name", g.group_name().unwrap_or_default())
                .attr("description", g.description().unwrap_or_default())
                .attr("vpc", g.vpc_id().unwrap_or_default())
                .info("arn", g.security_group_arn().unwrap_or_default())
                .tags(g.tags().iter().map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })),
        );
        let names = Names {
            groups: &group_ids,
            prefix_lists,
        };
        rules(key, id, g.ip_permissions(), false, &names, out);
        rules(key, id, g.ip_permissions_egress(), true, &names, out);
    }
    group_ids
}

fn normalize_cidr(c: &str) -> String {
    c.parse::<IpNet>()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| c.to_owned())
}

/// One peer of a permission: its label in the address, its `peer` attribute, its kind and its raw id.
struct PeerOf {
    label: String,
    attr: Value,
    kind: &'static str,
    raw: String,
}

impl PeerOf {
    fn plain(kind: &'static str, id: String) -> Self {
        PeerOf {
            label: id.clone(),
            attr: Value::from(id.clone()),
            kind,
            raw: id,
        }
    }
}

/// How peers are named: this stack's groups by key (id → key), managed prefix lists by name (id → name).
struct Names<'a> {
    groups: &'a BTreeMap<String, String>,
    prefix_lists: &'a BTreeMap<String, String>,
}

fn peers(p: &IpPermission, names: &Names<'_>) -> Vec<PeerOf> {
    let mut peers = Vec::new();
    for r in p.ip_ranges() {
        peers.push(PeerOf::plain(
            "cidr",
            normalize_cidr(r.cidr_ip().unwrap_or_default()),
        ));
    }
    for r in p.ipv6_ranges() {
        peers.push(PeerOf::plain(
            "cidr6",
            normalize_cidr(r.cidr_ipv6().unwrap_or_default()),
        ));
    }
    for g in p.user_id_group_pairs() {
        let id = g.group_id().unwrap_or_default().to_owned();
        match names.groups.get(&id) {
            Some(k) => peers.push(PeerOf {
                label: format!("sg:{k}"),
                attr: Value::from(Addr::group(k).to_string()),
                kind: "group",
                raw: id,
            }),
            None => peers.push(PeerOf::plain("group", id)),
        }
    }
    for pl in p.prefix_list_ids() {
        let id = pl.prefix_list_id().unwrap_or_default().to_owned();
        match names.prefix_lists.get(&id) {
            Some(name) => {
                let label = format!("pl:{name}");
                peers.push(PeerOf {
                    attr: Value::from(label.clone()),
                    label,
                    kind: "prefix_list",
                    raw: id,
                });
            }
            None => peers.push(PeerOf::plain("prefix_list", id)),
        }
    }
    peers
}

/// Splits a group's permissions into one found rule per peer.
fn rules(
    group: &str,
    sg_id: &str,
    perms: &[IpPermission],
    egress: bool,
    names: &Names<'_>,
    out: &mut FoundSet,
) {
    let dir = if egress { "egress" } else { "ingress" };
    let group_addr = Addr::group(group).to_string();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1").to_owned();
        let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        let ports = if proto == "-1" {
            String::from("all")
        } else {
            format!("{from}-{to}")
        };
        let label = if proto == "tcp" && from == to {
            format!("tcp/{from}")
        } else {
            format!("{}/{ports}", if proto == "-1" { "all" } else { &proto })
        };
        for peer in peers(p, names) {
            let address = Addr::Rule {
                group: group.to_owned(),
                egress,
                ports: label.clone(),
                peer: peer.label,
            };
            let mut deps = vec![group_addr.clone()];
            if peer.kind == "group" {
                if let Some(k) = names.groups.get(&peer.raw) {
                    deps.push(Addr::group(k).to_string());
                }
            }
            out.insert(
                address.to_string(),
                Found::new(format!("{sg_id}/{dir}/{proto}/{from}-{to}/{}", peer.raw))
                    .attr("group", group_addr.clone())
                    .attr("egress", egress)
                    .attr("protocol", proto.clone())
                    .attr("ports", ports.clone())
                    .attr("peer", peer.attr)
                    .info("group_id", sg_id)
                    .info("from_port", from)
                    .info("to_port", to)
                    .info("peer_kind", peer.kind)
                    .info("peer_id", peer.raw)
                    .uses(deps),
            );
        }
    }
}

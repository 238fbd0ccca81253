//! This stack's security groups (found by tags) and their rules, one found rule per peer.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use ipnet::IpNet;
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::GROUPS;
use crate::Clients;

/// The groups tagged as this tool's (rules included).
pub(super) async fn describe(c: &Clients, tagger: &Tagger) -> Result<Vec<SecurityGroup>> {
    let filters: Vec<Filter> = tagger
        .filters()
        .into_iter()
        .map(|(n, v)| Filter::builder().name(n).values(v).build())
        .collect();
    c.ec2
        .describe_security_groups()
        .set_filters(Some(filters))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("security groups", "ec2:DescribeSecurityGroups", e))
}

/// Adds the groups that are ours and their rules to `out`; returns group id → group key.
pub(super) fn found(
    tagger: &Tagger,
    groups: Vec<SecurityGroup>,
    out: &mut FoundSet,
) -> BTreeMap<String, String> {
    let mut group_ids = BTreeMap::new();
    let mut ours: Vec<(String, SecurityGroup)> = Vec::new();
    for g in groups {
        let tags = g
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        let Some(Addr::Group(key)) = tagger.owned_address(tags).as_deref().and_then(Addr::parse)
        else {
            continue;
        };
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
        rules(key, id, g.ip_permissions(), false, &group_ids, out);
        rules(key, id, g.ip_permissions_egress(), true, &group_ids, out);
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

fn peers(p: &IpPermission, names: &BTreeMap<String, String>) -> Vec<PeerOf> {
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
        match names.get(&id) {
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
        peers.push(PeerOf::plain(
            "prefix_list",
            pl.prefix_list_id().unwrap_or_default().to_owned(),
        ));
    }
    peers
}

/// Splits a group's permissions into one found rule per peer.
fn rules(
    group: &str,
    sg_id: &str,
    perms: &[IpPermission],
    egress: bool,
    names: &BTreeMap<String, String>,
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
                if let Some(k) = names.get(&peer.raw) {
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

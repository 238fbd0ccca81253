//! What exists: the security groups with their rules (one describe call), the roles and their policies, the
//! keys behind this stack's aliases, and the account, read concurrently.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};
use futures::future::try_join_all;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::state::State;
use hms_core::{Error, Result};
use ipnet::IpNet;
use serde_json::Value;

use crate::plan::{self, EXECUTION_MANAGED_POLICY, INLINE_POLICY};
use crate::spec::{Spec, GROUPS};
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// The caller's account id.
    pub account: String,
    /// Security group id → group key (`alb`), for this stack's groups.
    pub group_ids: BTreeMap<String, String>,
    /// Rule addresses this tool recorded (made): never mistaken for rules added by hand.
    pub recorded_rules: std::collections::BTreeSet<String>,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }
}

fn normalize_cidr(c: &str) -> String {
    c.parse::<IpNet>()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| c.to_owned())
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
    let (dir, word) = if egress {
        ("egress", "to")
    } else {
        ("ingress", "from")
    };
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
        let mut peers: Vec<(String, Value, &str, String)> = Vec::new();
        for r in p.ip_ranges() {
            let c = normalize_cidr(r.cidr_ip().unwrap_or_default());
            peers.push((c.clone(), Value::from(c.clone()), "cidr", c));
        }
        for r in p.ipv6_ranges() {
            let c = normalize_cidr(r.cidr_ipv6().unwrap_or_default());
            peers.push((c.clone(), Value::from(c.clone()), "cidr6", c));
        }
        for g in p.user_id_group_pairs() {
            let id = g.group_id().unwrap_or_default().to_owned();
            match names.get(&id) {
                Some(k) => peers.push((format!("sg:{k}"), Value::from(plan::sg(k)), "group", id)),
                None => peers.push((id.clone(), Value::from(id.clone()), "group", id)),
            }
        }
        for pl in p.prefix_list_ids() {
            let id = pl.prefix_list_id().unwrap_or_default().to_owned();
            peers.push((id.clone(), Value::from(id.clone()), "prefix_list", id));
        }
        for (peer_label, peer, kind, raw) in peers {
            let address = format!("security.rule.{group}.{dir}[{label} {word} {peer_label}]");
            let mut deps = vec![plan::sg(group)];
            if kind == "group" {
                if let Some(k) = names.get(&raw) {
                    deps.push(plan::sg(k));
                }
            }
            out.insert(
                address,
                Found::new(format!("{sg_id}/{dir}/{proto}/{from}-{to}/{raw}"))
                    .attr("group", plan::sg(group))
                    .attr("egress", egress)
                    .attr("protocol", proto.clone())
                    .attr("ports", ports.clone())
                    .attr("peer", peer)
                    .info("group_id", sg_id)
                    .info("from_port", from)
                    .info("to_port", to)
                    .info("peer_kind", kind)
                    .info("peer_id", raw)
                    .uses(deps),
            );
        }
    }
}

async fn role(
    c: &Clients,
    name: &str,
    managed: bool,
) -> Result<(
    Option<aws_sdk_iam::types::Role>,
    Option<String>,
    Vec<String>,
)> {
    let get = async {
        match c.iam.get_role().role_name(name).send().await {
            Ok(o) => Ok(o.role().cloned()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(Error::aws(format!("role {name}"), "iam:GetRole", e)),
        }
    };
    let policy = async {
        match c
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.policy_document().to_owned())),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(Error::aws(format!("role {name}"), "iam:GetRolePolicy", e)),
        }
    };
    let attached = async {
        if !managed {
            return Ok(Vec::new());
        }
        match c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
        {
            Ok(o) => Ok(o
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(Vec::new()),
            Err(e) => Err(Error::aws(
                format!("role {name}"),
                "iam:ListAttachedRolePolicies",
                e,
            )),
        }
    };
    tokio::try_join!(get, policy, attached)
}

struct KeyFacts {
    meta: aws_sdk_kms::types::KeyMetadata,
    rotation: bool,
    policy: Option<String>,
    tags: Vec<(String, String)>,
}

async fn key_facts(c: &Clients, key_id: &str) -> Result<Option<KeyFacts>> {
    let what = format!("KMS key {key_id}");
    let describe = async {
        match c.kms.describe_key().key_id(key_id).send().await {
            Ok(o) => Ok(o.key_metadata().cloned()),
            Err(e) if code_of(&e) == Some("NotFoundException") => Ok(None),
            Err(e) => Err(Error::aws(&what, "kms:DescribeKey", e)),
        }
    };
    let rotation = async {
        match c.kms.get_key_rotation_status().key_id(key_id).send().await {
            Ok(o) => Ok(o.key_rotation_enabled()),
            // A key pending deletion cannot report rotation; it is not enabled for our purposes.
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("NotFoundException" | "KMSInvalidStateException")
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(Error::aws(&what, "kms:GetKeyRotationStatus", e)),
        }
    };
    let policy = async {
        match c
            .kms
            .get_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .send()
            .await
        {
            Ok(o) => Ok(o.policy().map(str::to_owned)),
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("NotFoundException" | "KMSInvalidStateException")
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::aws(&what, "kms:GetKeyPolicy", e)),
        }
    };
    let tags = async {
        match c.kms.list_resource_tags().key_id(key_id).send().await {
            Ok(o) => Ok(o
                .tags()
                .iter()
                .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned()))
                .collect()),
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("NotFoundException" | "KMSInvalidStateException")
                ) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(Error::aws(&what, "kms:ListResourceTags", e)),
        }
    };
    let (meta, rotation, policy, tags) = tokio::try_join!(describe, rotation, policy, tags)?;
    Ok(meta.map(|meta| KeyFacts {
        meta,
        rotation,
        policy,
        tags,
    }))
}

/// Reads everything hms-security owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let tagger = &spec.tagger;
    let groups = async {
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
            .map(|g: Vec<SecurityGroup>| g)
    };
    let account = async {
        c.sts
            .get_caller_identity()
            .send()
            .await
            .map(|o| o.account().unwrap_or_default().to_owned())
            .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))
    };
    let roles = async {
        let mut names: Vec<(String, String, bool)> = vec![(
            plan::EXECUTION_ROLE.to_owned(),
            spec.execution_role.clone(),
            true,
        )];
        names.extend(
            spec.task_roles
                .iter()
                .map(|t| (plan::task_role(&t.service), t.name.clone(), false)),
        );
        // Task roles of services no longer configured are found through state.
        for (a, r) in &state.resources {
            if a.starts_with("security.iam.task_role[")
                && !a.ends_with(".policy")
                && !names.iter().any(|(x, _, _)| x == a)
            {
                names.push((a.clone(), r.id.clone(), false));
            }
        }
        let facts = try_join_all(names.iter().map(|(_, n, m)| role(c, n, *m))).await?;
        Ok::<_, Error>(names.into_iter().zip(facts).collect::<Vec<_>>())
    };
    let keys = async {
        // The keys recorded in state are read at the same time as the aliases (one round when nothing
        // changed); a key an alias points at that state did not know is read after.
        let recorded: Vec<String> = spec
            .keys
            .iter()
            .filter_map(|(name, _)| state.id(&plan::key(name)).map(str::to_owned))
            .collect();
        let aliases = async {
            c.kms
                .list_aliases()
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws("KMS aliases", "kms:ListAliases", e))
        };
        let early = try_join_all(recorded.iter().map(|k| key_facts(c, k)));
        let (aliases, early): (
            Vec<aws_sdk_kms::types::AliasListEntry>,
            Vec<Option<KeyFacts>>,
        ) = tokio::try_join!(aliases, early)?;
        let ours: Vec<(String, String, String)> = spec
            .keys
            .iter()
            .filter_map(|(name, alias)| {
                aliases
                    .iter()
                    .find(|a| a.alias_name() == Some(alias.as_str()))
                    .and_then(|a| a.target_key_id())
                    .map(|k| (name.clone(), alias.clone(), k.to_owned()))
            })
            .collect();
        let mut known: BTreeMap<String, Option<KeyFacts>> =
            recorded.into_iter().zip(early).collect();
        let unknown: Vec<String> = ours
            .iter()
            .map(|(_, _, k)| k.clone())
            .filter(|k| !known.contains_key(k))
            .collect();
        let late = try_join_all(unknown.iter().map(|k| key_facts(c, k))).await?;
        known.extend(unknown.into_iter().zip(late));
        let mut facts: Vec<Option<KeyFacts>> = ours
            .iter()
            .map(|(_, _, k)| known.remove(k).flatten())
            .collect();
        let mut ours = ours;
        // A key in state whose alias is gone (deleted by hand, or a run killed between CreateKey and
        // CreateAlias) is still ours: found without its alias, so the plan recreates only the alias.
        for (name, alias) in &spec.keys {
            if ours.iter().any(|(n, _, _)| n == name) {
                continue;
            }
            if let Some(id) = state.id(&plan::key(name)) {
                if let Some(Some(f)) = known.remove(id) {
                    ours.push((name.clone(), format!("{alias} (missing)"), id.to_owned()));
                    facts.push(Some(f));
                }
            }
        }
        Ok::<_, Error>(ours.into_iter().zip(facts).collect::<Vec<_>>())
    };
    let (groups, account, roles, keys) = tokio::try_join!(groups, account, roles, keys)?;

    let mut found = FoundSet::new();
    let mut group_ids = BTreeMap::new();
    let mut ours: Vec<(String, SecurityGroup)> = Vec::new();
    for g in groups {
        let tags = g
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
        let Some(address) = tagger.owned_address(tags) else {
            continue;
        };
        let Some(key) = address
            .strip_prefix("security.sg.")
            .filter(|k| GROUPS.contains(k))
            .map(str::to_owned)
        else {
            continue;
        };
        group_ids.insert(g.group_id().unwrap_or_default().to_owned(), key.clone());
        ours.push((key, g));
    }
    for (key, g) in &ours {
        let id = g.group_id().unwrap_or_default();
        found.insert(
            plan::sg(key),
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
        rules(key, id, g.ip_permissions(), false, &group_ids, &mut found);
        rules(
            key,
            id,
            g.ip_permissions_egress(),
            true,
            &group_ids,
            &mut found,
        );
    }

    for ((address, name, managed), (role, policy, attached)) in roles {
        let Some(role) = role else { continue };
        found.insert(
            address.clone(),
            Found::new(name.clone())
                .attr("name", role.role_name())
                .attr(
                    "assume_role_policy",
                    role.assume_role_policy_document()
                        .map(|d| normalize(&Value::from(d)))
                        .unwrap_or(Value::Null),
                )
                .info("arn", role.arn())
                .tags(
                    role.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned())),
                ),
        );
        if let Some(doc) = policy {
            found.insert(
                format!("{address}.policy"),
                Found::new(format!("{name}:{INLINE_POLICY}"))
                    .attr("document", normalize(&Value::from(doc)))
                    .uses([address.clone()]),
            );
        }
        if managed && attached.iter().any(|a| a == EXECUTION_MANAGED_POLICY) {
            found.insert(
                plan::EXECUTION_MANAGED.to_owned(),
                Found::new(EXECUTION_MANAGED_POLICY)
                    .attr("policy_arn", EXECUTION_MANAGED_POLICY)
                    .uses([address.clone()]),
            );
        }
    }

    for ((name, alias, _), facts) in keys {
        let Some(k) = facts else { continue };
        let state_name = k
            .meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        found.insert(
            plan::key(&name),
            Found::new(k.meta.key_id())
                .attr("description", k.meta.description().unwrap_or_default())
                .attr("enabled", state_name == "Enabled")
                .attr("rotation", k.rotation)
                .attr(
                    "policy",
                    k.policy
                        .as_deref()
                        .map(|p| normalize(&Value::from(p)))
                        .unwrap_or(Value::Null),
                )
                .info("arn", k.meta.arn().unwrap_or_default())
                .info("key_state", state_name)
                .tags(k.tags),
        );
        if alias.ends_with(" (missing)") {
            continue;
        }
        found.insert(
            plan::alias(&name),
            Found::new(alias.clone())
                .attr("name", alias)
                .attr("target", plan::key(&name))
                .uses([plan::key(&name)]),
        );
    }
    let recorded_rules = state
        .resources
        .keys()
        .filter(|a| a.starts_with("security.rule."))
        .cloned()
        .collect();
    Ok(Observed {
        found,
        account,
        group_ids,
        recorded_rules,
    })
}

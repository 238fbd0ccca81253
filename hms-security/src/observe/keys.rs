//! The KMS keys behind this stack's aliases, and keys recorded in state whose alias is gone.

use std::collections::BTreeMap;

use aws_sdk_kms::types::{AliasListEntry, KeyMetadata};
use futures::future::try_join_all;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::Spec;
use hms_core::addr::Address;

/// The clients of the region the keys are looked up in (the stack's, or the replica's).
#[derive(Clone, Copy)]
pub(super) struct KeyClients<'a> {
    pub kms: &'a aws_sdk_kms::Client,
    pub tagging: &'a aws_sdk_resourcegroupstagging::Client,
    /// Recorded with each key found (`None`: the stack's region).
    pub region: Option<&'a str>,
}

/// What one key is.
pub(super) struct KeyFacts {
    meta: KeyMetadata,
    rotation: bool,
    policy: Option<String>,
    tags: Vec<(String, String)>,
}

/// One of this stack's keys: its name (`rds`), its alias (`None` when the alias is missing) and facts.
pub(super) struct OurKey {
    name: String,
    alias: Option<String>,
    facts: KeyFacts,
    /// Where it is, when not in the stack's region.
    region: Option<String>,
}

fn key_gone(code: Option<&str>) -> bool {
    matches!(code, Some("NotFoundException" | "KMSInvalidStateException"))
}

async fn key_facts(c: KeyClients<'_>, key_id: &str) -> Result<Option<KeyFacts>> {
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
            Err(e) if key_gone(code_of(&e)) => Ok(false),
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
            Err(e) if key_gone(code_of(&e)) => Ok(None),
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
            Err(e) if key_gone(code_of(&e)) => Ok(Vec::new()),
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

/// Reads this stack's keys. The keys recorded in state are read at the same time as the aliases (one
/// round when nothing changed); a key an alias points at that state did not know is read after.
pub(super) async fn describe(
    c: KeyClients<'_>,
    keys: &[(String, String)],
    spec: &Spec,
    state: &State,
) -> Result<Vec<OurKey>> {
    let recorded: Vec<String> = keys
        .iter()
        .filter_map(|(name, _)| state.id(&Addr::key(name).to_string()).map(str::to_owned))
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
    let (aliases, early): (Vec<AliasListEntry>, Vec<Option<KeyFacts>>) =
        tokio::try_join!(aliases, early)?;
    // (name, alias, key id) of each key whose alias exists.
    let aliased: Vec<(String, String, String)> = keys
        .iter()
        .filter_map(|(name, alias)| {
            aliases
                .iter()
                .find(|a| a.alias_name() == Some(alias.as_str()))
                .and_then(|a| a.target_key_id())
                .map(|k| (name.clone(), alias.clone(), k.to_owned()))
        })
        .collect();
    let mut known: BTreeMap<String, Option<KeyFacts>> = recorded.into_iter().zip(early).collect();
    let unknown: Vec<String> = aliased
        .iter()
        .map(|(_, _, k)| k.clone())
        .filter(|k| !known.contains_key(k))
        .collect();
    let late = try_join_all(unknown.iter().map(|k| key_facts(c, k))).await?;
    known.extend(unknown.into_iter().zip(late));
    let aliased_names: Vec<String> = aliased.iter().map(|(n, _, _)| n.clone()).collect();
    let mut ours: Vec<OurKey> = Vec::new();
    for (name, alias, key_id) in aliased {
        if let Some(facts) = known.remove(&key_id).flatten() {
            ours.push(OurKey {
                name,
                alias: Some(alias),
                facts,
                region: c.region.map(str::to_owned),
            });
        }
    }
    // A key in state whose alias is gone (deleted by hand, or a run killed between CreateKey and
    // CreateAlias) is still ours: found without its alias, so the plan recreates only the alias.
    for (name, _) in keys {
        if aliased_names.contains(name) {
            continue;
        }
        if let Some(id) = state.id(&Addr::key(name).to_string()) {
            if let Some(Some(facts)) = known.remove(id) {
                ours.push(OurKey {
                    name: name.clone(),
                    alias: None,
                    facts,
                    region: c.region.map(str::to_owned),
                });
            }
        }
    }
    ours.extend(tagged_keys(c, keys, spec, &ours).await?);
    Ok(ours)
}

/// The keys neither state nor an alias names, found by their `hms:*` tags (a run killed between CreateKey
/// and its record): one Resource Groups Tagging call, made only when a key is missing, and always at
/// `down`. Of several enabled keys tagged for one address, the oldest is adopted; the others are
/// duplicates, found at `security.kms.<name>#<key id>` so that `up` schedules their deletion (with a
/// warning in the plan) and `down` deletes them with the rest.
async fn tagged_keys(
    c: KeyClients<'_>,
    keys: &[(String, String)],
    spec: &Spec,
    ours: &[OurKey],
) -> Result<Vec<OurKey>> {
    let missing: Vec<String> = keys
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|n| !ours.iter().any(|k| &k.name == n))
        .collect();
    if missing.is_empty() && !spec.all_tagged_keys {
        return Ok(Vec::new());
    }
    let filter = |k: &str, v: &str| {
        aws_sdk_resourcegroupstagging::types::TagFilter::builder()
            .key(k)
            .values(v)
            .build()
    };
    let t = &spec.tagger;
    let pages: Vec<_> = c
        .tagging
        .get_resources()
        .resource_type_filters("kms:key")
        .tag_filters(filter(hms_core::tags::STACK, &t.id.stack))
        .tag_filters(filter(hms_core::tags::ENV, &t.id.env))
        .tag_filters(filter(hms_core::tags::TOOL, &t.tool))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("KMS keys by tag", "tag:GetResources", e))?;
    let mut out: Vec<OurKey> = Vec::new();
    let mut duplicates: Vec<OurKey> = Vec::new();
    for m in pages {
        let Some(arn) = m.resource_arn() else {
            continue;
        };
        let tags = m.tags().iter().map(|x| (x.key(), x.value()));
        let Some(Addr::Key(name)) = t.owned_address(tags).as_deref().and_then(Addr::parse) else {
            continue;
        };
        let adopted = ours.iter().find(|k| k.name == name);
        if adopted.is_some_and(|k| arn.ends_with(k.facts.meta.key_id())) {
            continue;
        }
        let Some(facts) = key_facts(c, arn).await? else {
            continue;
        };
        if facts.meta.key_state().map(|s| s.as_str()) != Some("Enabled") {
            continue;
        }
        if adopted.is_some() || !missing.contains(&name) {
            // State or the alias names another key for this address.
            duplicates.push(duplicate(c, &name, facts));
            continue;
        }
        let older = |a: &KeyFacts, b: &KeyFacts| a.meta.creation_date() < b.meta.creation_date();
        match out.iter_mut().find(|k| k.name == name) {
            Some(k) if older(&facts, &k.facts) => {
                let newer = std::mem::replace(&mut k.facts, facts);
                duplicates.push(duplicate(c, &name, newer));
            }
            Some(_) => duplicates.push(duplicate(c, &name, facts)),
            None => out.push(OurKey {
                name,
                alias: None,
                facts,
                region: c.region.map(str::to_owned),
            }),
        }
    }
    out.extend(duplicates);
    Ok(out)
}

/// A second enabled key tagged for `name`: its own address, `<name>#<key id>`.
fn duplicate(c: KeyClients<'_>, name: &str, facts: KeyFacts) -> OurKey {
    OurKey {
        name: format!("{name}{}{}", crate::addr::DUPLICATE, facts.meta.key_id()),
        alias: None,
        facts,
        region: c.region.map(str::to_owned),
    }
}

/// Adds the keys and their aliases to `out`.
pub(super) fn found(keys: Vec<OurKey>, out: &mut FoundSet) {
    for OurKey {
        name,
        alias,
        facts,
        region,
    } in keys
    {
        let key = Addr::key(&name).to_string();
        let state_name = facts
            .meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let mut found = Found::new(facts.meta.key_id());
        if let Some(r) = region {
            found = found.info("region", r);
        }
        out.insert(
            key.clone(),
            found
                .attr("description", facts.meta.description().unwrap_or_default())
                .attr("enabled", state_name == "Enabled")
                .attr("rotation", facts.rotation)
                .attr(
                    "policy",
                    facts
                        .policy
                        .as_deref()
                        .map(|p| normalize(&Value::from(p)))
                        .unwrap_or(Value::Null),
                )
                .info("arn", facts.meta.arn().unwrap_or_default())
                .info("key_state", state_name)
                .tags(facts.tags),
        );
        if let Some(alias) = alias {
            out.insert(
                Addr::alias(&name).to_string(),
                Found::new(alias.clone())
                    .attr("name", alias)
                    .attr("target", key.clone())
                    .uses([key]),
            );
        }
    }
}

//! The hosted zone: the one hms-dns created (by state, by its tags, or by the CallerReference of a run that
//! died before tagging it), or the existing public zone it writes into.

use aws_sdk_route53::types::{HostedZone, TagResourceType};
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{normalize, Spec};
use crate::Clients;

/// The zone the records go into.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneInfo {
    /// Without `/hostedzone/`.
    pub id: String,
    pub name: String,
    pub name_servers: Vec<String>,
    /// Made by hms-dns (and so deleted by its `down`).
    pub created: bool,
}

/// A zone id without its `/hostedzone/` prefix.
pub fn bare_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_owned()
}

/// Every zone named `name` (public and private), from ListHostedZonesByName.
pub async fn zones_named(c: &Clients, name: &str) -> Result<Vec<HostedZone>> {
    let want = format!("{name}.");
    let mut out = Vec::new();
    let mut next: Option<(String, Option<String>)> = Some((want.clone(), None));
    while let Some((dns, id)) = next.take() {
        let page = c
            .route53
            .list_hosted_zones_by_name()
            .dns_name(&dns)
            .set_hosted_zone_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(format!("zone {name}"), "route53:ListHostedZonesByName", e))?;
        let mut past = false;
        for z in page.hosted_zones() {
            if normalize(z.name()) == name {
                out.push(z.clone());
            } else {
                past = true;
            }
        }
        if page.is_truncated() && !past {
            if let Some(n) = page.next_dns_name().filter(|n| normalize(n) == name) {
                next = Some((n.to_owned(), page.next_hosted_zone_id().map(str::to_owned)));
            }
        }
    }
    Ok(out)
}

fn private(z: &HostedZone) -> bool {
    z.config().is_some_and(|c| c.private_zone())
}

/// The zone's name servers (GetHostedZone); `None` when it does not exist.
async fn get(c: &Clients, id: &str) -> Result<Option<(HostedZone, Vec<String>)>> {
    match c.route53.get_hosted_zone().id(id).send().await {
        Ok(o) => Ok(o.hosted_zone().cloned().map(|z| {
            let ns = o
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            (z, ns)
        })),
        Err(e) if code_of(&e) == Some("NoSuchHostedZone") => Ok(None),
        Err(e) => Err(Error::aws(format!("zone {id}"), "route53:GetHostedZone", e)),
    }
}

/// Tags of zones by id (ListTagsForResources, 10 at a time).
async fn tags_of(c: &Clients, ids: &[String]) -> Result<Vec<(String, Vec<(String, String)>)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(10) {
        let o = c
            .route53
            .list_tags_for_resources()
            .resource_type(TagResourceType::Hostedzone)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("zones {}", chunk.join(", ")),
                    "route53:ListTagsForResources",
                    e,
                )
            })?;
        for set in o.resource_tag_sets() {
            let tags = set
                .tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or_default().to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            out.push((bare_id(set.resource_id().unwrap_or_default()), tags));
        }
    }
    Ok(out)
}

/// What observe learns about the zone.
#[derive(Debug, Default)]
pub struct ZoneSeen {
    pub zone: Option<ZoneInfo>,
    /// The created zone as a found resource.
    pub found: Option<Found>,
    pub conflicts: Vec<String>,
}

fn found_of(spec: &Spec, info: &ZoneInfo, tags: Vec<(String, String)>) -> Found {
    Found::new(info.id.clone())
        .attr("name", info.name.clone())
        .attr("private", false)
        .tags(tags)
        .info("name_servers", Value::from(info.name_servers.clone()))
        .info("created", true)
        .info("caller_reference_prefix", spec.caller_reference_prefix())
}

/// Finds the zone.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<ZoneSeen> {
    let zone = Addr::Zone.to_string();
    let recorded = state
        .resources
        .get(&zone)
        .filter(|r| r.attrs.get("created") == Some(&Value::Bool(true)))
        .map(|r| r.id.clone());
    let mut seen = ZoneSeen::default();
    // The zone hms-dns made: by state first.
    if let Some(id) = &recorded {
        if let Some((z, ns)) = get(c, id).await? {
            let info = ZoneInfo {
                id: bare_id(z.id()),
                name: normalize(z.name()),
                name_servers: ns,
                created: true,
            };
            let tags = tags_of(c, std::slice::from_ref(&info.id))
                .await?
                .into_iter()
                .flat_map(|(_, t)| t)
                .collect();
            if spec.create_zone {
                seen.found = Some(found_of(spec, &info, tags));
                seen.zone = Some(info);
                return Ok(seen);
            }
            if info.name == spec.zone_name {
                // No longer created by config but named as the zone to use: used, never deleted.
                seen.zone = Some(ZoneInfo {
                    created: false,
                    ..info
                });
                return Ok(seen);
            }
            // A zone made for another domain_name: deleted (the plan says so) once its records are.
            seen.found = Some(found_of(spec, &info, tags));
        }
    }
    let named = zones_named(c, &spec.zone_name).await?;
    let public: Vec<&HostedZone> = named.iter().filter(|z| !private(z)).collect();
    let ids: Vec<String> = public.iter().map(|z| bare_id(z.id())).collect();
    let tags = if ids.is_empty() {
        Vec::new()
    } else {
        tags_of(c, &ids).await?
    };
    let tags_for = |id: &str| -> Vec<(String, String)> {
        tags.iter()
            .find(|(i, _)| i == id)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let prefix = spec.caller_reference_prefix();
    let ours = |z: &HostedZone| {
        let t = tags_for(&bare_id(z.id()));
        let pairs = t.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        spec.tagger.owned_address(pairs).as_deref() == Some(zone.as_str())
            // Made by a run that died before it could tag the zone.
            || z.caller_reference().starts_with(&prefix)
    };
    if spec.create_zone {
        let (mine, theirs): (Vec<&&HostedZone>, Vec<&&HostedZone>) =
            public.iter().partition(|z| ours(z));
        if let Some(z) = mine.first() {
            let id = bare_id(z.id());
            let ns = get(c, &id).await?.map(|(_, ns)| ns).unwrap_or_default();
            let info = ZoneInfo {
                id: id.clone(),
                name: spec.zone_name.clone(),
                name_servers: ns,
                created: true,
            };
            seen.found = Some(found_of(spec, &info, tags_for(&id)));
            seen.zone = Some(info);
            for extra in mine.iter().skip(1) {
                seen.conflicts.push(format!(
                    "{zone}: two zones named {} carry this stack's tags ({} and {}); delete the one that holds nothing",
                    spec.zone_name,
                    bare_id(z.id()),
                    bare_id(extra.id())
                ));
            }
        } else if let Some(z) = theirs.first() {
            seen.conflicts.push(format!(
                "{zone}: a public zone {} already exists ({}) and hms-dns did not make it; to write into it, remove dns.create_zone and set dns.zone = \"{}\"",
                spec.zone_name,
                bare_id(z.id()),
                spec.zone_name
            ));
        }
        return Ok(seen);
    }
    match public.as_slice() {
        [] => {}
        [z] => {
            seen.zone = Some(ZoneInfo {
                id: bare_id(z.id()),
                name: spec.zone_name.clone(),
                name_servers: Vec::new(),
                created: false,
            });
        }
        many => seen.conflicts.push(format!(
            "{} public zones are named {} ({}); Route 53 answers for one of them only — delete the others, then run again",
            many.len(),
            spec.zone_name,
            many.iter().map(|z| bare_id(z.id())).collect::<Vec<_>>().join(", ")
        )),
    }
    Ok(seen)
}

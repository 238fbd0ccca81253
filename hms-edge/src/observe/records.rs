//! The alias records at the domain and at `origin.<domain>`, read with one listing from the domain.

use aws_sdk_route53::types::RrType;
use hms_core::diff::Found;
use hms_core::state::State;
use hms_core::{Error, Result};

use super::{dns, Part};
use crate::addr::{Addr, Record};
use crate::spec::Spec;
use crate::Clients;

/// Reads the three record sets. A record set is ours when state records it, or when it is an alias (a
/// plain record at those names is someone else's and is never overwritten).
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let mut part = Part::default();
    let zone = spec.zone_id.clone().or_else(|| {
        state
            .resources
            .get(&Addr::Record(Record::A).to_string())
            .and_then(|r| r.attr("zone_id").map(str::to_owned))
    });
    let Some(zone) = zone else {
        return Ok(part);
    };
    let domain = if spec.domain_name.is_empty() {
        state
            .resources
            .get(&Addr::Record(Record::A).to_string())
            .and_then(|r| r.attr("name").map(str::to_owned))
    } else {
        Some(spec.domain_name.clone())
    };
    let Some(domain) = domain else {
        return Ok(part);
    };
    let origin = format!("origin.{domain}");
    let mut start = Some((format!("{domain}."), RrType::A));
    let mut sets = Vec::new();
    // Route 53 lists names in the order of their reversed labels: `origin.<domain>` follows the domain's
    // own record sets unless other names sort between them; two pages at most in practice.
    for _ in 0..5 {
        let Some((name, kind)) = start.take() else {
            break;
        };
        let out = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .start_record_name(name)
            .start_record_type(kind)
            .max_items(20)
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("records of {domain} in zone {zone}"),
                    "route53:ListResourceRecordSets",
                    e,
                )
            })?;
        let mut past = false;
        for r in out.resource_record_sets() {
            let n = dns(r.name());
            if n != domain && n != origin {
                if !n.ends_with(&format!(".{domain}")) {
                    past = true;
                }
                continue;
            }
            sets.push(r.clone());
        }
        let have_origin = sets.iter().any(|r| dns(r.name()) == origin);
        if past || have_origin || !out.is_truncated() {
            break;
        }
        start = out.next_record_name().map(|n| {
            (
                n.to_owned(),
                out.next_record_type().cloned().unwrap_or(RrType::A),
            )
        });
    }
    for (rec, name, kind) in [
        (Record::A, domain.clone(), "A"),
        (Record::Aaaa, domain.clone(), "AAAA"),
        (Record::Origin, origin.clone(), "A"),
    ] {
        let address = Addr::Record(rec).to_string();
        let Some(r) = sets.iter().find(|r| {
            dns(r.name()) == name && r.r#type().as_str() == kind && r.set_identifier().is_none()
        }) else {
            continue;
        };
        let recorded = state.id(&address).is_some();
        match r.alias_target() {
            Some(t) => {
                part.found.insert(
                    address,
                    Found::new(&name)
                        .attr("zone_id", zone.clone())
                        .attr("name", name.clone())
                        .attr("type", kind)
                        .attr("target", dns(t.dns_name()))
                        .attr("target_zone_id", t.hosted_zone_id())
                        .uses(if rec == Record::Origin {
                            vec![]
                        } else {
                            vec![Addr::Distribution.to_string()]
                        }),
                );
            }
            None if recorded => {
                part.found.insert(
                    address,
                    Found::new(&name)
                        .attr("zone_id", zone.clone())
                        .attr("name", name.clone())
                        .attr("type", kind)
                        .attr("target", serde_json::Value::Null),
                );
            }
            None if !spec.down => part.conflicts.push(format!(
                "{address}: {name} already has a {kind} record that hms-edge did not write; delete it (the domain must point at the distribution), then run again"
            )),
            None => {}
        }
    }
    Ok(part)
}

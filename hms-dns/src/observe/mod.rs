//! What exists: the zone and the certificates (one concurrent round), then the record sets hms-dns cares
//! about in that zone (a second round: their names come from the certificates).
//!
//! Ownership: the zone and the certificates carry `hms:*` tags. Record sets cannot carry tags, so a record
//! is this tool's when state records it, or when it holds exactly what this tool would write there (a
//! validation CNAME with ACM's value, the CAA record with the configured issuers): adopting such a record
//! changes nothing. Any other record at those names is someone else's and is never overwritten.

pub mod certificates;
pub mod records;
pub mod zone;

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::contract::Observation;
use hms_core::diff::{Found, FoundSet};
use hms_core::state::State;
use hms_core::Result;
use serde_json::{json, Value};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

pub use certificates::{Cert, ValidationRecord};
pub use records::RecordSet;
pub use zone::ZoneInfo;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The zone the records go into (created by hms-dns or found by name); `None`: none yet.
    pub zone: Option<ZoneInfo>,
    /// This tool's resources: the zone it created, its certificates and its record sets.
    pub found: FoundSet,
    /// This tool's certificates by address, as ACM describes them.
    pub certs: BTreeMap<String, Cert>,
    /// The validation record ACM gives for each certificate name (the same for every certificate of the
    /// account with that name), from the certificates found.
    pub validation: BTreeMap<String, ValidationRecord>,
    /// Reasons the run cannot go on (someone else's zone or record where ours would go).
    pub conflicts: Vec<String>,
    /// Said on stderr, not refused.
    pub warnings: Vec<String>,
}

impl Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }

    fn conflicts(&self) -> &[String] {
        &self.conflicts
    }
}

/// The found resource of a record set.
pub fn found_record(r: &RecordSet) -> Found {
    Found::new(r.name.clone())
        .attr("name", r.name.clone())
        .attr("type", r.kind.clone())
        .attr("ttl", r.ttl)
        .attr("values", r.values.clone())
        .uses([Addr::Zone.to_string()])
}

fn found_cert(c: &Cert, records: &BTreeSet<String>) -> Found {
    let validation: Vec<Value> = c
        .validation
        .iter()
        .map(|v| json!({"domain": v.domain, "name": v.name, "value": v.value}))
        .collect();
    Found::new(c.arn.clone())
        .attr("region", c.region.clone())
        .attr("names", c.names.clone())
        .attr("key_algorithm", c.key_algorithm.clone())
        .attr("usable", c.usable())
        .attr("status", c.status.clone())
        .tags(c.tags.clone())
        .info("arn", c.arn.clone())
        .info("in_use_by", c.in_use_by.clone())
        .info("validation", validation)
        // Deleted before the records that validate it (they are needed until it is gone).
        .uses(
            c.validation
                .iter()
                .map(|v| Addr::Validation(v.name.clone()).to_string())
                .filter(|a| records.contains(a)),
        )
}

/// Reads everything hms-dns owns or writes into.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let (zone, certs) = tokio::join!(
        zone::observe(c, spec, state),
        certificates::observe(c, spec, state)
    );
    let (zone, certs) = (zone?, certs?);
    let mut o = Observed {
        zone: zone.zone,
        ..Observed::default()
    };
    if !spec.down {
        o.conflicts.extend(zone.conflicts);
    }
    if let Some(f) = zone.found {
        o.found.insert(Addr::Zone.to_string(), f);
    }
    for d in &certs.duplicates {
        o.warnings.push(format!(
            "a second certificate carries the same address, left alone (delete it by hand if unused): {d}"
        ));
    }
    // What ACM wants at each validation record name (every certificate of ours agrees).
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    for cert in certs.certs.values() {
        for v in &cert.validation {
            o.validation
                .entry(v.domain.clone())
                .or_insert_with(|| v.clone());
            wanted
                .entry(v.name.clone())
                .or_insert_with(|| v.value.clone());
        }
    }
    let recorded: BTreeSet<String> = state
        .resources
        .keys()
        .filter(|a| matches!(Addr::parse(a), Some(Addr::Validation(_))))
        .cloned()
        .collect();
    let mut names: BTreeSet<String> = wanted.keys().cloned().collect();
    names.extend(recorded.iter().filter_map(|a| match Addr::parse(a) {
        Some(Addr::Validation(n)) => Some(n),
        _ => None,
    }));
    let caa_recorded = state.resources.contains_key(&Addr::Caa.to_string());
    if let Some(z) = &o.zone {
        let zid = z.id.clone();
        let lookups = try_join_all(names.iter().map(|n| {
            let zid = zid.clone();
            async move {
                records::get(c, &zid, n, "CNAME")
                    .await
                    .map(|r| (n.clone(), r))
            }
        }));
        let caa = async {
            if spec.caa_issuers.is_empty() && !caa_recorded {
                Ok(None)
            } else {
                records::get(c, &zid, &spec.domain_name, "CAA").await
            }
        };
        let (lookups, caa) = tokio::join!(lookups, caa);
        for (name, rec) in lookups? {
            let Some(rec) = rec else { continue };
            let address = Addr::Validation(name.clone()).to_string();
            let is_recorded = recorded.contains(&address);
            let matches = rec.simple
                && wanted.get(&name).map(|v| vec![v.clone()]) == Some(rec.values.clone());
            if is_recorded || matches {
                o.found.insert(address, found_record(&rec));
            } else if !spec.down {
                o.conflicts.push(format!(
                    "{address}: {name} already holds {} {:?}, not what ACM asks for ({}), and hms-dns did not write it; delete or correct that record, then run again",
                    rec.kind,
                    rec.values,
                    wanted.get(&name).map(String::as_str).unwrap_or("?")
                ));
            }
        }
        if let Some(rec) = caa? {
            let matches = rec.simple && rec.values == spec.caa_values();
            if caa_recorded || matches {
                o.found.insert(Addr::Caa.to_string(), found_record(&rec));
            } else if !spec.down && !spec.caa_issuers.is_empty() {
                o.conflicts.push(format!(
                    "{}: {} already has a CAA record set that hms-dns did not write ({}); add {} to it by hand and set dns.caa_issuers = [], or delete it",
                    Addr::Caa,
                    spec.domain_name,
                    rec.values.join("; "),
                    spec.caa_values().join(", ")
                ));
            }
        }
    }
    let records: BTreeSet<String> = o.found.keys().cloned().collect();
    let wanted_certs: BTreeSet<String> = spec
        .certificates
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    for (address, cert) in &certs.certs {
        if !spec.down && !wanted_certs.contains(address) && !cert.in_use_by.is_empty() {
            o.warnings.push(format!(
                "{address} {} is no longer wanted but still in use by {}; left in place — a later 'hms-dns up' deletes it once nothing uses it",
                cert.arn,
                cert.in_use_by.join(", ")
            ));
        }
        o.found.insert(address.clone(), found_cert(cert, &records));
    }
    o.certs = certs.certs;
    Ok(o)
}

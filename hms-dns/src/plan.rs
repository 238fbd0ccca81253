//! The desired zone, records and certificates, and the plan against what exists. Pure.
//!
//! Certificates are made before they are destroyed: one whose names (or key algorithm) change gets a new
//! address, so the plan creates the new one and deletes the old one — but only once nothing uses it
//! (ACM's InUseBy). A certificate still in use is left out of the plan (observe says so on stderr) and
//! deleted by a later `up`. Validation records are known only once ACM has given them: the plan holds those
//! of the certificates that exist (shared by every certificate that names the same domain); a new
//! certificate's records for names no certificate had before are written by its own create step.

use std::collections::{BTreeMap, BTreeSet};

use hms_core::addr::Address;
use hms_core::diff::{self, Desired, FoundSet};
use hms_core::plan::{Action, Plan};

use crate::addr::Addr;
use crate::observe::{Observed, ValidationRecord};
use crate::spec::{CertSpec, Spec, CAA_TTL, VALIDATION_TTL};

/// Certificates found that are no longer wanted but still in use: kept, with their validation records.
fn kept_in_use<'a>(spec: &Spec, observed: &'a Observed) -> Vec<&'a crate::observe::Cert> {
    observed
        .certs
        .iter()
        .filter(|(a, c)| {
            !spec
                .certificates
                .iter()
                .any(|s| s.address.to_string() == **a)
                && !c.in_use_by.is_empty()
        })
        .map(|(_, c)| c)
        .collect()
}

/// The validation records known for `names` (ACM gives them per name).
fn records_for<'a>(
    names: impl IntoIterator<Item = &'a String>,
    observed: &Observed,
) -> Vec<ValidationRecord> {
    names
        .into_iter()
        .filter_map(|n| observed.validation.get(n).cloned())
        .collect()
}

/// A validation record as desired.
pub fn validation_record(v: &ValidationRecord) -> Desired {
    Desired::new(Addr::Validation(v.name.clone()).to_string())
        .attr("name", v.name.clone())
        .attr("type", "CNAME")
        .attr("ttl", VALIDATION_TTL)
        .attr("values", vec![v.value.clone()])
        .uses([Addr::Zone.to_string()])
}

/// A certificate as desired.
pub fn certificate(spec: &Spec, c: &CertSpec, after: Vec<String>) -> Desired {
    let address = c.address.to_string();
    let name = spec.tagger.name(match c.role {
        crate::addr::Role::Both => "certificate",
        crate::addr::Role::Cdn => "certificate-cdn",
        crate::addr::Role::Alb => "certificate-alb",
    });
    Desired::new(&address)
        .attr("region", c.region.clone())
        .attr("names", c.sorted_names())
        .attr("key_algorithm", c.key_algorithm.clone())
        .attr("usable", true)
        .attr("status", "ISSUED")
        .tags(spec.tagger.tags(&address, Some(&name)))
        .replace_on(&["region", "names", "key_algorithm", "usable"])
        .after(after)
}

/// Everything the spec wants, in the shapes observe reads back.
pub fn desired(spec: &Spec, observed: &Observed) -> Vec<Desired> {
    let zone = Addr::Zone.to_string();
    let mut out = Vec::new();
    if spec.create_zone {
        out.push(
            Desired::new(&zone)
                .attr("name", spec.zone_name.clone())
                .attr("private", false)
                .tags(spec.tagger.tags(&zone, Some(&spec.zone_name)))
                .replace_on(&["name", "private"]),
        );
    }
    if !spec.caa_issuers.is_empty() {
        out.push(
            Desired::new(Addr::Caa.to_string())
                .attr("name", spec.domain_name.clone())
                .attr("type", "CAA")
                .attr("ttl", CAA_TTL)
                .attr("values", spec.caa_values())
                .uses([zone.clone()]),
        );
    }
    let mut records: BTreeMap<String, ValidationRecord> = BTreeMap::new();
    for c in &spec.certificates {
        for v in records_for(&c.names, observed) {
            records.insert(v.name.clone(), v);
        }
    }
    for c in kept_in_use(spec, observed) {
        for v in records_for(&c.names, observed) {
            records.insert(v.name.clone(), v);
        }
    }
    for v in records.values() {
        out.push(validation_record(v));
    }
    for c in &spec.certificates {
        // CAA first: ACM checks it before it issues.
        let mut after = vec![zone.clone(), Addr::Caa.to_string()];
        after.extend(
            records_for(&c.names, observed)
                .iter()
                .map(|v| Addr::Validation(v.name.clone()).to_string()),
        );
        out.push(certificate(spec, c, after));
    }
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let kept: BTreeSet<String> = kept_in_use(spec, observed)
        .iter()
        .map(|c| c.address.to_string())
        .collect();
    let found: FoundSet = observed
        .found
        .iter()
        .filter(|(a, _)| !kept.contains(*a))
        .map(|(a, f)| (a.clone(), f.clone()))
        .collect();
    let mut plan = diff::diff(&desired(spec, observed), &found);
    let replacement = |cdn: bool| {
        spec.cert_for(cdn)
            .map(|c| c.address.to_string())
            .unwrap_or_default()
    };
    for change in &mut plan.changes {
        if change.action != Action::Delete {
            continue;
        }
        match Addr::parse(&change.address) {
            // Superseded and used by nothing: made before it is destroyed, so the delete is routine.
            Some(Addr::Certificate { role, .. }) => {
                change.reason = format!(
                    "superseded by {}; nothing uses it",
                    replacement(role.serves_cdn())
                );
                change.drift = true;
            }
            Some(Addr::Validation(_)) => {
                change.reason = "validated only certificates that are deleted".into();
                change.drift = true;
            }
            _ => {}
        }
    }
    if observed.zone.is_none() && !spec.create_zone {
        plan.impossible.push(format!(
            "no public hosted zone {} in this account ({}); set dns.create_zone = true to create a zone for {} (then delegate it to the name servers in the outputs), or set dns.zone to the existing zone that holds it",
            spec.zone_name, spec.zone_from, spec.domain_name
        ));
    }
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{found_record, Cert, RecordSet, ZoneInfo};
    use hms_core::config::Config;
    use hms_core::diff::Found;

    fn spec(text: &str) -> Spec {
        let config = Config::from_toml(text, "hms.toml").expect("config");
        let tagger = hms_core::tags::Tagger::new(
            hms_core::document::Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "eu-west-1".into(),
            },
            "hms-dns",
            Default::default(),
        );
        crate::spec::from_config(&config, &tagger).expect("spec")
    }

    const CONFIG: &str = "[dns]\ndomain_name = \"hms.example.org\"\ncreate_zone = true\n";

    fn record_of(name: &str) -> ValidationRecord {
        ValidationRecord {
            domain: name.into(),
            name: format!("_v.{}", name.trim_start_matches("*.")),
            value: "_x.acm-validations.aws".into(),
        }
    }

    /// What observe reads back once `spec` is applied and issued.
    fn converged(s: &Spec) -> Observed {
        let mut o = Observed {
            zone: Some(ZoneInfo {
                id: "Z1".into(),
                name: s.zone_name.clone(),
                name_servers: vec!["ns-1".into()],
                created: true,
            }),
            ..Observed::default()
        };
        for c in &s.certificates {
            let cert = Cert {
                address: c.address.clone(),
                arn: format!(
                    "arn:aws:acm:{}:123456789012:certificate/{}",
                    c.region, c.token
                ),
                region: c.region.clone(),
                status: "ISSUED".into(),
                failure: None,
                names: c.sorted_names(),
                key_algorithm: c.key_algorithm.clone(),
                in_use_by: vec![],
                validation: c.names.iter().map(|n| record_of(n)).collect(),
                tags: vec![],
            };
            for v in &cert.validation {
                o.validation.insert(v.domain.clone(), v.clone());
            }
            o.certs.insert(c.address.to_string(), cert);
        }
        for d in desired(s, &o) {
            let mut f = Found::new(d.address.clone());
            f.attrs = d.attrs.clone();
            f.tags = d.tags.clone();
            o.found.insert(d.address.clone(), f);
        }
        o
    }

    fn actions(p: &Plan) -> Vec<(String, Action)> {
        p.changes
            .iter()
            .map(|c| (c.address.clone(), c.action))
            .collect()
    }

    #[test]
    fn empty_account_creates_zone_caa_and_two_certificates() {
        let s = spec(CONFIG);
        let p = plan(&s, &Observed::default());
        let got = actions(&p);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.iter().all(|(_, a)| *a == Action::Create));
        assert!(p.impossible.is_empty());
        let cert = p
            .changes
            .iter()
            .find(|c| c.address.starts_with("dns.certificate.alb["))
            .expect("alb cert");
        assert!(cert.depends_on.contains(&"dns.zone".to_owned()));
    }

    #[test]
    fn converged_is_empty_and_a_pending_certificate_is_waited_for() {
        let s = spec(CONFIG);
        let mut o = converged(&s);
        assert!(plan(&s, &o).is_empty(), "{:?}", actions(&plan(&s, &o)));
        let alb = s.cert_for(false).expect("alb").address.to_string();
        if let Some(f) = o.found.get_mut(&alb) {
            f.attrs.insert("status".into(), "PENDING_VALIDATION".into());
        }
        let p = plan(&s, &o);
        assert_eq!(actions(&p), vec![(alb, Action::Update)]);
        assert!(p.changes[0].reason.contains("status"));
    }

    #[test]
    fn a_missing_zone_is_impossible_unless_created() {
        let s = spec("[dns]\ndomain_name = \"hms.example.org\"\n");
        let p = plan(&s, &Observed::default());
        assert_eq!(p.impossible.len(), 1);
        assert!(
            p.impossible[0].contains("dns.create_zone") && p.impossible[0].contains("dns.zone"),
            "{}",
            p.impossible[0]
        );
    }

    #[test]
    fn new_names_create_before_destroy_and_keep_what_is_in_use() {
        let old = spec(CONFIG);
        let mut o = converged(&old);
        let new = spec(&format!(
            "{CONFIG}alternative_names = [\"www.hms.example.org\"]\n"
        ));
        let old_alb = old.cert_for(false).expect("alb").address.to_string();
        let new_alb = new.cert_for(false).expect("alb").address.to_string();
        assert_ne!(old_alb, new_alb);
        // Nothing uses the old ones: both replaced, deletes routine (no --allow-destroy).
        let p = plan(&new, &o);
        let got = actions(&p);
        assert!(got.contains(&(new_alb.clone(), Action::Create)), "{got:?}");
        assert!(got.contains(&(old_alb.clone(), Action::Delete)), "{got:?}");
        assert!(p.destructive().is_empty(), "{got:?}");
        let del = p.get(&old_alb).expect("delete");
        assert!(del.reason.contains(&new_alb), "{}", del.reason);
        // The records of the names both certificates share are kept.
        assert!(
            !got.iter().any(|(a, _)| a.starts_with("dns.validation[")),
            "{got:?}"
        );
        // The new certificate waits for the records it shares.
        let create = p.get(&new_alb).expect("create");
        assert!(create
            .depends_on
            .contains(&"dns.validation[_v.hms.example.org]".to_owned()));

        // The old ALB certificate is in use by the load balancer: not deleted.
        if let Some(c) = o.certs.get_mut(&old_alb) {
            c.in_use_by =
                vec!["arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/x/y".into()];
        }
        let got = actions(&plan(&new, &o));
        assert!(!got.iter().any(|(a, _)| *a == old_alb), "{got:?}");
    }

    #[test]
    fn records_of_deleted_certificates_go_with_them() {
        let s = spec(CONFIG);
        let mut o = converged(&s);
        let stale = RecordSet {
            name: "_v.gone.hms.example.org".into(),
            kind: "CNAME".into(),
            ttl: Some(300),
            values: vec!["_x.acm-validations.aws".into()],
            simple: true,
        };
        o.found.insert(
            Addr::Validation(stale.name.clone()).to_string(),
            found_record(&stale),
        );
        let p = plan(&s, &o);
        assert_eq!(
            actions(&p),
            vec![(
                "dns.validation[_v.gone.hms.example.org]".to_owned(),
                Action::Delete
            )]
        );
        assert!(p.destructive().is_empty());
    }

    #[test]
    fn conflicts_are_refused_and_caa_change_updates() {
        let s = spec(CONFIG);
        let mut o = converged(&s);
        o.conflicts.push("someone else's CAA".into());
        assert_eq!(plan(&s, &o).refused.len(), 1);
        let t = spec(&format!(
            "{CONFIG}caa_issuers = [\"amazon.com\", \"amazontrust.com\"]\n"
        ));
        let p = plan(&t, &converged(&s));
        assert_eq!(actions(&p), vec![("dns.caa".to_owned(), Action::Update)]);
    }
}

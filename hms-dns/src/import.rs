//! `hms-dns import`: a Terraform hosted zone (when hms-dns is to own it, `dns.create_zone`), the
//! certificates whose names and key algorithm are one of the config's (a certificate's names cannot change:
//! another one is left, and hms-dns requests its own), their validation records and
//! `aws_acm_certificate_validation` as part of them, and the CAA record at the domain.

use hms_core::terraform::{Mapping, TfResource, TfState};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{normalize, Spec};

/// Maps the state's resources of hms-dns's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let mut certs: Vec<(String, Addr, Vec<String>)> = Vec::new();
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_route53_zone" => zone(spec, r, &mut m),
            "aws_acm_certificate" => {
                let arn = r.str("arn").or_else(|| r.id()).unwrap_or_default();
                let mut names: Vec<String> = r
                    .get("subject_alternative_names")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .chain(r.str("domain_name").as_deref())
                    .map(normalize)
                    .collect();
                names.sort();
                names.dedup();
                let algorithm = r.str("key_algorithm").unwrap_or_else(|| "RSA_2048".into());
                let region = arn.split(':').nth(3).unwrap_or_default().to_owned();
                let wanted = spec.certificates.iter().find(|c| {
                    c.sorted_names() == names && c.key_algorithm == algorithm && c.region == region
                });
                match wanted {
                    Some(c) => {
                        m.map(r, c.address.to_string(), &arn);
                        let records = validation_names(r);
                        certs.push((arn, c.address.clone(), records));
                    }
                    None => m.skip(
                        r,
                        format!(
                            "its names {} ({algorithm}, {region}) are not those of a certificate of the config; hms-dns requests its own and the listener and distribution move to it",
                            names.join(", ")
                        ),
                    ),
                }
            }
            _ => {}
        }
    }
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_acm_certificate_validation" => {
                let arn = r.str("certificate_arn").unwrap_or_default();
                match certs.iter().find(|(a, _, _)| *a == arn) {
                    Some((_, by, _)) => m.cover(r, by.to_string()),
                    None => m.skip(r, "not the validation of a certificate taken over"),
                }
            }
            "aws_route53_record" => {
                let name = normalize(&r.str("name").unwrap_or_default());
                let kind = r.str("type").unwrap_or_default();
                let validates = certs.iter().any(|(_, _, names)| names.contains(&name));
                if kind == "CNAME" && validates {
                    m.cover(r, Addr::Validation(name).to_string());
                } else if kind == "CAA" && name == spec.domain_name {
                    m.cover(r, Addr::Caa.to_string());
                }
                // Other records are hms-edge's aliases, or not the stack's.
            }
            _ => {}
        }
    }
    m
}

/// The zone hms-dns is to own; a zone it only writes into stays Terraform's.
fn zone(spec: &Spec, r: &TfResource, m: &mut Mapping) {
    let name = normalize(&r.str("name").unwrap_or_default());
    let id = r
        .str("zone_id")
        .or_else(|| r.id())
        .unwrap_or_default()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    if name != spec.zone_name {
        m.skip(
            r,
            format!("not the zone {} (dns.zone_name)", spec.zone_name),
        );
    } else if spec.create_zone {
        m.map_with(
            r,
            Addr::Zone.to_string(),
            &id,
            &[("created", Value::Bool(true))],
        );
    } else {
        m.skip(
            r,
            "dns.create_zone is false: hms-dns writes its records into this zone and leaves it to whoever owns it (set dns.create_zone = true for hms-dns to own it)",
        );
    }
}

/// The validation record names of a certificate (`domain_validation_options[].resource_record_name`).
fn validation_names(r: &TfResource) -> Vec<String> {
    r.get("domain_validation_options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("resource_record_name").and_then(Value::as_str))
        .map(normalize)
        .collect()
}

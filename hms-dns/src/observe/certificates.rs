//! The certificates hms-dns made: by state first, then by their `hms:*` tags among the account's
//! certificates for the domain (ListCertificates, ListTagsForCertificate), in us-east-1 and the stack's
//! region.

use std::collections::BTreeMap;

use aws_sdk_acm::types::{CertificateDetail, Filters, KeyAlgorithm};
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::{normalize, Spec, KEY_ALGORITHMS};
use crate::Clients;

/// ACM's validation record for one name of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ValidationRecord {
    /// The certificate name it validates (a wildcard's record is its base name's).
    pub domain: String,
    /// Record name, normalized (no trailing dot).
    pub name: String,
    /// CNAME target, normalized.
    pub value: String,
}

/// One certificate as ACM describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cert {
    pub address: Addr,
    pub arn: String,
    pub region: String,
    /// `PENDING_VALIDATION`, `ISSUED`, `FAILED`, …
    pub status: String,
    pub failure: Option<String>,
    /// Every name, sorted.
    pub names: Vec<String>,
    pub key_algorithm: String,
    /// ARNs of what uses it (load balancers, distributions).
    pub in_use_by: Vec<String>,
    /// The validation records ACM has given so far (none for a moment after the request).
    pub validation: Vec<ValidationRecord>,
    pub tags: Vec<(String, String)>,
}

impl Cert {
    /// Whether the certificate can still become or stay valid.
    pub fn usable(&self) -> bool {
        matches!(self.status.as_str(), "PENDING_VALIDATION" | "ISSUED")
    }
}

/// The region of an ACM ARN (`arn:aws:acm:REGION:…`).
pub fn region_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// Reads one certificate from DescribeCertificate output.
pub fn from_detail(address: Addr, d: &CertificateDetail, tags: Vec<(String, String)>) -> Cert {
    let arn = d.certificate_arn().unwrap_or_default().to_owned();
    let mut names: Vec<String> = d
        .subject_alternative_names()
        .iter()
        .map(|n| normalize(n))
        .collect();
    if let Some(dn) = d.domain_name() {
        let dn = normalize(dn);
        if !names.contains(&dn) {
            names.push(dn);
        }
    }
    names.sort();
    names.dedup();
    let mut validation: Vec<ValidationRecord> = d
        .domain_validation_options()
        .iter()
        .filter_map(|v| {
            v.resource_record().map(|r| ValidationRecord {
                domain: normalize(v.domain_name()),
                name: normalize(r.name()),
                value: normalize(r.value()),
            })
        })
        .collect();
    validation.sort();
    Cert {
        address,
        region: region_of(&arn).unwrap_or_default().to_owned(),
        arn,
        status: d
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        failure: d.failure_reason().map(|f| f.as_str().to_owned()),
        names,
        key_algorithm: d
            .key_algorithm()
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default(),
        in_use_by: d.in_use_by().to_vec(),
        validation,
        tags,
    }
}

/// DescribeCertificate; `None` when it is gone.
pub async fn describe(acm: &aws_sdk_acm::Client, arn: &str) -> Result<Option<CertificateDetail>> {
    match acm.describe_certificate().certificate_arn(arn).send().await {
        Ok(o) => Ok(o.certificate().cloned()),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("certificate {arn}"),
            "acm:DescribeCertificate",
            e,
        )),
    }
}

async fn tags(acm: &aws_sdk_acm::Client, arn: &str) -> Result<Option<Vec<(String, String)>>> {
    match acm
        .list_tags_for_certificate()
        .certificate_arn(arn)
        .send()
        .await
    {
        Ok(o) => Ok(Some(
            o.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect(),
        )),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("certificate {arn}"),
            "acm:ListTagsForCertificate",
            e,
        )),
    }
}

/// The ARNs of this tool's certificates for the domain in one region, by their tagged address.
async fn tagged(c: &Clients, spec: &Spec, region: &str) -> Result<Vec<(Addr, String)>> {
    let acm = c.acm_in(region);
    let mut filters = Filters::builder();
    for k in KEY_ALGORITHMS {
        // ListCertificates lists only RSA_2048 certificates unless asked for other key types.
        filters = filters.key_types(KeyAlgorithm::from(*k));
    }
    let summaries: Vec<_> = acm
        .list_certificates()
        .includes(filters.build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            Error::aws(
                format!("certificates in {region}"),
                "acm:ListCertificates",
                e,
            )
        })?;
    let arns: Vec<String> = summaries
        .iter()
        .filter(|s| s.domain_name().map(normalize).as_deref() == Some(spec.domain_name.as_str()))
        .filter_map(|s| s.certificate_arn().map(str::to_owned))
        .collect();
    let found = try_join_all(arns.iter().map(|arn| async move {
        let t = tags(acm, arn).await?;
        Ok::<_, Error>(t.and_then(|t| {
            let pairs = t.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            spec.tagger
                .owned_address(pairs)
                .and_then(|a| Addr::parse(&a))
                .filter(|a| a.role().is_some())
                .map(|a| (a, arn.clone()))
        }))
    }))
    .await?;
    Ok(found.into_iter().flatten().collect())
}

/// What observe learns about certificates.
#[derive(Debug, Default)]
pub struct CertsSeen {
    pub certs: BTreeMap<String, Cert>,
    /// Extra copies (never made by a healthy run: reported, left alone).
    pub duplicates: Vec<String>,
}

/// Finds this tool's certificates.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<CertsSeen> {
    let regions = spec.cert_regions();
    let by_tags = try_join_all(regions.iter().map(|r| tagged(c, spec, r))).await?;
    let mut candidates: Vec<(Addr, String)> = state
        .resources
        .iter()
        .filter_map(|(a, r)| {
            Addr::parse(a)
                .filter(|a| a.role().is_some())
                .map(|a| (a, r.id.clone()))
        })
        .filter(|(_, arn)| region_of(arn).is_some())
        .collect();
    for (a, arn) in by_tags.into_iter().flatten() {
        if !candidates.iter().any(|(_, x)| *x == arn) {
            candidates.push((a, arn));
        }
    }
    let described = try_join_all(candidates.iter().map(|(a, arn)| async move {
        let region = region_of(arn).unwrap_or_default();
        let acm = c.acm_in(region);
        let (d, t) = tokio::join!(describe(acm, arn), tags(acm, arn));
        Ok::<_, Error>(match (d?, t?) {
            (Some(d), Some(t)) => Some(from_detail(a.clone(), &d, t)),
            _ => None,
        })
    }))
    .await?;
    let mut seen = CertsSeen::default();
    for cert in described.into_iter().flatten() {
        let key = cert.address.to_string();
        let recorded = state.id(&key) == Some(cert.arn.as_str());
        match seen.certs.get(&key) {
            Some(prev) if !recorded => {
                seen.duplicates
                    .push(format!("{key} {} (kept {})", cert.arn, prev.arn));
            }
            Some(prev) => {
                seen.duplicates
                    .push(format!("{key} {} (kept {})", prev.arn, cert.arn));
                seen.certs.insert(key, cert);
            }
            None => {
                seen.certs.insert(key, cert);
            }
        }
    }
    Ok(seen)
}

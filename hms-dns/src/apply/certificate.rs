//! Certificates: requested with DNS validation, their tags and an idempotency token (so that a retried or
//! resumed request makes no second certificate), recorded at once, their validation CNAMEs written into
//! the zone, then waited for until ISSUED. A resumed `up` finds a pending certificate and waits again.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_acm::types::{KeyAlgorithm, Tag, ValidationMethod};
use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::aws_tags::AcmTags;
use hms_core::contract::Ctx;
use hms_core::diff::change_tags;
use hms_core::error::{code_of, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::{json, Value};

use crate::addr::Addr;
use crate::observe::certificates::{describe, from_detail, region_of, Cert, ValidationRecord};
use crate::spec::{CertSpec, Spec, VALIDATION_TTL};
use crate::Clients;

use super::record::{create as create_record, Record};

/// How long ACM may take to hand out the validation records of a new request.
const RECORDS_WAIT: Duration = Duration::from_secs(300);

fn resource(c: &Cert) -> Resource {
    let validation: Vec<Value> = c
        .validation
        .iter()
        .map(|v| json!({"domain": v.domain, "name": v.name, "value": v.value}))
        .collect();
    Resource::new(c.arn.clone())
        .with("region", c.region.clone())
        .with("names", c.names.clone())
        .with("key_algorithm", c.key_algorithm.clone())
        .with("usable", c.usable())
        .with("status", c.status.clone())
        .with("arn", c.arn.clone())
        .with("in_use_by", c.in_use_by.clone())
        .with("validation", validation)
}

fn cert_spec<'a>(spec: &'a Spec, address: &str) -> Result<&'a CertSpec> {
    spec.certificates
        .iter()
        .find(|c| c.address.to_string() == address)
        .ok_or_else(|| Error::Internal(format!("{address}: not a desired certificate")))
}

/// Runs one step of a certificate's change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    match step {
        Step::Create => {
            let want = cert_spec(spec, &change.address)?;
            let arn = request(c, want, change, task).await?;
            let acm = c.acm_in(&want.region);
            let cert = settle(c, ctx, rec, &change.address, acm, &arn, task).await?;
            Ok(Some(resource(&cert)))
        }
        Step::Update => {
            let arn = rec.id(&change.address)?;
            let region = region_of(&arn).unwrap_or(&c.region).to_owned();
            let acm = c.acm_in(&region);
            hms_core::tags::sync(&AcmTags(acm), &arn, change).await?;
            let cert = settle(c, ctx, rec, &change.address, acm, &arn, task).await?;
            Ok(Some(resource(&cert)))
        }
        Step::Delete => {
            let arn = rec.id(&change.address)?;
            let region = region_of(&arn).unwrap_or(&c.region).to_owned();
            delete(c.acm_in(&region), &change.address, &arn).await?;
            Ok(None)
        }
    }
}

/// RequestCertificate; returns the ARN of the (new or, for a repeated token, earlier) request.
async fn request(c: &Clients, want: &CertSpec, change: &Change, task: &Task<'_>) -> Result<String> {
    let acm = c.acm_in(&want.region);
    let tags = change_tags(change.after.as_ref())
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let send = |token: String| {
        acm.request_certificate()
            .domain_name(&want.names[0])
            .set_subject_alternative_names((want.names.len() > 1).then(|| want.names[1..].to_vec()))
            .validation_method(ValidationMethod::Dns)
            .key_algorithm(KeyAlgorithm::from(want.key_algorithm.as_str()))
            .idempotency_token(token)
            .set_tags(Some(tags.clone()))
            .send()
    };
    let err = |e| {
        Error::aws(
            format!("{} ({})", change.address, want.names.join(", ")),
            "acm:RequestCertificate",
            e,
        )
    };
    task.status("requesting", false);
    let arn = send(want.token.clone())
        .await
        .map_err(err)?
        .certificate_arn()
        .unwrap_or_default()
        .to_owned();
    if describe(acm, &arn).await?.is_some() {
        return Ok(arn);
    }
    // The token names a certificate deleted within the hour ACM remembers tokens for (a `down` and an
    // `up` in a row): ask again with a token of this request alone.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let fresh = format!("{}{:016x}", &want.token[..16], nanos as u64);
    Ok(send(fresh)
        .await
        .map_err(err)?
        .certificate_arn()
        .unwrap_or_default()
        .to_owned())
}

/// The certificate now; an error when it has vanished.
async fn read(address: &str, acm: &aws_sdk_acm::Client, arn: &str) -> Result<Cert> {
    let d = describe(acm, arn).await?.ok_or_else(|| Error::Aws {
        resource: format!("{address} {arn}"),
        operation: "acm:DescribeCertificate".into(),
        code: "ResourceNotFoundException".into(),
        message: "the certificate was deleted while hms-dns worked on it".into(),
    })?;
    let addr = Addr::parse(address)
        .ok_or_else(|| Error::Internal(format!("{address}: not a certificate address")))?;
    Ok(from_detail(addr, &d, Vec::new()))
}

/// Records the certificate, writes its validation records and waits until it is issued.
async fn settle(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    address: &str,
    acm: &aws_sdk_acm::Client,
    arn: &str,
    task: &Task<'_>,
) -> Result<Cert> {
    let cert = read(address, acm, arn).await?;
    rec.record(address, Some(resource(&cert))).await?;
    // An ISSUED certificate still gets its records: ACM revalidates through them when it renews, and the
    // next plan wants them (a certificate can be issued before the first look, e.g. when an earlier
    // certificate's records already answer for the same names).
    let cert = if cert.status == "ISSUED" {
        cert
    } else {
        if !cert.usable() {
            return Err(failed(address, &cert));
        }
        // ACM hands out the records a few seconds after the request.
        let expected = cert.names.len();
        wait_until(
            task,
            &format!("{address} {arn}"),
            "ACM gives its validation records",
            ctx.timeout.min(RECORDS_WAIT),
            || async {
                let now = read(address, acm, arn).await?;
                let named: std::collections::BTreeSet<&str> =
                    now.validation.iter().map(|v| v.domain.as_str()).collect();
                Ok((named.len() >= expected || now.status == "ISSUED").then_some(now))
            },
        )
        .await?
    };
    let zone = super::zone_id(rec)?;
    let mut distinct: BTreeMap<&str, &ValidationRecord> = BTreeMap::new();
    for v in &cert.validation {
        distinct.entry(v.name.as_str()).or_insert(v);
    }
    for v in distinct.values() {
        let record_address = Addr::Validation(v.name.clone()).to_string();
        let r = Record {
            name: v.name.clone(),
            kind: "CNAME".into(),
            ttl: VALIDATION_TTL,
            values: vec![v.value.clone()],
        };
        let have = rec.resource(&record_address);
        if have.as_ref() == Some(&r.resource()) {
            continue;
        }
        task.status(&format!("writing {} CNAME", v.name), false);
        create_record(c, &zone, &r, &record_address).await?;
        rec.record(&record_address, Some(r.resource())).await?;
    }
    if cert.status == "ISSUED" {
        rec.record(address, Some(resource(&cert))).await?;
        return Ok(cert);
    }
    let checks: Vec<String> = distinct
        .values()
        .map(|v| format!("{} CNAME {}", v.name, v.value))
        .collect();
    let what = format!(
        "ISSUED (ACM looks up {} through the zone's delegation: check that the zone's name servers are the ones its parent delegates to)",
        checks.join(" and ")
    );
    let issued = wait_until(
        task,
        &format!("{address} {arn}"),
        &what,
        ctx.patience(),
        || async {
            let now = read(address, acm, arn).await?;
            match now.status.as_str() {
                "ISSUED" => Ok(Some(now)),
                "PENDING_VALIDATION" => Ok(None),
                _ => Err(failed(address, &now)),
            }
        },
    )
    .await?;
    Ok(issued)
}

fn failed(address: &str, cert: &Cert) -> Error {
    Error::Aws {
        resource: format!("{address} {}", cert.arn),
        operation: "acm:DescribeCertificate".into(),
        code: cert.status.clone(),
        message: format!(
            "the certificate will not be issued ({}); the next 'hms-dns up --allow-destroy' requests a new one",
            cert.failure.as_deref().unwrap_or("no reason given")
        ),
    }
}

async fn delete(acm: &aws_sdk_acm::Client, address: &str, arn: &str) -> Result<()> {
    match acm.delete_certificate().certificate_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        Err(e) if code_of(&e) == Some("ResourceInUseException") => {
            let users = describe(acm, arn)
                .await?
                .map(|d| d.in_use_by().join(", "))
                .unwrap_or_default();
            Err(Error::Refused(format!(
                "{address} {arn} is in use by {users}; it was not deleted (a later run deletes it once nothing uses it)"
            )))
        }
        Err(e) => Err(Error::aws(
            format!("{address} {arn}"),
            "acm:DeleteCertificate",
            e,
        )),
    }
}

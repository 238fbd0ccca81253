//! What the stack document holds to watch: hms-ecs's cluster, services and load balancer, hms-db's
//! instance. Each is optional (a stack without that tool), or only planned (its values are known after the
//! producer's `up`).

use hms_core::contract::{SpecInput, Upstream};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr;

/// One ECS service as hms-ecs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: String,
    pub name: String,
}

/// A value from upstream that CloudWatch needs (a dimension): known, or only planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Known(String),
    /// Known after the producer's `up`.
    Planned,
}

impl Dim {
    /// The value, `None` while only planned.
    pub fn known(&self) -> Option<String> {
        match self {
            Dim::Known(v) => Some(v.clone()),
            Dim::Planned => None,
        }
    }

    /// The value, or what stands for it until `producer` makes it.
    pub fn shown(&self, producer: &str) -> String {
        self.known()
            .unwrap_or_else(|| format!("(known after {producer} up)"))
    }
}

/// The database hms-db reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Db {
    /// The instance identifier.
    pub id: Dim,
    /// The allocated storage, GiB (the free-storage alarm is a share of it).
    pub storage_gib: f64,
}

/// The cache hms-cache reports: its member cache clusters, primary first (ElastiCache's metrics are per
/// member, keyed by `CacheClusterId`), or only planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cache {
    Members(Vec<String>),
    /// Known after `hms-cache up`.
    Planned,
}

/// A certificate hms-dns reports, watched for its expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Address key: `alb` (the regional one) or `cdn` (us-east-1).
    pub key: &'static str,
    pub arn: Dim,
    /// The region ACM publishes its metrics in.
    pub region: String,
}

/// What the stack document holds to watch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watched {
    /// The ECS cluster (`None`: hms-ecs is not in the stack).
    pub cluster: Option<String>,
    /// The cluster's services, by key.
    pub services: Vec<Service>,
    /// The load balancer's `app/<name>/<id>` (`None`: no load balancer).
    pub alb: Option<Dim>,
    /// The database (`None`: hms-db is not in the stack).
    pub db: Option<Db>,
    /// The cache (`None`: hms-cache is not in the stack).
    pub cache: Option<Cache>,
    /// hms-dns's certificates (none without hms-dns).
    pub certificates: Vec<Certificate>,
}

/// Reads what there is to watch from the document.
pub fn watched(input: &SpecInput<'_>) -> Result<Watched> {
    let mut w = Watched::default();
    match input.optional("ecs") {
        Upstream::Absent => {}
        Upstream::Unknown => {
            return Err(Error::usage(
                "stdin: outputs.ecs is planned but holds nothing to watch; run 'hms-ecs plan | hms-observe plan'",
            ))
        }
        Upstream::Known(_) => {
            w.cluster = Some(cluster(input)?);
            w.services = services(input)?;
            w.alb = alb(input)?;
        }
    }
    w.db = db(input)?;
    w.cache = cache(input)?;
    w.certificates = certificates(input);
    Ok(w)
}

fn cache(input: &SpecInput<'_>) -> Result<Option<Cache>> {
    if input.optional("cache") == Upstream::Absent {
        return Ok(None);
    }
    let members = match input.optional("cache.member_clusters") {
        Upstream::Known(v) => v,
        _ => return Ok(Some(Cache::Planned)),
    };
    let bad = || {
        Error::usage(format!(
            "stdin: outputs.cache.member_clusters = {members}: not a list of cache cluster ids; run 'hms-cache up | hms-observe {}'",
            input.command
        ))
    };
    let mut out = Vec::new();
    for m in members.as_array().ok_or_else(bad)? {
        let id = m.as_str().filter(|id| addr::key_ok(id)).ok_or_else(bad)?;
        out.push(id.to_owned());
    }
    Ok(Some(Cache::Members(out)))
}

/// The ALB's certificate (in the stack's region) and the CDN's (in us-east-1, where CloudFront takes
/// them), when the stack has hms-dns.
fn certificates(input: &SpecInput<'_>) -> Vec<Certificate> {
    if input.optional("dns") == Upstream::Absent {
        return Vec::new();
    }
    let region = input.tagger.id.region.as_str();
    let arn = |path: &str| match input.optional(path) {
        Upstream::Known(v) => v.as_str().map(|s| Dim::Known(s.to_owned())),
        Upstream::Unknown => Some(Dim::Planned),
        Upstream::Absent => None,
    };
    let mut out = Vec::new();
    if let Some(a) = arn("dns.certificate_arn") {
        out.push(Certificate {
            key: "alb",
            arn: a,
            region: region.to_owned(),
        });
    }
    // In us-east-1 hms-dns makes one certificate for both the ALB and CloudFront: one alarm.
    let alb = out.first().map(|c| c.arn.clone());
    let one = |a: &Dim| match a {
        Dim::Planned => region == "us-east-1",
        known => alb.as_ref() == Some(known),
    };
    if let Some(a) = arn("dns.cdn_certificate_arn").filter(|a| !one(a)) {
        out.push(Certificate {
            key: "cdn",
            arn: a,
            region: String::from("us-east-1"),
        });
    }
    out
}

fn cluster(input: &SpecInput<'_>) -> Result<String> {
    Ok(input
        .upstream("ecs.cluster_name", "hms-ecs")?
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::usage(
                "stdin: outputs.ecs.cluster_name is missing; run 'hms-ecs up | hms-observe up'",
            )
        })?
        .to_owned())
}

fn services(input: &SpecInput<'_>) -> Result<Vec<Service>> {
    let mut services = Vec::new();
    let svc = input.doc.output("ecs.services").and_then(Value::as_object);
    for (key, v) in svc.into_iter().flatten() {
        // The key is part of the alarms' addresses (`observe.alarm[backend.cpu]`).
        if !addr::key_ok(key) {
            return Err(Error::usage(format!(
                "stdin: outputs.ecs.services.{key:?}: not a service key (hms-ecs writes lowercase letters, digits and '-')"
            )));
        }
        let n = v.get("name").and_then(Value::as_str).ok_or_else(|| {
            Error::usage(format!(
                "stdin: outputs.ecs.services.{key}.name is missing; run 'hms-ecs up | hms-observe up'"
            ))
        })?;
        services.push(Service {
            key: key.clone(),
            name: n.to_owned(),
        });
    }
    services.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(services)
}

fn alb(input: &SpecInput<'_>) -> Result<Option<Dim>> {
    Ok(match input.optional("ecs.alb_arn") {
        Upstream::Absent => None,
        Upstream::Unknown => Some(Dim::Planned),
        Upstream::Known(v) => {
            let arn = v.as_str().unwrap_or_default();
            Some(Dim::Known(alb_dimension(arn).ok_or_else(|| {
                Error::usage(format!(
                    "stdin: outputs.ecs.alb_arn = {v}: not an application load balancer ARN; run 'hms-ecs up | hms-observe up'"
                ))
            })?))
        }
    })
}

fn db(input: &SpecInput<'_>) -> Result<Option<Db>> {
    let id = match input.optional("db") {
        Upstream::Absent => None,
        Upstream::Unknown => Some(Dim::Planned),
        Upstream::Known(_) => match input.optional("db.instance_id") {
            Upstream::Known(v) => v.as_str().map(|s| Dim::Known(s.to_owned())),
            Upstream::Unknown => Some(Dim::Planned),
            Upstream::Absent => None,
        },
    };
    let Some(id) = id else {
        return Ok(None);
    };
    let storage_gib = match input.optional("db.allocated_storage") {
        Upstream::Known(v) => v.as_f64().filter(|s| *s > 0.0).ok_or_else(|| {
            Error::usage(format!(
                "stdin: outputs.db.allocated_storage = {v}: not a size in GiB; run 'hms-db up | hms-observe {}'",
                input.command
            ))
        })?,
        // `down` deletes what exists; it needs no upstream value.
        _ if input.is_down() => 100.0,
        _ => {
            return Err(Error::usage(format!(
                "needs outputs.db.allocated_storage (the free-storage alarm is a share of it) — run 'hms-db up | hms-observe {}'",
                input.command
            )))
        }
    };
    Ok(Some(Db { id, storage_gib }))
}

/// The `app/<name>/<id>` part of an ALB ARN, CloudWatch's `LoadBalancer` dimension.
pub fn alb_dimension(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":loadbalancer/")?;
    rest.starts_with("app/").then(|| rest.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alb_dimension_from_arn() {
        assert_eq!(
            alb_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hms-alb/50dc6c495c0c9188"
            )
            .as_deref(),
            Some("app/hms-alb/50dc6c495c0c9188")
        );
        assert_eq!(alb_dimension("arn:aws:s3:::x"), None);
    }
}

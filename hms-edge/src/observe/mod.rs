//! What exists, read in one round of concurrent calls: the bucket and its policy, the distribution, the
//! origin access control, the response headers policy, the web ACLs and the ALB's association, the alias
//! records, the log group and delivery, and the origin secret (only its hash is kept).
//!
//! Ownership: the bucket, the distribution, the web ACLs and the log group carry `hms:*` tags; the origin
//! access control and the response headers policy cannot, and are found by their names (unique in the
//! account); records by state or by holding exactly the alias hms-edge writes.
//! Ids that name another resource of this tool are written back as its address, as plan writes them.

pub mod bucket;
pub mod cloudfront;
pub mod logs;
pub mod records;
pub mod waf;

use hms_core::contract::Observation;
use hms_core::diff::FoundSet;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::{Addr, Door};
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Reasons the run cannot go on.
    pub conflicts: Vec<String>,
    /// A short sha256 of the origin secret's current value.
    pub secret_hash: Option<String>,
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

/// A DNS name in the compared form: lowercase, no trailing dot, no `dualstack.` prefix.
pub fn dns(s: &str) -> String {
    let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
    s.strip_prefix("dualstack.").map(str::to_owned).unwrap_or(s)
}

pub use hms_core::secret::short_hash;

/// The origin secret's value (read to hand it to CloudFront, or to hash it; never shown).
pub async fn secret_value(c: &Clients, arn: &str) -> Result<String> {
    let out = c
        .secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| Error::aws(arn, "secretsmanager:GetSecretValue", e))?;
    out.secret_string().map(str::to_owned).ok_or_else(|| {
        Error::Refused(format!(
            "{arn}: the origin secret holds no string value; run 'hms-ecs up' to write it"
        ))
    })
}

/// Replaces `id` by `address` wherever a string value equals it.
fn to_address(v: &mut Value, id: &str, address: &str) {
    match v {
        Value::String(s) if s == id => *s = address.to_owned(),
        Value::Array(a) => a.iter_mut().for_each(|x| to_address(x, id, address)),
        Value::Object(m) => m.values_mut().for_each(|x| to_address(x, id, address)),
        _ => {}
    }
}

/// Reads everything hms-edge owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let secret = async {
        match &spec.origin_secret_arn {
            Some(arn) if !spec.down => secret_value(c, arn).await.map(|v| Some(short_hash(&v))),
            _ => Ok(None),
        }
    };
    let (bucket, dist, oac, rhp, acl_cdn, acl_alb, assoc, recs, logs, secret) = tokio::join!(
        bucket::observe(c, spec, state),
        cloudfront::distribution(c, spec, state),
        cloudfront::origin_access_control(c, spec, state),
        cloudfront::headers_policy(c, spec, state),
        waf::web_acl(c, spec, state, Door::Cdn),
        waf::web_acl(c, spec, state, Door::Alb),
        waf::association(c, spec, state),
        records::observe(c, spec, state),
        logs::observe(c, spec, state),
        secret,
    );
    let mut o = Observed {
        secret_hash: secret?,
        ..Observed::default()
    };
    for part in [
        bucket?, dist?, oac?, rhp?, acl_cdn?, acl_alb?, assoc?, recs?, logs?,
    ] {
        o.found.extend(part.found);
        o.conflicts.extend(part.conflicts);
    }
    // Ids of our own resources, as the addresses plan writes.
    let mut ids: Vec<(String, String)> = Vec::new();
    for address in [
        Addr::OriginAccessControl,
        Addr::HeadersPolicy,
        Addr::WebAcl(Door::Cdn),
        Addr::WebAcl(Door::Alb),
        Addr::Distribution,
        Addr::LogGroup,
    ] {
        let address = address.to_string();
        let Some(f) = o.found.get(&address) else {
            continue;
        };
        ids.push((f.id.clone(), address.clone()));
        for key in ["arn", "domain_name"] {
            if let Some(Value::String(v)) = f.info.get(key) {
                let v = if key == "domain_name" {
                    dns(v)
                } else {
                    v.clone()
                };
                ids.push((v, address.clone()));
            }
        }
    }
    for (address, f) in o.found.iter_mut() {
        for (id, a) in &ids {
            if a != address {
                for v in f.attrs.values_mut() {
                    to_address(v, id, a);
                }
            }
        }
    }
    // In `down` nothing is refused for what is not ours: it is simply not touched.
    if spec.down {
        o.conflicts.clear();
    }
    Ok(o)
}

/// What one part of observe found.
#[derive(Debug, Default)]
pub struct Part {
    pub found: FoundSet,
    pub conflicts: Vec<String>,
}

//! The static bucket: its settings and its policy, one call each, concurrently.

use hms_core::diff::Found;
use hms_core::policy::normalize;
use hms_core::s3;
use hms_core::state::State;
use hms_core::Result;
use serde_json::Value;

use super::Part;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

const BUCKET: Addr = Addr::Bucket;

/// Reads the bucket and its policy.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let name = state
        .id(&BUCKET.to_string())
        .map(str::to_owned)
        .unwrap_or_else(|| spec.bucket.clone());
    let recorded = state.id(&BUCKET.to_string()).is_some();
    let resource = format!("{BUCKET} {name}");
    let (head, read) = tokio::join!(
        s3::exists(&c.s3, &resource, &name, "choose another edge.bucket"),
        s3::read_baseline(&c.s3, &resource, &name),
    );
    let mut part = Part::default();
    match head? {
        Ok(true) => {}
        Ok(false) => return Ok(part),
        Err(conflict) => {
            part.conflicts.push(conflict);
            return Ok(part);
        }
    }
    let read = read?;
    let owned = spec
        .tagger
        .owned_address(read.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .as_deref()
        == Some(BUCKET.to_string().as_str());
    if !recorded && !owned {
        part.conflicts.push(format!(
            "{BUCKET} {name} already exists and hms-edge did not make it; choose another edge.bucket, or tag it hms:stack={}, hms:env={}, hms:tool=hms-edge, hms:address={BUCKET} to adopt it",
            spec.tagger.id.stack, spec.tagger.id.env
        ));
        return Ok(part);
    }
    let found = read
        .attrs(Found::new(&name).attr("name", name.clone()))
        .info("arn", format!("arn:aws:s3:::{name}"));
    part.found.insert(BUCKET.to_string(), found);
    if let Some(p) = read.policy {
        part.found.insert(
            Addr::BucketPolicy.to_string(),
            Found::new(&name)
                .attr("bucket", name.clone())
                .attr("policy", normalize(&Value::from(p)))
                .uses([BUCKET.to_string(), Addr::Distribution.to_string()]),
        );
    }
    Ok(part)
}

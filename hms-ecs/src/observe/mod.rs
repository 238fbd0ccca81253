//! What exists, read in one concurrent round whose describe calls do not grow one per service: services
//! described 10 at a time, target groups, scalable targets and policies listed, the load balancer once.
//! Only tags that no describe call returns are read one resource at a time (log groups, scalable targets,
//! task definitions), and the load balancer's, its listeners', rules' and target groups' together (20 a call).
//!
//! [`observe`] runs one fetch per kind at once, each reading its resources and then their tags:
//! `cluster`, `bucket` (the log bucket), `alb` (load balancer, listeners, rules, target groups), `service` (services and the task
//! definitions they run), `scaling` (scalable targets and policies), `logs` and `secret` (the
//! origin-verify secret and the hashes of the values the rules accept). Then each kind's
//! builder turns what was read into [`Found`](hms_core::diff::Found) records, in the order they need each
//! other: target groups before the listeners and services that point at them, services before their
//! scaling targets.

mod alb;
mod bucket;
mod cluster;
mod logs;
mod scaling;
mod secret;
mod service;

#[cfg(test)]
pub(crate) use service::content_of;
pub(crate) use service::family_of;

use std::collections::BTreeMap;

use hms_core::addr::Address;
use hms_core::diff::FoundSet;
use hms_core::state::State;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::desired::OriginHashes;
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Service key → (desired, running) counts.
    pub counts: BTreeMap<String, (i32, i32)>,
    /// The hashes of the origin-verify secret's values the rules should accept.
    pub origin: OriginHashes,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }
}

/// Tags as read: (key, value) pairs.
type Pairs = Vec<(String, String)>;

/// Target group ARN → its address.
type TargetGroups = BTreeMap<String, Addr>;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The address a resource's tags give it, when it is this tool's in this stack.
fn address_of(tagger: &Tagger, tags: &Pairs) -> Option<Addr> {
    tagger
        .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .and_then(|a| Addr::parse(&a))
}

/// A same-named resource that is not ours at `address` is refused rather than adopted.
fn owned(tagger: &Tagger, what: &str, name: &str, tags: &Pairs, address: &str) -> Result<()> {
    match tagger.owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Some(a) if a == address => Ok(()),
        _ => Err(Error::Refused(format!("{what} {name} already exists and is not this stack's ({address}); rename it in config or remove it"))),
    }
}

/// The services to describe: the spec's, and those recorded in state but no longer in config.
fn service_names(spec: &Spec, state: &State) -> Vec<String> {
    let mut names: Vec<String> = spec.services.iter().map(|s| s.name.clone()).collect();
    for (a, r) in &state.resources {
        if matches!(Addr::parse(a), Some(Addr::Service(_))) {
            if let Some(n) = r.attr("name") {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_owned());
                }
            }
        }
    }
    names
}

/// Reads everything hms-ecs owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let names = service_names(spec, state);
    let (cluster, bucket, elb, services, scaling, logs, origin) = tokio::try_join!(
        cluster::fetch(c, spec),
        bucket::fetch(c, spec, state),
        alb::fetch(c, spec, state),
        service::fetch(c, spec, state, &names),
        scaling::fetch(c, spec, &names),
        logs::fetch(c, spec, state),
        secret::fetch(c, spec, state),
    )?;
    let mut found = FoundSet::new();
    let origin = secret::build(spec, origin, &mut found)?;
    cluster::build(spec, state, cluster, &mut found)?;
    bucket::build(spec, state, bucket, &mut found)?;
    let target_groups = alb::build(spec, state, &elb, &mut found)?;
    logs::build(&logs, &mut found);
    let counts = service::build(spec, state, &services, &target_groups, &mut found);
    scaling::build(spec, &scaling, &mut found);
    Ok(Observed {
        found,
        counts,
        origin,
    })
}

//! What exists: the topic with its key and subscriptions, the alarms (by name: the desired ones and those
//! recorded in state), the RDS event subscriptions (by the stack's names), the dashboard, the sampling rule and the group, with their tags — in one round of concurrent
//! calls once state knows the topic's ARN (the first run asks STS for the account first). One room per
//! kind reads and builds what it found: [`topic`], [`alarms`], [`events`], [`dashboard`], [`xray`].

mod alarms;
mod dashboard;
mod deletions;
mod events;
mod topic;
mod xray;

use hms_core::diff::FoundSet;
use hms_core::state::State;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::{partition, Spec};
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Resources with this stack's names that belong to someone else.
    pub conflicts: Vec<String>,
}

impl hms_core::contract::Observation for Observed {
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

/// What one kind's describe found: resources by address, and conflicts.
type Part = (FoundSet, Vec<String>);

/// Why a resource found by this stack's name is not this tool's to manage: only what carries this tool's
/// tags for `address`, or is recorded in state, is adopted (anything else could be another stack's, or made
/// by hand, and `down` would delete it).
fn not_ours(
    spec: &Spec,
    address: &Addr,
    what: &str,
    tags: &[(String, String)],
    recorded: bool,
) -> Option<String> {
    let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let address = address.to_string();
    if recorded || spec.tagger.owned_address(pairs()).as_deref() == Some(address.as_str()) {
        return None;
    }
    let owner: Vec<String> = pairs()
        .filter(|(k, _)| k.starts_with("hms:"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(if owner.is_empty() {
        format!(
            "{what} already exists and hms-observe did not make it; remove or rename it, or adopt it on purpose by tagging it hms:stack={}, hms:env={}, hms:tool=hms-observe, hms:address={address}",
            spec.tagger.id.stack, spec.tagger.id.env
        )
    } else {
        format!(
            "{what} belongs to another stack or tool ({}); rename or remove it",
            owner.join(", ")
        )
    })
}

/// The names to look for at a singleton address: the wanted one first, then the one recorded in state
/// when it differs (renamed in config: found and replaced, not orphaned).
fn with_recorded(state: &State, address: &Addr, wanted: Option<&str>) -> Vec<String> {
    let recorded = state.id(&address.to_string()).map(str::to_owned);
    let mut v: Vec<String> = wanted.map(str::to_owned).into_iter().collect();
    v.extend(recorded.filter(|id| Some(id.as_str()) != wanted));
    v
}

/// The topic's ARN: from state, else from the account (one STS call on the first run).
async fn topic_arn(c: &Clients, spec: &Spec, recorded: Option<&str>) -> Result<String> {
    if let Some(arn) = recorded.filter(|a| a.ends_with(&format!(":{}", spec.topic_name))) {
        return Ok(arn.to_owned());
    }
    let me = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?;
    Ok(format!(
        "arn:{}:sns:{}:{}:{}",
        partition(&spec.region),
        spec.region,
        me.account().unwrap_or_default(),
        spec.topic_name
    ))
}

/// Reads everything hms-observe owns, in one round of concurrent describes.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let recorded_topic = state
        .resources
        .get(&Addr::Topic.to_string())
        .and_then(|r| r.attr("arn"))
        .map(str::to_owned);
    let arn = topic_arn(c, spec, recorded_topic.as_deref()).await?;
    let rule_names = with_recorded(state, &Addr::SamplingRule, Some(&spec.sampling.name));
    let group_names = with_recorded(state, &Addr::Group, Some(&spec.group_name));
    let dashboard_names = with_recorded(
        state,
        &Addr::Dashboard,
        spec.dashboard.as_ref().map(|d| d.name.as_str()),
    );
    let parts: [Part; 7] = tokio::try_join!(
        topic::observe(c, spec, state, &arn, recorded_topic.as_deref()),
        alarms::observe(c, spec, state),
        events::observe(c, spec, state),
        deletions::observe(c, spec, state),
        dashboard::observe(c, &dashboard_names),
        xray::sampling_rule(c, spec, state, &rule_names),
        xray::group(c, spec, state, &group_names),
    )
    .map(|(a, b, c, d, e, f, g)| [a, b, c, d, e, f, g])?;
    let mut observed = Observed::default();
    for (found, conflicts) in parts {
        observed.found.extend(found);
        observed.conflicts.extend(conflicts);
    }
    Ok(observed)
}

//! What exists, read in one concurrent round: the security groups with their rules (one describe call,
//! [`groups`]), the roles and their policies ([`roles`]), the keys behind this stack's aliases ([`keys`]),
//! and the account. Each room then turns its answers into found resources.

mod flow_logs;
mod groups;
mod keys;
mod roles;

use std::collections::{BTreeMap, BTreeSet};

use hms_core::addr::Address;
use hms_core::diff::FoundSet;
use hms_core::state::State;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::{Spec, REPLICA_KEY};
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// The caller's account id.
    pub account: String,
    /// Security group id → group key (`alb`), for this stack's groups.
    pub group_ids: BTreeMap<String, String>,
    /// Rule addresses this tool recorded (made): never mistaken for rules added by hand.
    pub recorded_rules: BTreeSet<String>,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }
}

async fn account(c: &Clients) -> Result<String> {
    c.sts
        .get_caller_identity()
        .send()
        .await
        .map(|o| o.account().unwrap_or_default().to_owned())
        .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))
}

/// The region of the replica key: `backup.replica_region`, else the one state recorded it in (the key
/// of a replica no longer configured is found there, so that the plan deletes it).
pub fn replica_region(spec: &Spec, state: &State) -> Option<String> {
    spec.replica.as_ref().map(|r| r.region.clone()).or_else(|| {
        state
            .resources
            .get(&Addr::key(REPLICA_KEY).to_string())
            .and_then(|r| r.attr("region"))
            .map(str::to_owned)
    })
}

/// Reads everything hms-security owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let home = keys::KeyClients {
        kms: &c.kms,
        tagging: &c.tagging,
        region: None,
    };
    let region = replica_region(spec, state);
    let (replica_kms, replica_tagging) = match &region {
        Some(r) => (Some(c.kms_in(r)), Some(c.tagging_in(r))),
        None => (None, None),
    };
    let replica_keys: Vec<(String, String)> = vec![(
        REPLICA_KEY.to_owned(),
        spec.replica.as_ref().map_or_else(
            || {
                format!(
                    "alias/{}-{}-{REPLICA_KEY}",
                    spec.tagger.id.stack, spec.tagger.id.env
                )
            },
            |r| r.alias.clone(),
        ),
    )];
    let replica = async {
        match (&replica_kms, &replica_tagging) {
            (Some(kms), Some(tagging)) => {
                let there = keys::KeyClients {
                    kms,
                    tagging,
                    region: region.as_deref(),
                };
                keys::describe(there, &replica_keys, spec, state).await
            }
            _ => Ok(Vec::new()),
        }
    };
    let (groups, prefix_lists, account, roles, mut keys, replica, flow_log_group) = tokio::try_join!(
        groups::describe(c, &spec.tagger, state),
        groups::prefix_lists(c, &spec.prefix_lists),
        account(c),
        roles::describe(c, spec, state),
        keys::describe(home, &spec.keys, spec, state),
        replica,
        flow_logs::describe(c, spec, state),
    )?;
    keys.extend(replica);
    let mut found = FoundSet::new();
    let group_ids = groups::found(
        &spec.tagger,
        groups,
        &groups::recorded(state),
        &prefix_lists,
        &mut found,
    );
    roles::found(roles, &mut found);
    keys::found(keys, &mut found);
    flow_logs::found(flow_log_group, &mut found);
    let recorded_rules = state
        .resources
        .keys()
        .filter(|a| matches!(Addr::parse(a), Some(Addr::Rule { .. })))
        .cloned()
        .collect();
    Ok(Observed {
        found,
        account,
        group_ids,
        recorded_rules,
    })
}

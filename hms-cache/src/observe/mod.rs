//! What exists: the replication group and its members, the subnet and parameter groups (with their
//! parameters), the AUTH secret, the two log groups, and the tags of all of them, read in one round of
//! concurrent calls (nine in a converged stack). Only the members state does not know yet (a first run,
//! a replica added outside the tool) and the tags the tagging API did not return take a second step.
//!
//! Everything is found by state first and by its name second; a resource with hms-cache's name that is
//! neither recorded nor tagged as this stack's (`spec.tagger.owned_address`) is not adopted: the run is
//! refused, naming it.

mod group;
mod groups;
mod logs;
mod secret;
mod tags;

pub use group::transit;
pub(crate) use secret::current_version;

use aws_sdk_elasticache::types::ReplicationGroup;
use hms_core::addr::Address;
use hms_core::contract::Observation;
use hms_core::diff::{Found, FoundSet};
use hms_core::state::State;
use hms_core::Result;

use crate::addr::{Addr, LogKind};
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Resources with our names that are not this stack's: they refuse the run.
    pub conflicts: Vec<String>,
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

/// Tags as (key, value) pairs.
type Pairs = Vec<(String, String)>;

/// What state tells observe before any call.
struct Recorded {
    /// The members of the recorded group, described in the first round.
    members: Vec<String>,
    /// The recorded group id when it is not the configured one (the id was changed in config: the old
    /// group is found, and the plan replaces it instead of orphaning it).
    group: Option<String>,
    /// The parameter groups to describe: the spec's, and those of other families.
    parameter_groups: Vec<String>,
    /// The subnet group's recorded name when it is not the configured one (taken over from Terraform).
    subnet_group: Option<String>,
}

impl Recorded {
    fn of(spec: &Spec, state: &State) -> Self {
        let group = state.resources.get(&Addr::ReplicationGroup.to_string());
        let members = group
            .and_then(|g| g.attrs.get("members"))
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut parameter_groups = vec![spec.parameter_group.clone()];
        for (a, r) in &state.resources {
            if matches!(Addr::parse(a), Some(Addr::ParameterGroup(_)))
                && !parameter_groups.contains(&r.id)
            {
                parameter_groups.push(r.id.clone());
            }
        }
        Recorded {
            members,
            group: group.map(|g| g.id.clone()).filter(|id| *id != spec.id),
            parameter_groups,
            subnet_group: state
                .id(&Addr::SubnetGroup.to_string())
                .filter(|id| *id != spec.subnet_group)
                .map(str::to_owned),
        }
    }
}

/// The group's members, the primary first.
fn member_ids(rg: &ReplicationGroup) -> Vec<String> {
    let primary = rg
        .node_groups()
        .iter()
        .flat_map(|g| g.node_group_members())
        .find(|m| m.current_role() == Some("primary"))
        .and_then(|m| m.cache_cluster_id())
        .map(str::to_owned);
    let mut ids: Vec<String> = rg.member_clusters().to_vec();
    if let Some(p) = primary {
        ids.retain(|i| *i != p);
        ids.insert(0, p);
    }
    ids
}

/// Reads everything hms-cache owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let known = Recorded::of(spec, state);
    let log_prefix = format!("/elasticache/{}/", spec.id);
    let (rg, members, subnet_group, parameter_groups, secret, log_groups, tagged) = tokio::try_join!(
        group::describe(c, &spec.id),
        group::members(c, &known.members),
        async {
            match groups::subnet_group(c, &spec.subnet_group).await? {
                Some(g) => Ok(Some(g)),
                None => match &known.subnet_group {
                    Some(name) => groups::subnet_group(c, name).await,
                    None => Ok(None),
                },
            }
        },
        groups::parameter_groups(c, &known.parameter_groups),
        secret::describe(c, &spec.secret_name),
        logs::list(c, &log_prefix),
        tags::all(c, spec),
    )?;
    let rg = match (rg, &known.group) {
        (None, Some(old)) => group::describe(c, old).await?,
        (rg, _) => rg,
    };

    let mut observed = Observed::default();
    let mut check = Check {
        spec,
        state,
        observed: &mut observed,
    };
    let ec_tags = async |arn: &str| -> Result<Pairs> {
        match tagged.get(arn) {
            Some(t) => Ok(t.clone()),
            None => tags::elasticache(c, arn).await,
        }
    };
    if let Some(g) = &subnet_group {
        let tags = ec_tags(g.arn().unwrap_or_default()).await?;
        let name = g.cache_subnet_group_name().unwrap_or_default();
        check.adopt(
            Addr::SubnetGroup,
            "cache subnet group",
            name,
            groups::subnet_group_found(g, tags),
        );
    }
    for p in &parameter_groups {
        let Some(g) = &p.group else { continue };
        let tags = ec_tags(g.arn().unwrap_or_default()).await?;
        let address = Addr::parameter_group(g.cache_parameter_group_family().unwrap_or_default());
        check.adopt(
            address,
            "cache parameter group",
            &p.name,
            groups::parameter_group_found(g, &p.params, tags),
        );
    }
    if let Some(s) = &secret {
        let name = s.name().unwrap_or_default();
        check.adopt(Addr::AuthSecret, "secret", name, secret::found(s));
    }
    for kind in LogKind::ALL {
        let name = spec.log_group(kind);
        let Some(g) = log_groups.iter().find(|g| g.log_group_name() == Some(name)) else {
            continue;
        };
        let arn = logs::arn(g);
        let tags = match tagged.get(&arn) {
            Some(t) => t.clone(),
            None => tags::logs(c, &arn).await?,
        };
        check.adopt(
            Addr::LogGroup(kind),
            "log group",
            name,
            logs::found(g, tags),
        );
    }
    if let Some(rg) = &rg {
        let ids = member_ids(rg);
        let mut members = members;
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| {
                !members
                    .iter()
                    .any(|m| m.cache_cluster_id() == Some(id.as_str()))
            })
            .cloned()
            .collect();
        if !missing.is_empty() {
            members.extend(group::members(c, &missing).await?);
        }
        let members: Vec<_> = ids
            .iter()
            .filter_map(|id| {
                members
                    .iter()
                    .find(|m| m.cache_cluster_id() == Some(id.as_str()))
                    .cloned()
            })
            .collect();
        let tags = ec_tags(rg.arn().unwrap_or_default()).await?;
        let id = rg.replication_group_id().unwrap_or_default();
        let secret_found = check
            .observed
            .found
            .contains_key(&Addr::AuthSecret.to_string());
        let found = group::found(
            spec,
            rg,
            &ids,
            &members,
            &parameter_groups,
            secret_found,
            tags,
            subnet_group
                .as_ref()
                .and_then(|g| g.cache_subnet_group_name()),
        );
        check.adopt(Addr::ReplicationGroup, "replication group", id, found);
    }
    Ok(observed)
}

/// Adopts what is this stack's, refuses the rest.
struct Check<'a> {
    spec: &'a Spec,
    state: &'a State,
    observed: &'a mut Observed,
}

impl Check<'_> {
    fn adopt(&mut self, address: Addr, what: &str, name: &str, found: Found) {
        let a = address.to_string();
        let recorded = self.state.id(&a) == Some(found.id.as_str());
        let tags = found.tags.clone().unwrap_or_default();
        let tagged = self
            .spec
            .tagger
            .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if recorded || tagged.as_deref() == Some(a.as_str()) {
            self.observed.found.insert(a, found);
            return;
        }
        let id = &self.spec.tagger.id;
        let fix = match address {
            Addr::ReplicationGroup
            | Addr::SubnetGroup
            | Addr::ParameterGroup(_)
            | Addr::LogGroup(_) => "choose another cache.replication_group_id",
            Addr::AuthSecret => "use another --stack or --env, or delete that secret",
        };
        self.observed.conflicts.push(format!(
            "{a}: {what} {name} already exists and is not this stack's (not tagged hms:stack={}, hms:env={}, hms:tool=hms-cache, hms:address={a}); {fix}, or tag it so to adopt it on purpose",
            id.stack, id.env
        ));
    }
}

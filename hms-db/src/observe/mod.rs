//! What exists: the instance, its subnet group and its parameter groups (with their parameters and
//! tags), read in one round of concurrent describe calls; the groups' tags join that round when state
//! already knows their ARNs. Each kind has its room: the describe call and the builder of its [`Found`].
//!
//! A resource with hms-db's name that is not this stack's (by its `hms:*` tags) is refused, never adopted.

mod instance;
mod parameter_group;
mod subnet_group;

use hms_core::addr::Address;
use hms_core::diff::FoundSet;
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// The instance's status (`available`, `creating`, …).
    pub status: Option<String>,
    /// Whether the instance has deletion protection on.
    pub deletion_protection: bool,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }
}

/// Tags as (key, value) pairs.
type Pairs = Vec<(String, String)>;

/// What state tells observe before any call.
struct Recorded {
    /// The parameter groups to describe: the spec's, and those of other majors (left by an upgrade).
    parameter_groups: Vec<String>,
    /// The instance's recorded identifier when it is not the configured one (the identifier was changed
    /// in config: the old instance is found, and the plan replaces it instead of orphaning it).
    instance: Option<String>,
    subnet_group_arn: Option<String>,
    parameter_group_arn: Option<String>,
    /// The subnet group's recorded name when it is not the configured one (taken over from Terraform).
    subnet_group: Option<String>,
}

impl Recorded {
    fn of(spec: &Spec, state: &State) -> Self {
        let mut parameter_groups = vec![spec.parameter_group.clone()];
        for (a, r) in &state.resources {
            let is_group = matches!(Addr::parse(a), Some(Addr::ParameterGroup(_)));
            if is_group && !parameter_groups.contains(&r.id) {
                parameter_groups.push(r.id.clone());
            }
        }
        let arn = |a: &Addr| {
            state
                .resources
                .get(&a.to_string())
                .and_then(|r| r.attr("arn"))
                .map(str::to_owned)
        };
        Recorded {
            parameter_groups,
            instance: state
                .id(&Addr::Instance.to_string())
                .filter(|id| *id != spec.identifier)
                .map(str::to_owned),
            subnet_group_arn: arn(&Addr::SubnetGroup),
            parameter_group_arn: arn(&Addr::parameter_group(&spec.family)),
            subnet_group: state
                .id(&Addr::SubnetGroup.to_string())
                .filter(|id| *id != spec.subnet_group)
                .map(str::to_owned),
        }
    }
}

/// Reads everything hms-db owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let known = Recorded::of(spec, state);
    let (instance, subnet_group, parameter_groups, (sg_tags, pg_tags)) = tokio::try_join!(
        instance::describe(c, &spec.identifier, known.instance.as_deref()),
        async {
            match subnet_group::describe(c, &spec.subnet_group).await? {
                Some(g) => Ok(Some(g)),
                None => match &known.subnet_group {
                    Some(name) => subnet_group::describe(c, name).await,
                    None => Ok(None),
                },
            }
        },
        parameter_group::describe_all(c, &known.parameter_groups),
        early_tags(
            c,
            known.subnet_group_arn.as_deref(),
            known.parameter_group_arn.as_deref()
        ),
    )?;

    let mut found = FoundSet::new();
    let tagger = &spec.tagger;
    if let Some(g) = &subnet_group {
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let tags = tags_of(c, arn, known.subnet_group_arn.as_deref(), sg_tags).await?;
        let address = Addr::SubnetGroup;
        let name = g.db_subnet_group_name().unwrap_or_default();
        owned(
            tagger,
            "DB subnet group",
            name,
            &tags,
            &address,
            state.id(&address.to_string()) == Some(name),
        )?;
        found.insert(address.to_string(), subnet_group::found(g, tags));
    }
    for p in &parameter_groups {
        let Some(g) = &p.group else { continue };
        let address = Addr::parameter_group(g.db_parameter_group_family().unwrap_or_default());
        let arn = g.db_parameter_group_arn().unwrap_or_default();
        let early = pg_tags.clone();
        let tags = tags_of(c, arn, known.parameter_group_arn.as_deref(), early).await?;
        let recorded = state.id(&address.to_string()) == Some(p.name.as_str());
        owned(
            tagger,
            "DB parameter group",
            &p.name,
            &tags,
            &address,
            recorded,
        )?;
        found.insert(
            address.to_string(),
            parameter_group::found(g, &p.params, tags),
        );
    }
    let mut observed = Observed::default();
    if let Some(i) = &instance {
        let tags = instance::tags(i);
        let id = i.db_instance_identifier().unwrap_or_default();
        owned(
            tagger,
            "DB instance",
            id,
            &tags,
            &Addr::Instance,
            state.id(&Addr::Instance.to_string()) == Some(id),
        )?;
        observed.status = i.db_instance_status().map(str::to_owned);
        observed.deletion_protection = i.deletion_protection().unwrap_or(false);
        found.insert(
            Addr::Instance.to_string(),
            instance::found(
                spec,
                i,
                tags,
                &parameter_groups,
                subnet_group.as_ref().and_then(|g| g.db_subnet_group_name()),
            ),
        );
        if let Some(arn) = i.master_user_secret().and_then(|s| s.secret_arn()) {
            if let Some(policy) = secret_policy(c, arn).await? {
                found.insert(
                    Addr::SecretPolicy.to_string(),
                    hms_core::diff::Found::new(arn)
                        .attr("policy", policy)
                        .uses([Addr::Instance.to_string()]),
                );
            }
        }
    }
    observed.found = found;
    Ok(observed)
}

/// The master secret's resource policy, normalized; `None` when it has none (or is gone).
async fn secret_policy(c: &Clients, arn: &str) -> Result<Option<serde_json::Value>> {
    match c.secrets.get_resource_policy().secret_id(arn).send().await {
        Ok(o) => Ok(o
            .resource_policy()
            .map(|p| hms_core::policy::normalize(&serde_json::Value::from(p)))),
        Err(e) if hms_core::error::is_gone(hms_core::error::code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(arn, "secretsmanager:GetResourcePolicy", e)),
    }
}

/// The groups' tags by the ARNs state knows, in the concurrent round.
async fn early_tags(
    c: &Clients,
    subnet_group: Option<&str>,
    parameter_group: Option<&str>,
) -> Result<(Option<Pairs>, Option<Pairs>)> {
    tokio::try_join!(maybe_tags(c, subnet_group), maybe_tags(c, parameter_group))
}

async fn maybe_tags(c: &Clients, arn: Option<&str>) -> Result<Option<Pairs>> {
    match arn {
        Some(arn) => list_tags(c, arn).await.map(Some),
        None => Ok(None),
    }
}

/// A group's tags: those read early when they are of this ARN, else read now.
async fn tags_of(
    c: &Clients,
    arn: &str,
    early_arn: Option<&str>,
    early: Option<Pairs>,
) -> Result<Pairs> {
    match early {
        Some(t) if early_arn == Some(arn) => Ok(t),
        _ => list_tags(c, arn).await,
    }
}

async fn list_tags(c: &Clients, arn: &str) -> Result<Pairs> {
    match c
        .rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
    {
        Ok(o) => Ok(pairs(o.tag_list())),
        Err(e)
            if code_of(&e)
                .is_some_and(|c| c.ends_with("NotFound") || c.ends_with("NotFoundFault")) =>
        {
            Ok(vec![])
        }
        Err(e) => Err(Error::aws(arn, "rds:ListTagsForResource", e)),
    }
}

/// RDS tags as pairs.
fn pairs(tags: &[aws_sdk_rds::types::Tag]) -> Pairs {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn not_found(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.contains("NotFound"))
}

/// Refuses a resource with our name that is not this stack's resource at `address`: neither tagged as it
/// nor `recorded` in state under that name (taken over from Terraform, say, before its first tags).
fn owned(
    tagger: &Tagger,
    what: &str,
    name: &str,
    tags: &Pairs,
    address: &Addr,
    recorded: bool,
) -> Result<()> {
    let address = address.to_string();
    let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let ours = tagger.owned_address(pairs());
    let by_state = recorded && !tagger.claimed_elsewhere(pairs());
    if by_state || ours.as_deref() == Some(address.as_str()) {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "{what} {name} already exists and is not this stack's ({address} in stack {} env {}); rename it in config (db.identifier) or remove it",
        tagger.id.stack, tagger.id.env
    )))
}

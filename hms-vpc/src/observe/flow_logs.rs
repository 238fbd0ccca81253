//! The flow logs: the log group, the delivery role and its policy (read by name, whether flow logs are on
//! or not: turned off, they are found and deleted), and the flow log itself.

use std::collections::BTreeMap;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use aws_sdk_ec2::types::FlowLog;
use aws_sdk_iam::types::Role;
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{pairs, Builder};
use crate::addr::Addr;
use crate::spec::{flow_log_names, Spec, ROLE_POLICY_NAME};
use crate::Clients;

/// The flow logs' log group and delivery role, if they exist.
#[derive(Default)]
pub(super) struct Logging {
    group: Option<LogGroup>,
    group_tags: BTreeMap<String, String>,
    role: Option<Role>,
    policy: Option<String>,
}

/// Reads the log group, its tags, the role and its policy, all at once (part of the first round).
pub(super) async fn describe(c: &Clients, spec: &Spec) -> Result<Logging> {
    let (log_group, role_name) = flow_log_names(&spec.tagger);
    let (group, group_tags, role, policy) = tokio::try_join!(
        async {
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(&log_group)
                .send()
                .await
                .map(|o| {
                    o.log_groups()
                        .iter()
                        .find(|g| g.log_group_name() == Some(log_group.as_str()))
                        .cloned()
                })
                .map_err(|e| {
                    Error::aws(
                        format!("log group {log_group}"),
                        "logs:DescribeLogGroups",
                        e,
                    )
                })
        },
        async {
            #[allow(deprecated)]
            let r = c
                .logs
                .list_tags_log_group()
                .log_group_name(&log_group)
                .send()
                .await;
            match r {
                Ok(o) => Ok(o
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default()),
                Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(BTreeMap::new()),
                Err(e) => Err(Error::aws(
                    format!("log group {log_group}"),
                    "logs:ListTagsLogGroup",
                    e,
                )),
            }
        },
        async {
            match c.iam.get_role().role_name(&role_name).send().await {
                Ok(o) => Ok(o.role().cloned()),
                Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
                Err(e) => Err(Error::aws(format!("role {role_name}"), "iam:GetRole", e)),
            }
        },
        async {
            match c
                .iam
                .get_role_policy()
                .role_name(&role_name)
                .policy_name(ROLE_POLICY_NAME)
                .send()
                .await
            {
                Ok(o) => Ok(Some(o.policy_document().to_owned())),
                Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
                Err(e) => Err(Error::aws(
                    format!("role {role_name}"),
                    "iam:GetRolePolicy",
                    e,
                )),
            }
        },
    )?;
    Ok(Logging {
        group,
        group_tags,
        role,
        policy,
    })
}

/// Names are unique in the account, so a name alone does not make a resource ours: its tags must.
fn refuse_foreign<'t>(
    tagger: &Tagger,
    what: &str,
    name: &str,
    tags: impl Iterator<Item = (&'t str, &'t str)>,
    address: &Addr,
) -> Result<()> {
    let pairs: Vec<(&str, &str)> = tags.collect();
    if tagger.owned_address(pairs.iter().copied()) == Some(address.to_string()) {
        return Ok(());
    }
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or("?")
    };
    let owner = if pairs.iter().any(|(k, _)| *k == hms_core::tags::STACK) {
        format!(
            "stack {} env {}",
            get(hms_core::tags::STACK),
            get(hms_core::tags::ENV)
        )
    } else {
        String::from("nothing managed by hms")
    };
    Err(Error::Refused(format!(
        "{what} {name} already exists and belongs to {owner}; rename or delete it, or use another --stack"
    )))
}

/// The log group, the role and its policy, and our VPC's flow log (after the VPC).
pub(super) fn build(b: &mut Builder<'_>, logging: Logging, flow_logs: Vec<FlowLog>) -> Result<()> {
    if let Some(g) = &logging.group {
        let name = g.log_group_name().unwrap_or_default();
        let tags = logging
            .group_tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        refuse_foreign(b.tagger, "log group", name, tags, &Addr::LogGroup)?;
        b.insert(
            &Addr::LogGroup,
            Found::new(name)
                .attr("name", name)
                .attr(
                    "retention_in_days",
                    g.retention_in_days()
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                )
                .info("arn", g.arn().unwrap_or_default().trim_end_matches(":*"))
                .tags(logging.group_tags.clone()),
        );
    }
    let role_arn = logging.role.as_ref().map(|r| r.arn().to_owned());
    if let Some(role) = &logging.role {
        role_and_policy(b, role, logging.policy.as_deref())?;
    }

    let mine = flow_logs
        .into_iter()
        .filter(|f| b.in_vpc(f.resource_id()))
        .collect();
    for (a, f) in b.pick(mine, |a| *a == Addr::FlowLog) {
        let role = f.deliver_logs_permission_arn().unwrap_or_default();
        let role_ref = if Some(role) == role_arn.as_deref() {
            Addr::Role.to_string()
        } else {
            role.to_owned()
        };
        b.insert(
            &a,
            Found::new(f.flow_log_id().unwrap_or_default())
                .attr("resource", Addr::Vpc)
                .attr(
                    "traffic_type",
                    f.traffic_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("log_group", f.log_group_name().unwrap_or_default())
                .attr("role", role_ref)
                .tags(pairs(f.tags()))
                .uses([Addr::Vpc, Addr::LogGroup, Addr::Role, Addr::RolePolicy]),
        );
    }
    Ok(())
}

/// The delivery role and its inline policy.
fn role_and_policy(b: &mut Builder<'_>, role: &Role, policy: Option<&str>) -> Result<()> {
    let tags = role.tags().iter().map(|t| (t.key(), t.value()));
    refuse_foreign(b.tagger, "IAM role", role.role_name(), tags, &Addr::Role)?;
    b.insert(
        &Addr::Role,
        Found::new(role.role_name())
            .attr("name", role.role_name())
            .attr(
                "assume_role_policy",
                role.assume_role_policy_document()
                    .map(|d| normalize(&Value::from(d)))
                    .unwrap_or(Value::Null),
            )
            .info("arn", role.arn())
            .tags(
                role.tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned())),
            ),
    );
    if let Some(doc) = policy {
        b.insert(
            &Addr::RolePolicy,
            Found::new(format!("{}:{ROLE_POLICY_NAME}", role.role_name()))
                .attr("document", normalize(&Value::from(doc)))
                .uses([Addr::Role]),
        );
    }
    Ok(())
}

//! The execution role, the task roles (by name, and those of services no longer configured through
//! state) and the enhanced-monitoring role, each with its inline policy and, for the execution and
//! monitoring roles, its attached policies.

use aws_sdk_iam::types::Role;
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{Spec, INLINE_POLICY};
use crate::Clients;

/// One role looked up: where it belongs and what was read.
pub(super) struct RoleFacts {
    address: Addr,
    name: String,
    role: Option<Role>,
    policy: Option<String>,
    attached: Vec<String>,
}

/// Reads every role this tool wants or recorded, concurrently.
pub(super) async fn describe(c: &Clients, spec: &Spec, state: &State) -> Result<Vec<RoleFacts>> {
    let mut names: Vec<(Addr, String)> = vec![
        (Addr::ExecutionRole, spec.execution_role.clone()),
        (Addr::MonitoringRole, spec.monitoring_role.clone()),
        // Looked up with or without a replica: one left from a replica no longer configured is deleted.
        (Addr::ReplicationRole, spec.replication_role.clone()),
    ];
    names.extend(
        spec.task_roles
            .iter()
            .map(|t| (Addr::task_role(&t.service), t.name.clone())),
    );
    // Task roles of services no longer configured are found through state.
    for (a, r) in &state.resources {
        if let Some(address @ Addr::TaskRole(_)) = Addr::parse(a) {
            if !names.iter().any(|(x, _)| *x == address) {
                names.push((address, r.id.clone()));
            }
        }
    }
    let facts = try_join_all(names.iter().map(|(a, n)| role(c, n, a.managed().is_some()))).await?;
    Ok(names
        .into_iter()
        .zip(facts)
        .map(|((address, name), (role, policy, attached))| RoleFacts {
            address,
            name,
            role,
            policy,
            attached,
        })
        .collect())
}

type Facts = (Option<Role>, Option<String>, Vec<String>);

/// A role, its inline policy and (when `managed`) its attached policies; `None`/empty when missing.
async fn role(c: &Clients, name: &str, managed: bool) -> Result<Facts> {
    let get = async {
        match c.iam.get_role().role_name(name).send().await {
            Ok(o) => Ok(o.role().cloned()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(Error::aws(format!("role {name}"), "iam:GetRole", e)),
        }
    };
    let policy = async {
        match c
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(INLINE_POLICY)
            .send()
            .await
        {
            Ok(o) => Ok(Some(o.policy_document().to_owned())),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(Error::aws(format!("role {name}"), "iam:GetRolePolicy", e)),
        }
    };
    let attached = async {
        if !managed {
            return Ok(Vec::new());
        }
        match c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
        {
            Ok(o) => Ok(o
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned))
                .collect()),
            Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(Vec::new()),
            Err(e) => Err(Error::aws(
                format!("role {name}"),
                "iam:ListAttachedRolePolicies",
                e,
            )),
        }
    };
    tokio::try_join!(get, policy, attached)
}

/// Adds the roles found, their inline policies and the managed attachment to `out`.
pub(super) fn found(roles: Vec<RoleFacts>, out: &mut FoundSet) {
    for r in roles {
        let Some(role) = r.role else { continue };
        let address = r.address.to_string();
        out.insert(
            address.clone(),
            Found::new(r.name.clone())
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
        if let (Some(doc), Some(policy)) = (r.policy, r.address.role_policy()) {
            out.insert(
                policy.to_string(),
                Found::new(format!("{}:{INLINE_POLICY}", r.name))
                    .attr("document", normalize(&Value::from(doc)))
                    .uses([address.clone()]),
            );
        }
        if let Some((managed, policy)) = r.address.managed() {
            if r.attached.iter().any(|a| a == policy) {
                out.insert(
                    managed.to_string(),
                    Found::new(policy)
                        .attr("policy_arn", policy)
                        .uses([address]),
                );
            }
        }
    }
}

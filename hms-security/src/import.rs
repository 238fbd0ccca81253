//! `hms-security import`: Terraform's security groups (each by its role, read from its name: Terraform's
//! `name_prefix` groups like `hms-alb-2026…` keep their names, which cannot change in place), their rules
//! as part of them (the plan then shows which hms-security keeps, adds and removes), and the roles by
//! name. KMS keys are not taken over: the stack's keys carry hms-security's key policies (who may use
//! each), so it makes its own and a Terraform key is left to be retired once nothing uses it.

use hms_core::terraform::{Mapping, TfResource, TfState};

use crate::addr::Addr;
use crate::spec::{Spec, EXECUTION_MANAGED_POLICY, MONITORING_MANAGED_POLICY};

/// A group's key from words of its name, the most specific first.
const ROLES: &[(&str, &[&str])] = &[
    ("cache", &["cache", "redis", "elasticache"]),
    ("database", &["db", "database", "rds", "postgres"]),
    ("alb", &["alb", "lb", "elb", "loadbalancer"]),
    (
        "ecs",
        &["ecs", "app", "task", "tasks", "service", "fargate"],
    ),
];

/// The key of the group named `name` among the spec's groups.
fn role(spec: &Spec, name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    ROLES
        .iter()
        .find(|(_, hints)| words.iter().any(|w| hints.contains(w)))
        .map(|(key, _)| (*key).to_owned())
        .filter(|key| spec.groups.iter().any(|(k, _)| k == key))
}

/// Maps the state's resources of hms-security's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in tf
        .resources
        .iter()
        .filter(|r| r.kind == "aws_security_group")
    {
        let name = r.str("name").unwrap_or_default();
        let (Some(id), Some(key)) = (r.id(), role(spec, &name)) else {
            m.skip(
                r,
                format!("{name:?}: its name does not say which of the stack's groups it is (alb, ecs, database, cache)"),
            );
            continue;
        };
        let vpc = r.str("vpc_id");
        if spec.vpc_id.is_some() && vpc != spec.vpc_id {
            m.skip(r, "not in the stack's VPC (outputs.vpc.vpc_id)");
        } else if groups.iter().any(|(_, k)| *k == key) {
            m.skip(r, format!("a second {key} group"));
        } else {
            m.map(r, Addr::group(&key).to_string(), &id);
            groups.push((id, key));
        }
    }
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_security_group_rule"
            | "aws_vpc_security_group_ingress_rule"
            | "aws_vpc_security_group_egress_rule" => {
                let group = r.str("security_group_id");
                match groups.iter().find(|(id, _)| Some(id) == group.as_ref()) {
                    Some((_, key)) => m.cover(r, Addr::group(key).to_string()),
                    None => m.skip(r, "not a rule of a group taken over"),
                }
            }
            "aws_iam_role" => role_of(spec, r, &mut m),
            "aws_iam_role_policy_attachment" | "aws_iam_role_policy" => {
                attachment(spec, r, &mut m)
            }
            "aws_kms_key" | "aws_kms_alias" => m.skip(
                r,
                "hms-security makes the stack's keys with its own key policies; retire this one (terraform destroy -target) once nothing uses it",
            ),
            _ => {}
        }
    }
    m
}

/// The role of that name: the execution role, the monitoring role, a task role (others are hms-vpc's or
/// not the stack's).
fn role_of(spec: &Spec, r: &TfResource, m: &mut Mapping) {
    let name = r.str("name").or_else(|| r.id()).unwrap_or_default();
    let address = if name == spec.execution_role {
        Some(Addr::ExecutionRole)
    } else if name == spec.monitoring_role {
        Some(Addr::MonitoringRole)
    } else {
        spec.task_roles
            .iter()
            .find(|t| t.name == name)
            .map(|t| Addr::TaskRole(t.service.clone()))
    };
    if let Some(a) = address {
        m.map(r, a.to_string(), &name);
    }
}

/// A policy of a role taken over: the managed policy hms-security attaches is part of the role's
/// address; another attachment or inline policy is left (the plan shows what the role gets instead).
fn attachment(spec: &Spec, r: &TfResource, m: &mut Mapping) {
    let role = r.str("role").unwrap_or_default();
    let policy = r.str("policy_arn").unwrap_or_default();
    let by = if role == spec.execution_role {
        if r.kind == "aws_iam_role_policy" {
            Some(Addr::ExecutionPolicy)
        } else if policy == EXECUTION_MANAGED_POLICY {
            Some(Addr::ExecutionManaged)
        } else {
            None
        }
    } else if role == spec.monitoring_role && policy == MONITORING_MANAGED_POLICY {
        Some(Addr::MonitoringManaged)
    } else {
        None
    };
    match by {
        Some(a) => m.cover(r, a.to_string()),
        None if role == spec.execution_role || role == spec.monitoring_role => m.skip(
            r,
            "not a policy hms-security gives the role: the plan shows the role's own, and this one is left attached until removed from Terraform",
        ),
        None => {}
    }
}

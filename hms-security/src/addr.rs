//! Logical addresses of what hms-security owns, and the `${address.arn}` placeholders policy documents
//! hold until the resource they name exists.
//!
//! The strings are the public names of resources (plans, `state list`, state files): `Display` writes them
//! exactly as earlier releases did, and [`Address::parse`] reads them back. No other module takes an
//! address string apart.

use std::fmt;

use hms_core::addr::{keyed, Address};

/// The managed policy attachment's address.
const EXECUTION_MANAGED: &str =
    "security.iam.execution_role.managed[AmazonECSTaskExecutionRolePolicy]";
const EXECUTION_ROLE: &str = "security.iam.execution_role";
const MONITORING_ROLE: &str = "security.iam.monitoring_role";
/// The monitoring role's attachment of the AWS-managed enhanced-monitoring policy.
const MONITORING_MANAGED: &str =
    "security.iam.monitoring_role.managed[AmazonRDSEnhancedMonitoringRole]";
const EXECUTION_POLICY: &str = "security.iam.execution_role.policy";
const REPLICATION_ROLE: &str = "security.iam.replication_role";
const REPLICATION_POLICY: &str = "security.iam.replication_role.policy";
const TASK_ROLE: &str = "security.iam.task_role";
const GROUP: &str = "security.sg.";
const RULE: &str = "security.rule.";
const KEY: &str = "security.kms.";
/// Separates a key's name from a duplicate's key id: `security.kms.rds#1234abcd-…`.
pub const DUPLICATE: &str = "#";
const POLICY: &str = ".policy";
const ALIAS: &str = ".alias";
const FLOW_LOGS_ENCRYPTION: &str = "security.flow_logs_encryption";

/// A resource of hms-security.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// A security group by key: `security.sg.alb`.
    Group(String),
    /// One rule of a group: `security.rule.alb.ingress[tcp/443 from 0.0.0.0/0]`. `ports` is `tcp/443`
    /// (or `icmp/-1--1`, `all/all` for rules found that the tool would not write), `peer` is a CIDR,
    /// `sg:<key>` for one of this stack's groups, or another group's or prefix list's id.
    Rule {
        group: String,
        egress: bool,
        ports: String,
        peer: String,
    },
    /// The ECS task execution role.
    ExecutionRole,
    /// Its attachment of the AWS-managed execution policy.
    ExecutionManaged,
    /// Its inline policy.
    ExecutionPolicy,
    /// The role RDS enhanced monitoring assumes to write OS metrics to CloudWatch Logs.
    MonitoringRole,
    /// Its attachment of the AWS-managed enhanced-monitoring policy.
    MonitoringManaged,
    /// The role S3 assumes to replicate the backup bucket to its replica (`backup.replica_region`).
    ReplicationRole,
    /// Its inline policy.
    ReplicationPolicy,
    /// A service's task role: `security.iam.task_role[backend]`.
    TaskRole(String),
    /// A task role's inline policy: `security.iam.task_role[backend].policy`.
    TaskPolicy(String),
    /// The VPC's flow-log group (hms-vpc's) encrypted with the `logs` key:
    /// `security.flow_logs_encryption`.
    FlowLogsEncryption,
    /// A KMS key by name: `security.kms.rds`.
    Key(String),
    /// A KMS key's alias: `security.kms.rds.alias`.
    Alias(String),
}

impl Addr {
    /// The security group with key `group`.
    pub fn group(group: &str) -> Self {
        Addr::Group(group.to_owned())
    }

    /// The task role of `service`.
    pub fn task_role(service: &str) -> Self {
        Addr::TaskRole(service.to_owned())
    }

    /// The inline policy of the task role of `service`.
    pub fn task_policy(service: &str) -> Self {
        Addr::TaskPolicy(service.to_owned())
    }

    /// The KMS key `name`.
    pub fn key(name: &str) -> Self {
        Addr::Key(name.to_owned())
    }

    /// The alias of the KMS key `name`.
    pub fn alias(name: &str) -> Self {
        Addr::Alias(name.to_owned())
    }

    /// The role an inline policy belongs to; `None` for anything else.
    pub fn policy_role(&self) -> Option<Addr> {
        match self {
            Addr::ExecutionPolicy => Some(Addr::ExecutionRole),
            Addr::ReplicationPolicy => Some(Addr::ReplicationRole),
            Addr::TaskPolicy(s) => Some(Addr::TaskRole(s.clone())),
            _ => None,
        }
    }

    /// The inline policy of a role; `None` for anything else.
    pub fn role_policy(&self) -> Option<Addr> {
        match self {
            Addr::ExecutionRole => Some(Addr::ExecutionPolicy),
            Addr::ReplicationRole => Some(Addr::ReplicationPolicy),
            Addr::TaskRole(s) => Some(Addr::TaskPolicy(s.clone())),
            _ => None,
        }
    }

    /// A role's attachment of an AWS-managed policy and that policy's ARN; `None` for a role without
    /// one, or anything else.
    pub fn managed(&self) -> Option<(Addr, &'static str)> {
        match self {
            Addr::ExecutionRole => Some((
                Addr::ExecutionManaged,
                crate::spec::EXECUTION_MANAGED_POLICY,
            )),
            Addr::MonitoringRole => Some((
                Addr::MonitoringManaged,
                crate::spec::MONITORING_MANAGED_POLICY,
            )),
            _ => None,
        }
    }

    /// The role a managed-policy attachment belongs to, and the policy's ARN.
    pub fn attached_to(&self) -> Option<(Addr, &'static str)> {
        match self {
            Addr::ExecutionManaged => {
                Some((Addr::ExecutionRole, crate::spec::EXECUTION_MANAGED_POLICY))
            }
            Addr::MonitoringManaged => {
                Some((Addr::MonitoringRole, crate::spec::MONITORING_MANAGED_POLICY))
            }
            _ => None,
        }
    }

    /// The placeholder `${address.arn}` for this resource's ARN in a policy document written before the
    /// resource exists; [`arn_ref_target`] reads it back.
    pub fn arn_ref(&self) -> String {
        format!("${{{self}.arn}}")
    }
}

/// The address inside an `${address.arn}` placeholder; `None` for any other string.
pub fn arn_ref_target(s: &str) -> Option<&str> {
    s.strip_prefix("${")?.strip_suffix(".arn}")
}

fn direction(egress: bool) -> (&'static str, &'static str) {
    if egress {
        ("egress", "to")
    } else {
        ("ingress", "from")
    }
}

/// A group key or key name: one word, no separators.
fn word(s: &str) -> Option<&str> {
    (!s.is_empty() && !s.contains(['.', '[', ']', ' '])).then_some(s)
}

fn parse_rule(rest: &str) -> Option<Addr> {
    let (group, rest) = rest.split_once('.')?;
    let group = word(group)?;
    let (egress, inner) = match keyed(rest, "ingress") {
        Some(inner) => (false, inner),
        None => (true, keyed(rest, "egress")?),
    };
    let (_, word_) = direction(egress);
    let (ports, rest) = inner.split_once(' ')?;
    let peer = rest.strip_prefix(word_)?.strip_prefix(' ')?;
    if ports.is_empty() || peer.is_empty() || peer.contains(' ') {
        return None;
    }
    Some(Addr::Rule {
        group: group.to_owned(),
        egress,
        ports: ports.to_owned(),
        peer: peer.to_owned(),
    })
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Group(g) => write!(f, "{GROUP}{g}"),
            Addr::Rule {
                group,
                egress,
                ports,
                peer,
            } => {
                let (dir, word) = direction(*egress);
                write!(f, "{RULE}{group}.{dir}[{ports} {word} {peer}]")
            }
            Addr::ExecutionRole => f.write_str(EXECUTION_ROLE),
            Addr::ExecutionManaged => f.write_str(EXECUTION_MANAGED),
            Addr::ExecutionPolicy => f.write_str(EXECUTION_POLICY),
            Addr::MonitoringRole => f.write_str(MONITORING_ROLE),
            Addr::MonitoringManaged => f.write_str(MONITORING_MANAGED),
            Addr::ReplicationRole => f.write_str(REPLICATION_ROLE),
            Addr::ReplicationPolicy => f.write_str(REPLICATION_POLICY),
            Addr::TaskRole(s) => write!(f, "{TASK_ROLE}[{s}]"),
            Addr::TaskPolicy(s) => write!(f, "{TASK_ROLE}[{s}]{POLICY}"),
            Addr::FlowLogsEncryption => f.write_str(FLOW_LOGS_ENCRYPTION),
            Addr::Key(k) => write!(f, "{KEY}{k}"),
            Addr::Alias(k) => write!(f, "{KEY}{k}{ALIAS}"),
        }
    }
}

impl Address for Addr {
    fn parse(a: &str) -> Option<Self> {
        match a {
            EXECUTION_ROLE => return Some(Addr::ExecutionRole),
            EXECUTION_MANAGED => return Some(Addr::ExecutionManaged),
            EXECUTION_POLICY => return Some(Addr::ExecutionPolicy),
            MONITORING_ROLE => return Some(Addr::MonitoringRole),
            MONITORING_MANAGED => return Some(Addr::MonitoringManaged),
            REPLICATION_ROLE => return Some(Addr::ReplicationRole),
            REPLICATION_POLICY => return Some(Addr::ReplicationPolicy),
            FLOW_LOGS_ENCRYPTION => return Some(Addr::FlowLogsEncryption),
            _ => {}
        }
        if let Some(g) = a.strip_prefix(GROUP) {
            return word(g).map(Addr::group);
        }
        if let Some(rest) = a.strip_prefix(RULE) {
            return parse_rule(rest);
        }
        if let Some(rest) = a.strip_prefix(KEY) {
            return match rest.strip_suffix(ALIAS) {
                Some(k) => word(k).map(Addr::alias),
                None => word(rest).map(Addr::key),
            };
        }
        if let Some(role) = a.strip_suffix(POLICY) {
            return keyed(role, TASK_ROLE).map(Addr::task_policy);
        }
        keyed(a, TASK_ROLE).map(Addr::task_role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_today_s_strings() {
        let cases = [
            ("security.sg.alb", Addr::group("alb")),
            (
                "security.rule.alb.ingress[tcp/443 from 0.0.0.0/0]",
                Addr::Rule {
                    group: "alb".into(),
                    egress: false,
                    ports: "tcp/443".into(),
                    peer: "0.0.0.0/0".into(),
                },
            ),
            (
                "security.rule.ecs.egress[tcp/5432 to sg:database]",
                Addr::Rule {
                    group: "ecs".into(),
                    egress: true,
                    ports: "tcp/5432".into(),
                    peer: "sg:database".into(),
                },
            ),
            (
                "security.rule.database.ingress[icmp/-1--1 from 10.0.0.0/8]",
                Addr::Rule {
                    group: "database".into(),
                    egress: false,
                    ports: "icmp/-1--1".into(),
                    peer: "10.0.0.0/8".into(),
                },
            ),
            ("security.iam.execution_role", Addr::ExecutionRole),
            (
                "security.iam.execution_role.managed[AmazonECSTaskExecutionRolePolicy]",
                Addr::ExecutionManaged,
            ),
            ("security.iam.execution_role.policy", Addr::ExecutionPolicy),
            ("security.iam.monitoring_role", Addr::MonitoringRole),
            (
                "security.iam.monitoring_role.managed[AmazonRDSEnhancedMonitoringRole]",
                Addr::MonitoringManaged,
            ),
            (
                "security.iam.task_role[backend]",
                Addr::task_role("backend"),
            ),
            (
                "security.iam.task_role[backend].policy",
                Addr::task_policy("backend"),
            ),
            ("security.kms.rds", Addr::key("rds")),
            ("security.kms.rds.alias", Addr::alias("rds")),
            ("security.iam.replication_role", Addr::ReplicationRole),
            (
                "security.iam.replication_role.policy",
                Addr::ReplicationPolicy,
            ),
            ("security.kms.backups_replica", Addr::key("backups_replica")),
        ];
        for (text, addr) in cases {
            assert_eq!(addr.to_string(), text);
            assert_eq!(Addr::parse(text), Some(addr), "{text}");
        }
    }

    #[test]
    fn other_strings_are_not_ours() {
        for text in [
            "security.sg.",
            "security.sg.a.b",
            "security.rule.alb.ingress[tcp/443 to 0.0.0.0/0]",
            "security.rule.alb.sideways[tcp/443 from 0.0.0.0/0]",
            "security.rule.alb.ingress[tcp/443]",
            "security.iam.task_role[]",
            "security.iam.task_role[a].managed",
            "security.kms.rds.other",
            "security.kms.",
            "vpc.vpc",
        ] {
            assert_eq!(Addr::parse(text), None, "{text}");
        }
    }

    #[test]
    fn placeholders() {
        let r = Addr::key("rds").arn_ref();
        assert_eq!(r, "${security.kms.rds.arn}");
        assert_eq!(arn_ref_target(&r), Some("security.kms.rds"));
        assert_eq!(arn_ref_target("arn:aws:kms:…"), None);
    }
}

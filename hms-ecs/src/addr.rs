//! Logical addresses of what hms-ecs owns: the cluster, the load balancer and its listeners, the stack's
//! log bucket, the CDN's origin-verify secret, and per service
//! (by its config key) a log group, a task definition, a target group, a listener rule, the service, its
//! scalable target and scaling policies.
//!
//! The strings are the public names of resources (plans, `state list`, `state mv`, the `hms:address` tag):
//! `Display` writes them exactly as earlier releases did and [`Address::parse`] reads them back.

use std::fmt;

use hms_core::addr::{keyed, Address};

/// A resource of hms-ecs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addr {
    /// `ecs.cluster`.
    Cluster,
    /// `ecs.alb`: the application load balancer.
    Alb,
    /// `ecs.listener.http`.
    HttpListener,
    /// `ecs.listener.https` (with a certificate).
    HttpsListener,
    /// `ecs.log_bucket`: the stack's log bucket `<stack>-logs-<env>` (the load balancer's access logs, and
    /// the S3 server access logs of the backup bucket).
    LogBucket,
    /// `ecs.origin_secret`: the Secrets Manager secret whose value the CDN sends in the origin-verify
    /// header (with `ecs.origin_verify`).
    OriginSecret,
    /// `ecs.log_group[backend]`.
    LogGroup(String),
    /// `ecs.task_definition[backend]`: the revision the service runs.
    TaskDefinition(String),
    /// `ecs.target_group[backend]`.
    TargetGroup(String),
    /// `ecs.rule[backend]`: the listener rule routing the service's path to its target group.
    Rule(String),
    /// `ecs.service[backend]`.
    Service(String),
    /// `ecs.scaling_target[backend]`.
    ScalingTarget(String),
    /// `ecs.scaling_policy.cpu[backend]`.
    CpuPolicy(String),
    /// `ecs.scaling_policy.memory[backend]`.
    MemoryPolicy(String),
}

/// Makes a per-service address from its key.
type Keyed = fn(String) -> Addr;

/// The kinds keyed by a service, with their address prefix.
const KEYED: &[(&str, Keyed)] = &[
    ("ecs.log_group", Addr::LogGroup),
    ("ecs.task_definition", Addr::TaskDefinition),
    ("ecs.target_group", Addr::TargetGroup),
    ("ecs.rule", Addr::Rule),
    ("ecs.service", Addr::Service),
    ("ecs.scaling_target", Addr::ScalingTarget),
    ("ecs.scaling_policy.cpu", Addr::CpuPolicy),
    ("ecs.scaling_policy.memory", Addr::MemoryPolicy),
];

impl Addr {
    /// The service key of a per-service address.
    pub fn key(&self) -> Option<&str> {
        match self {
            Addr::Cluster
            | Addr::Alb
            | Addr::HttpListener
            | Addr::HttpsListener
            | Addr::LogBucket
            | Addr::OriginSecret => None,
            Addr::LogGroup(k)
            | Addr::TaskDefinition(k)
            | Addr::TargetGroup(k)
            | Addr::Rule(k)
            | Addr::Service(k)
            | Addr::ScalingTarget(k)
            | Addr::CpuPolicy(k)
            | Addr::MemoryPolicy(k) => Some(k),
        }
    }

    /// The listener on `port` (80 or 443), if it is one of ours.
    pub fn listener(port: i32) -> Option<Addr> {
        match port {
            80 => Some(Addr::HttpListener),
            443 => Some(Addr::HttpsListener),
            _ => None,
        }
    }

    fn prefix(&self) -> &'static str {
        match self {
            Addr::Cluster => "ecs.cluster",
            Addr::Alb => "ecs.alb",
            Addr::HttpListener => "ecs.listener.http",
            Addr::HttpsListener => "ecs.listener.https",
            Addr::LogBucket => "ecs.log_bucket",
            Addr::OriginSecret => "ecs.origin_secret",
            Addr::LogGroup(_) => "ecs.log_group",
            Addr::TaskDefinition(_) => "ecs.task_definition",
            Addr::TargetGroup(_) => "ecs.target_group",
            Addr::Rule(_) => "ecs.rule",
            Addr::Service(_) => "ecs.service",
            Addr::ScalingTarget(_) => "ecs.scaling_target",
            Addr::CpuPolicy(_) => "ecs.scaling_policy.cpu",
            Addr::MemoryPolicy(_) => "ecs.scaling_policy.memory",
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key() {
            Some(k) => write!(f, "{}[{k}]", self.prefix()),
            None => f.write_str(self.prefix()),
        }
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        for fixed in [
            Addr::Cluster,
            Addr::Alb,
            Addr::HttpListener,
            Addr::HttpsListener,
            Addr::LogBucket,
            Addr::OriginSecret,
        ] {
            if address == fixed.prefix() {
                return Some(fixed);
            }
        }
        KEYED
            .iter()
            .find_map(|(kind, make)| keyed(address, kind).map(|k| make(k.to_owned())))
    }
}

impl From<Addr> for String {
    fn from(a: Addr) -> String {
        a.to_string()
    }
}

impl From<&Addr> for String {
    fn from(a: &Addr) -> String {
        a.to_string()
    }
}

impl From<Addr> for serde_json::Value {
    fn from(a: Addr) -> serde_json::Value {
        serde_json::Value::String(a.to_string())
    }
}

impl From<&Addr> for serde_json::Value {
    fn from(a: &Addr) -> serde_json::Value {
        serde_json::Value::String(a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = || "backend".to_owned();
        let all = [
            (Addr::Cluster, "ecs.cluster"),
            (Addr::Alb, "ecs.alb"),
            (Addr::HttpListener, "ecs.listener.http"),
            (Addr::HttpsListener, "ecs.listener.https"),
            (Addr::LogBucket, "ecs.log_bucket"),
            (Addr::OriginSecret, "ecs.origin_secret"),
            (Addr::LogGroup(k()), "ecs.log_group[backend]"),
            (Addr::TaskDefinition(k()), "ecs.task_definition[backend]"),
            (Addr::TargetGroup(k()), "ecs.target_group[backend]"),
            (Addr::Rule(k()), "ecs.rule[backend]"),
            (Addr::Service(k()), "ecs.service[backend]"),
            (Addr::ScalingTarget(k()), "ecs.scaling_target[backend]"),
            (Addr::CpuPolicy(k()), "ecs.scaling_policy.cpu[backend]"),
            (
                Addr::MemoryPolicy(k()),
                "ecs.scaling_policy.memory[backend]",
            ),
        ];
        for (addr, text) in all {
            assert_eq!(addr.to_string(), text);
            assert_eq!(Addr::parse(text), Some(addr));
        }
        for other in [
            "ecs.services[backend]",
            "ecs.service[]",
            "ecs.scaling_policy[backend]",
            "ecs.listener",
            "vpc.vpc",
        ] {
            assert_eq!(Addr::parse(other), None, "{other}");
        }
    }
}

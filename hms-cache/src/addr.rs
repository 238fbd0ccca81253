//! Logical addresses of what hms-cache owns (`cache.replication_group`, `cache.parameter_group[redis7]`, …).
//!
//! They are the names of resources in plans, state files and `hms:address` tags; [`Address::parse`] reads
//! back what `Display` writes, and nothing else in the crate takes an address string apart.

use std::fmt;

use hms_core::addr::{keyed, Address};

const SUBNET_GROUP: &str = "cache.subnet_group";
const PARAMETER_GROUP: &str = "cache.parameter_group";
const REPLICATION_GROUP: &str = "cache.replication_group";
const AUTH_SECRET: &str = "cache.auth_secret";
const LOG_GROUP: &str = "cache.log_group";

/// The two logs ElastiCache delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogKind {
    Slow,
    Engine,
}

impl LogKind {
    /// Both, in the order they are planned.
    pub const ALL: [LogKind; 2] = [LogKind::Slow, LogKind::Engine];

    /// ElastiCache's `LogType` (and the key of the address).
    pub fn log_type(self) -> &'static str {
        match self {
            LogKind::Slow => "slow-log",
            LogKind::Engine => "engine-log",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        LogKind::ALL.into_iter().find(|k| k.log_type() == s)
    }
}

/// A resource of hms-cache.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The cache subnet group on the private subnets.
    SubnetGroup,
    /// The parameter group of a family (`redis7`, `valkey8`): a family change brings a new one, and the
    /// old one is deleted once the replication group has moved.
    ParameterGroup(String),
    /// The replication group (its member cache clusters are its attributes).
    ReplicationGroup,
    /// The Secrets Manager secret that holds the AUTH token.
    AuthSecret,
    /// A CloudWatch Logs group the slow log or the engine log is delivered to.
    LogGroup(LogKind),
}

impl Addr {
    /// The parameter group of `family`.
    pub fn parameter_group(family: &str) -> Self {
        Addr::ParameterGroup(family.to_owned())
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::SubnetGroup => f.write_str(SUBNET_GROUP),
            Addr::ParameterGroup(family) => write!(f, "{PARAMETER_GROUP}[{family}]"),
            Addr::ReplicationGroup => f.write_str(REPLICATION_GROUP),
            Addr::AuthSecret => f.write_str(AUTH_SECRET),
            Addr::LogGroup(kind) => write!(f, "{LOG_GROUP}[{}]", kind.log_type()),
        }
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        match address {
            SUBNET_GROUP => Some(Addr::SubnetGroup),
            REPLICATION_GROUP => Some(Addr::ReplicationGroup),
            AUTH_SECRET => Some(Addr::AuthSecret),
            other => keyed(other, PARAMETER_GROUP)
                .map(Addr::parameter_group)
                .or_else(|| {
                    keyed(other, LOG_GROUP)
                        .and_then(LogKind::parse)
                        .map(Addr::LogGroup)
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let cases = [
            (Addr::SubnetGroup, "cache.subnet_group"),
            (
                Addr::parameter_group("redis7"),
                "cache.parameter_group[redis7]",
            ),
            (Addr::ReplicationGroup, "cache.replication_group"),
            (Addr::AuthSecret, "cache.auth_secret"),
            (Addr::LogGroup(LogKind::Slow), "cache.log_group[slow-log]"),
            (
                Addr::LogGroup(LogKind::Engine),
                "cache.log_group[engine-log]",
            ),
        ];
        for (addr, text) in cases {
            assert_eq!(addr.to_string(), text);
            assert_eq!(Addr::parse(text), Some(addr));
        }
        assert_eq!(Addr::parse("cache.log_group[audit-log]"), None);
        assert_eq!(Addr::parse("cache.parameter_group[]"), None);
        assert_eq!(Addr::parse("db.instance"), None);
    }
}

//! Logical addresses of what hms-observe owns: one variant per resource kind, written as the address strings
//! that plans and state files carry (`observe.alarm[backend.cpu]`) and parsed back once, here.

use std::fmt;

use hms_core::addr::{keyed, Address};

const TOPIC: &str = "observe.topic";
const SUBSCRIPTION: &str = "observe.subscription";
const ALARM: &str = "observe.alarm";
const DASHBOARD: &str = "observe.dashboard";
const RDS_EVENTS: &str = "observe.rds_events";
const BACKUP_DELETIONS: &str = "observe.backup_deletions";
const SAMPLING_RULE: &str = "observe.xray.sampling_rule";
const GROUP: &str = "observe.xray.group";

/// A resource of hms-observe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The SNS topic every alarm notifies: `observe.topic`.
    Topic,
    /// An email subscription to the topic, by address: `observe.subscription[oncall@hospital.example]`.
    Subscription(String),
    /// An alarm, by key: `observe.alarm[backend.cpu]`.
    Alarm(String),
    /// An RDS event subscription to the topic, by source: `observe.rds_events[instance]`,
    /// `observe.rds_events[parameter_group]`.
    RdsEvents(String),
    /// The backup bucket's event notification of deleted objects to the topic:
    /// `observe.backup_deletions`.
    BackupDeletions,
    /// The CloudWatch dashboard: `observe.dashboard`.
    Dashboard,
    /// The X-Ray sampling rule: `observe.xray.sampling_rule`.
    SamplingRule,
    /// The X-Ray group: `observe.xray.group`.
    Group,
}

impl Addr {
    /// The subscription of `email`.
    pub fn subscription(email: &str) -> Self {
        Addr::Subscription(email.to_owned())
    }

    /// The RDS event subscription with key `key` (`instance`, `parameter_group`).
    pub fn rds_events(key: &str) -> Self {
        Addr::RdsEvents(key.to_owned())
    }

    /// The alarm with key `key` (`backend.cpu`, `alb.5xx`, `db.free_storage`).
    pub fn alarm(key: &str) -> Self {
        Addr::Alarm(key.to_owned())
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Topic => f.write_str(TOPIC),
            Addr::Subscription(email) => write!(f, "{SUBSCRIPTION}[{email}]"),
            Addr::Alarm(key) => write!(f, "{ALARM}[{key}]"),
            Addr::RdsEvents(key) => write!(f, "{RDS_EVENTS}[{key}]"),
            Addr::BackupDeletions => f.write_str(BACKUP_DELETIONS),
            Addr::Dashboard => f.write_str(DASHBOARD),
            Addr::SamplingRule => f.write_str(SAMPLING_RULE),
            Addr::Group => f.write_str(GROUP),
        }
    }
}

impl From<Addr> for String {
    fn from(a: Addr) -> String {
        a.to_string()
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        match address {
            TOPIC => Some(Addr::Topic),
            DASHBOARD => Some(Addr::Dashboard),
            BACKUP_DELETIONS => Some(Addr::BackupDeletions),
            SAMPLING_RULE => Some(Addr::SamplingRule),
            GROUP => Some(Addr::Group),
            _ => keyed(address, SUBSCRIPTION)
                .map(Addr::subscription)
                .or_else(|| keyed(address, ALARM).map(Addr::alarm))
                .or_else(|| keyed(address, RDS_EVENTS).map(Addr::rds_events)),
        }
    }
}

/// Whether `key` can be the key of a keyed address (it is read back by [`keyed`]).
pub fn key_ok(key: &str) -> bool {
    !key.is_empty() && !key.contains(['[', ']'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let all = [
            (Addr::Topic, "observe.topic"),
            (
                Addr::subscription("oncall@hospital.example"),
                "observe.subscription[oncall@hospital.example]",
            ),
            (Addr::alarm("backend.cpu"), "observe.alarm[backend.cpu]"),
            (Addr::rds_events("instance"), "observe.rds_events[instance]"),
            (Addr::BackupDeletions, "observe.backup_deletions"),
            (Addr::Dashboard, "observe.dashboard"),
            (Addr::SamplingRule, "observe.xray.sampling_rule"),
            (Addr::Group, "observe.xray.group"),
        ];
        for (a, text) in all {
            assert_eq!(a.to_string(), text);
            assert_eq!(Addr::parse(text), Some(a));
        }
    }

    #[test]
    fn others_are_not_ours() {
        for other in [
            "observe.alarm",
            "observe.alarm[]",
            "observe.alarms[x]",
            "observe.subscription[a][b]",
            "observe.xray",
            "ecs.service[backend]",
        ] {
            assert_eq!(Addr::parse(other), None, "{other}");
        }
    }
}

//! The RDS event subscriptions to the alarm topic: one for the database instance, one for its parameter
//! group. RDS's `db-security-group` source type covers only EC2-Classic DB security groups; the VPC
//! security groups hms-security makes are no RDS event source, so there is nothing to subscribe to for
//! them (their changes are CloudTrail's).

use hms_core::contract::{SpecInput, Upstream};
use hms_core::tags::Tagger;

use super::Dim;

/// The instance's events worth a page.
pub const INSTANCE_CATEGORIES: &[&str] = &["failover", "failure", "low storage", "maintenance"];
/// The parameter group's.
pub const PARAMETER_GROUP_CATEGORIES: &[&str] = &["configuration change"];

/// One event subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSubscription {
    /// Address key: `instance` or `parameter_group`.
    pub key: &'static str,
    /// `<stack>-<env>-db-events`, `<stack>-<env>-db-parameter-events`.
    pub name: String,
    /// RDS's source type: `db-instance`, `db-parameter-group`.
    pub source_type: &'static str,
    /// The source's id from `outputs.db`, or only planned.
    pub source_id: Dim,
    /// Sorted.
    pub categories: Vec<String>,
}

/// Every subscription's (key, name), whether the stack has a database or not: `down` and a stack that
/// lost hms-db still find them by name.
pub fn names(tagger: &Tagger) -> Vec<(&'static str, String)> {
    let stack_env = format!("{}-{}", tagger.id.stack, tagger.id.env);
    vec![
        ("instance", format!("{stack_env}-db-events")),
        (
            "parameter_group",
            format!("{stack_env}-db-parameter-events"),
        ),
    ]
}

/// The subscriptions of a stack with hms-db (none without).
pub fn subscriptions(input: &SpecInput<'_>) -> Vec<EventSubscription> {
    if input.optional("db") == Upstream::Absent {
        return Vec::new();
    }
    let id = |path: &str| match input.optional(path) {
        Upstream::Known(v) => v.as_str().map(|s| Dim::Known(s.to_owned())),
        Upstream::Unknown => Some(Dim::Planned),
        Upstream::Absent => None,
    };
    let sorted = |c: &[&str]| {
        let mut v: Vec<String> = c.iter().map(|s| (*s).to_owned()).collect();
        v.sort();
        v
    };
    let mut out = Vec::new();
    for (key, name) in names(input.tagger) {
        let (source_type, path, categories) = match key {
            "instance" => ("db-instance", "db.instance_id", INSTANCE_CATEGORIES),
            _ => (
                "db-parameter-group",
                "db.parameter_group",
                PARAMETER_GROUP_CATEGORIES,
            ),
        };
        if let Some(source_id) = id(path) {
            out.push(EventSubscription {
                key,
                name,
                source_type,
                source_id,
                categories: sorted(categories),
            });
        }
    }
    out
}

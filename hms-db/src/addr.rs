//! Logical addresses of what hms-db owns (`db.instance`, `db.parameter_group[postgres16]`, …).
//!
//! They are the names of resources in plans, state files and `hms:address` tags, so `Display` writes
//! exactly the strings earlier versions wrote, and [`Address::parse`] reads them back. Nothing else in
//! the crate takes an address string apart.

use std::fmt;

use hms_core::addr::{keyed, Address};

const SUBNET_GROUP: &str = "db.subnet_group";
const PARAMETER_GROUP: &str = "db.parameter_group";
const INSTANCE: &str = "db.instance";
const SNAPSHOT: &str = "db.snapshot";
const RESERVATION: &str = "db.reservation";
const SECRET_POLICY: &str = "db.master_secret.policy";

/// A resource of hms-db.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The DB subnet group on the private subnets.
    SubnetGroup,
    /// The parameter group of a family (`postgres16`): a major upgrade brings a new one instead of
    /// replacing the database, and the old one is deleted once the instance has moved.
    ParameterGroup(String),
    /// The DB instance.
    Instance,
    /// A manual snapshot (`hms-db snapshot`): only the `hms:address` of its tags; never planned.
    Snapshot,
    /// A reserved DB instance (`hms-db reserve`): only the `hms:address` of its tags; never planned.
    Reservation,
    /// The RDS-managed master secret's resource policy.
    SecretPolicy,
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
            Addr::Instance => f.write_str(INSTANCE),
            Addr::Snapshot => f.write_str(SNAPSHOT),
            Addr::Reservation => f.write_str(RESERVATION),
            Addr::SecretPolicy => f.write_str(SECRET_POLICY),
        }
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        match address {
            SUBNET_GROUP => Some(Addr::SubnetGroup),
            INSTANCE => Some(Addr::Instance),
            SNAPSHOT => Some(Addr::Snapshot),
            RESERVATION => Some(Addr::Reservation),
            SECRET_POLICY => Some(Addr::SecretPolicy),
            other => keyed(other, PARAMETER_GROUP).map(Addr::parameter_group),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_recorded_strings() {
        let cases = [
            (Addr::SubnetGroup, "db.subnet_group"),
            (
                Addr::parameter_group("postgres16"),
                "db.parameter_group[postgres16]",
            ),
            (Addr::Instance, "db.instance"),
            (Addr::Snapshot, "db.snapshot"),
            (Addr::Reservation, "db.reservation"),
        ];
        for (addr, text) in cases {
            assert_eq!(addr.to_string(), text);
            assert_eq!(Addr::parse(text), Some(addr));
        }
        assert_eq!(Addr::parse("db.parameter_group"), None);
        assert_eq!(Addr::parse("db.parameter_group[]"), None);
        assert_eq!(Addr::parse("db.instances"), None);
    }
}

//! Logical addresses of what hms-backup owns.

use std::fmt;

use hms_core::addr::Address;

/// A resource of hms-backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// The backup bucket; its settings (versioning, encryption, policy, lifecycle, …) are its attributes.
    Bucket,
    /// The replica bucket in `backup.replica_region`, with the same kind of settings.
    Replica,
    /// The backup bucket's replication configuration (one rule, every object to the replica).
    Replication,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Addr::Bucket => "backup.bucket",
            Addr::Replica => "backup.replica",
            Addr::Replication => "backup.replication",
        })
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        match address {
            "backup.bucket" => Some(Addr::Bucket),
            "backup.replica" => Some(Addr::Replica),
            "backup.replication" => Some(Addr::Replication),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for a in [Addr::Bucket, Addr::Replica, Addr::Replication] {
            assert_eq!(Addr::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Addr::parse("backup.other"), None);
    }
}

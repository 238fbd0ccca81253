//! Logical addresses of what hms-backup owns.

use std::fmt;

use hms_core::addr::Address;

/// A resource of hms-backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    /// The backup bucket; its settings (versioning, encryption, policy, lifecycle, …) are its attributes.
    Bucket,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Bucket => f.write_str("backup.bucket"),
        }
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        (address == "backup.bucket").then_some(Addr::Bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        assert_eq!(Addr::parse(&Addr::Bucket.to_string()), Some(Addr::Bucket));
        assert_eq!(Addr::parse("backup.other"), None);
    }
}

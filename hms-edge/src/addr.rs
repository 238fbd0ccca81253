//! Logical addresses of what hms-edge owns.

use std::fmt;

use hms_core::addr::Address;

/// Which door a web ACL guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Door {
    /// The distribution (scope CLOUDFRONT, managed in us-east-1).
    Cdn,
    /// The load balancer (scope REGIONAL).
    Alb,
}

impl Door {
    pub fn word(self) -> &'static str {
        match self {
            Door::Cdn => "cdn",
            Door::Alb => "alb",
        }
    }

    /// The WAFv2 scope.
    pub fn scope(self) -> &'static str {
        match self {
            Door::Cdn => "CLOUDFRONT",
            Door::Alb => "REGIONAL",
        }
    }
}

/// The alias records hms-edge writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Record {
    /// `<domain>` A → the distribution.
    A,
    /// `<domain>` AAAA → the distribution.
    Aaaa,
    /// `origin.<domain>` A → the ALB.
    Origin,
}

impl Record {
    pub fn word(self) -> &'static str {
        match self {
            Record::A => "a",
            Record::Aaaa => "aaaa",
            Record::Origin => "origin",
        }
    }
}

/// A resource of hms-edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The static-assets bucket and its settings (ownership, public-access block, versioning, encryption).
    Bucket,
    /// The bucket policy that lets only the distribution read (it names the distribution's ARN).
    BucketPolicy,
    /// The origin access control for the bucket.
    OriginAccessControl,
    /// The response headers policy (HSTS, CSP, …).
    HeadersPolicy,
    /// A web ACL.
    WebAcl(Door),
    /// The regional web ACL's association with the ALB.
    AlbAssociation,
    /// The distribution.
    Distribution,
    /// An alias record.
    Record(Record),
    /// The access log group (standard logging v2).
    LogGroup,
    /// The log delivery (source, destination and delivery) from the distribution to the log group.
    LogDelivery,
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Bucket => f.write_str("edge.bucket"),
            Addr::BucketPolicy => f.write_str("edge.bucket_policy"),
            Addr::OriginAccessControl => f.write_str("edge.origin_access_control"),
            Addr::HeadersPolicy => f.write_str("edge.response_headers_policy"),
            Addr::WebAcl(d) => write!(f, "edge.web_acl.{}", d.word()),
            Addr::AlbAssociation => f.write_str("edge.web_acl_association.alb"),
            Addr::Distribution => f.write_str("edge.distribution"),
            Addr::Record(r) => write!(f, "edge.record.{}", r.word()),
            Addr::LogGroup => f.write_str("edge.log_group"),
            Addr::LogDelivery => f.write_str("edge.log_delivery"),
        }
    }
}

/// Every address, for parsing.
pub const ALL: &[Addr] = &[
    Addr::Bucket,
    Addr::BucketPolicy,
    Addr::OriginAccessControl,
    Addr::HeadersPolicy,
    Addr::WebAcl(Door::Cdn),
    Addr::WebAcl(Door::Alb),
    Addr::AlbAssociation,
    Addr::Distribution,
    Addr::Record(Record::A),
    Addr::Record(Record::Aaaa),
    Addr::Record(Record::Origin),
    Addr::LogGroup,
    Addr::LogDelivery,
];

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        ALL.iter().copied().find(|a| a.to_string() == address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for a in ALL {
            assert_eq!(Addr::parse(&a.to_string()), Some(*a), "{a}");
        }
        assert_eq!(Addr::parse("edge.other"), None);
    }
}

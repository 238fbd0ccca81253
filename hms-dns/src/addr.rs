//! Logical addresses of what hms-dns owns.

use std::fmt;

use hms_core::addr::Address;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// In us-east-1 one certificate serves the CDN and the ALB.
    Both,
    /// The CDN's, in us-east-1 (CloudFront only takes certificates from there).
    Cdn,
    /// The ALB's, in the stack's region.
    Alb,
}

impl Role {
    /// Whether the CDN uses a certificate of this role.
    pub fn serves_cdn(self) -> bool {
        matches!(self, Role::Both | Role::Cdn)
    }

    /// Whether the ALB uses a certificate of this role.
    pub fn serves_alb(self) -> bool {
        matches!(self, Role::Both | Role::Alb)
    }
}

/// A resource of hms-dns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The hosted zone, when hms-dns created it.
    Zone,
    /// The CAA record set at the domain.
    Caa,
    /// A certificate; `key` is a short hash of its names and key algorithm, so that a certificate with other
    /// names is a new resource (made before the old one is deleted).
    Certificate { role: Role, key: String },
    /// A DNS validation CNAME, by its record name (no trailing dot).
    Validation(String),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Zone => f.write_str("dns.zone"),
            Addr::Caa => f.write_str("dns.caa"),
            Addr::Certificate {
                role: Role::Both,
                key,
            } => write!(f, "dns.certificate[{key}]"),
            Addr::Certificate {
                role: Role::Cdn,
                key,
            } => write!(f, "dns.certificate.cdn[{key}]"),
            Addr::Certificate {
                role: Role::Alb,
                key,
            } => write!(f, "dns.certificate.alb[{key}]"),
            Addr::Validation(name) => write!(f, "dns.validation[{name}]"),
        }
    }
}

fn bracketed<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')
        .filter(|k| !k.is_empty())
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        match address {
            "dns.zone" => return Some(Addr::Zone),
            "dns.caa" => return Some(Addr::Caa),
            _ => {}
        }
        for (prefix, role) in [
            ("dns.certificate.cdn", Role::Cdn),
            ("dns.certificate.alb", Role::Alb),
            ("dns.certificate", Role::Both),
        ] {
            if let Some(key) = bracketed(address, prefix) {
                return Some(Addr::Certificate {
                    role,
                    key: key.to_owned(),
                });
            }
        }
        bracketed(address, "dns.validation").map(|n| Addr::Validation(n.to_owned()))
    }
}

impl Addr {
    /// The role, for a certificate.
    pub fn role(&self) -> Option<Role> {
        match self {
            Addr::Certificate { role, .. } => Some(*role),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for a in [
            Addr::Zone,
            Addr::Caa,
            Addr::Certificate {
                role: Role::Both,
                key: "1a2b3c4d".into(),
            },
            Addr::Certificate {
                role: Role::Cdn,
                key: "1a2b3c4d".into(),
            },
            Addr::Certificate {
                role: Role::Alb,
                key: "00ff00ff".into(),
            },
            Addr::Validation("_abc.hms.example.org".into()),
        ] {
            assert_eq!(Addr::parse(&a.to_string()), Some(a.clone()), "{a}");
        }
        assert_eq!(Addr::parse("dns.certificate[]"), None);
        assert_eq!(Addr::parse("dns.other"), None);
    }
}

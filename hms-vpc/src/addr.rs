//! Logical addresses of the resources hms-vpc owns: one [`Addr`] variant per resource kind, written by
//! `Display` (`vpc.subnet.private[us-east-1a]`, the names in users' state files) and read back by
//! [`Address::parse`]. Observe, plan and apply match on the variant; no other module takes an address
//! string apart.

use std::fmt;

use hms_core::addr::{keyed, Address};

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Public,
    Private,
}

impl Tier {
    /// `public` / `private`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
        }
    }
}

/// A resource of hms-vpc; the per-AZ kinds carry their availability zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    /// The VPC: `vpc.vpc`.
    Vpc,
    /// A subnet: `vpc.subnet.private[us-east-1a]`.
    Subnet(Tier, String),
    /// The internet gateway: `vpc.igw`.
    Igw,
    /// A NAT gateway's Elastic IP: `vpc.eip.nat[us-east-1a]`.
    Eip(String),
    /// A NAT gateway: `vpc.nat[us-east-1a]`.
    Nat(String),
    /// The public route table: `vpc.route_table.public`.
    RouteTablePublic,
    /// A private route table: `vpc.route_table.private[us-east-1a]`.
    RouteTablePrivate(String),
    /// The public route table's default route: `vpc.route.public_default`.
    RoutePublic,
    /// A private route table's default route: `vpc.route.private_default[us-east-1a]`.
    RoutePrivate(String),
    /// A subnet's route table association: `vpc.rta.public[us-east-1a]`.
    Rta(Tier, String),
    /// The VPC's default security group (adopted, stripped of rules): `vpc.default_sg`.
    DefaultSg,
    /// The S3 gateway endpoint: `vpc.endpoint.s3`.
    Endpoint,
    /// The flow logs' log group: `vpc.flow_logs.log_group`.
    LogGroup,
    /// The flow logs' delivery role: `vpc.flow_logs.role`.
    Role,
    /// The delivery role's inline policy: `vpc.flow_logs.role_policy`.
    RolePolicy,
    /// The flow log: `vpc.flow_log`.
    FlowLog,
    /// The network ACL of the public or the private subnets: `vpc.nacl.public`.
    Nacl(Tier),
    /// A subnet's network ACL association: `vpc.nacl_assoc.private[us-east-1a]`.
    NaclAssoc(Tier, String),
}

/// The address kinds keyed by an AZ, as written before the `[az]`.
const SUBNET_PUBLIC: &str = "vpc.subnet.public";
const SUBNET_PRIVATE: &str = "vpc.subnet.private";
const RTA_PUBLIC: &str = "vpc.rta.public";
const RTA_PRIVATE: &str = "vpc.rta.private";
const EIP: &str = "vpc.eip.nat";
const NAT: &str = "vpc.nat";
const RT_PRIVATE: &str = "vpc.route_table.private";
const ROUTE_PRIVATE: &str = "vpc.route.private_default";
const NACL_ASSOC_PUBLIC: &str = "vpc.nacl_assoc.public";
const NACL_ASSOC_PRIVATE: &str = "vpc.nacl_assoc.private";

/// Makes a keyed address from its key.
type Keyed = fn(String) -> Addr;

/// The kinds without a key.
const PLAIN: [Addr; 12] = [
    Addr::Vpc,
    Addr::Igw,
    Addr::RouteTablePublic,
    Addr::RoutePublic,
    Addr::DefaultSg,
    Addr::Endpoint,
    Addr::LogGroup,
    Addr::Role,
    Addr::RolePolicy,
    Addr::FlowLog,
    Addr::Nacl(Tier::Public),
    Addr::Nacl(Tier::Private),
];

impl Addr {
    /// A subnet.
    pub fn subnet(tier: Tier, az: &str) -> Self {
        Addr::Subnet(tier, az.to_owned())
    }

    /// A subnet's route table association.
    pub fn rta(tier: Tier, az: &str) -> Self {
        Addr::Rta(tier, az.to_owned())
    }

    /// A NAT gateway.
    pub fn nat(az: &str) -> Self {
        Addr::Nat(az.to_owned())
    }

    /// A NAT gateway's Elastic IP.
    pub fn eip(az: &str) -> Self {
        Addr::Eip(az.to_owned())
    }

    /// A private route table.
    pub fn rt_private(az: &str) -> Self {
        Addr::RouteTablePrivate(az.to_owned())
    }

    /// A private route table's default route.
    pub fn route_private(az: &str) -> Self {
        Addr::RoutePrivate(az.to_owned())
    }

    /// The route table a subnet of `tier` in `az` is associated with.
    pub fn table_of(tier: Tier, az: &str) -> Self {
        match tier {
            Tier::Public => Addr::RouteTablePublic,
            Tier::Private => Addr::rt_private(az),
        }
    }

    /// A subnet's network ACL association.
    pub fn nacl_assoc(tier: Tier, az: &str) -> Self {
        Addr::NaclAssoc(tier, az.to_owned())
    }

    /// Whether this is a network ACL (public or private).
    pub fn is_nacl(&self) -> bool {
        matches!(self, Addr::Nacl(_))
    }

    /// Whether this is a subnet.
    pub fn is_subnet(&self) -> bool {
        matches!(self, Addr::Subnet(..))
    }

    /// Whether this is a route table (public or private).
    pub fn is_route_table(&self) -> bool {
        matches!(self, Addr::RouteTablePublic | Addr::RouteTablePrivate(_))
    }
}

impl Addr {
    /// The written address of a kind without a key; the kind and key of a keyed one.
    fn parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Addr::Vpc => ("vpc.vpc", None),
            Addr::Igw => ("vpc.igw", None),
            Addr::RouteTablePublic => ("vpc.route_table.public", None),
            Addr::RoutePublic => ("vpc.route.public_default", None),
            Addr::DefaultSg => ("vpc.default_sg", None),
            Addr::Endpoint => ("vpc.endpoint.s3", None),
            Addr::LogGroup => ("vpc.flow_logs.log_group", None),
            Addr::Role => ("vpc.flow_logs.role", None),
            Addr::RolePolicy => ("vpc.flow_logs.role_policy", None),
            Addr::FlowLog => ("vpc.flow_log", None),
            Addr::Nacl(Tier::Public) => ("vpc.nacl.public", None),
            Addr::Nacl(Tier::Private) => ("vpc.nacl.private", None),
            Addr::NaclAssoc(Tier::Public, az) => (NACL_ASSOC_PUBLIC, Some(az)),
            Addr::NaclAssoc(Tier::Private, az) => (NACL_ASSOC_PRIVATE, Some(az)),
            Addr::Subnet(Tier::Public, az) => (SUBNET_PUBLIC, Some(az)),
            Addr::Subnet(Tier::Private, az) => (SUBNET_PRIVATE, Some(az)),
            Addr::Rta(Tier::Public, az) => (RTA_PUBLIC, Some(az)),
            Addr::Rta(Tier::Private, az) => (RTA_PRIVATE, Some(az)),
            Addr::Eip(az) => (EIP, Some(az)),
            Addr::Nat(az) => (NAT, Some(az)),
            Addr::RouteTablePrivate(az) => (RT_PRIVATE, Some(az)),
            Addr::RoutePrivate(az) => (ROUTE_PRIVATE, Some(az)),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts() {
            (kind, Some(az)) => write!(f, "{kind}[{az}]"),
            (name, None) => f.write_str(name),
        }
    }
}

impl Address for Addr {
    fn parse(address: &str) -> Option<Self> {
        if let Some(a) = PLAIN.iter().find(|a| a.parts().0 == address) {
            return Some(a.clone());
        }
        let kinds: [(&str, Keyed); 10] = [
            (SUBNET_PUBLIC, |az| Addr::Subnet(Tier::Public, az)),
            (SUBNET_PRIVATE, |az| Addr::Subnet(Tier::Private, az)),
            (RTA_PUBLIC, |az| Addr::Rta(Tier::Public, az)),
            (RTA_PRIVATE, |az| Addr::Rta(Tier::Private, az)),
            (EIP, Addr::Eip),
            (NAT, Addr::Nat),
            (RT_PRIVATE, Addr::RouteTablePrivate),
            (ROUTE_PRIVATE, Addr::RoutePrivate),
            (NACL_ASSOC_PUBLIC, |az| Addr::NaclAssoc(Tier::Public, az)),
            (NACL_ASSOC_PRIVATE, |az| Addr::NaclAssoc(Tier::Private, az)),
        ];
        kinds
            .iter()
            .find_map(|(kind, make)| keyed(address, kind).map(|az| make(az.to_owned())))
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

/// References between resources are addresses in compared attributes.
impl From<Addr> for serde_json::Value {
    fn from(a: Addr) -> Self {
        serde_json::Value::String(a.to_string())
    }
}

impl From<&Addr> for serde_json::Value {
    fn from(a: &Addr) -> Self {
        serde_json::Value::String(a.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_in_state_files_and_read_back() {
        let az = "us-east-1a";
        for (a, text) in [
            (Addr::Vpc, "vpc.vpc"),
            (
                Addr::subnet(Tier::Private, az),
                "vpc.subnet.private[us-east-1a]",
            ),
            (
                Addr::subnet(Tier::Public, az),
                "vpc.subnet.public[us-east-1a]",
            ),
            (Addr::Igw, "vpc.igw"),
            (Addr::eip(az), "vpc.eip.nat[us-east-1a]"),
            (Addr::nat(az), "vpc.nat[us-east-1a]"),
            (Addr::RouteTablePublic, "vpc.route_table.public"),
            (Addr::rt_private(az), "vpc.route_table.private[us-east-1a]"),
            (Addr::RoutePublic, "vpc.route.public_default"),
            (
                Addr::route_private(az),
                "vpc.route.private_default[us-east-1a]",
            ),
            (Addr::rta(Tier::Public, az), "vpc.rta.public[us-east-1a]"),
            (Addr::rta(Tier::Private, az), "vpc.rta.private[us-east-1a]"),
            (Addr::DefaultSg, "vpc.default_sg"),
            (Addr::Endpoint, "vpc.endpoint.s3"),
            (Addr::LogGroup, "vpc.flow_logs.log_group"),
            (Addr::Role, "vpc.flow_logs.role"),
            (Addr::RolePolicy, "vpc.flow_logs.role_policy"),
            (Addr::FlowLog, "vpc.flow_log"),
            (Addr::Nacl(Tier::Public), "vpc.nacl.public"),
            (Addr::Nacl(Tier::Private), "vpc.nacl.private"),
            (
                Addr::nacl_assoc(Tier::Private, az),
                "vpc.nacl_assoc.private[us-east-1a]",
            ),
        ] {
            assert_eq!(a.to_string(), text);
            assert_eq!(Addr::parse(text), Some(a), "{text}");
        }
        for bad in [
            "vpc.bogus",
            "vpc.nat[]",
            "vpc.nat",
            "vpc.subnet.private",
            "vpc.subnet.other[us-east-1a]",
            "db.instance",
        ] {
            assert_eq!(Addr::parse(bad), None, "{bad}");
        }
    }
}

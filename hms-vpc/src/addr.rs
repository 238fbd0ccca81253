//! Logical addresses of the resources hms-vpc owns.

/// The VPC.
pub const VPC: &str = "vpc.vpc";
/// The internet gateway.
pub const IGW: &str = "vpc.igw";
/// The public route table.
pub const RT_PUBLIC: &str = "vpc.route_table.public";
/// The public route table's default route.
pub const ROUTE_PUBLIC: &str = "vpc.route.public_default";
/// The VPC's default security group (adopted, stripped of rules).
pub const DEFAULT_SG: &str = "vpc.default_sg";
/// The S3 gateway endpoint.
pub const ENDPOINT: &str = "vpc.endpoint.s3";
/// The flow logs' log group.
pub const LOG_GROUP: &str = "vpc.flow_logs.log_group";
/// The flow logs' delivery role.
pub const ROLE: &str = "vpc.flow_logs.role";
/// The delivery role's inline policy.
pub const ROLE_POLICY: &str = "vpc.flow_logs.role_policy";
/// The flow log.
pub const FLOW_LOG: &str = "vpc.flow_log";

/// A subnet: `vpc.subnet.private[us-east-1a]`.
pub fn subnet(tier: Tier, az: &str) -> String {
    format!("vpc.subnet.{}[{az}]", tier.as_str())
}

/// A subnet's route table association.
pub fn rta(tier: Tier, az: &str) -> String {
    format!("vpc.rta.{}[{az}]", tier.as_str())
}

/// A NAT gateway.
pub fn nat(az: &str) -> String {
    format!("vpc.nat[{az}]")
}

/// A NAT gateway's Elastic IP.
pub fn eip(az: &str) -> String {
    format!("vpc.eip.nat[{az}]")
}

/// A private route table.
pub fn rt_private(az: &str) -> String {
    format!("vpc.route_table.private[{az}]")
}

/// A private route table's default route.
pub fn route_private(az: &str) -> String {
    format!("vpc.route.private_default[{az}]")
}

/// Public or private.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What an address names, with its AZ where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Vpc,
    Subnet(Tier, String),
    Igw,
    Eip(String),
    Nat(String),
    RouteTablePublic,
    RouteTablePrivate(String),
    RoutePublic,
    RoutePrivate(String),
    Rta(Tier, String),
    DefaultSg,
    Endpoint,
    LogGroup,
    Role,
    RolePolicy,
    FlowLog,
}

fn az_of<'a>(address: &'a str, prefix: &str) -> Option<&'a str> {
    address.strip_prefix(prefix)?.strip_suffix(']')
}

/// Parses an address.
pub fn kind(address: &str) -> Option<Kind> {
    Some(match address {
        VPC => Kind::Vpc,
        IGW => Kind::Igw,
        RT_PUBLIC => Kind::RouteTablePublic,
        ROUTE_PUBLIC => Kind::RoutePublic,
        DEFAULT_SG => Kind::DefaultSg,
        ENDPOINT => Kind::Endpoint,
        LOG_GROUP => Kind::LogGroup,
        ROLE => Kind::Role,
        ROLE_POLICY => Kind::RolePolicy,
        FLOW_LOG => Kind::FlowLog,
        a => {
            if let Some(az) = az_of(a, "vpc.subnet.private[") {
                Kind::Subnet(Tier::Private, az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.subnet.public[") {
                Kind::Subnet(Tier::Public, az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.rta.private[") {
                Kind::Rta(Tier::Private, az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.rta.public[") {
                Kind::Rta(Tier::Public, az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.eip.nat[") {
                Kind::Eip(az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.nat[") {
                Kind::Nat(az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.route_table.private[") {
                Kind::RouteTablePrivate(az.to_owned())
            } else if let Some(az) = az_of(a, "vpc.route.private_default[") {
                Kind::RoutePrivate(az.to_owned())
            } else {
                return None;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for (a, k) in [
            (
                subnet(Tier::Private, "us-east-1a"),
                Kind::Subnet(Tier::Private, "us-east-1a".into()),
            ),
            (
                rta(Tier::Public, "us-east-1b"),
                Kind::Rta(Tier::Public, "us-east-1b".into()),
            ),
            (nat("us-east-1a"), Kind::Nat("us-east-1a".into())),
            (eip("us-east-1a"), Kind::Eip("us-east-1a".into())),
            (
                rt_private("us-east-1c"),
                Kind::RouteTablePrivate("us-east-1c".into()),
            ),
            (
                route_private("us-east-1c"),
                Kind::RoutePrivate("us-east-1c".into()),
            ),
            (VPC.to_owned(), Kind::Vpc),
        ] {
            assert_eq!(kind(&a), Some(k), "{a}");
        }
        assert_eq!(kind("vpc.bogus"), None);
    }
}

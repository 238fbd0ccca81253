//! `hms-vpc import`: a Terraform VPC mapped to hms-vpc's addresses. The VPC by its CIDR, a subnet by
//! CIDR and AZ (the config's `vpc.cidr`, `vpc.azs` and subnet lists must describe it: a subnet cannot
//! change its CIDR), the NAT gateway by its public subnet, its EIP by the NAT's allocation, a route table by
//! its default route (to the internet gateway: public; to a NAT gateway: private, for the AZ of the
//! private subnets associated with it). Routes and associations are found through their tables.

use std::collections::BTreeMap;

use hms_core::terraform::{of_kinds, Mapping, TfResource, TfState};
use serde_json::Value;

use crate::addr::{Addr, Tier};
use crate::spec::Spec;

/// Maps the state's resources of hms-vpc's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let Some(vpc) = vpc(spec, tf, &mut m) else {
        for r in of_kinds(tf, KINDS) {
            if r.kind != "aws_vpc" {
                m.skip(r, "its VPC is not taken over");
            }
        }
        return m;
    };
    let in_vpc = |r: &TfResource| r.str("vpc_id").as_deref() == Some(vpc.as_str());
    // Subnets, by CIDR and AZ.
    let mut subnets: BTreeMap<String, (Tier, String)> = BTreeMap::new();
    for r in of_kinds(tf, &["aws_subnet"]) {
        if !in_vpc(r) {
            m.skip(r, "not in the VPC taken over");
            continue;
        }
        let (Some(id), Some(cidr), Some(az)) =
            (r.id(), r.str("cidr_block"), r.str("availability_zone"))
        else {
            m.skip(r, "no id, cidr_block or availability_zone in the state");
            continue;
        };
        let tier = spec.azs.iter().find(|a| a.name == az).and_then(|a| {
            if a.private.to_string() == cidr {
                Some(Tier::Private)
            } else if a.public.to_string() == cidr {
                Some(Tier::Public)
            } else {
                None
            }
        });
        match tier {
            Some(t) => {
                m.map(r, Addr::subnet(t, &az).to_string(), &id);
                subnets.insert(id, (t, az));
            }
            None => m.skip(
                r,
                format!(
                    "{cidr} in {az} is not one of the config's subnets; list it in vpc.azs and vpc.private_subnets or vpc.public_subnets to take it over"
                ),
            ),
        }
    }
    let mut igw = None;
    for r in of_kinds(tf, &["aws_internet_gateway"]) {
        match r.id().filter(|_| in_vpc(r) && igw.is_none()) {
            Some(id) => {
                m.map(r, Addr::Igw.to_string(), &id);
                igw = Some(id);
            }
            None => m.skip(r, "not the internet gateway of the VPC taken over"),
        }
    }
    // NAT gateways, by their public subnet; their EIPs by allocation.
    let nat_azs = spec.nat_azs();
    let mut nats: BTreeMap<String, String> = BTreeMap::new();
    let mut allocations: BTreeMap<String, String> = BTreeMap::new();
    for r in of_kinds(tf, &["aws_nat_gateway"]) {
        let placed = r
            .str("subnet_id")
            .and_then(|s| subnets.get(&s).cloned())
            .filter(|(t, az)| *t == Tier::Public && nat_azs.contains(&az.as_str()));
        match (r.id(), placed) {
            (Some(id), Some((_, az))) if !nats.values().any(|a| *a == az) => {
                m.map(r, Addr::nat(&az).to_string(), &id);
                if let Some(alloc) = r.str("allocation_id") {
                    allocations.insert(alloc, az.clone());
                }
                nats.insert(id, az);
            }
            _ => m.skip(
                r,
                "not in a public subnet that holds a NAT gateway in the config (vpc.single_nat_gateway, vpc.azs)",
            ),
        }
    }
    for r in of_kinds(tf, &["aws_eip"]) {
        let alloc = r.str("allocation_id").or_else(|| r.id());
        match alloc.as_ref().and_then(|a| allocations.get(a)) {
            Some(az) => m.map(r, Addr::eip(az).to_string(), alloc.unwrap_or_default()),
            None => m.skip(r, "not the address of a NAT gateway taken over"),
        }
    }
    route_tables(spec, tf, &mut m, igw.as_deref(), &nats, &subnets);
    for r in of_kinds(tf, &["aws_default_security_group"]) {
        if in_vpc(r) {
            m.cover(r, Addr::DefaultSg.to_string());
        } else {
            m.skip(r, "not the default security group of the VPC taken over");
        }
    }
    m
}

/// The types this maps.
const KINDS: &[&str] = &[
    "aws_vpc",
    "aws_subnet",
    "aws_internet_gateway",
    "aws_nat_gateway",
    "aws_eip",
    "aws_route_table",
    "aws_route",
    "aws_route_table_association",
    "aws_default_security_group",
];

/// The VPC whose CIDR is the config's.
fn vpc(spec: &Spec, tf: &TfState, m: &mut Mapping) -> Option<String> {
    let mut found = None;
    for r in of_kinds(tf, &["aws_vpc"]) {
        let (Some(id), Some(cidr)) = (r.id(), r.str("cidr_block")) else {
            m.skip(r, "no id or cidr_block in the state");
            continue;
        };
        if cidr != spec.cidr.to_string() {
            m.skip(
                r,
                format!(
                    "its CIDR {cidr} is not vpc.cidr {}; set vpc.cidr = \"{cidr}\" (and its subnets) to take it over",
                    spec.cidr
                ),
            );
        } else if found.is_some() {
            m.skip(r, "a second VPC with the config's CIDR");
        } else {
            m.map(r, Addr::Vpc.to_string(), &id);
            found = Some(id);
        }
    }
    found
}

/// Route tables by their default route; their routes and associations are part of them.
fn route_tables(
    spec: &Spec,
    tf: &TfState,
    m: &mut Mapping,
    igw: Option<&str>,
    nats: &BTreeMap<String, String>,
    subnets: &BTreeMap<String, (Tier, String)>,
) {
    // Default routes given as aws_route resources, by table.
    let mut routes: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for r in of_kinds(tf, &["aws_route"]) {
        if r.str("destination_cidr_block").as_deref() == Some("0.0.0.0/0") {
            if let Some(t) = r.str("route_table_id") {
                routes.insert(t, (r.str("gateway_id"), r.str("nat_gateway_id")));
            }
        }
    }
    let associated = |table: &str| -> Vec<(Tier, String)> {
        of_kinds(tf, &["aws_route_table_association"])
            .into_iter()
            .filter(|a| a.str("route_table_id").as_deref() == Some(table))
            .filter_map(|a| a.str("subnet_id").and_then(|s| subnets.get(&s).cloned()))
            .collect()
    };
    let mut tables: BTreeMap<String, Addr> = BTreeMap::new();
    for r in of_kinds(tf, &["aws_route_table"]) {
        let Some(id) = r.id() else {
            m.skip(r, "no id in the state");
            continue;
        };
        let (gateway, nat) = inline_default(r)
            .or_else(|| routes.get(&id).cloned())
            .unwrap_or((None, None));
        let addr = if gateway.is_some() && gateway.as_deref() == igw {
            Some(Addr::RouteTablePublic)
        } else if let Some(nat_az) = nat.as_ref().and_then(|n| nats.get(n)) {
            // The AZ of the first private subnet (in the config's order) it serves, else the NAT's.
            let served: Vec<String> = associated(&id)
                .into_iter()
                .filter(|(t, _)| *t == Tier::Private)
                .map(|(_, az)| az)
                .collect();
            let az = spec
                .az_names()
                .into_iter()
                .find(|a| served.contains(a))
                .unwrap_or_else(|| nat_az.clone());
            Some(Addr::rt_private(&az))
        } else {
            None
        };
        match addr {
            Some(a) if !tables.values().any(|t| *t == a) => {
                m.map(r, a.to_string(), &id);
                tables.insert(id, a);
            }
            _ => m.skip(
                r,
                "no default route to the internet gateway or a NAT gateway taken over (or a second such table)",
            ),
        }
    }
    for r in of_kinds(tf, &["aws_route", "aws_route_table_association"]) {
        let table = r
            .str("route_table_id")
            .and_then(|t| tables.get(&t).cloned());
        let by = match (&table, r.kind.as_str()) {
            (Some(Addr::RouteTablePublic), "aws_route") => Some(Addr::RoutePublic),
            (Some(Addr::RouteTablePrivate(az)), "aws_route") => Some(Addr::route_private(az)),
            (Some(_), _) => r
                .str("subnet_id")
                .and_then(|s| subnets.get(&s).cloned())
                .map(|(t, az)| Addr::rta(t, &az)),
            (None, _) => None,
        };
        match by {
            Some(a) => m.cover(r, a.to_string()),
            None => m.skip(r, "not of a route table taken over"),
        }
    }
}

/// The internet gateway and NAT gateway of a table's inline `route` 0.0.0.0/0, if it has one.
fn inline_default(r: &TfResource) -> Option<(Option<String>, Option<String>)> {
    let routes = r.get("route")?.as_array()?;
    let route = routes
        .iter()
        .find(|x| x.get("cidr_block").and_then(Value::as_str) == Some("0.0.0.0/0"))?;
    let text = |k: &str| {
        route
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some((text("gateway_id"), text("nat_gateway_id")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::config::Config;
    use hms_core::document::Identity;
    use hms_core::tags::Tagger;
    use serde_json::json;

    fn spec() -> Spec {
        let config = Config::load(&[], &[]).expect("config");
        let cfg: crate::spec::VpcConfig = config.section("vpc").expect("vpc");
        let tagger = Tagger::new(
            Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "us-east-1".into(),
            },
            "hms-vpc",
            Default::default(),
        );
        crate::spec::decide(&config, &cfg, &tagger).expect("spec")
    }

    fn r(address: &str, kind: &str, values: Value) -> TfResource {
        TfResource {
            address: address.into(),
            kind: kind.into(),
            values,
        }
    }

    #[test]
    fn subnets_by_cidr_and_az_the_nat_by_its_subnet_tables_by_their_default_route() {
        let tf = TfState {
            source: "t".into(),
            resources: vec![
                r(
                    "module.vpc.aws_vpc.main",
                    "aws_vpc",
                    json!({"id": "vpc-1", "cidr_block": "10.0.0.0/16"}),
                ),
                r(
                    "module.vpc.aws_subnet.public[0]",
                    "aws_subnet",
                    json!({"id": "subnet-p", "vpc_id": "vpc-1", "cidr_block": "10.0.101.0/24", "availability_zone": "us-east-1a"}),
                ),
                r(
                    "module.vpc.aws_subnet.private[1]",
                    "aws_subnet",
                    json!({"id": "subnet-q", "vpc_id": "vpc-1", "cidr_block": "10.0.2.0/24", "availability_zone": "us-east-1b"}),
                ),
                r(
                    "module.vpc.aws_subnet.odd",
                    "aws_subnet",
                    json!({"id": "subnet-x", "vpc_id": "vpc-1", "cidr_block": "10.0.50.0/24", "availability_zone": "us-east-1a"}),
                ),
                r(
                    "module.vpc.aws_internet_gateway.main",
                    "aws_internet_gateway",
                    json!({"id": "igw-1", "vpc_id": "vpc-1"}),
                ),
                r(
                    "module.vpc.aws_eip.nat[0]",
                    "aws_eip",
                    json!({"id": "eipalloc-1", "allocation_id": "eipalloc-1"}),
                ),
                r(
                    "module.vpc.aws_nat_gateway.main[0]",
                    "aws_nat_gateway",
                    json!({"id": "nat-1", "subnet_id": "subnet-p", "allocation_id": "eipalloc-1"}),
                ),
                r(
                    "module.vpc.aws_route_table.private[0]",
                    "aws_route_table",
                    json!({"id": "rtb-2", "route": [{"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": "nat-1"}]}),
                ),
                r(
                    "module.vpc.aws_route_table_association.private[1]",
                    "aws_route_table_association",
                    json!({"id": "rtbassoc-2", "route_table_id": "rtb-2", "subnet_id": "subnet-q"}),
                ),
            ],
        };
        let m = map(&spec(), &tf);
        let got: Vec<(&str, &str)> = m
            .mapped
            .iter()
            .map(|x| (x.address.as_str(), x.id.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("vpc.vpc", "vpc-1"),
                ("vpc.subnet.public[us-east-1a]", "subnet-p"),
                ("vpc.subnet.private[us-east-1b]", "subnet-q"),
                ("vpc.igw", "igw-1"),
                ("vpc.nat[us-east-1a]", "nat-1"),
                ("vpc.eip.nat[us-east-1a]", "eipalloc-1"),
                // The single NAT's table, named after the first private subnet it serves.
                ("vpc.route_table.private[us-east-1b]", "rtb-2"),
            ]
        );
        assert_eq!(m.covered[0].by, "vpc.rta.private[us-east-1b]");
        assert!(
            m.unmapped[0].1.contains("10.0.50.0/24 in us-east-1a"),
            "{:?}",
            m.unmapped
        );
        let other = TfState {
            source: "t".into(),
            resources: vec![r(
                "aws_vpc.x",
                "aws_vpc",
                json!({"id": "vpc-9", "cidr_block": "172.16.0.0/16"}),
            )],
        };
        let m = map(&spec(), &other);
        assert!(m.mapped.is_empty());
        assert!(
            m.unmapped[0].1.contains("set vpc.cidr = \"172.16.0.0/16\""),
            "{:?}",
            m.unmapped
        );
    }
}

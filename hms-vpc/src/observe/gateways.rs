//! The internet gateway, the NAT gateways' Elastic IPs and the NAT gateways.

use aws_sdk_ec2::types::{Address as ElasticIp, InternetGateway, NatGateway};
use hms_core::diff::Found;
use serde_json::Value;

use super::{pairs, Builder};
use crate::addr::{Addr, Tier};

/// The internet gateway (found even when detached, so that a run killed before attaching resumes).
pub(super) fn igw(b: &mut Builder<'_>, igws: Vec<InternetGateway>) {
    for (a, g) in b.pick(igws, |a| *a == Addr::Igw) {
        let attached = g
            .attachments()
            .iter()
            .find(|x| b.in_vpc(x.vpc_id()))
            .map(|_| Value::from(Addr::Vpc))
            .unwrap_or(Value::Null);
        let vpc_id = b.vpc_id.clone().unwrap_or_default();
        b.insert(
            &a,
            Found::new(g.internet_gateway_id().unwrap_or_default())
                .attr("attached_to", attached)
                .info("vpc_id", vpc_id)
                .tags(pairs(g.tags()))
                .uses([Addr::Vpc]),
        );
    }
}

/// The NAT gateways' Elastic IPs.
pub(super) fn eips(b: &mut Builder<'_>, eips: Vec<ElasticIp>) {
    for (a, e) in b.pick(eips, |a| matches!(a, Addr::Eip(_))) {
        b.insert(
            &a,
            Found::new(e.allocation_id().unwrap_or_default())
                .attr(
                    "domain",
                    e.domain()
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .info("public_ip", e.public_ip().unwrap_or_default())
                .tags(pairs(e.tags())),
        );
    }
}

fn nat_state(n: &NatGateway) -> &str {
    n.state().map(|s| s.as_str()).unwrap_or_default()
}

/// The NAT gateways of our VPC (after the subnets and EIPs, which they refer to). Deleted and failed ones
/// linger in the API for a while; they are gone for us. One being deleted still holds its EIP and subnet:
/// it is listed in `deleting_nats`, and the caller waits for it before planning.
pub(super) fn nats(b: &mut Builder<'_>, nats: Vec<NatGateway>) {
    let mine = nats.into_iter().filter(|n| b.in_vpc(n.vpc_id())).collect();
    let ours = b.ours(mine, |a| matches!(a, Addr::Nat(_)));
    b.deleting_nats.extend(
        ours.iter()
            .filter(|(_, n)| nat_state(n) == "deleting")
            .filter_map(|(_, n)| n.nat_gateway_id().map(str::to_owned)),
    );
    let live = ours
        .into_iter()
        .filter(|(_, n)| !matches!(nat_state(n), "deleted" | "deleting" | "failed"))
        .collect();
    for (a, n) in b.adopt(live) {
        let Addr::Nat(az) = &a else {
            continue;
        };
        let reference = |id: Option<&str>| {
            id.map(|i| Value::from(b.reference(i)))
                .unwrap_or(Value::Null)
        };
        let addresses = n.nat_gateway_addresses();
        let subnet = reference(n.subnet_id());
        let eip = reference(addresses.iter().find_map(|x| x.allocation_id()));
        let found = Found::new(n.nat_gateway_id().unwrap_or_default())
            .attr("subnet", subnet)
            .attr("eip", eip)
            .attr("state", nat_state(&n))
            .info(
                "public_ip",
                addresses
                    .iter()
                    .find_map(|x| x.public_ip())
                    .unwrap_or_default(),
            )
            .info(
                "network_interface_ids",
                addresses
                    .iter()
                    .filter_map(|x| x.network_interface_id())
                    .collect::<Vec<_>>(),
            )
            .tags(pairs(n.tags()))
            .uses([Addr::subnet(Tier::Public, az), Addr::eip(az), Addr::Igw]);
        b.insert(&a, found);
    }
}

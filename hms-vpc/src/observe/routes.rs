//! The route tables, their default routes and their subnet associations (after the gateways and subnets,
//! which they refer to).

use aws_sdk_ec2::types::RouteTable;
use hms_core::addr::Address;
use hms_core::diff::Found;

use super::{pairs, Builder};
use crate::addr::Addr;

/// Our VPC's route tables, each with its default route and associations.
pub(super) fn tables(b: &mut Builder<'_>, rts: Vec<RouteTable>) {
    let mine = rts.into_iter().filter(|r| b.in_vpc(r.vpc_id())).collect();
    let tables = b.pick(mine, Addr::is_route_table);
    for (a, r) in &tables {
        b.insert(
            a,
            Found::new(r.route_table_id().unwrap_or_default())
                .tags(pairs(r.tags()))
                .uses([Addr::Vpc]),
        );
    }
    for (a, r) in &tables {
        default_route(b, a, r);
        associations(b, a, r);
    }
}

/// The table's `0.0.0.0/0` route, its target as an address when it is ours.
fn default_route(b: &mut Builder<'_>, table: &Addr, r: &RouteTable) {
    let route_addr = match table {
        Addr::RouteTablePublic => Addr::RoutePublic,
        Addr::RouteTablePrivate(az) => Addr::route_private(az),
        _ => return,
    };
    let Some(route) = r
        .routes()
        .iter()
        .find(|x| x.destination_cidr_block() == Some("0.0.0.0/0"))
    else {
        return;
    };
    let rt_id = r.route_table_id().unwrap_or_default();
    let target = route
        .nat_gateway_id()
        .or(route.gateway_id())
        .unwrap_or_default()
        .to_owned();
    let target_ref = b.reference(&target);
    b.insert(
        &route_addr,
        Found::new(format!("{rt_id}_0.0.0.0/0"))
            .attr("destination", "0.0.0.0/0")
            .attr("target", target_ref.clone())
            .info("route_table_id", rt_id)
            .info("target_id", target)
            .uses([table.to_string(), target_ref]),
    );
}

/// The table's associations with our subnets (the main association is no subnet's).
fn associations(b: &mut Builder<'_>, table: &Addr, r: &RouteTable) {
    for assoc in r.associations() {
        if assoc.main() == Some(true) {
            continue;
        }
        let Some(subnet_id) = assoc.subnet_id() else {
            continue;
        };
        let subnet = b.reference(subnet_id);
        let Some(Addr::Subnet(tier, az)) = Addr::parse(&subnet) else {
            continue;
        };
        b.insert(
            &Addr::rta(tier, &az),
            Found::new(assoc.route_table_association_id().unwrap_or_default())
                .attr("route_table", table)
                .attr("subnet", subnet.clone())
                .uses([table.to_string(), subnet]),
        );
    }
}

//! The network ACLs of the public and the private subnets, their rules and their subnet associations
//! (after the subnets, which the associations refer to).

use aws_sdk_ec2::types::{NetworkAcl, NetworkAclEntry};
use hms_core::addr::Address;
use hms_core::diff::Found;

use super::{pairs, Builder};
use crate::addr::Addr;
use crate::spec::AclRule;

/// AWS's implicit final deny of every ACL: not a rule anyone manages.
const IMPLICIT_DENY: i32 = 32767;

/// Our VPC's network ACLs, each with its rules and associations.
pub(super) fn build(b: &mut Builder<'_>, acls: Vec<NetworkAcl>) {
    let mine = acls
        .into_iter()
        .filter(|a| b.in_vpc(a.vpc_id()) && a.is_default() != Some(true))
        .collect();
    for (addr, acl) in b.pick(mine, Addr::is_nacl) {
        let rules = |egress: bool| -> Vec<String> {
            let mut r: Vec<(i32, String)> = acl
                .entries()
                .iter()
                .filter(|e| e.egress() == Some(egress) && e.rule_number() != Some(IMPLICIT_DENY))
                .map(|e| (e.rule_number().unwrap_or_default(), written(e)))
                .collect();
            r.sort();
            r.into_iter().map(|(_, w)| w).collect()
        };
        let id = acl.network_acl_id().unwrap_or_default().to_owned();
        b.insert(
            &addr,
            Found::new(&id)
                .attr("ingress", rules(false))
                .attr("egress", rules(true))
                .tags(pairs(acl.tags()))
                .uses([Addr::Vpc]),
        );
        for assoc in acl.associations() {
            let Some(subnet_id) = assoc.subnet_id() else {
                continue;
            };
            let subnet = b.reference(subnet_id);
            let Some(Addr::Subnet(tier, az)) = Addr::parse(&subnet) else {
                continue;
            };
            b.insert(
                &Addr::nacl_assoc(tier, &az),
                Found::new(assoc.network_acl_association_id().unwrap_or_default())
                    .attr("network_acl", &addr)
                    .attr("subnet", subnet.clone())
                    .info("subnet_id", subnet_id)
                    .uses([addr.to_string(), subnet]),
            );
        }
    }
}

/// An entry as the plan writes a rule: `100 allow tcp 443 0.0.0.0/0`. A protocol other than TCP or all
/// (added by hand) is written by its number, so it differs from every rule of ours.
fn written(e: &NetworkAclEntry) -> String {
    let cidr = e
        .cidr_block()
        .or(e.ipv6_cidr_block())
        .unwrap_or_default()
        .to_owned();
    let allow = e.rule_action().map(|a| a.as_str()) == Some("allow");
    let number = e.rule_number().unwrap_or_default();
    let ports = e
        .port_range()
        .map(|p| (p.from().unwrap_or_default(), p.to().unwrap_or_default()));
    match e.protocol() {
        Some("6") => AclRule {
            number,
            allow,
            tcp: true,
            ports,
            cidr,
        }
        .to_string(),
        Some("-1") | Some("all") => AclRule {
            number,
            allow,
            tcp: false,
            ports: None,
            cidr,
        }
        .to_string(),
        other => format!(
            "{number} {} protocol {} {cidr}",
            if allow { "allow" } else { "deny" },
            other.unwrap_or("?")
        ),
    }
}

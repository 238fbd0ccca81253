//! The VPC (with its DNS attributes), its default security group and the subnets.

use aws_sdk_ec2::types::{Filter, SecurityGroup, Subnet, Vpc, VpcAttributeName};
use aws_sdk_ec2::Client as Ec2;
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::{Error, Result};

use super::{pairs, Builder};
use crate::addr::Addr;

/// Facts that need the VPC's id: its DNS attributes and its default security group.
#[derive(Default)]
pub(super) struct VpcDetails {
    dns_support: Option<bool>,
    dns_hostnames: Option<bool>,
    default_sg: Option<SecurityGroup>,
}

/// Reads the VPC's details (part of the first round when state records the VPC).
pub(super) async fn details(ec2: &Ec2, vpc_id: &str) -> Result<VpcDetails> {
    let attr = |name: VpcAttributeName| async move {
        match ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(name.clone())
            .send()
            .await
        {
            Ok(o) => Ok(Some(o)),
            Err(e) if code_of(&e) == Some("InvalidVpcID.NotFound") => Ok(None),
            Err(e) => Err(Error::aws(
                format!("vpc {vpc_id}"),
                "ec2:DescribeVpcAttribute",
                e,
            )),
        }
    };
    let (support, hostnames, sgs) = tokio::try_join!(
        attr(VpcAttributeName::EnableDnsSupport),
        attr(VpcAttributeName::EnableDnsHostnames),
        async {
            ec2.describe_security_groups()
                .set_filters(Some(vec![
                    Filter::builder().name("vpc-id").values(vpc_id).build(),
                    Filter::builder()
                        .name("group-name")
                        .values("default")
                        .build(),
                ]))
                .send()
                .await
                .map(|o| o.security_groups().to_vec())
                .map_err(|e| {
                    Error::aws(
                        format!("default security group of {vpc_id}"),
                        "ec2:DescribeSecurityGroups",
                        e,
                    )
                })
        },
    )?;
    Ok(VpcDetails {
        dns_support: support.and_then(|o| o.enable_dns_support().and_then(|v| v.value())),
        dns_hostnames: hostnames.and_then(|o| o.enable_dns_hostnames().and_then(|v| v.value())),
        default_sg: sgs.into_iter().next(),
    })
}

/// The VPC and its default security group. `read` holds the details read in the first round, for the VPC
/// state records; another VPC found (by tags) has its details read now.
pub(super) async fn vpc(
    b: &mut Builder<'_>,
    ec2: &Ec2,
    vpcs: Vec<Vpc>,
    read: Option<(String, VpcDetails)>,
) -> Result<()> {
    let live = vpcs
        .into_iter()
        .filter(|v| v.state().map(|s| s.as_str()) != Some("deleted"))
        .collect();
    let Some((_, v)) = b.pick(live, |a| *a == Addr::Vpc).into_iter().next() else {
        return Ok(());
    };
    let id = v.vpc_id().unwrap_or_default().to_owned();
    let d = match read {
        Some((read_for, d)) if read_for == id => d,
        _ => details(ec2, &id).await?,
    };
    b.vpc_id = Some(id.clone());
    b.insert(
        &Addr::Vpc,
        Found::new(id)
            .attr("cidr_block", v.cidr_block().unwrap_or_default())
            .attr("enable_dns_support", d.dns_support.unwrap_or(false))
            .attr("enable_dns_hostnames", d.dns_hostnames.unwrap_or(false))
            .tags(pairs(v.tags())),
    );
    if let Some(sg) = &d.default_sg {
        b.insert(
            &Addr::DefaultSg,
            Found::new(sg.group_id().unwrap_or_default())
                .attr("ingress_rules", sg.ip_permissions().len())
                .attr("egress_rules", sg.ip_permissions_egress().len())
                .tags(pairs(sg.tags()))
                .uses([Addr::Vpc]),
        );
    }
    Ok(())
}

/// The subnets of our VPC.
pub(super) fn subnets(b: &mut Builder<'_>, subnets: Vec<Subnet>) {
    let mine = subnets
        .into_iter()
        .filter(|s| b.in_vpc(s.vpc_id()))
        .collect();
    for (a, s) in b.pick(mine, Addr::is_subnet) {
        b.insert(
            &a,
            Found::new(s.subnet_id().unwrap_or_default())
                .attr("cidr_block", s.cidr_block().unwrap_or_default())
                .attr(
                    "availability_zone",
                    s.availability_zone().unwrap_or_default(),
                )
                .attr(
                    "map_public_ip_on_launch",
                    s.map_public_ip_on_launch().unwrap_or(false),
                )
                .tags(pairs(s.tags()))
                .uses([Addr::Vpc]),
        );
    }
}

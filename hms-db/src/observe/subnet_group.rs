//! The DB subnet group.

use aws_sdk_rds::types::DbSubnetGroup;
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::{Error, Result};

use super::{not_found, Pairs};
use crate::addr::Addr;
use crate::Clients;

/// The group named `name`, if it exists.
pub(super) async fn describe(c: &Clients, name: &str) -> Result<Option<DbSubnetGroup>> {
    match c
        .rds
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.db_subnet_groups().first().cloned()),
        Err(e) if not_found(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {name}", Addr::SubnetGroup),
            "rds:DescribeDBSubnetGroups",
            e,
        )),
    }
}

/// The group as the plan compares it.
pub(super) fn found(g: &DbSubnetGroup, tags: Pairs) -> Found {
    let mut subnets: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    subnets.sort();
    Found::new(g.db_subnet_group_name().unwrap_or_default())
        .attr("name", g.db_subnet_group_name().unwrap_or_default())
        .attr("subnets", subnets)
        .info("arn", g.db_subnet_group_arn().unwrap_or_default())
        .info("vpc_id", g.vpc_id().unwrap_or_default())
        .tags(tags)
}

//! The cache subnet group and the parameter groups (the spec's family, and those of other families state
//! still records, left by an engine upgrade), each with what the plan compares.

use aws_sdk_elasticache::types::{CacheParameterGroup, CacheSubnetGroup};
use futures::future::try_join_all;
use hms_core::diff::Found;
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};
use serde_json::{Map, Value};

use super::Pairs;
use crate::addr::Addr;
use crate::Clients;

pub(super) async fn subnet_group(c: &Clients, name: &str) -> Result<Option<CacheSubnetGroup>> {
    match c
        .elasticache
        .describe_cache_subnet_groups()
        .cache_subnet_group_name(name)
        .send()
        .await
    {
        Ok(o) => Ok(o.cache_subnet_groups().first().cloned()),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {name}", Addr::SubnetGroup),
            "elasticache:DescribeCacheSubnetGroups",
            e,
        )),
    }
}

pub(super) fn subnet_group_found(g: &CacheSubnetGroup, tags: Pairs) -> Found {
    let mut subnets: Vec<String> = g
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier().map(str::to_owned))
        .collect();
    subnets.sort();
    let name = g.cache_subnet_group_name().unwrap_or_default();
    Found::new(name)
        .attr("name", name)
        .attr("subnets", subnets)
        .attr("vpc_id", g.vpc_id().unwrap_or_default())
        .info("arn", g.arn().unwrap_or_default())
        .tags(tags)
}

/// A parameter group as read: the group, and the parameters set on it (`Source=user`).
pub(super) struct Described {
    pub name: String,
    pub group: Option<CacheParameterGroup>,
    pub params: Map<String, Value>,
}

pub(super) async fn parameter_groups(c: &Clients, names: &[String]) -> Result<Vec<Described>> {
    try_join_all(names.iter().map(|n| parameter_group(c, n))).await
}

async fn parameter_group(c: &Clients, name: &str) -> Result<Described> {
    let what = || format!("parameter group {name}");
    let group = async {
        match c
            .elasticache
            .describe_cache_parameter_groups()
            .cache_parameter_group_name(name)
            .send()
            .await
        {
            Ok(o) => Ok(o.cache_parameter_groups().first().cloned()),
            Err(e) if is_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(
                what(),
                "elasticache:DescribeCacheParameterGroups",
                e,
            )),
        }
    };
    let params = async {
        let pages = c
            .elasticache
            .describe_cache_parameters()
            .cache_parameter_group_name(name)
            .source("user")
            .into_paginator()
            .send()
            .try_collect()
            .await;
        match pages {
            Ok(pages) => Ok(pages
                .iter()
                .flat_map(|p| p.parameters())
                .filter_map(|p| {
                    Some((
                        p.parameter_name()?.to_owned(),
                        Value::from(p.parameter_value().unwrap_or_default()),
                    ))
                })
                .collect()),
            Err(e) if is_gone(code_of(&e)) => Ok(Map::new()),
            Err(e) => Err(Error::aws(what(), "elasticache:DescribeCacheParameters", e)),
        }
    };
    let (group, params) = tokio::try_join!(group, params)?;
    Ok(Described {
        name: name.to_owned(),
        group,
        params,
    })
}

pub(super) fn parameter_group_found(
    g: &CacheParameterGroup,
    params: &Map<String, Value>,
    tags: Pairs,
) -> Found {
    let name = g.cache_parameter_group_name().unwrap_or_default();
    Found::new(name)
        .attr("name", name)
        .attr(
            "family",
            g.cache_parameter_group_family().unwrap_or_default(),
        )
        .attr("parameters", Value::Object(params.clone()))
        .info("arn", g.arn().unwrap_or_default())
        .tags(tags)
}

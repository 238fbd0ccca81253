//! The parameter groups: the spec's family, and those of other majors that state still records.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{DbParameterGroup, Parameter};
use hms_core::diff::Found;
use hms_core::error::code_of;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{not_found, Pairs};
use crate::Clients;

/// A parameter group looked up by name: the group if it exists, and its user-set parameters.
#[derive(Debug, Clone)]
pub(super) struct Described {
    pub name: String,
    pub group: Option<DbParameterGroup>,
    pub params: BTreeMap<String, String>,
}

/// Each group of `names`, concurrently.
pub(super) async fn describe_all(c: &Clients, names: &[String]) -> Result<Vec<Described>> {
    futures::future::try_join_all(names.iter().map(|name| describe(c, name))).await
}

async fn describe(c: &Clients, name: &str) -> Result<Described> {
    let what = || format!("db parameter group {name}");
    let group = match c
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(o) => o.db_parameter_groups().first().cloned(),
        Err(e) if not_found(code_of(&e)) => None,
        Err(e) => return Err(Error::aws(what(), "rds:DescribeDBParameterGroups", e)),
    };
    let params = match group {
        None => BTreeMap::new(),
        Some(_) => {
            let all: Vec<Parameter> = c
                .rds
                .describe_db_parameters()
                .db_parameter_group_name(name)
                .source("user")
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws(what(), "rds:DescribeDBParameters", e))?;
            all.iter()
                .filter_map(|p| {
                    Some((
                        p.parameter_name()?.to_owned(),
                        p.parameter_value()?.to_owned(),
                    ))
                })
                .collect()
        }
    };
    Ok(Described {
        name: name.to_owned(),
        group,
        params,
    })
}

/// The group as the plan compares it.
pub(super) fn found(g: &DbParameterGroup, params: &BTreeMap<String, String>, tags: Pairs) -> Found {
    Found::new(g.db_parameter_group_name().unwrap_or_default())
        .attr("name", g.db_parameter_group_name().unwrap_or_default())
        .attr("family", g.db_parameter_group_family().unwrap_or_default())
        .attr(
            "parameters",
            params
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                .collect::<serde_json::Map<_, _>>(),
        )
        .info("arn", g.db_parameter_group_arn().unwrap_or_default())
        .tags(tags)
}

//! The services' log groups, listed by their common prefix (`/ecs/<stack>/`); the tags of ours read one
//! `ListTagsForResource` each (`DescribeLogGroups` does not return them).

use aws_sdk_cloudwatchlogs::types::LogGroup;
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use super::Pairs;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Our log groups by address, with their tags.
pub(super) struct Logs(Vec<(Addr, LogGroup, Pairs)>);

/// The ARN the tagging API takes: without the `:*` that `DescribeLogGroups`' `arn` ends with.
fn tagging_arn(g: &LogGroup) -> String {
    g.log_group_arn()
        .or(g.arn())
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_owned()
}

pub(super) async fn fetch(c: &Clients, spec: &Spec, state: &State) -> Result<Logs> {
    let prefix = spec
        .services
        .first()
        .and_then(|s| s.log_group.rsplit_once('/'))
        .map(|(p, _)| format!("{p}/"))
        .unwrap_or_default();
    if prefix.is_empty() {
        return Ok(Logs(vec![]));
    }
    let groups: Vec<LogGroup> = c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(&prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("log groups", "logs:DescribeLogGroups", e))?;
    let ours = groups.into_iter().filter_map(|g| {
        let name = g.log_group_name().unwrap_or_default();
        let key = spec
            .services
            .iter()
            .find(|s| s.log_group == name)
            .map(|s| s.key.clone())
            .or_else(|| {
                state
                    .resources
                    .iter()
                    .find_map(|(a, r)| match Addr::parse(a) {
                        Some(Addr::LogGroup(k)) if r.id == name => Some(k),
                        _ => None,
                    })
            })?;
        Some((Addr::LogGroup(key), g))
    });
    let read = try_join_all(ours.map(|(a, g)| async move {
        let arn = tagging_arn(&g);
        match c
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
        {
            Ok(o) => {
                let tags: Pairs = o
                    .tags()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                Ok(Some((a, g, tags)))
            }
            // Deleted since it was listed.
            Err(e) if is_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(&arn, "logs:ListTagsForResource", e)),
        }
    }))
    .await?;
    Ok(Logs(read.into_iter().flatten().collect()))
}

/// Records our log groups.
pub(super) fn build(read: &Logs, found: &mut FoundSet) {
    for (address, g, tags) in &read.0 {
        let name = g.log_group_name().unwrap_or_default();
        found.insert(
            address.to_string(),
            Found::new(name)
                .attr("name", name)
                .attr(
                    "retention_in_days",
                    g.retention_in_days()
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                )
                .attr("kms_key", g.kms_key_id().unwrap_or_default())
                .info("arn", g.arn().unwrap_or_default())
                .tags(tags.clone()),
        );
    }
}

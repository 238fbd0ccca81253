//! The two log groups, listed by their common prefix (`/elasticache/<id>/`).

use aws_sdk_cloudwatchlogs::types::LogGroup;
use hms_core::diff::Found;
use hms_core::{Error, Result};
use serde_json::Value;

use super::tags::log_arn;
use super::Pairs;
use crate::Clients;

pub(super) async fn list(c: &Clients, prefix: &str) -> Result<Vec<LogGroup>> {
    c.logs
        .describe_log_groups()
        .log_group_name_prefix(prefix)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws(format!("log groups {prefix}*"), "logs:DescribeLogGroups", e))
}

/// The ARN the tagging APIs take.
pub(super) fn arn(g: &LogGroup) -> String {
    log_arn(g.log_group_arn().or(g.arn()).unwrap_or_default())
}

pub(super) fn found(g: &LogGroup, tags: Pairs) -> Found {
    let name = g.log_group_name().unwrap_or_default();
    Found::new(name)
        .attr("name", name)
        .attr(
            "retention_in_days",
            g.retention_in_days()
                .map(Value::from)
                .unwrap_or(Value::Null),
        )
        .attr("kms_key", g.kms_key_id().unwrap_or_default())
        .info("arn", arn(g))
        .tags(tags)
}

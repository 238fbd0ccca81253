//! Tags of every taggable resource of this stack's hms-cache in one call: the Resource Groups Tagging
//! API's GetResources filtered by the `hms:*` tags (ElastiCache's and CloudWatch Logs' describe calls
//! return no tags). A resource it does not return (its tags were changed outside the tool, or the tag
//! index lags just after a create) is asked for its tags on its own ([`elasticache`], [`logs`]).

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, TagFilter};
use hms_core::error::{code_of, is_gone};
use hms_core::tags::{ENV, STACK, TOOL};
use hms_core::{Error, Result};

use super::Pairs;
use crate::spec::Spec;
use crate::Clients;

/// Tags by ARN (log group ARNs without the trailing `:*`).
pub(super) type Tagged = BTreeMap<String, Pairs>;

/// The ARN of a log group as the tagging APIs name it.
pub(super) fn log_arn(arn: &str) -> String {
    arn.trim_end_matches(":*").to_owned()
}

pub(super) async fn all(c: &Clients, spec: &Spec) -> Result<Tagged> {
    let id = &spec.tagger.id;
    let filter = |k: &str, v: &str| TagFilter::builder().key(k).values(v).build();
    let pages: Vec<ResourceTagMapping> = c
        .tagging
        .get_resources()
        .tag_filters(filter(STACK, &id.stack))
        .tag_filters(filter(ENV, &id.env))
        .tag_filters(filter(TOOL, &spec.tagger.tool))
        .resource_type_filters("elasticache")
        .resource_type_filters("logs")
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("cache resources by tags", "tag:GetResources", e))?;
    Ok(pages
        .iter()
        .filter_map(|m| {
            let arn = m.resource_arn()?;
            let tags = m
                .tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect();
            Some((log_arn(arn), tags))
        })
        .collect())
}

/// One ElastiCache resource's tags; none when it vanished meanwhile.
pub(super) async fn elasticache(c: &Clients, arn: &str) -> Result<Pairs> {
    match c
        .elasticache
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tag_list()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()),
        Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
        Err(e) => Err(Error::aws(arn, "elasticache:ListTagsForResource", e)),
    }
}

/// One log group's tags; none when it vanished meanwhile.
pub(super) async fn logs(c: &Clients, arn: &str) -> Result<Pairs> {
    match c
        .logs
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()),
        Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
        Err(e) => Err(Error::aws(arn, "logs:ListTagsForResource", e)),
    }
}

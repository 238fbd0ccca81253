//! The alarms, by name (the desired ones and those recorded in state), with their tags. When state
//! records no alarm (it was lost, or this is the first run), the stack's alarm name prefix is listed too
//! and what its tags make this stack's is adopted, so that `down` without state finds every alarm `up`
//! made, also those of services or cache members the spec no longer derives.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::MetricAlarm;
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{Map, Value};

use super::{not_ours, Part};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Alarm names to look for → their addresses: the desired ones, and those recorded in state (a service that
/// left the stack).
fn names(spec: &Spec, state: &State) -> BTreeMap<String, Addr> {
    let mut names: BTreeMap<String, Addr> = spec
        .alarms
        .iter()
        .map(|a| (a.name.clone(), Addr::alarm(&a.key)))
        .collect();
    for (address, r) in &state.resources {
        if let Some(a @ Addr::Alarm(_)) = Addr::parse(address) {
            names.entry(r.id.clone()).or_insert(a);
        }
    }
    names
}

/// DescribeAlarms for every name (100 per call, concurrently), then each alarm's tags.
pub(super) async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Part> {
    let mut names = names(spec, state);
    let list: Vec<String> = names.keys().cloned().collect();
    let recorded_any = state
        .resources
        .keys()
        .any(|a| matches!(Addr::parse(a), Some(Addr::Alarm(_))));
    let (pages, by_prefix) = tokio::try_join!(
        try_join_all(list.chunks(100).map(|batch| describe(c, batch))),
        async {
            if recorded_any {
                Ok(Vec::new())
            } else {
                by_prefix(c, &spec.tagger.name("")).await
            }
        }
    )?;
    let mut alarms: Vec<MetricAlarm> = pages.into_iter().flatten().collect();
    for a in by_prefix {
        let name = a.alarm_name().unwrap_or_default().to_owned();
        if !names.contains_key(&name) {
            alarms.push(a);
        }
    }
    let tagged = try_join_all(alarms.iter().map(|a| async move {
        let arn = a.alarm_arn().unwrap_or_default();
        Ok::<_, Error>((a, tags(c, arn).await?))
    }))
    .await?;
    let mut out = FoundSet::new();
    let mut conflicts = Vec::new();
    for (a, tags) in tagged {
        let name = a.alarm_name().unwrap_or_default();
        if !names.contains_key(name) {
            // Found by the prefix: this stack's only when its tags say so.
            let owned = spec
                .tagger
                .owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .and_then(|x| Addr::parse(&x));
            match owned {
                Some(addr @ Addr::Alarm(_)) => {
                    names.insert(name.to_owned(), addr);
                }
                _ => continue,
            }
        }
        let Some(address) = names.get(name) else {
            continue;
        };
        let recorded = state.id(&address.to_string()) == Some(name);
        if let Some(c) = not_ours(spec, address, &format!("alarm {name}"), &tags, recorded) {
            conflicts.push(c);
            continue;
        }
        out.insert(address.to_string(), found(spec, a, tags));
    }
    Ok((out, conflicts))
}

/// Every metric alarm whose name starts with `prefix` (paginated).
async fn by_prefix(c: &Clients, prefix: &str) -> Result<Vec<MetricAlarm>> {
    let pages: Vec<_> = c
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .max_records(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws(format!("alarms {prefix}*"), "cloudwatch:DescribeAlarms", e))?;
    Ok(pages
        .iter()
        .flat_map(|p| p.metric_alarms().to_vec())
        .collect())
}

async fn describe(c: &Clients, batch: &[String]) -> Result<Vec<MetricAlarm>> {
    c.cloudwatch
        .describe_alarms()
        .set_alarm_names(Some(batch.to_vec()))
        .max_records(100)
        .send()
        .await
        .map(|o| o.metric_alarms().to_vec())
        .map_err(|e| {
            Error::aws(
                format!(
                    "{} alarm(s) {}…{}",
                    batch.len(),
                    batch.first().map(String::as_str).unwrap_or_default(),
                    batch.last().map(String::as_str).unwrap_or_default()
                ),
                "cloudwatch:DescribeAlarms",
                e,
            )
        })
}

async fn tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    match c
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()),
        Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
        Err(e) => Err(Error::aws(arn, "cloudwatch:ListTagsForResource", e)),
    }
}

/// The alarm in the compared form of [`crate::plan::desired`].
fn found(spec: &Spec, a: &MetricAlarm, tags: Vec<(String, String)>) -> Found {
    let name = a.alarm_name().unwrap_or_default();
    let dims: Map<String, Value> = a
        .dimensions()
        .iter()
        .map(|d| {
            (
                d.name().unwrap_or_default().to_owned(),
                Value::from(d.value().unwrap_or_default()),
            )
        })
        .collect();
    // Actions that are the stack's topic are compared by address.
    let actions = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|x| {
                if x.ends_with(&format!(":{}", spec.topic_name)) {
                    Addr::Topic.to_string()
                } else {
                    x.clone()
                }
            })
            .collect()
    };
    Found::new(name)
        .attr("name", name)
        .attr("description", a.alarm_description().unwrap_or_default())
        .attr("namespace", a.namespace().unwrap_or_default())
        .attr("metric", a.metric_name().unwrap_or_default())
        .attr(
            "statistic",
            a.statistic().map(|s| s.as_str()).unwrap_or_default(),
        )
        .attr("dimensions", Value::Object(dims))
        .attr(
            "comparison",
            a.comparison_operator()
                .map(|s| s.as_str())
                .unwrap_or_default(),
        )
        .attr("threshold", a.threshold().unwrap_or_default())
        .attr("period", a.period().unwrap_or_default())
        .attr(
            "evaluation_periods",
            a.evaluation_periods().unwrap_or_default(),
        )
        .attr(
            "treat_missing_data",
            a.treat_missing_data().unwrap_or("missing"),
        )
        .attr("actions_enabled", a.actions_enabled().unwrap_or(true))
        .attr("alarm_actions", actions(a.alarm_actions()))
        .attr("ok_actions", actions(a.ok_actions()))
        .tags(tags)
        .info("arn", a.alarm_arn().unwrap_or_default())
        .uses([Addr::Topic])
}

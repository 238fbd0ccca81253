//! The desired alarms, topic, dashboard and X-Ray resources, decided from config and the upstream outputs
//! of hms-ecs and hms-db. Pure.
//!
//! Only what the stack document holds is watched ([`upstream`]): without `outputs.ecs` there are no service
//! or load balancer alarms, without `outputs.db` no database alarms. One room per kind decides the rest:
//! [`topic`] (the alarm topic's key and email subscriptions), [`events`] (the RDS event subscriptions),
//! [`alarms`] (thresholds and the alarms on what is
//! watched), [`dashboard`] (its body) and [`xray`] (the sampling rule and the group).

pub mod alarms;
pub mod dashboard;
pub mod events;
pub mod topic;
pub mod upstream;
pub mod xray;

use std::collections::BTreeMap;

use hms_core::contract::{CommandKind, SpecInput, Upstream};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::addr::Addr;

pub use alarms::{Alarm, Comparison};
pub use events::EventSubscription;
pub use upstream::{Cache, Certificate, Db, Dim, Service, Watched};
pub use xray::{xray_name, Sampling};

/// `[observe]` as written in config; defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveConfig {
    /// Addresses that get every alarm and its recovery by email (each confirms once).
    pub alarm_emails: Option<Vec<String>>,
    /// Seconds per evaluation period (default 300).
    pub period_seconds: Option<i64>,
    /// Periods in a row over the threshold before an alarm fires (default 2).
    pub evaluation_periods: Option<i64>,
    /// ECS service CPU, percent (default 80).
    pub service_cpu_percent: Option<f64>,
    /// ECS service memory, percent (default 80).
    pub service_memory_percent: Option<f64>,
    /// Target 5xx responses per period on the load balancer (default 10).
    pub alb_5xx_count: Option<f64>,
    /// Average target response time, seconds (default 1.0).
    pub alb_response_time_seconds: Option<f64>,
    /// Database CPU, percent (default 80).
    pub db_cpu_percent: Option<f64>,
    /// Free storage below this percentage of the allocated storage (default 10).
    pub db_free_storage_percent: Option<f64>,
    /// Database connections (default 100).
    pub db_connections: Option<f64>,
    /// Cache engine CPU (EngineCPUUtilization), percent (default 75).
    pub cache_cpu_percent: Option<f64>,
    /// Cache memory used of maxmemory (DatabaseMemoryUsagePercentage), percent (default 80).
    pub cache_memory_percent: Option<f64>,
    /// Keys evicted per period (default 100): the cache is too small for the sessions it holds.
    pub cache_evictions: Option<f64>,
    /// Client connections per member (default 5000; Redis allows 65000).
    pub cache_connections: Option<f64>,
    /// A replica's lag behind the primary, seconds (default 30).
    pub cache_replication_lag_seconds: Option<f64>,
    /// Certificates closer to expiry than this many days alarm (default 30; ACM renews at 60).
    pub certificate_expiry_days: Option<f64>,
    /// Build the CloudWatch dashboard (default true).
    pub dashboard: Option<bool>,
    /// The X-Ray sampling rule.
    pub sampling: Option<SamplingConfig>,
    /// The X-Ray group's filter expression (default: the stack's ECS services).
    pub xray_group_filter: Option<String>,
}

/// `[observe.sampling]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    pub priority: Option<i64>,
    pub reservoir_size: Option<i64>,
    pub fixed_rate: Option<f64>,
}

/// The CloudWatch dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub name: String,
    /// The body PutDashboard takes (see [`dashboard::body`]).
    pub body: Value,
}

/// The desired observability resources.
#[derive(Debug, Clone)]
pub struct Spec {
    pub topic_name: String,
    /// The topic's KMS key (`outputs.security.kms_key_arns.alarms`); `None`: the stack has no
    /// hms-security, the topic is not encrypted.
    pub topic_key: Option<Dim>,
    pub emails: Vec<String>,
    pub alarms: Vec<Alarm>,
    /// The RDS event subscriptions to the topic (none without hms-db).
    pub events: Vec<EventSubscription>,
    /// Every event subscription's (key, name), looked up whatever the stack holds.
    pub event_names: Vec<(&'static str, String)>,
    /// The backup bucket (`outputs.backup.bucket`) whose deleted objects the topic hears of; `None`: the
    /// stack has no hms-backup.
    pub backup_bucket: Option<Dim>,
    /// This account's id, from hms-security's key ARN (the topic policy names it).
    pub account: Option<String>,
    /// `None`: no dashboard.
    pub dashboard: Option<Dashboard>,
    /// What the stack document holds to watch.
    pub watched: Watched,
    /// How the alarms were decided that the operator should know (shown with the plan).
    pub notes: Vec<String>,
    pub sampling: Sampling,
    pub group_name: String,
    pub group_filter: String,
    pub region: String,
    pub tagger: Tagger,
}

impl Spec {
    /// Tags of a resource.
    pub fn tags(&self, address: &Addr, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(&address.to_string(), Some(name))
    }

    /// The alarm at `key`.
    pub fn alarm(&self, key: &str) -> Option<&Alarm> {
        self.alarms.iter().find(|a| a.key == key)
    }
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Builds the spec.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let config = input.config;
    let cfg: ObserveConfig = config.section("observe")?;
    let tagger = input.tagger;
    let id = &tagger.id;
    let emails = topic::emails(config, cfg.alarm_emails.as_deref())?;
    let limits = alarms::Limits::from_config(config, &cfg)?;
    let sampling = xray::sampling(config, cfg.sampling.as_ref(), tagger)?;
    let watched = upstream::watched(input)?;
    let nothing = watched.cluster.is_none()
        && watched.db.is_none()
        && watched.cache.is_none()
        && watched.certificates.is_empty();
    if nothing && matches!(input.command, CommandKind::Plan | CommandKind::Up) {
        // No alarm, an empty dashboard and a topic nobody publishes to would only look like monitoring.
        return Err(Error::usage(
            "nothing to watch: neither the document nor the state store holds outputs of hms-ecs, hms-db, hms-cache or hms-dns; run them first (… | hms-ecs up | hms-observe up)",
        ));
    }
    let (alarms, notes) = alarms::alarms(tagger, &limits, &watched);
    let topic_key = topic::key(input)?;
    let group_filter = xray::group_filter(
        config,
        cfg.xray_group_filter.as_deref(),
        &watched.services,
        &id.stack,
    )?;
    let stack_env = format!("{}-{}", id.stack, id.env);
    let dashboard = cfg.dashboard.unwrap_or(true).then(|| Dashboard {
        name: stack_env.clone(),
        body: dashboard::body(&id.region, &watched),
    });
    Ok(Spec {
        topic_name: format!("{stack_env}-alarms"),
        topic_key: topic_key.clone(),
        emails,
        alarms,
        events: events::subscriptions(input),
        event_names: events::names(tagger),
        backup_bucket: match input.optional("backup.bucket") {
            Upstream::Known(v) => v.as_str().map(|b| Dim::Known(b.to_owned())),
            Upstream::Unknown => Some(Dim::Planned),
            Upstream::Absent => None,
        },
        account: topic_key
            .as_ref()
            .and_then(Dim::known)
            .and_then(|arn| arn.split(':').nth(4).map(str::to_owned))
            .filter(|a| !a.is_empty()),
        dashboard,
        watched,
        notes,
        sampling,
        group_name: xray_name(&stack_env),
        group_filter,
        region: id.region.clone(),
        tagger: tagger.clone(),
    })
}

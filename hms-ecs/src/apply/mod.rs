//! Carries out one step of one change, in one module per kind: `cluster`, `bucket` (the log bucket), `alb` (load balancer,
//! listeners, rules, target groups), `logs`, `task` (task definitions), `service`, `scaling` and
//! `secret` (the origin-verify secret).
//!
//! An update calls only the APIs of the attributes that differ, and a tag difference goes through
//! `hms_core::tags::sync` with the kind's tagging API (ECS, Elastic Load Balancing, CloudWatch Logs,
//! Application Auto Scaling): a `[stack] tags` change never deploys a service nor registers a revision.
//! A service create or deploy waits until its deployment completes (or the circuit breaker rolls it back)
//! unless `--no-wait`; `desired_count` is set only at creation.

mod alb;
mod bucket;
mod cluster;
mod logs;
mod scaling;
mod secret;
mod service;
pub(crate) mod task;

pub(crate) use alb::header_rule_conditions;

use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, Tags};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::tags::{TagApi, TagDelta};
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{Service, Spec};
use crate::Clients;

/// One step of one change, with what every kind's step needs.
pub(crate) struct Op<'a> {
    pub c: &'a Clients,
    pub ctx: &'a Ctx<'a>,
    pub rec: &'a Recorder<'a>,
    pub spec: &'a Spec,
    pub change: &'a Change,
    pub task: &'a Task<'a>,
    /// The address being changed.
    pub addr: &'a Addr,
    /// The address as a string (errors name it).
    pub a: &'a str,
    /// A create (else an update; deletes have their own entry points).
    pub create: bool,
}

impl Op<'_> {
    /// The planned value of `key`.
    fn after(&self, key: &str) -> Option<&Value> {
        self.change.after.as_ref().and_then(|v| v.get(key))
    }

    /// Whether `key` differs between what was found and what is wanted (always on create).
    fn changed(&self, key: &str) -> bool {
        self.change.before.as_ref().and_then(|v| v.get(key)) != self.after(key)
    }

    /// Whether anything but the tags differs.
    fn attrs_changed(&self) -> bool {
        let keys = |v: &Option<Value>| -> Vec<String> {
            v.as_ref()
                .and_then(Value::as_object)
                .map(|m| m.keys().filter(|k| *k != "tags").cloned().collect())
                .unwrap_or_default()
        };
        let mut all = keys(&self.change.before);
        all.extend(keys(&self.change.after));
        all.iter().any(|k| self.changed(k))
    }

    /// The tags to create the resource with.
    fn tags(&self) -> Tags {
        change_tags(self.change.after.as_ref())
    }

    /// The service of a per-service address.
    fn service(&self) -> Result<&Service> {
        let key = self
            .addr
            .key()
            .ok_or_else(|| Error::Internal(format!("{}: no service key", self.a)))?;
        self.spec
            .services
            .iter()
            .find(|s| s.key == key)
            .ok_or_else(|| Error::Internal(format!("{}: not in the spec", self.a)))
    }

    /// The recorded ARN of another resource (made earlier in plan order).
    fn arn_of(&self, other: &Addr) -> Result<String> {
        arn_of(self.rec, other)
    }

    /// The recorded ARN of this resource.
    fn arn(&self) -> Result<String> {
        arn_of(self.rec, self.addr)
    }

    /// Makes the resource's tags those planned, through its tagging API (by its recorded ARN); no call
    /// when they already are.
    async fn sync_tags(&self, api: &impl TagApi) -> Result<()> {
        if TagDelta::of(self.change).is_empty() {
            return Ok(());
        }
        hms_core::tags::sync(api, &self.arn()?, self.change).await?;
        Ok(())
    }
}

fn arn_of(rec: &Recorder<'_>, a: &Addr) -> Result<String> {
    rec.resource(&a.to_string())
        .and_then(|r| r.attr("arn").map(str::to_owned))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Internal(format!("{a} has no ARN recorded yet (plan order)")))
}

/// An upstream value the plan needed; absent only if the plan was made without it.
fn need(v: &Option<String>, what: &str, a: &str) -> Result<String> {
    v.clone()
        .ok_or_else(|| Error::Internal(format!("{a}: {what} unknown")))
}

/// A builder's error (a required field missing) as an internal error.
fn built<T, E: std::fmt::Display>(r: std::result::Result<T, E>) -> Result<T> {
    r.map_err(|e| Error::Internal(e.to_string()))
}

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let addr = Addr::parse(a).ok_or_else(|| Error::Internal(format!("{a}: unknown address")))?;
    let op = Op {
        c,
        ctx,
        rec,
        spec,
        change,
        task,
        addr: &addr,
        a,
        create: step == Step::Create,
    };
    if step == Step::Delete {
        return delete(&op).await.map(|()| None);
    }
    let resource = match &addr {
        Addr::Cluster => cluster::put(&op).await?,
        Addr::LogBucket => bucket::put(&op).await?,
        Addr::Alb => alb::put_load_balancer(&op).await?,
        Addr::HttpListener | Addr::HttpsListener => alb::put_listener(&op).await?,
        Addr::TargetGroup(_) => alb::put_target_group(&op).await?,
        Addr::Rule(_) => alb::put_rule(&op).await?,
        Addr::OriginSecret => secret::put(&op).await?,
        Addr::LogGroup(_) => logs::put(&op).await?,
        Addr::TaskDefinition(_) => task::put(&op).await?,
        Addr::Service(_) => service::put(&op).await?,
        Addr::ScalingTarget(_) => scaling::put_target(&op).await?,
        Addr::CpuPolicy(_) | Addr::MemoryPolicy(_) => scaling::put_policy(&op).await?,
    };
    Ok(Some(resource))
}

/// Deletes what is recorded at the address (nothing recorded: nothing to do).
async fn delete(op: &Op<'_>) -> Result<()> {
    let Some(res) = op.rec.resource(op.a) else {
        return Ok(());
    };
    match op.addr {
        Addr::Cluster => cluster::delete(op, &res).await,
        Addr::LogBucket => bucket::delete(op, &res).await,
        Addr::Alb => alb::delete_load_balancer(op, &res).await,
        Addr::HttpListener | Addr::HttpsListener => alb::delete_listener(op, &res).await,
        Addr::TargetGroup(_) => alb::delete_target_group(op, &res).await,
        Addr::Rule(_) => alb::delete_rule(op, &res).await,
        Addr::OriginSecret => secret::delete(op, &res).await,
        Addr::LogGroup(_) => logs::delete(op, &res).await,
        Addr::TaskDefinition(_) => task::delete(op, &res).await,
        Addr::Service(_) => service::delete(op, &res).await,
        Addr::ScalingTarget(_) => scaling::delete_target(op, &res).await,
        Addr::CpuPolicy(_) | Addr::MemoryPolicy(_) => scaling::delete_policy(op, &res).await,
    }
}

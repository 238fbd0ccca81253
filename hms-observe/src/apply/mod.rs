//! Carries out one step of one change. Every call is idempotent: an alarm or dashboard put twice is the same
//! alarm, a topic created twice is the same topic, a sampling rule or group that already exists is updated.

use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, tag_delta, Tags};
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::observe::partition;
use crate::plan::{self, DASHBOARD, GROUP, SAMPLING_RULE, TOPIC};
use crate::spec::{Alarm, Spec};
use crate::Clients;

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Internal(e.to_string())
}

fn tags_changed(change: &Change) -> (Tags, Vec<String>) {
    tag_delta(
        &change_tags(change.before.as_ref()),
        &change_tags(change.after.as_ref()),
    )
}

fn only_tags_changed(change: &Change) -> bool {
    let strip = |v: Option<&Value>| {
        v.and_then(Value::as_object).map(|m| {
            let mut m = m.clone();
            m.remove("tags");
            m
        })
    };
    strip(change.before.as_ref()) == strip(change.after.as_ref())
}

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    _ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    match step {
        Step::Delete => delete(c, rec, change, task).await.map(|()| None),
        Step::Create | Step::Update => {
            let create = step == Step::Create;
            if a == TOPIC {
                return topic(c, rec, spec, change, create).await.map(Some);
            }
            if a.starts_with("observe.subscription[") {
                return subscribe(c, rec, change, task).await.map(Some);
            }
            if a.starts_with("observe.alarm[") {
                let alarm = spec
                    .alarms
                    .iter()
                    .find(|x| plan::alarm(&x.key) == a)
                    .ok_or_else(|| internal(format!("{a}: not in the spec")))?;
                return put_alarm(c, rec, spec, alarm, change, create)
                    .await
                    .map(Some);
            }
            if a == DASHBOARD {
                return put_dashboard(c, spec, task).await.map(Some);
            }
            if a == SAMPLING_RULE {
                return sampling_rule(c, spec, change, create).await.map(Some);
            }
            if a == GROUP {
                return group(c, spec, change, create).await.map(Some);
            }
            Err(internal(format!("{a}: unknown address")))
        }
    }
}

fn sns_tags(tags: &Tags) -> Result<Vec<aws_sdk_sns::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(internal)
        })
        .collect()
}

async fn topic(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let arn = if create {
        // CreateTopic returns the existing topic's ARN when it already exists (a run that died).
        c.sns
            .create_topic()
            .name(&spec.topic_name)
            .set_tags(Some(sns_tags(&change_tags(change.after.as_ref()))?))
            .send()
            .await
            .map_err(|e| Error::aws(format!("{TOPIC} {}", spec.topic_name), "sns:CreateTopic", e))?
            .topic_arn()
            .unwrap_or_default()
            .to_owned()
    } else {
        // Only tags change in place.
        let arn = rec.id(TOPIC)?;
        let (set, remove) = tags_changed(change);
        if !remove.is_empty() {
            c.sns
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(format!("{TOPIC} {arn}"), "sns:UntagResource", e))?;
        }
        if !set.is_empty() {
            c.sns
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(sns_tags(&set)?))
                .send()
                .await
                .map_err(|e| Error::aws(format!("{TOPIC} {arn}"), "sns:TagResource", e))?;
        }
        arn
    };
    Ok(Resource::new(&arn).with("arn", arn.clone()))
}

async fn subscribe(
    c: &Clients,
    rec: &Recorder<'_>,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let topic_arn = rec.id(TOPIC)?;
    let endpoint = change
        .after
        .as_ref()
        .and_then(|v| v.get("endpoint"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let out = c
        .sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("email")
        .endpoint(&endpoint)
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| Error::aws(&change.address, "sns:Subscribe", e))?;
    let arn = out
        .subscription_arn()
        .unwrap_or("PendingConfirmation")
        .to_owned();
    if !arn.starts_with("arn:") || arn.to_ascii_lowercase().contains("pending") {
        task.status(&format!("{endpoint} must confirm the email AWS sent"), true);
    }
    Ok(Resource::new(arn))
}

async fn put_alarm(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    alarm: &Alarm,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let topic_arn = rec.id(TOPIC)?;
    // arn:aws:sns:<region>:<account>:<name>
    let account = topic_arn.split(':').nth(4).unwrap_or_default().to_owned();
    let arn = format!(
        "arn:{}:cloudwatch:{}:{account}:alarm:{}",
        partition(&spec.region),
        spec.region,
        alarm.name
    );
    let tags = change_tags(change.after.as_ref());
    let needs_put = create || !only_tags_changed(change);
    if needs_put {
        let mut dims = Vec::new();
        for (k, v) in &alarm.dimensions {
            let v = v
                .clone()
                .ok_or_else(|| internal(format!("{}: dimension {k} not known", change.address)))?;
            dims.push(Dimension::builder().name(k).value(v).build());
        }
        let cw_tags: Vec<aws_sdk_cloudwatch::types::Tag> = tags
            .iter()
            .map(|(k, v)| {
                aws_sdk_cloudwatch::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
            })
            .collect();
        c.cloudwatch
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .namespace(&alarm.namespace)
            .metric_name(&alarm.metric)
            .statistic(Statistic::from(alarm.statistic.as_str()))
            .set_dimensions(Some(dims))
            .comparison_operator(ComparisonOperator::from(alarm.comparison.as_str()))
            .threshold(alarm.threshold)
            .period(alarm.period)
            .evaluation_periods(alarm.evaluation_periods)
            .treat_missing_data(&alarm.treat_missing_data)
            .actions_enabled(true)
            .alarm_actions(&topic_arn)
            .ok_actions(&topic_arn)
            // Applied when the alarm is created; changes go through TagResource below.
            .set_tags(Some(cw_tags))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("{} {}", change.address, alarm.name),
                    "cloudwatch:PutMetricAlarm",
                    e,
                )
            })?;
    }
    if !create {
        let (set, remove) = tags_changed(change);
        if !remove.is_empty() {
            c.cloudwatch
                .untag_resource()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(&change.address, "cloudwatch:UntagResource", e))?;
        }
        if !set.is_empty() {
            c.cloudwatch
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(
                    set.iter()
                        .map(|(k, v)| {
                            aws_sdk_cloudwatch::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(&change.address, "cloudwatch:TagResource", e))?;
        }
    }
    Ok(Resource::new(&alarm.name).with("arn", arn))
}

async fn put_dashboard(c: &Clients, spec: &Spec, task: &Task<'_>) -> Result<Resource> {
    let name = spec
        .dashboard
        .clone()
        .ok_or_else(|| internal("dashboard: not in the spec"))?;
    let out = c
        .cloudwatch
        .put_dashboard()
        .dashboard_name(&name)
        .dashboard_body(plan::dashboard_body(spec).to_string())
        .send()
        .await
        .map_err(|e| Error::aws(format!("{DASHBOARD} {name}"), "cloudwatch:PutDashboard", e))?;
    // Invalid bodies fail the call; these are warnings about a dashboard that was saved.
    for m in out.dashboard_validation_messages() {
        task.status(
            &format!(
                "warning: {}: {}",
                m.data_path().unwrap_or_default(),
                m.message().unwrap_or_default()
            ),
            true,
        );
    }
    Ok(Resource::new(&name))
}

fn xray_tags(tags: &Tags) -> Result<Vec<aws_sdk_xray::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_xray::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(internal)
        })
        .collect()
}

async fn xray_retag(c: &Clients, arn: &str, change: &Change) -> Result<()> {
    let (set, remove) = tags_changed(change);
    if !remove.is_empty() {
        c.xray
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "xray:UntagResource", e))?;
    }
    if !set.is_empty() {
        c.xray
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(xray_tags(&set)?))
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "xray:TagResource", e))?;
    }
    Ok(())
}

async fn sampling_rule(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let r = &spec.sampling;
    if create {
        let rule = aws_sdk_xray::types::SamplingRule::builder()
            .rule_name(&r.name)
            .resource_arn("*")
            .priority(r.priority)
            .fixed_rate(r.fixed_rate)
            .reservoir_size(r.reservoir_size)
            .service_name("*")
            .service_type("*")
            .host("*")
            .http_method("*")
            .url_path("*")
            .version(1)
            .build()
            .map_err(internal)?;
        match c
            .xray
            .create_sampling_rule()
            .sampling_rule(rule)
            .set_tags(Some(xray_tags(&change_tags(change.after.as_ref()))?))
            .send()
            .await
        {
            Ok(o) => {
                let arn = o
                    .sampling_rule_record()
                    .and_then(|x| x.sampling_rule())
                    .and_then(|x| x.rule_arn())
                    .unwrap_or_default()
                    .to_owned();
                return Ok(Resource::new(&r.name).with("arn", arn));
            }
            // Created by a run that died before recording it: update it below instead.
            Err(e)
                if e.as_service_error()
                    .and_then(|s| aws_sdk_xray::error::ProvideErrorMetadata::message(s))
                    .is_some_and(|m| m.contains("already exists")) => {}
            Err(e) => {
                return Err(Error::aws(
                    format!("{SAMPLING_RULE} {}", r.name),
                    "xray:CreateSamplingRule",
                    e,
                ))
            }
        }
    }
    let update = aws_sdk_xray::types::SamplingRuleUpdate::builder()
        .rule_name(&r.name)
        .resource_arn("*")
        .priority(r.priority)
        .fixed_rate(r.fixed_rate)
        .reservoir_size(r.reservoir_size)
        .service_name("*")
        .service_type("*")
        .host("*")
        .http_method("*")
        .url_path("*")
        .build();
    let o = c
        .xray
        .update_sampling_rule()
        .sampling_rule_update(update)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{SAMPLING_RULE} {}", r.name),
                "xray:UpdateSamplingRule",
                e,
            )
        })?;
    let arn = o
        .sampling_rule_record()
        .and_then(|x| x.sampling_rule())
        .and_then(|x| x.rule_arn())
        .unwrap_or_default()
        .to_owned();
    if !create {
        xray_retag(c, &arn, change).await?;
    } else {
        // Adopted: give it the full tag set.
        c.xray
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(xray_tags(&change_tags(change.after.as_ref()))?))
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "xray:TagResource", e))?;
    }
    Ok(Resource::new(&r.name).with("arn", arn))
}

async fn group(c: &Clients, spec: &Spec, change: &Change, create: bool) -> Result<Resource> {
    let insights = aws_sdk_xray::types::InsightsConfiguration::builder()
        .insights_enabled(false)
        .notifications_enabled(false)
        .build();
    if create {
        let o = c
            .xray
            .create_group()
            .group_name(&spec.group_name)
            .filter_expression(&spec.group_filter)
            .insights_configuration(insights)
            .set_tags(Some(xray_tags(&change_tags(change.after.as_ref()))?))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("{GROUP} {}", spec.group_name),
                    "xray:CreateGroup",
                    e,
                )
            })?;
        let arn = o
            .group()
            .and_then(|g| g.group_arn())
            .unwrap_or_default()
            .to_owned();
        return Ok(Resource::new(&spec.group_name).with("arn", arn));
    }
    let o = c
        .xray
        .update_group()
        .group_name(&spec.group_name)
        .filter_expression(&spec.group_filter)
        .insights_configuration(insights)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{GROUP} {}", spec.group_name),
                "xray:UpdateGroup",
                e,
            )
        })?;
    let arn = o
        .group()
        .and_then(|g| g.group_arn())
        .unwrap_or_default()
        .to_owned();
    xray_retag(c, &arn, change).await?;
    Ok(Resource::new(&spec.group_name).with("arn", arn))
}

async fn delete(c: &Clients, rec: &Recorder<'_>, change: &Change, task: &Task<'_>) -> Result<()> {
    let a = change.address.as_str();
    let Some(id) = rec.resource(a).map(|r| r.id) else {
        return Ok(());
    };
    if a == TOPIC {
        return deleted(
            c.sns.delete_topic().topic_arn(&id).send().await,
            a,
            "sns:DeleteTopic",
        );
    }
    if a.starts_with("observe.subscription[") {
        if !id.starts_with("arn:") {
            // Unconfirmed subscriptions cannot be removed; AWS drops them after 3 days.
            task.status("not confirmed; AWS removes it after 3 days", true);
            return Ok(());
        }
        return match c.sns.unsubscribe().subscription_arn(&id).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_gone(code_of(&e)) => Ok(()),
            Err(e) => Err(Error::aws(a, "sns:Unsubscribe", e)),
        };
    }
    if a.starts_with("observe.alarm[") {
        return deleted(
            c.cloudwatch.delete_alarms().alarm_names(&id).send().await,
            a,
            "cloudwatch:DeleteAlarms",
        );
    }
    if a == DASHBOARD {
        return deleted(
            c.cloudwatch
                .delete_dashboards()
                .dashboard_names(&id)
                .send()
                .await,
            a,
            "cloudwatch:DeleteDashboards",
        );
    }
    if a == SAMPLING_RULE {
        return match c.xray.delete_sampling_rule().rule_name(&id).send().await {
            Ok(_) => Ok(()),
            Err(e) if xray_missing(&e) => Ok(()),
            Err(e) => Err(Error::aws(a, "xray:DeleteSamplingRule", e)),
        };
    }
    if a == GROUP {
        return match c.xray.delete_group().group_name(&id).send().await {
            Ok(_) => Ok(()),
            Err(e) if xray_missing(&e) => Ok(()),
            Err(e) => Err(Error::aws(a, "xray:DeleteGroup", e)),
        };
    }
    Err(internal(format!("{a}: unknown address")))
}

/// X-Ray answers a missing rule or group with a generic InvalidRequestException; its message says so.
fn xray_missing<E: aws_sdk_xray::error::ProvideErrorMetadata>(e: &E) -> bool {
    is_gone(e.code())
        || (e.code() == Some("InvalidRequestException")
            && e.message().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("not found") || m.contains("does not exist") || m.contains("unknown")
            }))
}

//! `hms-observe import`: Terraform's alarms, topic, dashboard and X-Ray rule and group, each by its name
//! (the config's: an alarm's name is its identity in CloudWatch, so one of another name is left, with the
//! key that names it).

use hms_core::terraform::{Mapping, TfState};

use crate::addr::Addr;
use crate::spec::Spec;

/// Maps the state's resources of hms-observe's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_cloudwatch_metric_alarm" => {
                let name = r.str("alarm_name").or_else(|| r.id()).unwrap_or_default();
                match spec.alarms.iter().find(|a| a.name == name) {
                    Some(a) => m.map(r, Addr::alarm(&a.key).to_string(), &name),
                    None => m.skip(
                        r,
                        format!("no alarm of the config is named {name:?} (the stack's are {}…); it is left as it is", spec.alarms.first().map(|a| a.name.as_str()).unwrap_or("none")),
                    ),
                }
            }
            "aws_sns_topic" => {
                let arn = r.str("arn").or_else(|| r.id()).unwrap_or_default();
                if r.str("name").as_deref() == Some(spec.topic_name.as_str()) {
                    m.map_with(
                        r,
                        Addr::Topic.to_string(),
                        &arn,
                        &[("arn", arn.clone().into())],
                    );
                } else {
                    m.skip(r, format!("not the alarm topic {}", spec.topic_name));
                }
            }
            "aws_sns_topic_subscription" => {
                let email = r.str("endpoint").unwrap_or_default();
                let mapped_topic = m.mapped.iter().any(|x| {
                    x.address == Addr::Topic.to_string()
                        && Some(&x.id) == r.str("topic_arn").as_ref()
                });
                if r.str("protocol").as_deref() == Some("email")
                    && spec.emails.contains(&email)
                    && mapped_topic
                {
                    m.map(
                        r,
                        Addr::subscription(&email).to_string(),
                        r.id().unwrap_or_default(),
                    );
                } else {
                    m.skip(
                        r,
                        "not an email subscription of observe.emails to the alarm topic",
                    );
                }
            }
            "aws_cloudwatch_dashboard" => {
                let name = r
                    .str("dashboard_name")
                    .or_else(|| r.id())
                    .unwrap_or_default();
                match &spec.dashboard {
                    Some(d) if d.name == name => m.map(r, Addr::Dashboard.to_string(), &name),
                    _ => m.skip(r, "not the stack's dashboard (observe.dashboard)"),
                }
            }
            "aws_xray_sampling_rule" => {
                let name = r.str("rule_name").or_else(|| r.id()).unwrap_or_default();
                if name == spec.sampling.name {
                    m.map(r, Addr::SamplingRule.to_string(), &name);
                } else {
                    m.skip(
                        r,
                        format!(
                            "not the sampling rule {} (observe.sampling.name)",
                            spec.sampling.name
                        ),
                    );
                }
            }
            "aws_xray_group" => {
                let name = r.str("group_name").unwrap_or_default();
                if name == spec.group_name {
                    m.map(r, Addr::Group.to_string(), &name);
                } else {
                    m.skip(r, format!("not the X-Ray group {}", spec.group_name));
                }
            }
            _ => {}
        }
    }
    m
}

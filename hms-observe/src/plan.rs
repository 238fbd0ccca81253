//! The desired topic, subscriptions, alarms, dashboard and X-Ray resources, and the plan against what
//! exists. Pure.

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use serde_json::{json, Map, Value};

use crate::observe::Observed;
use crate::spec::{Alarm, Spec};

/// The SNS topic every alarm notifies.
pub const TOPIC: &str = "observe.topic";
/// The CloudWatch dashboard.
pub const DASHBOARD: &str = "observe.dashboard";
/// The X-Ray sampling rule.
pub const SAMPLING_RULE: &str = "observe.xray.sampling_rule";
/// The X-Ray group.
pub const GROUP: &str = "observe.xray.group";

/// An email subscription to the topic.
pub fn subscription(email: &str) -> String {
    format!("observe.subscription[{email}]")
}

/// An alarm (`observe.alarm[backend.cpu]`).
pub fn alarm(key: &str) -> String {
    format!("observe.alarm[{key}]")
}

/// An alarm's dimensions in the compared form; values not yet known name their producer.
pub fn dimensions(a: &Alarm) -> Value {
    Value::Object(
        a.dimensions
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::from(
                        v.clone()
                            .unwrap_or_else(|| format!("(known after {} up)", a.producer)),
                    ),
                )
            })
            .collect::<Map<_, _>>(),
    )
}

/// The dashboard: the services' CPU and memory, the load balancer's traffic, errors and latency, the
/// database's CPU, free storage and connections — each graph on the real resources.
pub fn dashboard_body(spec: &Spec) -> Value {
    let region = spec.region.as_str();
    let mut widgets: Vec<Value> = Vec::new();
    let mut y = 0;
    let mut widget = |title: &str, metrics: Vec<Value>, stat: &str, x: i32, y: i32| {
        widgets.push(json!({
            "type": "metric",
            "x": x, "y": y, "width": 12, "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": 300,
                "view": "timeSeries",
                "metrics": metrics,
            }
        }));
    };
    if let Some(cluster) = &spec.cluster {
        let per_service = |metric: &str| -> Vec<Value> {
            spec.services
                .iter()
                .map(|s| {
                    json!([
                        "AWS/ECS",
                        metric,
                        "ClusterName",
                        cluster,
                        "ServiceName",
                        s.name
                    ])
                })
                .collect()
        };
        if !spec.services.is_empty() {
            widget(
                "ECS services: CPU %",
                per_service("CPUUtilization"),
                "Average",
                0,
                y,
            );
            widget(
                "ECS services: memory %",
                per_service("MemoryUtilization"),
                "Average",
                12,
                y,
            );
            y += 6;
        }
    }
    if spec.alb.is_some() || spec.alb_planned {
        let lb = spec
            .alb
            .clone()
            .unwrap_or_else(|| "(known after hms-ecs up)".into());
        widget(
            "Load balancer: requests and target 5xx",
            vec![
                json!(["AWS/ApplicationELB", "RequestCount", "LoadBalancer", lb]),
                json!([
                    "AWS/ApplicationELB",
                    "HTTPCode_Target_5XX_Count",
                    "LoadBalancer",
                    lb
                ]),
            ],
            "Sum",
            0,
            y,
        );
        widget(
            "Load balancer: target response time (s)",
            vec![json!([
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "LoadBalancer",
                lb
            ])],
            "Average",
            12,
            y,
        );
        y += 6;
    }
    if spec.db.is_some() || spec.db_planned {
        let db = spec
            .db
            .clone()
            .unwrap_or_else(|| "(known after hms-db up)".into());
        widget(
            "Database: CPU % and connections",
            vec![
                json!(["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db]),
                json!(["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db, {"yAxis": "right"}]),
            ],
            "Average",
            0,
            y,
        );
        widget(
            "Database: free storage (bytes)",
            vec![json!([
                "AWS/RDS",
                "FreeStorageSpace",
                "DBInstanceIdentifier",
                db
            ])],
            "Minimum",
            12,
            y,
        );
    }
    json!({ "widgets": widgets })
}

/// Every resource the spec wants.
pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out = vec![Desired::new(TOPIC)
        .attr("name", spec.topic_name.clone())
        .tags(spec.tags(TOPIC, &spec.topic_name))
        .replace_on(&["name"])];
    for e in &spec.emails {
        out.push(
            Desired::new(subscription(e))
                .attr("protocol", "email")
                .attr("endpoint", e.clone())
                .attr("topic", TOPIC)
                .replace_on(&["protocol", "endpoint", "topic"])
                .uses([TOPIC]),
        );
    }
    for a in &spec.alarms {
        let address = alarm(&a.key);
        out.push(
            Desired::new(&address)
                .attr("name", a.name.clone())
                .attr("description", a.description.clone())
                .attr("namespace", a.namespace.clone())
                .attr("metric", a.metric.clone())
                .attr("statistic", a.statistic.clone())
                .attr("dimensions", dimensions(a))
                .attr("comparison", a.comparison.as_str())
                .attr("threshold", a.threshold)
                .attr("period", a.period)
                .attr("evaluation_periods", a.evaluation_periods)
                .attr("treat_missing_data", a.treat_missing_data.clone())
                .attr("actions_enabled", true)
                .attr("alarm_actions", vec![TOPIC])
                .attr("ok_actions", vec![TOPIC])
                .tags(spec.tags(&address, &a.name))
                .replace_on(&["name"])
                .uses([TOPIC]),
        );
    }
    if let Some(name) = &spec.dashboard {
        out.push(
            Desired::new(DASHBOARD)
                .attr("name", name.clone())
                .attr("body", dashboard_body(spec))
                .replace_on(&["name"]),
        );
    }
    let r = &spec.sampling;
    out.push(
        Desired::new(SAMPLING_RULE)
            .attr("name", r.name.clone())
            .attr("priority", r.priority)
            .attr("reservoir_size", r.reservoir_size)
            .attr("fixed_rate", r.fixed_rate)
            .attr("service_name", "*")
            .attr("service_type", "*")
            .attr("host", "*")
            .attr("http_method", "*")
            .attr("url_path", "*")
            .attr("resource_arn", "*")
            .attr("version", 1)
            .tags(spec.tags(SAMPLING_RULE, &r.name))
            .replace_on(&["name", "version"]),
    );
    out.push(
        Desired::new(GROUP)
            .attr("name", spec.group_name.clone())
            .attr("filter_expression", spec.group_filter.clone())
            .attr("insights", false)
            .tags(spec.tags(GROUP, &spec.group_name))
            .replace_on(&["name"]),
    );
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::diff(&desired(spec), &observed.found);
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan
}

/// The deletion of everything found.
pub fn plan_down(_spec: &Spec, observed: &Observed) -> Plan {
    let mut plan = diff::delete_all(&observed.found, "down");
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan
}

//! `hms-ecs import`: Terraform's cluster, load balancer, target groups, services, task definitions, log
//! groups and the log bucket, each by the name the config gives it (`ecs.cluster_name`, a service's name,
//! its target group's and log group's, `<stack>-logs-<env>`); the listeners, listener rules and
//! autoscaling are found through the load balancer and the services, so they are part of those.

use hms_core::terraform::{Mapping, TfResource, TfState};
use serde_json::Value;

use crate::addr::Addr;
use crate::spec::{Service, Spec};

/// Maps the state's resources of hms-ecs's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let by = |pick: &dyn Fn(&Service) -> bool| spec.services.iter().find(|s| pick(s));
    let mut alb = None;
    let mut target_groups: Vec<(String, String)> = Vec::new();
    for r in &tf.resources {
        let name = r.str("name").unwrap_or_default();
        let arn = r.str("arn").or_else(|| r.id()).unwrap_or_default();
        match r.kind.as_str() {
            "aws_ecs_cluster" if name == spec.cluster => {
                m.map_with(r, Addr::Cluster.to_string(), &name, &[("arn", arn.into())]);
            }
            "aws_ecs_cluster" => m.skip(
                r,
                format!("not the cluster {} (ecs.cluster_name)", spec.cluster),
            ),
            "aws_lb" | "aws_alb" if name == spec.alb_name && alb.is_none() => {
                m.map_with(
                    r,
                    Addr::Alb.to_string(),
                    &arn,
                    &[("arn", arn.clone().into())],
                );
                alb = Some(arn);
            }
            "aws_lb" | "aws_alb" => m.skip(r, format!("not the load balancer {}", spec.alb_name)),
            "aws_lb_target_group" | "aws_alb_target_group" => {
                match by(&|s| s.target_group == name) {
                    Some(s) => {
                        m.map_with(
                            r,
                            Addr::TargetGroup(s.key.clone()).to_string(),
                            &arn,
                            &[("arn", arn.clone().into()), ("name", name.clone().into())],
                        );
                        target_groups.push((arn, s.key.clone()));
                    }
                    None => m.skip(r, "not the target group of a service of the config (its name is `<service>-tg`)"),
                }
            }
            "aws_ecs_service" => match by(&|s| s.name == name) {
                Some(s) => m.map_with(
                    r,
                    Addr::Service(s.key.clone()).to_string(),
                    &arn,
                    &[("name", name.clone().into())],
                ),
                None => m.skip(r, "not a service of the config (ecs.services)"),
            },
            "aws_ecs_task_definition" => {
                let family = r.str("family").unwrap_or_default();
                match by(&|s| s.name == family) {
                    Some(s) => m.map_with(
                        r,
                        Addr::TaskDefinition(s.key.clone()).to_string(),
                        &arn,
                        &[("arn", arn.clone().into())],
                    ),
                    None => m.skip(r, "not the task family of a service of the config"),
                }
            }
            "aws_s3_bucket" if r.str("bucket").as_deref() == Some(spec.log_bucket.as_str()) => {
                m.map(r, Addr::LogBucket.to_string(), &spec.log_bucket);
            }
            "aws_cloudwatch_log_group" => {
                if let Some(s) = by(&|s| s.log_group == name) {
                    m.map(r, Addr::LogGroup(s.key.clone()).to_string(), &name);
                }
                // Another log group is hms-vpc's, hms-cache's or hms-edge's, or not the stack's.
            }
            _ => {}
        }
    }
    let log_bucket = m
        .mapped
        .iter()
        .any(|x| x.address == Addr::LogBucket.to_string());
    for r in &tf.resources {
        match r.kind.as_str() {
            k if log_bucket
                && k.starts_with("aws_s3_bucket_")
                && r.str("bucket").as_deref() == Some(spec.log_bucket.as_str()) =>
            {
                m.cover(r, Addr::LogBucket.to_string());
            }
            "aws_lb_listener" | "aws_alb_listener" => {
                let on_alb = alb.is_some() && r.str("load_balancer_arn") == alb;
                match (on_alb, r.str("port").as_deref()) {
                    (true, Some("80")) => m.cover(r, Addr::HttpListener.to_string()),
                    (true, Some("443")) => m.cover(r, Addr::HttpsListener.to_string()),
                    _ => m.skip(
                        r,
                        "not the HTTP (80) or HTTPS (443) listener of the load balancer taken over",
                    ),
                }
            }
            "aws_lb_listener_rule" | "aws_alb_listener_rule" => {
                match forwards_to(r, &target_groups) {
                    Some(key) => m.cover(r, Addr::Rule(key).to_string()),
                    None => m.skip(r, "does not forward to a target group taken over"),
                }
            }
            "aws_appautoscaling_target" | "aws_appautoscaling_policy" => {
                let id = r.str("resource_id").unwrap_or_default();
                let service = id.rsplit('/').next().unwrap_or_default();
                match by(&|s| s.name == service) {
                    Some(s) if id == format!("service/{}/{service}", spec.cluster) => {
                        let a = if r.kind == "aws_appautoscaling_target" {
                            Addr::ScalingTarget(s.key.clone())
                        } else {
                            Addr::CpuPolicy(s.key.clone())
                        };
                        m.cover(r, a.to_string());
                    }
                    _ => m.skip(r, "not the scaling of a service of the config"),
                }
            }
            _ => {}
        }
    }
    m
}

/// The service key of the target group a listener rule forwards to.
fn forwards_to(r: &TfResource, target_groups: &[(String, String)]) -> Option<String> {
    let actions = r.get("action")?.as_array()?;
    actions.iter().find_map(|a| {
        let tg = a.get("target_group_arn").and_then(Value::as_str)?;
        target_groups
            .iter()
            .find(|(arn, _)| arn == tg)
            .map(|(_, k)| k.clone())
    })
}

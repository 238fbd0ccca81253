//! What exists, in a number of calls that does not grow one per service: services described 10 at a time,
//! target groups and scaling targets and policies listed together, the load balancer once.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use aws_sdk_ecs::types::{ClusterField, ServiceField};
use futures::future::try_join_all;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Value};

use crate::plan::{self, ALB, CLUSTER, HTTP, HTTPS};
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Service key → (desired, running) counts.
    pub counts: BTreeMap<String, (i32, i32)>,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Reads everything hms-ecs owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let tagger = &spec.tagger;
    let names: Vec<String> = spec.services.iter().map(|s| s.name.clone()).collect();
    // Services no longer in config are found through state.
    let mut all_names = names.clone();
    for (a, r) in &state.resources {
        if a.starts_with("ecs.service[") {
            if let Some(n) = r.attr("name") {
                if !all_names.iter().any(|x| x == n) {
                    all_names.push(n.to_owned());
                }
            }
        }
    }
    let cluster = async {
        c.ecs
            .describe_clusters()
            .clusters(&spec.cluster)
            .include(ClusterField::Settings)
            .include(ClusterField::Tags)
            .send()
            .await
            .map(|o| {
                o.clusters()
                    .iter()
                    .find(|x| x.status() == Some("ACTIVE"))
                    .cloned()
            })
            .map_err(|e| {
                Error::aws(
                    format!("{CLUSTER} {}", spec.cluster),
                    "ecs:DescribeClusters",
                    e,
                )
            })
    };
    let services = try_join_all(all_names.chunks(10).map(|batch| async move {
        match c
            .ecs
            .describe_services()
            .cluster(&spec.cluster)
            .set_services(Some(batch.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(o) => Ok(o.services().to_vec()),
            Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
            Err(e) => Err(Error::aws("ECS services", "ecs:DescribeServices", e)),
        }
    }));
    let alb = async {
        let lb = match c
            .elb
            .describe_load_balancers()
            .names(&spec.alb_name)
            .send()
            .await
        {
            Ok(o) => o.load_balancers().first().cloned(),
            Err(e) if is_gone(code_of(&e)) => None,
            Err(e) => {
                return Err(Error::aws(
                    format!("{ALB} {}", spec.alb_name),
                    "elasticloadbalancing:DescribeLoadBalancers",
                    e,
                ))
            }
        };
        let Some(lb) = lb else { return Ok(None) };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
        let (attrs, listeners) = tokio::try_join!(
            async {
                c.elb
                    .describe_load_balancer_attributes()
                    .load_balancer_arn(&arn)
                    .send()
                    .await
                    .map(|o| {
                        o.attributes()
                            .iter()
                            .map(|a| {
                                (
                                    a.key().unwrap_or_default().to_owned(),
                                    a.value().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect::<BTreeMap<_, _>>()
                    })
                    .map_err(|e| {
                        Error::aws(
                            ALB,
                            "elasticloadbalancing:DescribeLoadBalancerAttributes",
                            e,
                        )
                    })
            },
            async {
                c.elb
                    .describe_listeners()
                    .load_balancer_arn(&arn)
                    .send()
                    .await
                    .map(|o| o.listeners().to_vec())
                    .map_err(|e| Error::aws(ALB, "elasticloadbalancing:DescribeListeners", e))
            },
        )?;
        let rules = try_join_all(listeners.iter().map(|l| async move {
            c.elb
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap_or_default())
                .send()
                .await
                .map(|o| o.rules().to_vec())
                .map_err(|e| Error::aws(ALB, "elasticloadbalancing:DescribeRules", e))
        }))
        .await?;
        Ok(Some((lb, attrs, listeners, rules)))
    };
    let target_groups = async {
        c.elb
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map(
                |all: Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup>| {
                    let wanted: Vec<String> = spec
                        .services
                        .iter()
                        .map(|s| s.target_group.clone())
                        .collect();
                    let recorded: Vec<String> = state
                        .resources
                        .iter()
                        .filter(|(a, _)| a.starts_with("ecs.target_group["))
                        .filter_map(|(_, r)| r.attr("name").map(str::to_owned))
                        .collect();
                    all.into_iter()
                        .filter(|t| {
                            t.target_group_name().is_some_and(|n| {
                                wanted.iter().chain(recorded.iter()).any(|w| w == n)
                            })
                        })
                        .collect::<Vec<_>>()
                },
            )
            .map_err(|e| {
                Error::aws(
                    "target groups",
                    "elasticloadbalancing:DescribeTargetGroups",
                    e,
                )
            })
    };
    let scaling = async {
        let targets = async {
            c.scaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    Error::aws(
                        "scalable targets",
                        "application-autoscaling:DescribeScalableTargets",
                        e,
                    )
                })
        };
        let policies = async {
            c.scaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    Error::aws(
                        "scaling policies",
                        "application-autoscaling:DescribeScalingPolicies",
                        e,
                    )
                })
        };
        tokio::try_join!(targets, policies)
    };
    let prefix = spec
        .services
        .first()
        .map(|s| {
            s.log_group
                .rsplit_once('/')
                .map(|(p, _)| format!("{p}/"))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let logs = async {
        if prefix.is_empty() {
            return Ok(vec![]);
        }
        c.logs
            .describe_log_groups()
            .log_group_name_prefix(&prefix)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("log groups", "logs:DescribeLogGroups", e))
    };
    #[allow(clippy::type_complexity)]
    let (cluster, services, alb, tgs, (targets, policies), logs): (
        Option<aws_sdk_ecs::types::Cluster>,
        Vec<Vec<aws_sdk_ecs::types::Service>>,
        _,
        Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup>,
        (
            Vec<aws_sdk_applicationautoscaling::types::ScalableTarget>,
            Vec<aws_sdk_applicationautoscaling::types::ScalingPolicy>,
        ),
        Vec<aws_sdk_cloudwatchlogs::types::LogGroup>,
    ) = tokio::try_join!(cluster, services, alb, target_groups, scaling, logs)?;
    // The target groups' tags, 20 ARNs a call.
    let tg_arns: Vec<String> = tgs
        .iter()
        .filter_map(|t| t.target_group_arn().map(str::to_owned))
        .collect();
    let tag_sets = try_join_all(tg_arns.chunks(20).map(|batch| async move {
        c.elb
            .describe_tags()
            .set_resource_arns(Some(batch.to_vec()))
            .send()
            .await
            .map(|o| o.tag_descriptions().to_vec())
            .map_err(|e| Error::aws("target groups", "elasticloadbalancing:DescribeTags", e))
    }))
    .await?;
    let tg_tags: BTreeMap<String, Vec<(String, String)>> = tag_sets
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d.resource_arn().unwrap_or_default().to_owned(),
                d.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_owned(),
                            t.value().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();

    let mut found = FoundSet::new();
    let owned = |what: &str,
                 name: &str,
                 tags: &[(String, String)],
                 address: &str|
     -> Result<bool> {
        match tagger.owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Some(a) if a == address => Ok(true),
            _ => Err(Error::Refused(format!("{what} {name} already exists and is not this stack's ({address}); rename it in config or remove it"))),
        }
    };
    if let Some(cl) = &cluster {
        let tags: Vec<(String, String)> = cl
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        owned("ECS cluster", &spec.cluster, &tags, CLUSTER)?;
        let insights = cl
            .settings()
            .iter()
            .find(|s| s.name().map(|n| n.as_str()) == Some("containerInsights"))
            .and_then(|s| s.value())
            .unwrap_or("disabled");
        found.insert(
            CLUSTER.to_owned(),
            Found::new(cl.cluster_name().unwrap_or_default())
                .attr("name", cl.cluster_name().unwrap_or_default())
                .attr(
                    "container_insights",
                    if insights == "disabled" {
                        "disabled"
                    } else {
                        "enabled"
                    },
                )
                .attr(
                    "capacity_providers",
                    sorted(cl.capacity_providers().to_vec()),
                )
                .info("arn", cl.cluster_arn().unwrap_or_default())
                .tags(tags),
        );
    }
    // Target groups by ARN → address.
    let mut tg_addr: BTreeMap<String, String> = BTreeMap::new();
    for t in &tgs {
        let arn = t.target_group_arn().unwrap_or_default().to_owned();
        let tags = tg_tags.get(&arn).cloned().unwrap_or_default();
        let Some(address) =
            tagger.owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        else {
            owned(
                "target group",
                t.target_group_name().unwrap_or_default(),
                &tags,
                "ecs.target_group[…]",
            )?;
            continue;
        };
        tg_addr.insert(arn.clone(), address.clone());
        found.insert(
            address,
            Found::new(arn.clone())
                .attr("name", t.target_group_name().unwrap_or_default())
                .attr("port", t.port().unwrap_or_default())
                .attr(
                    "protocol",
                    t.protocol()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr(
                    "target_type",
                    t.target_type()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("vpc", t.vpc_id().unwrap_or_default())
                .attr(
                    "health_check_path",
                    t.health_check_path().unwrap_or_default(),
                )
                .info("arn", arn)
                .tags(tags),
        );
    }
    if let Some((lb, attrs, listeners, rules)) = &alb {
        let arn = lb.load_balancer_arn().unwrap_or_default();
        let subnets = sorted(
            lb.availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_owned))
                .collect(),
        );
        let attr = |k: &str| attrs.get(k).map(String::as_str) == Some("true");
        found.insert(
            ALB.to_owned(),
            Found::new(arn)
                .attr("name", lb.load_balancer_name().unwrap_or_default())
                .attr(
                    "scheme",
                    lb.scheme()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("subnets", subnets)
                .attr("security_groups", sorted(lb.security_groups().to_vec()))
                .attr(
                    "drop_invalid_headers",
                    attr("routing.http.drop_invalid_header_fields.enabled"),
                )
                .attr("deletion_protection", attr("deletion_protection.enabled"))
                .info("arn", arn)
                .info("dns_name", lb.dns_name().unwrap_or_default())
                .info("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default())
                // Tags of the load balancer are checked through its name (unique per account and region).
                .tags(tagger.tags(ALB, Some(&spec.alb_name))),
        );
        for (l, rs) in listeners.iter().zip(rules) {
            let address = match l.port() {
                Some(80) => HTTP,
                Some(443) => HTTPS,
                _ => continue,
            };
            let action = l.default_actions().first();
            let default = match action.and_then(|a| a.redirect_config()) {
                Some(r) => format!(
                    "redirect:{}:{}",
                    r.protocol().unwrap_or_default(),
                    r.port().unwrap_or_default()
                ),
                None => action
                    .and_then(|a| a.target_group_arn())
                    .map(|t| tg_addr.get(t).cloned().unwrap_or_else(|| t.to_owned()))
                    .unwrap_or_default(),
            };
            let mut f = Found::new(l.listener_arn().unwrap_or_default())
                .attr("port", l.port().unwrap_or_default())
                .attr(
                    "protocol",
                    l.protocol()
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("default", default.clone())
                .info("arn", l.listener_arn().unwrap_or_default())
                .uses([ALB.to_owned()]);
            if default.starts_with("ecs.") {
                f = f.uses([default.clone()]);
            }
            if address == HTTPS {
                f = f
                    .attr(
                        "certificate",
                        l.certificates()
                            .first()
                            .and_then(|c| c.certificate_arn())
                            .unwrap_or_default(),
                    )
                    .attr("ssl_policy", l.ssl_policy().unwrap_or_default());
            }
            found.insert(address.to_owned(), f);
            for r in rs.iter().filter(|r| r.is_default() != Some(true)) {
                let target = r
                    .actions()
                    .first()
                    .and_then(|a| a.target_group_arn())
                    .unwrap_or_default();
                let Some(tg) = tg_addr.get(target) else {
                    continue;
                };
                let Some(key) = plan::key_of(tg) else {
                    continue;
                };
                let path = r
                    .conditions()
                    .iter()
                    .find(|c| c.field() == Some("path-pattern"))
                    .and_then(|c| {
                        c.path_pattern_config()
                            .and_then(|p| p.values().first().cloned())
                            .or_else(|| c.values().first().cloned())
                    })
                    .unwrap_or_default();
                found.insert(
                    plan::rule(key),
                    Found::new(r.rule_arn().unwrap_or_default())
                        .attr("listener", address)
                        .attr(
                            "priority",
                            r.priority()
                                .and_then(|p| p.parse::<i64>().ok())
                                .unwrap_or_default(),
                        )
                        .attr("path", path)
                        .attr("target", tg.clone())
                        .info("arn", r.rule_arn().unwrap_or_default())
                        .uses([address.to_owned(), tg.clone()]),
                );
            }
        }
    }
    for g in &logs {
        let name = g.log_group_name().unwrap_or_default();
        let Some(s) = spec
            .services
            .iter()
            .find(|s| s.log_group == name)
            .map(|s| s.key.clone())
            .or_else(|| {
                state
                    .resources
                    .iter()
                    .find(|(a, r)| a.starts_with("ecs.log_group[") && r.id == name)
                    .and_then(|(a, _)| plan::key_of(a).map(str::to_owned))
            })
        else {
            continue;
        };
        found.insert(
            plan::log_group(&s),
            Found::new(name)
                .attr("name", name)
                .attr(
                    "retention_in_days",
                    g.retention_in_days()
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                )
                .attr("kms_key", g.kms_key_id().unwrap_or_default())
                .info("arn", g.arn().unwrap_or_default()),
        );
    }
    let mut counts = BTreeMap::new();
    for svc in services
        .into_iter()
        .flatten()
        .filter(|s| s.status() == Some("ACTIVE"))
    {
        let tags: Vec<(String, String)> = svc
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let Some(address) =
            tagger.owned_address(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        else {
            continue;
        };
        let Some(key) = plan::key_of(&address).map(str::to_owned) else {
            continue;
        };
        counts.insert(key.clone(), (svc.desired_count(), svc.running_count()));
        // The task definition it runs: ours (as recorded) or another revision.
        let td_addr = plan::task_definition(&key);
        let running = svc.task_definition().unwrap_or_default();
        let recorded = state.resources.get(&td_addr);
        let td_value = match recorded {
            Some(r) if r.id == running => {
                let content = r.attrs.get("content").cloned().unwrap_or(Value::Null);
                found.insert(
                    td_addr.clone(),
                    Found::new(&r.id)
                        .attr("content", content.clone())
                        .info("arn", r.id.clone())
                        .uses([plan::log_group(&key)]),
                );
                plan::content_hash(&content)
            }
            _ => format!("other revision {running}"),
        };
        let net = svc
            .network_configuration()
            .and_then(|n| n.awsvpc_configuration());
        let lb = svc.load_balancers().first();
        let dc = svc.deployment_configuration();
        let breaker = dc.and_then(|d| d.deployment_circuit_breaker());
        // Deleted before the listeners and rules that route to it (drained while still reachable).
        let mut deps = vec![
            CLUSTER.to_owned(),
            td_addr.clone(),
            HTTP.to_owned(),
            HTTPS.to_owned(),
            plan::rule(&key),
        ];
        let tg = lb
            .and_then(|l| l.target_group_arn())
            .map(|t| tg_addr.get(t).cloned().unwrap_or_else(|| t.to_owned()))
            .unwrap_or_default();
        if tg.starts_with("ecs.") {
            deps.push(tg.clone());
        }
        found.insert(
            address.clone(),
            Found::new(svc.service_arn().unwrap_or_default())
                .attr("name", svc.service_name().unwrap_or_default())
                .attr("cluster", CLUSTER)
                .attr(
                    "launch_type",
                    svc.launch_type()
                        .map(|l| l.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("task_definition", td_value)
                .attr(
                    "subnets",
                    sorted(net.map(|n| n.subnets().to_vec()).unwrap_or_default()),
                )
                .attr(
                    "security_groups",
                    sorted(
                        net.map(|n| n.security_groups().to_vec())
                            .unwrap_or_default(),
                    ),
                )
                .attr(
                    "public_ip",
                    net.and_then(|n| n.assign_public_ip())
                        .map(|a| a.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("target_group", tg)
                .attr(
                    "container_port",
                    lb.and_then(|l| l.container_port()).unwrap_or_default(),
                )
                .attr(
                    "circuit_breaker",
                    if breaker.is_some_and(|b| b.enable() && b.rollback()) {
                        "rollback"
                    } else {
                        "off"
                    },
                )
                .attr(
                    "deployment",
                    format!(
                        "{}-{}",
                        dc.and_then(|d| d.minimum_healthy_percent())
                            .unwrap_or_default(),
                        dc.and_then(|d| d.maximum_percent()).unwrap_or_default()
                    ),
                )
                .info("arn", svc.service_arn().unwrap_or_default())
                .info("desired_count", svc.desired_count())
                .tags(tags)
                .uses(deps),
        );
    }
    // Scaling targets and policies of our services (resource id service/<cluster>/<name>).
    let by_resource: BTreeMap<String, String> = found
        .iter()
        .filter(|(a, _)| a.starts_with("ecs.service["))
        .filter_map(|(a, f)| {
            Some((
                format!(
                    "service/{}/{}",
                    spec.cluster,
                    f.attrs.get("name")?.as_str()?
                ),
                plan::key_of(a)?.to_owned(),
            ))
        })
        .collect();
    for t in &targets {
        let Some(key) = by_resource.get(t.resource_id()) else {
            continue;
        };
        found.insert(
            plan::scaling_target(key),
            Found::new(t.resource_id())
                .attr("resource", t.resource_id())
                .attr("min", t.min_capacity())
                .attr("max", t.max_capacity())
                .uses([plan::service(key)]),
        );
    }
    for p in &policies {
        let Some(key) = by_resource.get(p.resource_id()) else {
            continue;
        };
        let Some(cfg) = p.target_tracking_scaling_policy_configuration() else {
            continue;
        };
        let metric = cfg
            .predefined_metric_specification()
            .map(|m| m.predefined_metric_type().as_str().to_owned())
            .unwrap_or_default();
        let address = match metric.as_str() {
            "ECSServiceAverageCPUUtilization" => plan::cpu_policy(key),
            "ECSServiceAverageMemoryUtilization" => plan::memory_policy(key),
            _ => continue,
        };
        found.insert(
            address,
            Found::new(p.policy_name())
                .attr(
                    "config",
                    json!({"metric": metric, "target": cfg.target_value(), "scale_in_cooldown": cfg.scale_in_cooldown().unwrap_or_default(), "scale_out_cooldown": cfg.scale_out_cooldown().unwrap_or_default()}),
                )
                .info("arn", p.policy_arn())
                .uses([plan::scaling_target(key)]),
        );
    }
    Ok(Observed { found, counts })
}

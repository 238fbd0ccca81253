//! Carries out one step of one change. A service create or deploy waits until its deployment completes
//! (or the circuit breaker rolls it back) unless `--no-wait`; `desired_count` is set only at creation.

use std::time::Duration;

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition,
    DeploymentCircuitBreaker, DeploymentConfiguration, HealthCheck, KeyValuePair, LaunchType,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, PortMapping, Secret,
    TransportProtocol,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action as LbAction, ActionTypeEnum, Certificate, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition,
    TargetTypeEnum,
};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::change_tags;
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::plan::{self, ALB, CLUSTER, HTTP, HTTPS, TLS_POLICY};
use crate::spec::{Service, Spec};
use crate::Clients;

fn after<'a>(change: &'a Change, key: &str) -> Option<&'a Value> {
    change.after.as_ref().and_then(|v| v.get(key))
}

fn changed(change: &Change, key: &str) -> bool {
    change.before.as_ref().and_then(|v| v.get(key)) != after(change, key)
}

fn service_of<'a>(spec: &'a Spec, a: &str) -> Result<&'a Service> {
    let key = plan::key_of(a).ok_or_else(|| Error::Internal(format!("{a}: no service key")))?;
    spec.services
        .iter()
        .find(|s| s.key == key)
        .ok_or_else(|| Error::Internal(format!("{a}: not in the spec")))
}

fn need(v: &Option<String>, what: &str, a: &str) -> Result<String> {
    v.clone()
        .ok_or_else(|| Error::Internal(format!("{a}: {what} unknown")))
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
    match step {
        Step::Delete => delete(c, ctx, rec, spec, a, task).await.map(|()| None),
        Step::Create | Step::Update => put(c, ctx, rec, spec, change, step, task).await.map(Some),
    }
}

fn forward(tg_arn: &str) -> LbAction {
    LbAction::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .build()
}

fn redirect_https() -> LbAction {
    LbAction::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

fn arn_of(rec: &Recorder<'_>, a: &str) -> Result<String> {
    rec.resource(a)
        .and_then(|r| r.attr("arn").map(str::to_owned))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Internal(format!("{a} has no ARN recorded yet (plan order)")))
}

#[allow(clippy::too_many_arguments)]
async fn put(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let create = step == Step::Create;
    let tags = change_tags(change.after.as_ref());
    if a == CLUSTER {
        let setting = aws_sdk_ecs::types::ClusterSetting::builder()
            .name(aws_sdk_ecs::types::ClusterSettingName::ContainerInsights)
            .value(if spec.container_insights {
                "enabled"
            } else {
                "disabled"
            })
            .build();
        let providers = vec!["FARGATE".to_owned(), "FARGATE_SPOT".to_owned()];
        let strategy = aws_sdk_ecs::types::CapacityProviderStrategyItem::builder()
            .capacity_provider("FARGATE")
            .weight(1)
            .build()
            .map_err(|e| Error::Internal(e.to_string()))?;
        if create {
            let out = c
                .ecs
                .create_cluster()
                .cluster_name(&spec.cluster)
                .settings(setting)
                .set_capacity_providers(Some(providers))
                .default_capacity_provider_strategy(strategy)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ecs:CreateCluster", e))?;
            let arn = out
                .cluster()
                .and_then(|c| c.cluster_arn())
                .unwrap_or_default();
            return Ok(Resource::new(&spec.cluster).with("arn", arn));
        }
        if changed(change, "container_insights") {
            c.ecs
                .update_cluster_settings()
                .cluster(&spec.cluster)
                .settings(setting)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ecs:UpdateClusterSettings", e))?;
        }
        if changed(change, "capacity_providers") {
            c.ecs
                .put_cluster_capacity_providers()
                .cluster(&spec.cluster)
                .set_capacity_providers(Some(providers))
                .default_capacity_provider_strategy(strategy)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ecs:PutClusterCapacityProviders", e))?;
        }
        return Ok(rec
            .resource(a)
            .unwrap_or_else(|| Resource::new(&spec.cluster)));
    }
    if a == ALB {
        let subnets = need(
            &spec.public_subnets.as_ref().map(|v| v.join(",")),
            "public subnets",
            a,
        )?;
        let subnets: Vec<String> = subnets.split(',').map(str::to_owned).collect();
        let sg = need(&spec.alb_sg, "alb security group", a)?;
        let arn = if create {
            let out = c
                .elb
                .create_load_balancer()
                .name(&spec.alb_name)
                .scheme(LoadBalancerSchemeEnum::InternetFacing)
                .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Application)
                .set_subnets(Some(subnets))
                .security_groups(&sg)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| {
                            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateLoadBalancer", e))?;
            let lb = out
                .load_balancers()
                .first()
                .ok_or_else(|| Error::Internal(format!("{a}: nothing created")))?;
            let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
            rec.record(
                a,
                Some(
                    Resource::new(&arn)
                        .with("arn", arn.clone())
                        .with("dns_name", lb.dns_name().unwrap_or_default())
                        .with("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default()),
                ),
            )
            .await?;
            arn
        } else {
            let arn = arn_of(rec, a)?;
            if changed(change, "subnets") {
                c.elb
                    .set_subnets()
                    .load_balancer_arn(&arn)
                    .set_subnets(Some(subnets))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "elasticloadbalancing:SetSubnets", e))?;
            }
            if changed(change, "security_groups") {
                c.elb
                    .set_security_groups()
                    .load_balancer_arn(&arn)
                    .security_groups(&sg)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "elasticloadbalancing:SetSecurityGroups", e))?;
            }
            arn
        };
        if create
            || changed(change, "drop_invalid_headers")
            || changed(change, "deletion_protection")
        {
            c.elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("routing.http.drop_invalid_header_fields.enabled")
                        .value("true")
                        .build(),
                )
                .attributes(
                    LoadBalancerAttribute::builder()
                        .key("deletion_protection.enabled")
                        .value(spec.deletion_protection.to_string())
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    Error::aws(a, "elasticloadbalancing:ModifyLoadBalancerAttributes", e)
                })?;
        }
        return Ok(rec
            .resource(a)
            .unwrap_or_else(|| Resource::new(&arn).with("arn", arn.clone())));
    }
    if a == HTTP || a == HTTPS {
        let default = after(change, "default")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let action = if default.starts_with("redirect:") {
            redirect_https()
        } else {
            forward(&arn_of(rec, &default)?)
        };
        let https = a == HTTPS;
        let cert = spec.certificate_arn.clone().unwrap_or_default();
        let arn = if create {
            let mut call = c
                .elb
                .create_listener()
                .load_balancer_arn(arn_of(rec, ALB)?)
                .port(if https { 443 } else { 80 })
                .protocol(if https {
                    ProtocolEnum::Https
                } else {
                    ProtocolEnum::Http
                })
                .default_actions(action);
            if https {
                call = call
                    .certificates(Certificate::builder().certificate_arn(&cert).build())
                    .ssl_policy(TLS_POLICY);
            }
            let out = call
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateListener", e))?;
            out.listeners()
                .first()
                .and_then(|l| l.listener_arn())
                .unwrap_or_default()
                .to_owned()
        } else {
            let arn = arn_of(rec, a)?;
            let mut call = c
                .elb
                .modify_listener()
                .listener_arn(&arn)
                .default_actions(action);
            if https {
                call = call
                    .certificates(Certificate::builder().certificate_arn(&cert).build())
                    .ssl_policy(TLS_POLICY);
            }
            call.send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyListener", e))?;
            arn
        };
        return Ok(Resource::new(&arn).with("arn", arn.clone()));
    }
    let s = service_of(spec, a)?;
    if a.starts_with("ecs.target_group[") {
        let arn = if create {
            let out = c
                .elb
                .create_target_group()
                .name(&s.target_group)
                .port(i32::from(s.port))
                .protocol(ProtocolEnum::Http)
                .target_type(TargetTypeEnum::Ip)
                .vpc_id(need(&spec.vpc_id, "VPC", a)?)
                .health_check_path(&s.health_check_path)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| {
                            aws_sdk_elasticloadbalancingv2::types::Tag::builder()
                                .key(k)
                                .value(v)
                                .build()
                        })
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateTargetGroup", e))?;
            out.target_groups()
                .first()
                .and_then(|t| t.target_group_arn())
                .unwrap_or_default()
                .to_owned()
        } else {
            let arn = arn_of(rec, a)?;
            c.elb
                .modify_target_group()
                .target_group_arn(&arn)
                .health_check_path(&s.health_check_path)
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyTargetGroup", e))?;
            arn
        };
        return Ok(Resource::new(&arn)
            .with("arn", arn.clone())
            .with("name", s.target_group.clone()));
    }
    if a.starts_with("ecs.rule[") {
        let listener = after(change, "listener")
            .and_then(Value::as_str)
            .unwrap_or(HTTP)
            .to_owned();
        let path = s.path.clone().unwrap_or_default();
        let priority = after(change, "priority")
            .and_then(Value::as_i64)
            .unwrap_or(10) as i32;
        let condition = RuleCondition::builder()
            .field("path-pattern")
            .values(&path)
            .build();
        let tg = arn_of(rec, &plan::target_group(&s.key))?;
        let arn = if create {
            let out = c
                .elb
                .create_rule()
                .listener_arn(arn_of(rec, &listener)?)
                .priority(priority)
                .conditions(condition)
                .actions(forward(&tg))
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateRule", e))?;
            out.rules()
                .first()
                .and_then(|r| r.rule_arn())
                .unwrap_or_default()
                .to_owned()
        } else {
            let arn = arn_of(rec, a)?;
            c.elb
                .modify_rule()
                .rule_arn(&arn)
                .conditions(condition)
                .actions(forward(&tg))
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyRule", e))?;
            if changed(change, "priority") {
                c.elb
                    .set_rule_priorities()
                    .rule_priorities(
                        aws_sdk_elasticloadbalancingv2::types::RulePriorityPair::builder()
                            .rule_arn(&arn)
                            .priority(priority)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "elasticloadbalancing:SetRulePriorities", e))?;
            }
            arn
        };
        return Ok(Resource::new(&arn).with("arn", arn.clone()));
    }
    if a.starts_with("ecs.log_group[") {
        let key = need(&spec.logs_key_arn, "logs key", a)?;
        if create {
            match c
                .logs
                .create_log_group()
                .log_group_name(&s.log_group)
                .kms_key_id(&key)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(Error::aws(a, "logs:CreateLogGroup", e)),
            }
        } else if changed(change, "kms_key") {
            c.logs
                .associate_kms_key()
                .log_group_name(&s.log_group)
                .kms_key_id(&key)
                .send()
                .await
                .map_err(|e| Error::aws(a, "logs:AssociateKmsKey", e))?;
        }
        c.logs
            .put_retention_policy()
            .log_group_name(&s.log_group)
            .retention_in_days(spec.log_retention_days)
            .send()
            .await
            .map_err(|e| Error::aws(a, "logs:PutRetentionPolicy", e))?;
        return Ok(Resource::new(&s.log_group));
    }
    if a.starts_with("ecs.task_definition[") {
        let content = after(change, "content").cloned().unwrap_or(Value::Null);
        let arn = register(c, spec, s, a).await?;
        return Ok(Resource::new(&arn)
            .with("arn", arn.clone())
            .with("content", content));
    }
    if a.starts_with("ecs.service[") {
        let td = rec.id(&plan::task_definition(&s.key))?;
        let network = NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .set_subnets(spec.private_subnets.clone())
                    .set_security_groups(spec.ecs_sg.clone().map(|g| vec![g]))
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .build();
        let deployment = DeploymentConfiguration::builder()
            .deployment_circuit_breaker(
                DeploymentCircuitBreaker::builder()
                    .enable(true)
                    .rollback(true)
                    .build(),
            )
            .minimum_healthy_percent(100)
            .maximum_percent(200)
            .build();
        let arn = if create {
            let out = c
                .ecs
                .create_service()
                .cluster(&spec.cluster)
                .service_name(&s.name)
                .task_definition(&td)
                // Set once: afterwards autoscaling owns the count and `up` never resets it.
                .desired_count(s.desired_count as i32)
                .launch_type(LaunchType::Fargate)
                .network_configuration(network)
                .load_balancers(
                    aws_sdk_ecs::types::LoadBalancer::builder()
                        .target_group_arn(arn_of(rec, &plan::target_group(&s.key))?)
                        .container_name(&s.key)
                        .container_port(i32::from(s.port))
                        .build(),
                )
                .deployment_configuration(deployment)
                .health_check_grace_period_seconds(60)
                .propagate_tags(aws_sdk_ecs::types::PropagateTags::Service)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await;
            match out {
                Ok(o) => o
                    .service()
                    .and_then(|x| x.service_arn())
                    .unwrap_or_default()
                    .to_owned(),
                Err(e) => return Err(Error::aws(a, "ecs:CreateService", e)),
            }
        } else {
            let arn = rec.id(a)?;
            c.ecs
                .update_service()
                .cluster(&spec.cluster)
                .service(&s.name)
                .task_definition(&td)
                .network_configuration(network)
                .deployment_configuration(deployment)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ecs:UpdateService", e))?;
            arn
        };
        rec.record(
            a,
            Some(
                Resource::new(&arn)
                    .with("arn", arn.clone())
                    .with("name", s.name.clone()),
            ),
        )
        .await?;
        if !spec.no_wait {
            wait_deployed(c, ctx, task, spec, s, &td, a).await?;
        }
        return Ok(Resource::new(&arn)
            .with("arn", arn.clone())
            .with("name", s.name.clone()));
    }
    if a.starts_with("ecs.scaling_target[") {
        c.scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(format!("service/{}/{}", spec.cluster, s.name))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(s.min_count as i32)
            .max_capacity(s.max_count as i32)
            .send()
            .await
            .map_err(|e| Error::aws(a, "application-autoscaling:RegisterScalableTarget", e))?;
        return Ok(Resource::new(format!(
            "service/{}/{}",
            spec.cluster, s.name
        )));
    }
    if a.starts_with("ecs.scaling_policy.") {
        let memory = a.starts_with("ecs.scaling_policy.memory[");
        let (metric, target) = if memory {
            (
                MetricType::EcsServiceAverageMemoryUtilization,
                s.memory_target.unwrap_or(70.0),
            )
        } else {
            (MetricType::EcsServiceAverageCpuUtilization, s.cpu_target)
        };
        let name = format!("{}-{}", s.name, if memory { "memory" } else { "cpu" });
        let out = c
            .scaling
            .put_scaling_policy()
            .policy_name(&name)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(format!("service/{}/{}", spec.cluster, s.name))
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(
                TargetTrackingScalingPolicyConfiguration::builder()
                    .target_value(target)
                    .predefined_metric_specification(
                        PredefinedMetricSpecification::builder()
                            .predefined_metric_type(metric)
                            .build()
                            .map_err(|e| Error::Internal(e.to_string()))?,
                    )
                    .scale_in_cooldown(s.scale_in_cooldown)
                    .scale_out_cooldown(s.scale_out_cooldown)
                    .build()
                    .map_err(|e| Error::Internal(e.to_string()))?,
            )
            .send()
            .await
            .map_err(|e| Error::aws(a, "application-autoscaling:PutScalingPolicy", e))?;
        return Ok(Resource::new(&name).with("arn", out.policy_arn()));
    }
    Err(Error::Internal(format!("{a}: unknown address")))
}

/// Registers a task definition revision for a service.
async fn register(c: &Clients, spec: &Spec, s: &Service, a: &str) -> Result<String> {
    let mut env: Vec<KeyValuePair> = s
        .environment
        .iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
        .collect();
    let mut secrets = Vec::new();
    if s.database {
        let db = spec
            .database
            .clone()
            .ok_or_else(|| Error::Internal(format!("{a}: database outputs unknown")))?;
        for (k, v) in [
            ("DB_HOST", &db.host),
            ("DB_PORT", &db.port),
            ("DB_NAME", &db.name),
            ("DB_USER", &db.user),
        ] {
            env.push(KeyValuePair::builder().name(k).value(v).build());
        }
        // A reference to the managed secret's password field; ECS resolves it at task start.
        secrets.push(
            Secret::builder()
                .name("DB_PASSWORD")
                .value_from(format!("{}:password::", db.secret_arn))
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        );
    }
    let log = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .options("awslogs-group", &s.log_group)
        .options("awslogs-region", &spec.region)
        .options("awslogs-stream-prefix", &s.key)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut container = ContainerDefinition::builder()
        .name(&s.key)
        .image(&s.image)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .container_port(i32::from(s.port))
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .set_environment(Some(env))
        .set_secrets((!secrets.is_empty()).then_some(secrets))
        .log_configuration(log);
    if let Some(cmd) = &s.container_health_check {
        container = container.health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command(cmd)
                .interval(30)
                .timeout(5)
                .retries(3)
                .start_period(60)
                .build()
                .map_err(|e| Error::Internal(e.to_string()))?,
        );
    }
    let out = c
        .ecs
        .register_task_definition()
        .family(&s.name)
        .cpu(s.cpu.to_string())
        .memory(s.memory.to_string())
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .execution_role_arn(need(&spec.execution_role_arn, "execution role", a)?)
        .task_role_arn(need(&s.task_role_arn, "task role", a)?)
        .container_definitions(container.build())
        .set_tags(Some(
            spec.tagger
                .tags(a, Some(&s.name))
                .iter()
                .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| Error::aws(a, "ecs:RegisterTaskDefinition", e))?;
    Ok(out
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_owned())
}

/// Waits until the service runs `td` and its deployment is complete; a rollback is an error with the
/// stopped tasks' reasons.
async fn wait_deployed(
    c: &Clients,
    ctx: &Ctx<'_>,
    task: &Task<'_>,
    spec: &Spec,
    s: &Service,
    td: &str,
    a: &str,
) -> Result<()> {
    wait_until(
        task,
        a,
        &format!(
            "service {} runs {}",
            s.name,
            td.rsplit('/').next().unwrap_or(td)
        ),
        ctx.timeout,
        || async {
            let out = c
                .ecs
                .describe_services()
                .cluster(&spec.cluster)
                .services(&s.name)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ecs:DescribeServices", e))?;
            let Some(svc) = out.services().first() else {
                return Ok(None);
            };
            let primary = svc
                .deployments()
                .iter()
                .find(|d| d.status() == Some("PRIMARY"));
            let state = primary
                .and_then(|d| d.rollout_state())
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default();
            task.status(
                &format!(
                    "desired {} running {} pending {}, rollout {}",
                    svc.desired_count(),
                    svc.running_count(),
                    svc.pending_count(),
                    if state.is_empty() { "?" } else { &state }
                ),
                false,
            );
            if state == "FAILED" {
                let stopped = c
                    .ecs
                    .list_tasks()
                    .cluster(&spec.cluster)
                    .service_name(&s.name)
                    .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
                    .send()
                    .await
                    .map(|o| o.task_arns().to_vec())
                    .unwrap_or_default();
                let reasons = if stopped.is_empty() {
                    Vec::new()
                } else {
                    c.ecs
                        .describe_tasks()
                        .cluster(&spec.cluster)
                        .set_tasks(Some(stopped.into_iter().take(5).collect()))
                        .send()
                        .await
                        .map(|o| {
                            o.tasks()
                                .iter()
                                .filter_map(|t| t.stopped_reason().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                return Err(Error::Aws {
                    resource: a.to_owned(),
                    operation: "ecs:UpdateService".into(),
                    code: "DeploymentRolledBack".into(),
                    message: format!(
                        "the circuit breaker rolled the deployment back; stopped tasks: {}",
                        if reasons.is_empty() {
                            "none reported".into()
                        } else {
                            reasons.join("; ")
                        }
                    ),
                });
            }
            let done = svc.task_definition() == Some(td)
                && state == "COMPLETED"
                && svc.deployments().len() == 1;
            Ok(done.then_some(()))
        },
    )
    .await
}

async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    a: &str,
    task: &Task<'_>,
) -> Result<()> {
    let Some(res) = rec.resource(a) else {
        return Ok(());
    };
    let id = res.id.clone();
    if a == CLUSTER {
        return deleted(
            c.ecs.delete_cluster().cluster(&id).send().await,
            a,
            "ecs:DeleteCluster",
        );
    }
    if a == ALB {
        // `down --yes` is the explicit intent; the production load balancer's deletion protection goes first.
        let _ = c
            .elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&id)
            .attributes(
                LoadBalancerAttribute::builder()
                    .key("deletion_protection.enabled")
                    .value("false")
                    .build(),
            )
            .send()
            .await;
        return deleted(
            c.elb
                .delete_load_balancer()
                .load_balancer_arn(&id)
                .send()
                .await,
            a,
            "elasticloadbalancing:DeleteLoadBalancer",
        );
    }
    if a == HTTP || a == HTTPS {
        return deleted(
            c.elb.delete_listener().listener_arn(&id).send().await,
            a,
            "elasticloadbalancing:DeleteListener",
        );
    }
    if a.starts_with("ecs.rule[") {
        return deleted(
            c.elb.delete_rule().rule_arn(&id).send().await,
            a,
            "elasticloadbalancing:DeleteRule",
        );
    }
    if a.starts_with("ecs.target_group[") {
        return deleted(
            c.elb
                .delete_target_group()
                .target_group_arn(&id)
                .send()
                .await,
            a,
            "elasticloadbalancing:DeleteTargetGroup",
        );
    }
    if a.starts_with("ecs.log_group[") {
        return deleted(
            c.logs.delete_log_group().log_group_name(&id).send().await,
            a,
            "logs:DeleteLogGroup",
        );
    }
    if a.starts_with("ecs.scaling_policy.") {
        let resource = rec
            .resource(&plan::scaling_target(plan::key_of(a).unwrap_or_default()))
            .map(|r| r.id)
            .unwrap_or_default();
        return deleted(
            c.scaling
                .delete_scaling_policy()
                .policy_name(&id)
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await,
            a,
            "application-autoscaling:DeleteScalingPolicy",
        );
    }
    if a.starts_with("ecs.scaling_target[") {
        return deleted(
            c.scaling
                .deregister_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(&id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send()
                .await,
            a,
            "application-autoscaling:DeregisterScalableTarget",
        );
    }
    if a.starts_with("ecs.task_definition[") {
        // Every revision of the family: deploys keep them for rollback; down removes them.
        let family = id
            .rsplit('/')
            .next()
            .and_then(|f| f.rsplit_once(':'))
            .map(|(f, _)| f.to_owned())
            .unwrap_or_default();
        let arns: Vec<String> = c
            .ecs
            .list_task_definitions()
            .family_prefix(&family)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws(a, "ecs:ListTaskDefinitions", e))?;
        for arn in arns.iter().filter(|x| {
            x.rsplit('/')
                .next()
                .and_then(|f| f.rsplit_once(':'))
                .map(|(f, _)| f)
                == Some(family.as_str())
        }) {
            deleted(
                c.ecs
                    .deregister_task_definition()
                    .task_definition(arn)
                    .send()
                    .await,
                a,
                "ecs:DeregisterTaskDefinition",
            )?;
        }
        // Deregistered revisions stay listed (INACTIVE) until deleted.
        for batch in arns.chunks(10) {
            deleted(
                c.ecs
                    .delete_task_definitions()
                    .set_task_definitions(Some(batch.to_vec()))
                    .send()
                    .await,
                a,
                "ecs:DeleteTaskDefinitions",
            )?;
        }
        return Ok(());
    }
    if a.starts_with("ecs.service[") {
        let name = res
            .attr("name")
            .map(str::to_owned)
            .unwrap_or_else(|| id.rsplit('/').next().unwrap_or_default().to_owned());
        // Drain: scale to 0 and wait for the tasks to stop, then delete.
        match c
            .ecs
            .update_service()
            .cluster(&spec.cluster)
            .service(&name)
            .desired_count(0)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_gone(code_of(&e)) || code_of(&e) == Some("ServiceNotActiveException") => {
                return Ok(())
            }
            Err(e) => return Err(Error::aws(a, "ecs:UpdateService", e)),
        }
        wait_until(
            task,
            a,
            &format!("service {name} has no running tasks"),
            ctx.timeout,
            || async {
                let out = c
                    .ecs
                    .describe_services()
                    .cluster(&spec.cluster)
                    .services(&name)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "ecs:DescribeServices", e))?;
                let running = out
                    .services()
                    .first()
                    .map(|s| s.running_count())
                    .unwrap_or(0);
                task.status(&format!("{running} running"), false);
                Ok((running == 0).then_some(()))
            },
        )
        .await?;
        return deleted(
            c.ecs
                .delete_service()
                .cluster(&spec.cluster)
                .service(&name)
                .send()
                .await,
            a,
            "ecs:DeleteService",
        );
    }
    let _ = Duration::ZERO;
    Err(Error::Internal(format!("{a}: unknown address")))
}

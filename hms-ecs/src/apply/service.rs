//! Services: created once with their count (afterwards autoscaling owns it), updated with `UpdateService`
//! only when what they run or how differs (then the deployment is waited for), tagged through ECS's
//! tagging API; deleted after scaling to 0 and draining.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    DesiredStatus, LaunchType, LoadBalancer, NetworkConfiguration, PropagateTags, Tag,
};
use hms_core::aws_tags::EcsTags;
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::state::Resource;
use hms_core::ui::wait_until;
use hms_core::{Error, Result};

use super::{built, Op};
use crate::addr::Addr;
use crate::spec::Service;

fn network(op: &Op<'_>) -> Result<NetworkConfiguration> {
    Ok(NetworkConfiguration::builder()
        .awsvpc_configuration(built(
            AwsVpcConfiguration::builder()
                .set_subnets(op.spec.private_subnets.clone())
                .set_security_groups(op.spec.ecs_sg.clone().map(|g| vec![g]))
                .assign_public_ip(AssignPublicIp::Disabled)
                .build(),
        )?)
        .build())
}

fn deployment() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .minimum_healthy_percent(100)
        .maximum_percent(200)
        .build()
}

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let s = op.service()?;
    let td = op
        .rec
        .id(&Addr::TaskDefinition(s.key.clone()).to_string())?;
    let record = |arn: &str| {
        Resource::new(arn)
            .with("arn", arn.to_owned())
            .with("name", s.name.clone())
    };
    let arn = if op.create {
        create(op, s, &td).await?
    } else {
        let arn = op.rec.id(a)?;
        op.sync_tags(&EcsTags(&c.ecs)).await?;
        if !op.attrs_changed() {
            // Tags alone: no deployment.
            return Ok(record(&arn));
        }
        c.ecs
            .update_service()
            .cluster(&spec.cluster)
            .service(&s.name)
            .task_definition(&td)
            .network_configuration(network(op)?)
            .deployment_configuration(deployment())
            .send()
            .await
            .map_err(|e| Error::aws(a, "ecs:UpdateService", e))?;
        arn
    };
    op.rec.record(a, Some(record(&arn))).await?;
    if !spec.no_wait {
        wait_deployed(op, s, &td).await?;
    }
    Ok(record(&arn))
}

async fn create(op: &Op<'_>, s: &Service, td: &str) -> Result<String> {
    let out =
        op.c.ecs
            .create_service()
            .cluster(&op.spec.cluster)
            .service_name(&s.name)
            .task_definition(td)
            // Set once: afterwards autoscaling owns the count and `up` never resets it.
            .desired_count(i32::try_from(s.desired_count).unwrap_or(i32::MAX))
            .launch_type(LaunchType::Fargate)
            .network_configuration(network(op)?)
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(op.arn_of(&Addr::TargetGroup(s.key.clone()))?)
                    .container_name(&s.key)
                    .container_port(i32::from(s.port))
                    .build(),
            )
            .deployment_configuration(deployment())
            .health_check_grace_period_seconds(60)
            .propagate_tags(PropagateTags::Service)
            .set_tags(Some(
                op.tags()
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| Error::aws(op.a, "ecs:CreateService", e))?;
    Ok(out
        .service()
        .and_then(|x| x.service_arn())
        .unwrap_or_default()
        .to_owned())
}

/// The stopped tasks' reasons (at most 5), for a rolled-back deployment's error.
async fn stopped_reasons(op: &Op<'_>, s: &Service) -> Vec<String> {
    let ecs = &op.c.ecs;
    let stopped = ecs
        .list_tasks()
        .cluster(&op.spec.cluster)
        .service_name(&s.name)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .map(|o| o.task_arns().to_vec())
        .unwrap_or_default();
    if stopped.is_empty() {
        return Vec::new();
    }
    ecs.describe_tasks()
        .cluster(&op.spec.cluster)
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
}

/// Waits until the service runs `td` and its deployment is complete; a rollback is an error with the
/// stopped tasks' reasons.
async fn wait_deployed(op: &Op<'_>, s: &Service, td: &str) -> Result<()> {
    let (task, a) = (op.task, op.a);
    wait_until(
        task,
        a,
        &format!(
            "service {} runs {}",
            s.name,
            td.rsplit('/').next().unwrap_or(td)
        ),
        op.ctx.timeout,
        || async {
            let out =
                op.c.ecs
                    .describe_services()
                    .cluster(&op.spec.cluster)
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
                let reasons = stopped_reasons(op, s).await;
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

/// Drains the service (scaled to 0, waited until no task runs), then deletes it.
pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    let (ecs, spec, a, task) = (&op.c.ecs, op.spec, op.a, op.task);
    let name = res
        .attr("name")
        .map(str::to_owned)
        .unwrap_or_else(|| res.id.rsplit('/').next().unwrap_or_default().to_owned());
    match ecs
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
        op.ctx.timeout,
        || async {
            let out = ecs
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
    deleted(
        ecs.delete_service()
            .cluster(&spec.cluster)
            .service(&name)
            .send()
            .await,
        a,
        "ecs:DeleteService",
    )
}

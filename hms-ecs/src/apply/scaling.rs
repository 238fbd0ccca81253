//! Application Auto Scaling: a service's scalable target (its min and max count; tagged at registration,
//! later through the tagging API) and its target-tracking policies on CPU and memory.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};
use hms_core::aws_tags::AutoScalingTags;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{built, Op};
use crate::addr::Addr;
use crate::desired::scaling_resource;

pub(super) async fn put_target(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let s = op.service()?;
    let resource = scaling_resource(&spec.cluster, &s.name);
    let record = |arn: &str| Resource::new(&resource).with("arn", arn.to_owned());
    if !op.create {
        op.sync_tags(&AutoScalingTags(&c.scaling)).await?;
        if !op.attrs_changed() {
            return Ok(record(&op.arn()?));
        }
    }
    let mut call = c
        .scaling
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(&resource)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(i32::try_from(s.min_count).unwrap_or(i32::MAX))
        .max_capacity(i32::try_from(s.max_count).unwrap_or(i32::MAX));
    if op.create {
        // Tags are taken at registration only; an existing target is tagged through the tagging API.
        call = call.set_tags(Some(op.tags().into_iter().collect()));
    }
    let out = call
        .send()
        .await
        .map_err(|e| Error::aws(a, "application-autoscaling:RegisterScalableTarget", e))?;
    let arn = match out.scalable_target_arn() {
        Some(arn) if !arn.is_empty() => arn.to_owned(),
        _ => op.arn().unwrap_or_default(),
    };
    Ok(record(&arn))
}

pub(super) async fn put_policy(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let s = op.service()?;
    let memory = matches!(op.addr, Addr::MemoryPolicy(_));
    let (metric, target) = if memory {
        (
            MetricType::EcsServiceAverageMemoryUtilization,
            s.memory_target.unwrap_or(70.0),
        )
    } else {
        (MetricType::EcsServiceAverageCpuUtilization, s.cpu_target)
    };
    let name = s.policy_name(memory);
    let out = c
        .scaling
        .put_scaling_policy()
        .policy_name(&name)
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(scaling_resource(&spec.cluster, &s.name))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .policy_type(PolicyType::TargetTrackingScaling)
        .target_tracking_scaling_policy_configuration(built(
            TargetTrackingScalingPolicyConfiguration::builder()
                .target_value(target)
                .predefined_metric_specification(built(
                    PredefinedMetricSpecification::builder()
                        .predefined_metric_type(metric)
                        .build(),
                )?)
                .scale_in_cooldown(s.scale_in_cooldown)
                .scale_out_cooldown(s.scale_out_cooldown)
                .build(),
        )?)
        .send()
        .await
        .map_err(|e| Error::aws(a, "application-autoscaling:PutScalingPolicy", e))?;
    Ok(Resource::new(&name).with("arn", out.policy_arn()))
}

pub(super) async fn delete_policy(op: &Op<'_>, res: &Resource) -> Result<()> {
    let key = op.addr.key().unwrap_or_default().to_owned();
    let resource = op
        .rec
        .resource(&Addr::ScalingTarget(key).to_string())
        .map(|r| r.id)
        .unwrap_or_default();
    deleted(
        op.c.scaling
            .delete_scaling_policy()
            .policy_name(&res.id)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await,
        op.a,
        "application-autoscaling:DeleteScalingPolicy",
    )
}

pub(super) async fn delete_target(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.scaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&res.id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send()
            .await,
        op.a,
        "application-autoscaling:DeregisterScalableTarget",
    )
}

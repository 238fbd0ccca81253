//! Scalable targets and scaling policies of the ECS namespace, listed; the tags of our services' targets
//! read one `ListTagsForResource` each (policies carry no tags).

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableTarget, ScalingPolicy, ServiceNamespace};
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};

use super::Pairs;
use crate::addr::Addr;
use crate::desired::{policy_config, scaling_resource, CPU_METRIC, MEMORY_METRIC};
use crate::spec::Spec;
use crate::Clients;

/// The targets (with their tags, for those of the services looked for) and the policies.
pub(super) struct Scaling {
    targets: Vec<(ScalableTarget, Option<Pairs>)>,
    policies: Vec<ScalingPolicy>,
}

pub(super) async fn fetch(c: &Clients, spec: &Spec, names: &[String]) -> Result<Scaling> {
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
    let (targets, policies): (Vec<ScalableTarget>, Vec<ScalingPolicy>) =
        tokio::try_join!(targets, policies)?;
    let resources: Vec<String> = names
        .iter()
        .map(|n| scaling_resource(&spec.cluster, n))
        .collect();
    let targets = try_join_all(targets.into_iter().map(|t| {
        let ours = resources.iter().any(|r| r == t.resource_id());
        async move {
            let arn = t.scalable_target_arn().filter(|_| ours).map(str::to_owned);
            let tags = match arn {
                Some(arn) => tags(c, &arn).await?,
                None => None,
            };
            Ok::<_, Error>((t, tags))
        }
    }))
    .await?;
    Ok(Scaling { targets, policies })
}

async fn tags(c: &Clients, arn: &str) -> Result<Option<Pairs>> {
    match c
        .scaling
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(o) => {
            let tags: Pairs = o
                .tags()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            Ok(Some(tags))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            arn,
            "application-autoscaling:ListTagsForResource",
            e,
        )),
    }
}

/// Records the targets and policies of the services found (resource id `service/<cluster>/<name>`).
pub(super) fn build(spec: &Spec, read: &Scaling, found: &mut FoundSet) {
    let by_resource: BTreeMap<String, String> = found
        .iter()
        .filter_map(|(a, f)| match Addr::parse(a) {
            Some(Addr::Service(key)) => Some((
                scaling_resource(&spec.cluster, f.attrs.get("name")?.as_str()?),
                key,
            )),
            _ => None,
        })
        .collect();
    for (t, tags) in &read.targets {
        let Some(key) = by_resource.get(t.resource_id()) else {
            continue;
        };
        let mut f = Found::new(t.resource_id())
            .attr("resource", t.resource_id())
            .attr("min", t.min_capacity())
            .attr("max", t.max_capacity())
            .info("arn", t.scalable_target_arn().unwrap_or_default())
            .uses([Addr::Service(key.clone())]);
        if let Some(tags) = tags {
            f = f.tags(tags.clone());
        }
        found.insert(Addr::ScalingTarget(key.clone()).to_string(), f);
    }
    for p in &read.policies {
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
            CPU_METRIC => Addr::CpuPolicy(key.clone()),
            MEMORY_METRIC => Addr::MemoryPolicy(key.clone()),
            _ => continue,
        };
        found.insert(
            address.to_string(),
            Found::new(p.policy_name())
                .attr(
                    "config",
                    policy_config(
                        &metric,
                        cfg.target_value(),
                        cfg.scale_in_cooldown().unwrap_or_default(),
                        cfg.scale_out_cooldown().unwrap_or_default(),
                    ),
                )
                .info("arn", p.policy_arn())
                .uses([Addr::ScalingTarget(key.clone())]),
        );
    }
}

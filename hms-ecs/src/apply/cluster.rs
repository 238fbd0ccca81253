//! The cluster: created with Container Insights, the Fargate capacity providers and its tags; an update
//! writes the settings that differ and syncs the tags.

use aws_sdk_ecs::types::{CapacityProviderStrategyItem, ClusterSetting, ClusterSettingName, Tag};
use hms_core::aws_tags::EcsTags;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{built, Op};

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let setting = ClusterSetting::builder()
        .name(ClusterSettingName::ContainerInsights)
        .value(if spec.container_insights {
            "enabled"
        } else {
            "disabled"
        })
        .build();
    let providers = vec!["FARGATE".to_owned(), "FARGATE_SPOT".to_owned()];
    let strategy = built(
        CapacityProviderStrategyItem::builder()
            .capacity_provider("FARGATE")
            .weight(1)
            .build(),
    )?;
    if op.create {
        let out = c
            .ecs
            .create_cluster()
            .cluster_name(&spec.cluster)
            .settings(setting)
            .set_capacity_providers(Some(providers))
            .default_capacity_provider_strategy(strategy)
            .set_tags(Some(
                op.tags()
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
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
    if op.changed("container_insights") {
        c.ecs
            .update_cluster_settings()
            .cluster(&spec.cluster)
            .settings(setting)
            .send()
            .await
            .map_err(|e| Error::aws(a, "ecs:UpdateClusterSettings", e))?;
    }
    if op.changed("capacity_providers") {
        c.ecs
            .put_cluster_capacity_providers()
            .cluster(&spec.cluster)
            .set_capacity_providers(Some(providers))
            .default_capacity_provider_strategy(strategy)
            .send()
            .await
            .map_err(|e| Error::aws(a, "ecs:PutClusterCapacityProviders", e))?;
    }
    op.sync_tags(&EcsTags(&c.ecs)).await?;
    Ok(op
        .rec
        .resource(a)
        .unwrap_or_else(|| Resource::new(&spec.cluster)))
}

pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.ecs.delete_cluster().cluster(&res.id).send().await,
        op.a,
        "ecs:DeleteCluster",
    )
}

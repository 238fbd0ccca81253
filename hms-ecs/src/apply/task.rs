//! Task definitions: a new content registers a new revision (with its tags; older revisions stay for
//! rollback until `down`), a tag difference alone tags the revision the service runs. `down` deregisters
//! and deletes every revision of the family.

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, HealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    MountPoint, NetworkMode, PortMapping, Secret, Tag, TransportProtocol, Volume,
};
use hms_core::aws_tags::EcsTags;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{built, need, Op};
use crate::desired::{container_env, LOG_BUFFER, LOG_MODE, SCRATCH_PATH, SCRATCH_VOLUME};
use crate::observe::family_of;
use crate::spec::{Service, Spec};

pub(super) async fn put(op: &Op<'_>) -> Result<Resource> {
    let content = op.after("content").cloned().unwrap_or(Value::Null);
    if !op.create && !op.changed("content") {
        op.sync_tags(&EcsTags(&op.c.ecs)).await?;
        let arn = op.arn()?;
        let mut r = Resource::new(&arn)
            .with("arn", arn.clone())
            .with("content", content);
        // A tag change keeps the record of the deploy that made this revision.
        if let Some(d) = op
            .rec
            .snapshot()
            .resources
            .get(op.a)
            .and_then(|x| x.attrs.get("deployed"))
        {
            r = r.with("deployed", d.clone());
        }
        return Ok(r);
    }
    let s = op.service()?;
    let arn = register(op, s).await?;
    let mut r = Resource::new(&arn)
        .with("arn", arn.clone())
        .with("content", content);
    if op.spec.deploying.as_deref() == Some(s.key.as_str()) {
        // What the next plain `up` names when it would put the config's image back.
        r = r.with(
            "deployed",
            serde_json::json!({
                "image": s.image,
                "at": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            }),
        );
    }
    Ok(r)
}

/// The service's container: its image, port, environment, the database secret's reference, logs and
/// health check.
pub(crate) fn container(spec: &Spec, s: &Service, a: &str) -> Result<ContainerDefinition> {
    if s.database && spec.database.is_none() {
        return Err(Error::Internal(format!("{a}: database outputs unknown")));
    }
    if let (true, Some(c)) = (s.cache, &spec.cache) {
        if c.host.is_none() || c.port.is_none() || c.secret_arn.is_none() {
            return Err(Error::Internal(format!("{a}: cache outputs unknown")));
        }
    }
    let (vars, refs) = container_env(spec, s);
    let env: Vec<KeyValuePair> = vars
        .iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
        .collect();
    let mut secrets = Vec::new();
    for (k, v) in &refs {
        secrets.push(built(Secret::builder().name(k).value_from(v).build())?);
    }
    let log = built(
        LogConfiguration::builder()
            .log_driver(LogDriver::Awslogs)
            .options("awslogs-group", &s.log_group)
            .options("awslogs-region", &spec.region)
            .options("awslogs-stream-prefix", &s.key)
            .options("mode", LOG_MODE)
            .options("max-buffer-size", LOG_BUFFER)
            .build(),
    )?;
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
        .log_configuration(log)
        .readonly_root_filesystem(s.read_only_root);
    if s.read_only_root {
        container = container.mount_points(
            MountPoint::builder()
                .source_volume(SCRATCH_VOLUME)
                .container_path(SCRATCH_PATH)
                .read_only(false)
                .build(),
        );
    }
    if let Some(cmd) = &s.container_health_check {
        container = container.health_check(built(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command(cmd)
                .interval(30)
                .timeout(5)
                .retries(3)
                .start_period(60)
                .build(),
        )?);
    }
    Ok(container.build())
}

/// Registers a task definition revision for a service; returns its ARN.
async fn register(op: &Op<'_>, s: &Service) -> Result<String> {
    let (spec, a) = (op.spec, op.a);
    let out =
        op.c.ecs
            .register_task_definition()
            .family(&s.name)
            .cpu(s.cpu.to_string())
            .memory(s.memory.to_string())
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .execution_role_arn(need(&spec.execution_role_arn, "execution role", a)?)
            .task_role_arn(need(&s.task_role_arn, "task role", a)?)
            .container_definitions(container(spec, s, a)?)
            .set_volumes(
                s.read_only_root
                    .then(|| vec![Volume::builder().name(SCRATCH_VOLUME).build()]),
            )
            .set_tags(Some(
                op.tags()
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
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

/// Deregisters and deletes every revision of the family: deploys keep them for rollback; down removes them.
pub(super) async fn delete(op: &Op<'_>, res: &Resource) -> Result<()> {
    let (ecs, a) = (&op.c.ecs, op.a);
    let family = family_of(&res.id).unwrap_or_default().to_owned();
    let arns: Vec<String> = ecs
        .list_task_definitions()
        .family_prefix(&family)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws(a, "ecs:ListTaskDefinitions", e))?;
    // The prefix matches longer families too (`hms-backend` and `hms-backend-v2`).
    let arns: Vec<String> = arns
        .into_iter()
        .filter(|x| family_of(x) == Some(family.as_str()))
        .collect();
    for arn in &arns {
        deleted(
            ecs.deregister_task_definition()
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
            ecs.delete_task_definitions()
                .set_task_definitions(Some(batch.to_vec()))
                .send()
                .await,
            a,
            "ecs:DeleteTaskDefinitions",
        )?;
    }
    Ok(())
}

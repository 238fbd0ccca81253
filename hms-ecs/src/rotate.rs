//! `hms-ecs rotate-origin-secret`: a new origin-verify value without a 403 window, in two steps around
//! `hms-edge up` (CloudFront sends the secret's current value):
//!
//! 1. `rotate-origin-secret` stages a new random value as the secret's `AWSPENDING` version, has every
//!    listener rule accept it next to the current one, then makes it `AWSCURRENT` (the old one becomes
//!    `AWSPREVIOUS`). A run killed part-way leaves the pending version, which the next run reuses.
//! 2. `hms-edge up` sends the new value and waits for the distribution to be Deployed.
//! 3. `rotate-origin-secret --finish` takes the `AWSPREVIOUS` label off the old version, then has the rules
//!    accept only the current value.
//!
//! The rotation state lives in the secret itself: while a version is labelled `AWSPREVIOUS` the rules
//! accept its value too, so `plan` and `up` between the steps keep both (they plan nothing), and a lost
//! state file loses nothing. Neither step prints a value; the result is `outputs.ecs.origin_verify_rotation`
//! (`rotating`, then `set`).

use hms_core::contract::VerbCtx;
use hms_core::{Error, Result};
use serde_json::{Map, Value as Json};

use crate::addr::Addr;
use crate::apply::header_rule_conditions;
use crate::desired::rule_route;
use crate::secret::{self, Value, CURRENT, PENDING, PREVIOUS};
use crate::{Clients, Ecs};

/// Runs `rotate-origin-secret` (or its `--finish`).
pub async fn rotate(v: &VerbCtx<'_, Ecs>, finish: bool) -> Result<Map<String, Json>> {
    let spec = v.spec;
    let c = &v.tool.clients;
    let Some(name) = &spec.origin_secret else {
        return Err(Error::usage(
            "rotate-origin-secret: ecs.origin_verify is off, so there is no origin secret; set ecs.origin_verify = true and run 'hms-ecs up' first",
        ));
    };
    let recorded = |a: &Addr| {
        v.state
            .and_then(|s| s.id(&a.to_string()))
            .map(str::to_owned)
    };
    let id = recorded(&Addr::OriginSecret).unwrap_or_else(|| name.clone());
    let Some(described) = secret::describe(c, &id).await? else {
        return Err(Error::Refused(format!(
            "{} {name} does not exist; run 'hms-ecs up' first",
            Addr::OriginSecret
        )));
    };
    // Every rule that requires the header, with its path.
    let mut rules = Vec::new();
    for s in &spec.services {
        let Some((_, path)) = rule_route(spec, s) else {
            continue;
        };
        let rule = Addr::Rule(s.key.clone());
        let arn = recorded(&rule).ok_or_else(|| {
            Error::Refused(format!("{rule} is not recorded; run 'hms-ecs up' first"))
        })?;
        rules.push((rule, arn, path));
    }
    let task = v.ctx.ui.task(format!("{} {name}", Addr::OriginSecret));
    let (current, current_version) = secret::staged(c, &id, CURRENT).await?.ok_or_else(|| {
        Error::Refused(format!(
            "{name} holds no current value; run 'hms-ecs up' to make it"
        ))
    })?;
    let mut out = Map::new();
    if finish {
        if let Some(old) = secret::version_with(&described, PREVIOUS) {
            c.secrets
                .update_secret_version_stage()
                .secret_id(&id)
                .version_stage(PREVIOUS)
                .remove_from_version_id(old)
                .send()
                .await
                .map_err(|e| stage_error(name, e))?;
        }
        accept(c, &rules, &[current]).await?;
        task.done("the rules accept only the current origin-verify value");
        out.insert("origin_verify_rotation".into(), Json::from("set"));
        return Ok(out);
    }
    if secret::version_with(&described, PREVIOUS).is_some() {
        return Err(Error::Refused(format!(
            "a rotation of {name} is under way (the rules accept the previous value too): run 'hms-edge up', then 'hms-ecs rotate-origin-secret --finish', before rotating again"
        )));
    }
    let (pending, pending_version) = stage(c, &id, name, &current_version).await?;
    accept(c, &rules, &[current, pending]).await?;
    c.secrets
        .update_secret_version_stage()
        .secret_id(&id)
        .version_stage(CURRENT)
        .move_to_version_id(&pending_version)
        .remove_from_version_id(&current_version)
        .send()
        .await
        .map_err(|e| stage_error(name, e))?;
    c.secrets
        .update_secret_version_stage()
        .secret_id(&id)
        .version_stage(PENDING)
        .remove_from_version_id(&pending_version)
        .send()
        .await
        .map_err(|e| stage_error(name, e))?;
    task.done("a new origin-verify value is current; the rules accept it and the previous one");
    v.ctx.ui.info(format!(
        "{name} now holds the new value: run 'hms-edge up' so that CloudFront sends it (it waits for Deployed), then 'hms-ecs rotate-origin-secret --finish' to stop accepting the old one"
    ));
    out.insert("origin_verify_rotation".into(), Json::from("rotating"));
    Ok(out)
}

fn stage_error<E>(name: &str, e: E) -> Error
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    Error::aws(
        format!("{} {name}", Addr::OriginSecret),
        "secretsmanager:UpdateSecretVersionStage",
        e,
    )
}

/// The new value, staged as `AWSPENDING` (the one an interrupted run staged, if any), and its version.
async fn stage(c: &Clients, id: &str, name: &str, current: &str) -> Result<(Value, String)> {
    if let Some((value, version)) = secret::staged(c, id, PENDING).await? {
        if version != current {
            return Ok((value, version));
        }
    }
    let value = Value::generate()?;
    let out = c
        .secrets
        .put_secret_value()
        .secret_id(id)
        .secret_string(value.expose())
        .version_stages(PENDING)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {name}", Addr::OriginSecret),
                "secretsmanager:PutSecretValue",
                e,
            )
        })?;
    Ok((value, out.version_id().unwrap_or_default().to_owned()))
}

/// Has every rule accept exactly `values` in its header condition (its path unchanged).
async fn accept(c: &Clients, rules: &[(Addr, String, String)], values: &[Value]) -> Result<()> {
    futures::future::try_join_all(rules.iter().map(|(rule, arn, path)| async move {
        c.elb
            .modify_rule()
            .rule_arn(arn)
            .set_conditions(Some(header_rule_conditions(path, values)))
            .send()
            .await
            .map_err(|e| Error::aws(rule.to_string(), "elasticloadbalancing:ModifyRule", e))
    }))
    .await?;
    Ok(())
}

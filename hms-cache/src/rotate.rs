//! `hms-cache rotate-auth`: a new AUTH token in two steps, because ECS tasks read their secrets only when
//! they start.
//!
//! 1. `rotate-auth` stages a new random token as the secret's `AWSPENDING` version, has the replication
//!    group accept it next to the old one (`AuthTokenUpdateStrategy=ROTATE`), then makes it the secret's
//!    `AWSCURRENT` (the old one becomes `AWSPREVIOUS`), and names the services to redeploy: the next
//!    `hms-cache up | hms-ecs up` gives them task definitions pinned to the new version, which roll. A run killed
//!    part-way leaves the pending version, which the next run reuses: no token is ever lost.
//! 2. `rotate-auth --finish`, once every service runs with the new token: the group accepts only the
//!    secret's current token (`SET`).
//!
//! Neither replaces the group or prints the token. The result is `outputs.cache.auth_rotation`
//! (`rotating` or `set`).

use aws_sdk_elasticache::types::AuthTokenUpdateStrategyType;
use hms_core::contract::VerbCtx;
use hms_core::{Error, Result};
use serde_json::{Map, Value};

use crate::addr::Addr;
use crate::apply::{current_token, describe_group, staged_token, wait_available};
use crate::token::Token;
use crate::{Cache, Clients};

/// Runs `rotate-auth` (or its `--finish`).
pub async fn rotate(v: &VerbCtx<'_, Cache>, finish: bool) -> Result<Map<String, Value>> {
    let spec = v.spec;
    let c = &v.tool.clients;
    let recorded = |a: &Addr| {
        v.state
            .and_then(|s| s.id(&a.to_string()))
            .map(str::to_owned)
    };
    let id = recorded(&Addr::ReplicationGroup).unwrap_or_else(|| spec.id.clone());
    let secret = recorded(&Addr::AuthSecret).unwrap_or_else(|| spec.secret_name.clone());
    let group = Addr::ReplicationGroup.to_string();
    if describe_group(c, &id).await?.is_none() {
        return Err(Error::Refused(format!(
            "{group} {id} does not exist; run 'hms-cache up' first"
        )));
    }
    let task = v.ctx.ui.task(format!("{group} {id}"));
    let mut out = Map::new();
    if finish {
        let token = current_token(c, &secret).await?;
        apply(c, &id, &token, AuthTokenUpdateStrategyType::Set).await?;
        wait_available(c, v.ctx.timeout, &task, &group, &id).await?;
        task.done("only the current AUTH token is accepted now (SET)");
        out.insert("auth_rotation".into(), Value::from("set"));
        return Ok(out);
    }
    let (pending, pending_version) = stage(c, &secret).await?;
    apply(c, &id, &pending, AuthTokenUpdateStrategyType::Rotate).await?;
    wait_available(c, v.ctx.timeout, &task, &group, &id).await?;
    promote(c, &secret, &pending_version).await?;
    task.done("a new AUTH token is stored and accepted next to the old one (ROTATE)");
    let services = if spec.readers.is_empty() {
        String::from("the services that read the secret")
    } else {
        format!("the ECS services {}", spec.readers.join(", "))
    };
    v.ctx.ui.info(format!(
        "{} now holds the new token: run 'hms-cache up | hms-ecs up' (new task definitions pin the new version; {services} roll onto it), then 'hms-cache rotate-auth --finish' to stop accepting the old one",
        spec.secret_name
    ));
    out.insert("auth_rotation".into(), Value::from("rotating"));
    out.insert("auth_secret_version".into(), Value::from(pending_version));
    Ok(out)
}

/// The new token, staged as `AWSPENDING` (the one an interrupted run staged, if any), and its version.
async fn stage(c: &Clients, secret: &str) -> Result<(Token, String)> {
    let current = staged_token(c, secret, "AWSCURRENT").await?.map(|(_, v)| v);
    if let Some((token, version)) = staged_token(c, secret, "AWSPENDING").await? {
        if Some(&version) != current.as_ref() {
            return Ok((token, version));
        }
    }
    let token = Token::generate()?;
    let out = c
        .secrets
        .put_secret_value()
        .secret_id(secret)
        .secret_string(token.expose())
        .version_stages("AWSPENDING")
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("secret {secret}"),
                "secretsmanager:PutSecretValue",
                e,
            )
        })?;
    Ok((token, out.version_id().unwrap_or_default().to_owned()))
}

async fn apply(
    c: &Clients,
    id: &str,
    token: &Token,
    strategy: AuthTokenUpdateStrategyType,
) -> Result<()> {
    c.elasticache
        .modify_replication_group()
        .replication_group_id(id)
        .auth_token(token.expose())
        .auth_token_update_strategy(strategy)
        .apply_immediately(true)
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} {id}", Addr::ReplicationGroup),
                "elasticache:ModifyReplicationGroup",
                e,
            )
        })?;
    Ok(())
}

/// Makes the pending version the secret's current one (the old one becomes `AWSPREVIOUS`).
async fn promote(c: &Clients, secret: &str, pending: &str) -> Result<()> {
    let err = |e| {
        Error::aws(
            format!("secret {secret}"),
            "secretsmanager:UpdateSecretVersionStage",
            e,
        )
    };
    let current = staged_token(c, secret, "AWSCURRENT").await?.map(|(_, v)| v);
    if current.as_deref() != Some(pending) {
        c.secrets
            .update_secret_version_stage()
            .secret_id(secret)
            .version_stage("AWSCURRENT")
            .move_to_version_id(pending)
            .set_remove_from_version_id(current)
            .send()
            .await
            .map_err(err)?;
    }
    c.secrets
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage("AWSPENDING")
        .remove_from_version_id(pending)
        .send()
        .await
        .map_err(err)?;
    Ok(())
}

//! IAM roles, their inline policies and the execution role's managed policy attachment.

use std::time::Duration;

use hms_core::apply::Recorder;
use hms_core::aws_tags::IamRoleTags;
use hms_core::diff::{change_tags, Tags};
use hms_core::error::{code_of, deleted};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::{self, TagApi, TagDelta};
use hms_core::{Error, Result};

use super::{after_str, differs, document};
use crate::addr::Addr;
use crate::spec::{Spec, INLINE_POLICY};
use crate::Clients;

/// IAM is eventually consistent: a role created a moment ago can be reported missing by the next call.
/// Retries `call` on exactly that error (NoSuchEntity) for up to 30 s, never on anything else.
async fn iam_retry<T, E, F, Fut>(mut call: F) -> std::result::Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
    E: aws_sdk_iam::error::ProvideErrorMetadata,
{
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    loop {
        match call().await {
            Err(e)
                if code_of(&e) == Some("NoSuchEntity")
                    && started.elapsed() < Duration::from_secs(30) =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

fn iam_tags(a: &str, tags: &Tags) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))
}

/// Creates a role with its trust policy and tags. One of that name already there (a run that died
/// before recording it) is adopted: its trust policy and tags are brought up to the plan's.
pub(super) async fn create_role(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let tags = change_tags(change.after.as_ref());
    let name = after_str(change, "name");
    let trust = document(rec, change, "assume_role_policy")?;
    let r = c
        .iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(&trust)
        .description(format!(
            "{a} of {} {} (hms-security)",
            spec.tagger.id.stack, spec.tagger.id.env
        ))
        .set_tags(Some(iam_tags(a, &tags)?))
        .send()
        .await;
    let arn = match r {
        Ok(o) => o.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
        Err(e) if code_of(&e) == Some("EntityAlreadyExists") => {
            c.iam
                .update_assume_role_policy()
                .role_name(&name)
                .policy_document(&trust)
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:UpdateAssumeRolePolicy", e))?;
            let got = c
                .iam
                .get_role()
                .role_name(&name)
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:GetRole", e))?;
            let role = got.role();
            let have: Tags = role
                .map(|r| {
                    r.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let delta = TagDelta::between(&have, &tags);
            if !delta.is_empty() {
                IamRoleTags(&c.iam)
                    .write(&name, &delta)
                    .await
                    .map_err(|e| e.at(a))?;
            }
            role.map(|r| r.arn().to_owned()).unwrap_or_default()
        }
        Err(e) => return Err(Error::aws(a, "iam:CreateRole", e)),
    };
    Ok(Resource::new(name).with("arn", arn))
}

/// A role changes in place in its trust policy and its tags.
pub(super) async fn update_role(
    c: &Clients,
    rec: &Recorder<'_>,
    id: &str,
    change: &Change,
) -> Result<()> {
    if differs(change, "assume_role_policy") {
        c.iam
            .update_assume_role_policy()
            .role_name(id)
            .policy_document(document(rec, change, "assume_role_policy")?)
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "iam:UpdateAssumeRolePolicy", e))?;
    }
    tags::sync(&IamRoleTags(&c.iam), id, change).await?;
    Ok(())
}

/// Deletes a role, with whatever policies are attached to it or written in it (by the tool or by hand:
/// they would block the delete).
pub(super) async fn delete_role(c: &Clients, change: &Change, id: &str) -> Result<()> {
    let a = change.address.as_str();
    if let Ok(out) = c
        .iam
        .list_attached_role_policies()
        .role_name(id)
        .send()
        .await
    {
        for p in out.attached_policies() {
            if let Some(arn) = p.policy_arn() {
                deleted(
                    c.iam
                        .detach_role_policy()
                        .role_name(id)
                        .policy_arn(arn)
                        .send()
                        .await,
                    a,
                    "iam:DetachRolePolicy",
                )?;
            }
        }
    }
    if let Ok(out) = c.iam.list_role_policies().role_name(id).send().await {
        for p in out.policy_names() {
            deleted(
                c.iam
                    .delete_role_policy()
                    .role_name(id)
                    .policy_name(p)
                    .send()
                    .await,
                a,
                "iam:DeleteRolePolicy",
            )?;
        }
    }
    deleted(
        c.iam.delete_role().role_name(id).send().await,
        a,
        "iam:DeleteRole",
    )
}

/// The role a managed-policy attachment belongs to and the policy's ARN.
fn attachment(addr: &Addr) -> Result<(Addr, &'static str)> {
    addr.attached_to()
        .ok_or_else(|| Error::Internal(format!("{addr}: not a managed-policy attachment")))
}

/// Attaches an AWS-managed policy to its role (the execution role's, the monitoring role's).
pub(super) async fn attach_managed(
    c: &Clients,
    rec: &Recorder<'_>,
    addr: &Addr,
    change: &Change,
) -> Result<Resource> {
    let (role_addr, policy) = attachment(addr)?;
    let role = rec.id(&role_addr.to_string())?;
    iam_retry(|| {
        c.iam
            .attach_role_policy()
            .role_name(&role)
            .policy_arn(policy)
            .send()
    })
    .await
    .map_err(|e| Error::aws(&change.address, "iam:AttachRolePolicy", e))?;
    Ok(Resource::new(policy))
}

pub(super) async fn detach_managed(
    c: &Clients,
    rec: &Recorder<'_>,
    addr: &Addr,
    change: &Change,
) -> Result<()> {
    let (role_addr, policy) = attachment(addr)?;
    let role = rec.id(&role_addr.to_string()).unwrap_or_default();
    deleted(
        c.iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(policy)
            .send()
            .await,
        &change.address,
        "iam:DetachRolePolicy",
    )
}

/// Writes a role's inline policy (create and update alike).
pub(super) async fn put_inline(
    c: &Clients,
    rec: &Recorder<'_>,
    addr: &Addr,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let role_addr = addr
        .policy_role()
        .ok_or_else(|| Error::Internal(format!("{a}: not an inline policy")))?;
    let role = rec.id(&role_addr.to_string())?;
    let doc = document(rec, change, "document")?;
    iam_retry(|| {
        c.iam
            .put_role_policy()
            .role_name(&role)
            .policy_name(INLINE_POLICY)
            .policy_document(&doc)
            .send()
    })
    .await
    .map_err(|e| Error::aws(a, "iam:PutRolePolicy", e))?;
    Ok(Resource::new(format!("{role}:{INLINE_POLICY}")))
}

/// Deletes an inline policy; `id` is `<role>:<policy>`.
pub(super) async fn delete_inline(c: &Clients, change: &Change, id: &str) -> Result<()> {
    let role = id.split(':').next().unwrap_or_default();
    deleted(
        c.iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(INLINE_POLICY)
            .send()
            .await,
        &change.address,
        "iam:DeleteRolePolicy",
    )
}

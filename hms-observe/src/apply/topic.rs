//! The alarm topic and its email subscriptions.

use hms_core::apply::Recorder;
use hms_core::aws_tags::SnsTags;
use hms_core::diff::change_tags;
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::sync;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use super::internal;
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// Creates the topic with its tags, then sets its key; an update sets the key and the tags (its name cannot
/// change in place). The key is set apart from CreateTopic so that a topic a dead run left is adopted
/// (CreateTopic refuses an existing topic with other attributes).
pub(super) async fn put(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    create: bool,
) -> Result<Resource> {
    let arn = if create {
        let tags = change_tags(change.after.as_ref())
            .iter()
            .map(|(k, v)| {
                aws_sdk_sns::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(internal)
            })
            .collect::<Result<Vec<_>>>()?;
        // CreateTopic returns the existing topic's ARN when it already exists (a run that died).
        c.sns
            .create_topic()
            .name(&spec.topic_name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| {
                Error::aws(
                    format!("{} {}", Addr::Topic, spec.topic_name),
                    "sns:CreateTopic",
                    e,
                )
            })?
            .topic_arn()
            .unwrap_or_default()
            .to_owned()
    } else {
        let arn = rec.id(&change.address)?;
        sync(&SnsTags(&c.sns), &arn, change).await?;
        arn
    };
    let get = |v: Option<&serde_json::Value>, k: &str| v.and_then(|v| v.get(k)).cloned();
    let policy = get(change.after.as_ref(), "policy");
    if policy.is_some() && (create || get(change.before.as_ref(), "policy") != policy) {
        // Built from the topic's real ARN (the plan may have shown it before it existed).
        if let Some(doc) = crate::plan::topic_policy(spec, &arn) {
            c.sns
                .set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name("Policy")
                .attribute_value(doc.to_string())
                .send()
                .await
                .map_err(|e| Error::aws(&change.address, "sns:SetTopicAttributes", e))?;
        }
    }
    let key = |v: Option<&serde_json::Value>| get(v, "kms_key");
    let want = key(change.after.as_ref());
    if create || key(change.before.as_ref()) != want {
        // Null: not encrypted (no hms-security in the stack); "" takes a key off.
        let value = want
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        if create && value.is_empty() {
            return Ok(Resource::new(&arn).with("arn", arn.clone()));
        }
        c.sns
            .set_topic_attributes()
            .topic_arn(&arn)
            .attribute_name("KmsMasterKeyId")
            .attribute_value(value)
            .send()
            .await
            .map_err(|e| Error::aws(&change.address, "sns:SetTopicAttributes", e))?;
    }
    Ok(Resource::new(&arn).with("arn", arn.clone()))
}

/// Subscribes `email`; AWS sends it a confirmation.
pub(super) async fn subscribe(
    c: &Clients,
    rec: &Recorder<'_>,
    address: &str,
    email: &str,
    task: &Task<'_>,
) -> Result<Resource> {
    let topic_arn = rec.id(&Addr::Topic.to_string())?;
    let out = c
        .sns
        .subscribe()
        .topic_arn(&topic_arn)
        .protocol("email")
        .endpoint(email)
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| Error::aws(address, "sns:Subscribe", e))?;
    let arn = out
        .subscription_arn()
        .unwrap_or("PendingConfirmation")
        .to_owned();
    if !arn.starts_with("arn:") || arn.to_ascii_lowercase().contains("pending") {
        task.status(&format!("{email} must confirm the email AWS sent"), true);
    }
    Ok(Resource::new(arn))
}

pub(super) async fn delete(c: &Clients, address: &str, arn: &str) -> Result<()> {
    deleted(
        c.sns.delete_topic().topic_arn(arn).send().await,
        address,
        "sns:DeleteTopic",
    )
}

pub(super) async fn unsubscribe(
    c: &Clients,
    address: &str,
    id: &str,
    task: &Task<'_>,
) -> Result<()> {
    if !id.starts_with("arn:") {
        // Unconfirmed subscriptions cannot be removed; AWS drops them after 3 days.
        task.status("not confirmed; AWS removes it after 3 days", true);
        return Ok(());
    }
    match c.sns.unsubscribe().subscription_arn(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        Err(e) => Err(Error::aws(address, "sns:Unsubscribe", e)),
    }
}

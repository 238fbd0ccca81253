//! The alarm topic, its key, its tags and its email subscriptions.

use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{not_ours, Part};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// The topic at `arn`, else (renamed in config) the recorded one, which is then found and replaced rather
/// than orphaned; with its managed subscriptions.
pub(super) async fn observe(
    c: &Clients,
    spec: &Spec,
    state: &State,
    arn: &str,
    recorded: Option<&str>,
) -> Result<Part> {
    let found = topic(c, spec, state, arn).await?;
    if let (None, Some(old)) = (&found, recorded.filter(|a| *a != arn)) {
        if let Some(f) = topic(c, spec, state, old).await? {
            return Ok(f);
        }
    }
    Ok(found.unwrap_or_default())
}

type Subscription = aws_sdk_sns::types::Subscription;

/// `None` when there is no topic at `arn`.
async fn topic(c: &Clients, spec: &Spec, state: &State, arn: &str) -> Result<Option<Part>> {
    let (tags, subs, key) = tokio::try_join!(tags(c, arn), subscriptions(c, arn), key(c, arn))?;
    let (Some(tags), Some(subs), Some(key)) = (tags, subs, key) else {
        return Ok(None);
    };
    let what = format!("{} {arn}", Addr::Topic);
    let recorded = state.id(&Addr::Topic.to_string()) == Some(arn);
    if let Some(c) = not_ours(spec, &Addr::Topic, &what, &tags, recorded) {
        return Ok(Some((FoundSet::new(), vec![c])));
    }
    let name = arn.rsplit(':').next().unwrap_or_default();
    let (key, policy) = key;
    let mut topic = Found::new(arn)
        .attr("name", name)
        .attr("kms_key", key.map(Value::from).unwrap_or(Value::Null));
    // The access policy is managed with the backup bucket in the stack (it lets S3 publish).
    if spec.backup_bucket.is_some() {
        topic = topic.attr(
            "policy",
            policy
                .map(|p| hms_core::policy::normalize(&Value::from(p)))
                .unwrap_or(Value::Null),
        );
    }
    let mut found = FoundSet::from([(Addr::Topic.to_string(), topic.tags(tags).info("arn", arn))]);
    found.extend(subs.iter().filter_map(|s| subscription(spec, state, s)));
    Ok(Some((found, vec![])))
}

/// A managed subscription: only the email subscriptions of the config (or recorded in state) are; anything
/// else on the topic (an HTTPS pager endpoint, a chat integration) is left alone.
fn subscription(spec: &Spec, state: &State, s: &Subscription) -> Option<(String, Found)> {
    if s.protocol() != Some("email") {
        return None;
    }
    let endpoint = s.endpoint().unwrap_or_default().to_owned();
    let address = Addr::subscription(&endpoint).to_string();
    let recorded = state.resources.get(&address);
    if !spec.emails.contains(&endpoint) && recorded.is_none() {
        return None;
    }
    let listed = s.subscription_arn().unwrap_or_default();
    // A pending subscription is listed without its ARN; the one Subscribe returned is in state.
    let id = match recorded {
        Some(r) if !listed.starts_with("arn:") && r.id.starts_with("arn:") => r.id.clone(),
        _ => listed.to_owned(),
    };
    Some((
        address,
        Found::new(&id)
            .attr("protocol", s.protocol().unwrap_or_default())
            .attr("endpoint", endpoint.clone())
            .attr("topic", Addr::Topic.to_string())
            .info("pending", !listed.starts_with("arn:"))
            .uses([Addr::Topic]),
    ))
}

/// The topic's `KmsMasterKeyId` (`None` inside: not encrypted) and its access policy; `None` when the
/// topic does not exist.
async fn key(c: &Clients, arn: &str) -> Result<Option<(Option<String>, Option<String>)>> {
    match c.sns.get_topic_attributes().topic_arn(arn).send().await {
        Ok(o) => {
            let get = |k: &str| {
                o.attributes()
                    .and_then(|a| a.get(k))
                    .filter(|v| !v.is_empty())
                    .cloned()
            };
            Ok(Some((get("KmsMasterKeyId"), get("Policy"))))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {arn}", Addr::Topic),
            "sns:GetTopicAttributes",
            e,
        )),
    }
}

/// `None` when the topic does not exist.
async fn tags(c: &Clients, arn: &str) -> Result<Option<Vec<(String, String)>>> {
    match c
        .sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(o) => Ok(Some(
            o.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        )),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {arn}", Addr::Topic),
            "sns:ListTagsForResource",
            e,
        )),
    }
}

/// `None` when the topic does not exist.
async fn subscriptions(c: &Clients, arn: &str) -> Result<Option<Vec<Subscription>>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        match c
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(o) => {
                out.extend(o.subscriptions().iter().cloned());
                token = o.next_token().map(str::to_owned);
                if token.is_none() {
                    return Ok(Some(out));
                }
            }
            Err(e) if is_gone(code_of(&e)) => return Ok(None),
            Err(e) => {
                return Err(Error::aws(
                    format!("{} {arn}", Addr::Topic),
                    "sns:ListSubscriptionsByTopic",
                    e,
                ))
            }
        }
    }
}

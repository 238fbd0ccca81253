//! KMS keys and their aliases. A key is never deleted at once: `down` schedules its deletion with the
//! longest window.

use std::time::{Duration, SystemTime};

use hms_core::apply::Recorder;
use hms_core::aws_tags::KmsTags;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, Tags};
use hms_core::error::{code_of, deleted};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{after, after_str, differs, document};
use crate::addr::Addr;

/// KMS's longest deletion window: the most time to notice a mistake.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 30;

fn kms_tags(a: &str, tags: &Tags) -> Result<Vec<aws_sdk_kms::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))
}

/// Creates a key with its policy and tags, records it at once (with its region when not the stack's),
/// then turns rotation on.
pub(super) async fn create_key(
    kms: &aws_sdk_kms::Client,
    rec: &Recorder<'_>,
    change: &Change,
    region: Option<&str>,
) -> Result<Resource> {
    let a = change.address.as_str();
    let tags = change_tags(change.after.as_ref());
    let policy = document(rec, change, "policy")?;
    let out = kms
        .create_key()
        .description(after_str(change, "description"))
        .policy(policy)
        .set_tags(Some(kms_tags(a, &tags)?))
        .send()
        .await
        .map_err(|e| Error::aws(a, "kms:CreateKey", e))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| Error::Internal(format!("{a}: CreateKey returned no key")))?;
    let mut res = Resource::new(meta.key_id()).with("arn", meta.arn().unwrap_or_default());
    if let Some(r) = region {
        // The replica key's region: `down` finds it there without the config.
        res = res.with("region", r);
    }
    // Recorded before anything else can fail: a key costs money and must never be lost track of.
    rec.record(a, Some(res.clone())).await?;
    kms.enable_key_rotation()
        .key_id(meta.key_id())
        .send()
        .await
        .map_err(|e| Error::aws(a, "kms:EnableKeyRotation", e))?;
    Ok(res)
}

/// Points the alias at the key `name`; an alias of that name already there is moved to it.
pub(super) async fn create_alias(
    kms: &aws_sdk_kms::Client,
    rec: &Recorder<'_>,
    name: &str,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let key = rec.id(&Addr::key(name).to_string())?;
    let alias = after_str(change, "name");
    match kms
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if code_of(&e) == Some("AlreadyExistsException") => {
            kms.update_alias()
                .alias_name(&alias)
                .target_key_id(&key)
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:UpdateAlias", e))?;
        }
        Err(e) => return Err(Error::aws(a, "kms:CreateAlias", e)),
    }
    Ok(Resource::new(alias))
}

/// Moves the alias `id` back to the key `name`.
pub(super) async fn update_alias(
    kms: &aws_sdk_kms::Client,
    rec: &Recorder<'_>,
    id: &str,
    name: &str,
    change: &Change,
) -> Result<()> {
    let key = rec.id(&Addr::key(name).to_string())?;
    kms.update_alias()
        .alias_name(id)
        .target_key_id(key)
        .send()
        .await
        .map_err(|e| Error::aws(&change.address, "kms:UpdateAlias", e))?;
    Ok(())
}

/// A key changes in place: enabled (a scheduled deletion is cancelled), rotation, policy, description,
/// tags; only what differs is called.
pub(super) async fn update_key(
    kms: &aws_sdk_kms::Client,
    rec: &Recorder<'_>,
    id: &str,
    change: &Change,
) -> Result<()> {
    let a = change.address.as_str();
    if differs(change, "enabled") {
        // A key scheduled for deletion (by hand, or a `down` being undone) is restored.
        match kms.cancel_key_deletion().key_id(id).send().await {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("KMSInvalidStateException") => {}
            Err(e) => return Err(Error::aws(a, "kms:CancelKeyDeletion", e)),
        }
        kms.enable_key()
            .key_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:EnableKey", e))?;
    }
    if differs(change, "rotation") {
        kms.enable_key_rotation()
            .key_id(id)
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:EnableKeyRotation", e))?;
    }
    if differs(change, "policy") {
        kms.put_key_policy()
            .key_id(id)
            .policy_name("default")
            .policy(document(rec, change, "policy")?)
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:PutKeyPolicy", e))?;
    }
    if differs(change, "description") {
        let d = after(change, "description")
            .and_then(Value::as_str)
            .unwrap_or_default();
        kms.update_key_description()
            .key_id(id)
            .description(d)
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:UpdateKeyDescription", e))?;
    }
    tags::sync(&KmsTags(kms), id, change).await?;
    Ok(())
}

pub(super) async fn delete_alias(
    kms: &aws_sdk_kms::Client,
    change: &Change,
    id: &str,
) -> Result<()> {
    deleted(
        kms.delete_alias().alias_name(id).send().await,
        &change.address,
        "kms:DeleteAlias",
    )
}

/// Schedules the key's deletion with the longest window and says how to undo it.
pub(super) async fn delete_key(
    kms: &aws_sdk_kms::Client,
    ctx: &Ctx<'_>,
    change: &Change,
    id: &str,
) -> Result<()> {
    let a = change.address.as_str();
    match kms
        .schedule_key_deletion()
        .key_id(id)
        .pending_window_in_days(KEY_DELETION_WINDOW_DAYS)
        .send()
        .await
    {
        Ok(o) => {
            let when = o
                .deletion_date()
                .and_then(|d| {
                    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(
                        u64::try_from(d.secs()).unwrap_or_default(),
                    ))
                })
                .map(date)
                .unwrap_or_else(|| format!("in {KEY_DELETION_WINDOW_DAYS} days"));
            ctx.ui.info(format!(
                "{a}: key {id} is scheduled for deletion on {when} ({KEY_DELETION_WINDOW_DAYS}-day window); until then `aws kms cancel-key-deletion --key-id {id}` undoes it"
            ));
            Ok(())
        }
        // Already pending deletion, or gone.
        Err(e)
            if matches!(
                code_of(&e),
                Some("KMSInvalidStateException" | "NotFoundException")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::aws(a, "kms:ScheduleKeyDeletion", e)),
    }
}

fn date(t: SystemTime) -> String {
    hms_core::state::rfc3339(t).chars().take(10).collect()
}

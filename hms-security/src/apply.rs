//! Carries out one step of one change, idempotently.

use std::time::{Duration, SystemTime};

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification, UserIdGroupPair,
};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, tag_delta, Tags};
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::plan::{self, render, EXECUTION_MANAGED_POLICY, INLINE_POLICY};
use crate::spec::Spec;
use crate::Clients;

/// KMS's longest deletion window: the most time to notice a mistake.
pub const KEY_DELETION_WINDOW_DAYS: i32 = 30;

fn after<'a>(change: &'a Change, key: &str) -> Option<&'a Value> {
    change.after.as_ref().and_then(|v| v.get(key))
}

fn differs(change: &Change, key: &str) -> bool {
    change.before.as_ref().and_then(|v| v.get(key)) != after(change, key)
}

/// The ARN recorded for the resource at `address`.
fn recorded_arn(rec: &Recorder<'_>, address: &str) -> Option<String> {
    rec.resource(address)
        .and_then(|r| r.attr("arn").map(str::to_owned))
}

/// A policy document from a change's `after`, with ARNs known by now filled in.
fn document(rec: &Recorder<'_>, change: &Change, key: &str) -> Result<String> {
    let doc = after(change, key)
        .ok_or_else(|| Error::Internal(format!("{}: no {key} in plan", change.address)))?;
    let doc = render(doc, &|a| recorded_arn(rec, a));
    let text = doc.to_string();
    if text.contains("${") {
        return Err(Error::Internal(format!(
            "{}: {key} still refers to an unknown ARN: {text}",
            change.address
        )));
    }
    Ok(text)
}

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

/// Runs one step of a change.
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    match step {
        Step::Create => create(c, rec, spec, change).await.map(Some),
        Step::Update => update(c, rec, change).await.map(Some),
        Step::Delete => delete(c, ctx, rec, change).await.map(|()| None),
    }
}

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn iam_tags(a: &str, tags: &Tags) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))
}

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

/// The IpPermission of a rule: from the plan's values (create) or the found rule's raw facts (delete).
fn permission(rec: &Recorder<'_>, v: &Value) -> Result<IpPermission> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let proto = s("protocol");
    let mut p = IpPermission::builder().ip_protocol(&proto);
    if proto != "-1" {
        let recorded = (
            v.get("from_port").and_then(Value::as_i64),
            v.get("to_port").and_then(Value::as_i64),
        );
        let (from, to) = match recorded {
            (Some(f), Some(t)) => (f, t),
            _ => {
                let ports = s("ports");
                let (f, t) = ports.split_once('-').unwrap_or((&ports, &ports));
                let parse = |x: &str| {
                    x.parse::<i64>()
                        .map_err(|_| Error::Internal(format!("rule {v}: bad port range {ports}")))
                };
                (parse(f)?, parse(t)?)
            }
        };
        p = p
            .from_port(i32::try_from(from).unwrap_or(-1))
            .to_port(i32::try_from(to).unwrap_or(-1));
    }
    let peer = s("peer");
    if let Some(group) = peer.strip_prefix("security.sg.").map(|_| peer.clone()) {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(rec.id(&group)?).build());
    } else if peer.starts_with("sg-") {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(&peer).build());
    } else if peer.starts_with("pl-") {
        p = p.prefix_list_ids(
            aws_sdk_ec2::types::PrefixListId::builder()
                .prefix_list_id(&peer)
                .build(),
        );
    } else if peer.contains(':') {
        p = p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&peer).build());
    } else {
        p = p.ip_ranges(IpRange::builder().cidr_ip(&peer).build());
    }
    Ok(p.build())
}

async fn create(c: &Clients, rec: &Recorder<'_>, spec: &Spec, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let tags = change_tags(change.after.as_ref());
    let s = |k: &str| {
        after(change, k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if a.starts_with("security.sg.") {
        let vpc = spec
            .vpc_id
            .clone()
            .ok_or_else(|| Error::Internal(format!("{a}: no VPC id")))?;
        let name = s("name");
        let created = c
            .ec2
            .create_security_group()
            .group_name(&name)
            .description(s("description"))
            .vpc_id(&vpc)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(ec2_tags(&tags)))
                    .build(),
            )
            .send()
            .await;
        let id = match created {
            Ok(o) => o.group_id().unwrap_or_default().to_owned(),
            // Made by a run that died before recording it, or by hand: adopt it by name in this VPC.
            Err(e) if code_of(&e) == Some("InvalidGroup.Duplicate") => {
                let found = c
                    .ec2
                    .describe_security_groups()
                    .filters(Filter::builder().name("vpc-id").values(&vpc).build())
                    .filters(Filter::builder().name("group-name").values(&name).build())
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "ec2:DescribeSecurityGroups", e))?;
                let existing = found.security_groups().first();
                let ours = existing.and_then(|g| {
                    spec.tagger.owned_address(
                        g.tags()
                            .iter()
                            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
                    )
                });
                if ours.as_deref() != Some(a) {
                    return Err(Error::Refused(format!(
                        "{a}: a security group named {name} already exists in {vpc} and is not this stack's; rename or remove it, or use another --stack"
                    )));
                }
                let id = existing
                    .and_then(|g| g.group_id())
                    .unwrap_or_default()
                    .to_owned();
                c.ec2
                    .create_tags()
                    .resources(&id)
                    .set_tags(Some(ec2_tags(&tags)))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "ec2:CreateTags", e))?;
                id
            }
            Err(e) => return Err(Error::aws(a, "ec2:CreateSecurityGroup", e)),
        };
        rec.record(a, Some(Resource::new(&id))).await?;
        // AWS gives every new group an allow-all egress rule; the design allows only what it lists.
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        match c
            .ec2
            .revoke_security_group_egress()
            .group_id(&id)
            .ip_permissions(all)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_gone(code_of(&e)) => {}
            Err(e) => return Err(Error::aws(a, "ec2:RevokeSecurityGroupEgress", e)),
        }
        return Ok(Resource::new(id));
    }
    if a.starts_with("security.rule.") {
        let v = change
            .after
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("{a}: no rule")))?;
        let group_addr = s("group");
        let group = rec.id(&group_addr)?;
        let perm = permission(rec, v)?;
        let egress = after(change, "egress")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let tag_spec = TagSpecification::builder()
            .resource_type(ResourceType::SecurityGroupRule)
            .set_tags(Some(ec2_tags(&spec.tagger.tags(a, None))))
            .build();
        let r = if egress {
            c.ec2
                .authorize_security_group_egress()
                .group_id(&group)
                .ip_permissions(perm)
                .tag_specifications(tag_spec)
                .send()
                .await
                .map(|o| {
                    o.security_group_rules()
                        .first()
                        .and_then(|r| r.security_group_rule_id())
                        .map(str::to_owned)
                })
                .map_err(|e| {
                    (
                        code_of(&e).map(str::to_owned),
                        Error::aws(a, "ec2:AuthorizeSecurityGroupEgress", e),
                    )
                })
        } else {
            c.ec2
                .authorize_security_group_ingress()
                .group_id(&group)
                .ip_permissions(perm)
                .tag_specifications(tag_spec)
                .send()
                .await
                .map(|o| {
                    o.security_group_rules()
                        .first()
                        .and_then(|r| r.security_group_rule_id())
                        .map(str::to_owned)
                })
                .map_err(|e| {
                    (
                        code_of(&e).map(str::to_owned),
                        Error::aws(a, "ec2:AuthorizeSecurityGroupIngress", e),
                    )
                })
        };
        let id = match r {
            Ok(id) => id.unwrap_or_else(|| a.to_owned()),
            Err((Some(code), _)) if code == "InvalidPermission.Duplicate" => a.to_owned(),
            Err((_, e)) => return Err(e),
        };
        return Ok(Resource::new(id).with("group_id", group));
    }
    if a == plan::EXECUTION_ROLE
        || (a.starts_with("security.iam.task_role[") && !a.ends_with(".policy"))
    {
        let name = s("name");
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
                c.iam
                    .get_role()
                    .role_name(&name)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "iam:GetRole", e))?
                    .role()
                    .map(|r| r.arn().to_owned())
                    .unwrap_or_default()
            }
            Err(e) => return Err(Error::aws(a, "iam:CreateRole", e)),
        };
        return Ok(Resource::new(name).with("arn", arn));
    }
    if a == plan::EXECUTION_MANAGED {
        let role = rec.id(plan::EXECUTION_ROLE)?;
        iam_retry(|| {
            c.iam
                .attach_role_policy()
                .role_name(&role)
                .policy_arn(EXECUTION_MANAGED_POLICY)
                .send()
        })
        .await
        .map_err(|e| Error::aws(a, "iam:AttachRolePolicy", e))?;
        return Ok(Resource::new(EXECUTION_MANAGED_POLICY));
    }
    if a.ends_with(".policy") {
        return put_inline(c, rec, change).await;
    }
    if let Some(name) = a.strip_prefix("security.kms.").filter(|n| !n.contains('.')) {
        let policy = document(rec, change, "policy")?;
        let out = c
            .kms
            .create_key()
            .description(s("description"))
            .policy(policy)
            .set_tags(Some(kms_tags(a, &tags)?))
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:CreateKey", e))?;
        let meta = out
            .key_metadata()
            .ok_or_else(|| Error::Internal(format!("{a}: CreateKey returned no key")))?;
        let res = Resource::new(meta.key_id()).with("arn", meta.arn().unwrap_or_default());
        // Recorded before anything else can fail: a key costs money and must never be lost track of.
        rec.record(a, Some(res.clone())).await?;
        c.kms
            .enable_key_rotation()
            .key_id(meta.key_id())
            .send()
            .await
            .map_err(|e| Error::aws(format!("{a} ({name})"), "kms:EnableKeyRotation", e))?;
        return Ok(res);
    }
    if let Some(name) = a
        .strip_prefix("security.kms.")
        .and_then(|n| n.strip_suffix(".alias"))
    {
        let key = rec.id(&plan::key(name))?;
        let alias = s("name");
        match c
            .kms
            .create_alias()
            .alias_name(&alias)
            .target_key_id(&key)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("AlreadyExistsException") => {
                c.kms
                    .update_alias()
                    .alias_name(&alias)
                    .target_key_id(&key)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "kms:UpdateAlias", e))?;
            }
            Err(e) => return Err(Error::aws(a, "kms:CreateAlias", e)),
        }
        return Ok(Resource::new(alias));
    }
    Err(Error::Internal(format!("{a}: unknown address")))
}

async fn put_inline(c: &Clients, rec: &Recorder<'_>, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let role_addr = a.trim_end_matches(".policy");
    let role = rec.id(role_addr)?;
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

async fn update(c: &Clients, rec: &Recorder<'_>, change: &Change) -> Result<Resource> {
    let a = change.address.as_str();
    let id = rec.id(a)?;
    let resource = rec.resource(a).unwrap_or_else(|| Resource::new(&id));
    let (set, remove) = tag_delta(
        &change_tags(change.before.as_ref()),
        &change_tags(change.after.as_ref()),
    );
    let tags_changed = differs(change, "tags");
    if a.starts_with("security.sg.") {
        if tags_changed && !set.is_empty() {
            c.ec2
                .create_tags()
                .resources(&id)
                .set_tags(Some(ec2_tags(&set)))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateTags", e))?;
        }
        if tags_changed && !remove.is_empty() {
            c.ec2
                .delete_tags()
                .resources(&id)
                .set_tags(Some(
                    remove
                        .iter()
                        .map(|k| Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:DeleteTags", e))?;
        }
        return Ok(resource);
    }
    if a.ends_with(".policy") {
        return put_inline(c, rec, change).await;
    }
    if a.starts_with("security.iam.") {
        if differs(change, "assume_role_policy") {
            c.iam
                .update_assume_role_policy()
                .role_name(&id)
                .policy_document(document(rec, change, "assume_role_policy")?)
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:UpdateAssumeRolePolicy", e))?;
        }
        if tags_changed && !set.is_empty() {
            c.iam
                .tag_role()
                .role_name(&id)
                .set_tags(Some(iam_tags(a, &set)?))
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:TagRole", e))?;
        }
        if tags_changed && !remove.is_empty() {
            c.iam
                .untag_role()
                .role_name(&id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:UntagRole", e))?;
        }
        return Ok(resource);
    }
    if let Some(name) = a
        .strip_prefix("security.kms.")
        .and_then(|n| n.strip_suffix(".alias"))
    {
        let key = rec.id(&plan::key(name))?;
        c.kms
            .update_alias()
            .alias_name(&id)
            .target_key_id(key)
            .send()
            .await
            .map_err(|e| Error::aws(a, "kms:UpdateAlias", e))?;
        return Ok(resource);
    }
    if a.starts_with("security.kms.") {
        if differs(change, "enabled") {
            // A key scheduled for deletion (by hand, or a `down` being undone) is restored.
            match c.kms.cancel_key_deletion().key_id(&id).send().await {
                Ok(_) => {}
                Err(e) if code_of(&e) == Some("KMSInvalidStateException") => {}
                Err(e) => return Err(Error::aws(a, "kms:CancelKeyDeletion", e)),
            }
            c.kms
                .enable_key()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:EnableKey", e))?;
        }
        if differs(change, "rotation") {
            c.kms
                .enable_key_rotation()
                .key_id(&id)
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:EnableKeyRotation", e))?;
        }
        if differs(change, "policy") {
            c.kms
                .put_key_policy()
                .key_id(&id)
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
            c.kms
                .update_key_description()
                .key_id(&id)
                .description(d)
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:UpdateKeyDescription", e))?;
        }
        if tags_changed && !set.is_empty() {
            c.kms
                .tag_resource()
                .key_id(&id)
                .set_tags(Some(kms_tags(a, &set)?))
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:TagResource", e))?;
        }
        if tags_changed && !remove.is_empty() {
            c.kms
                .untag_resource()
                .key_id(&id)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(a, "kms:UntagResource", e))?;
        }
        return Ok(resource);
    }
    Err(Error::Internal(format!("{a}: no in-place update")))
}

async fn delete(c: &Clients, ctx: &Ctx<'_>, rec: &Recorder<'_>, change: &Change) -> Result<()> {
    let a = change.address.as_str();
    let Some(res) = rec.resource(a) else {
        return Ok(());
    };
    let id = res.id.clone();
    if a.starts_with("security.sg.") {
        return deleted(
            c.ec2.delete_security_group().group_id(&id).send().await,
            a,
            "ec2:DeleteSecurityGroup",
        );
    }
    if a.starts_with("security.rule.") {
        let before = change.before.clone().unwrap_or(Value::Null);
        let group = res
            .attr("group_id")
            .map(str::to_owned)
            .unwrap_or_else(|| id.split('/').next().unwrap_or_default().to_owned());
        // Rebuild the rule from what was observed (its numbers and its peer's id as recorded).
        let mut v = Value::Object(res.attrs.clone());
        if let (Some(kind), Some(peer_id)) = (res.attr("peer_kind"), res.attr("peer_id")) {
            if kind == "group" {
                v["peer"] = Value::from(peer_id);
            }
        }
        let perm = permission(rec, &v)?;
        let egress = before
            .get("egress")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        return if egress {
            deleted(
                c.ec2
                    .revoke_security_group_egress()
                    .group_id(&group)
                    .ip_permissions(perm)
                    .send()
                    .await,
                a,
                "ec2:RevokeSecurityGroupEgress",
            )
        } else {
            deleted(
                c.ec2
                    .revoke_security_group_ingress()
                    .group_id(&group)
                    .ip_permissions(perm)
                    .send()
                    .await,
                a,
                "ec2:RevokeSecurityGroupIngress",
            )
        };
    }
    if a == plan::EXECUTION_MANAGED {
        let role = rec.id(plan::EXECUTION_ROLE).unwrap_or_default();
        return deleted(
            c.iam
                .detach_role_policy()
                .role_name(role)
                .policy_arn(EXECUTION_MANAGED_POLICY)
                .send()
                .await,
            a,
            "iam:DetachRolePolicy",
        );
    }
    if a.ends_with(".policy") {
        let role = id.split(':').next().unwrap_or_default();
        return deleted(
            c.iam
                .delete_role_policy()
                .role_name(role)
                .policy_name(INLINE_POLICY)
                .send()
                .await,
            a,
            "iam:DeleteRolePolicy",
        );
    }
    if a.starts_with("security.iam.") {
        // Policies attached or written by hand would block the delete: remove them too.
        if let Ok(out) = c
            .iam
            .list_attached_role_policies()
            .role_name(&id)
            .send()
            .await
        {
            for p in out.attached_policies() {
                if let Some(arn) = p.policy_arn() {
                    deleted(
                        c.iam
                            .detach_role_policy()
                            .role_name(&id)
                            .policy_arn(arn)
                            .send()
                            .await,
                        a,
                        "iam:DetachRolePolicy",
                    )?;
                }
            }
        }
        if let Ok(out) = c.iam.list_role_policies().role_name(&id).send().await {
            for p in out.policy_names() {
                deleted(
                    c.iam
                        .delete_role_policy()
                        .role_name(&id)
                        .policy_name(p)
                        .send()
                        .await,
                    a,
                    "iam:DeleteRolePolicy",
                )?;
            }
        }
        return deleted(
            c.iam.delete_role().role_name(&id).send().await,
            a,
            "iam:DeleteRole",
        );
    }
    if a.ends_with(".alias") {
        return deleted(
            c.kms.delete_alias().alias_name(&id).send().await,
            a,
            "kms:DeleteAlias",
        );
    }
    if a.starts_with("security.kms.") {
        match c
            .kms
            .schedule_key_deletion()
            .key_id(&id)
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
                    .map(humantime_date)
                    .unwrap_or_else(|| format!("in {KEY_DELETION_WINDOW_DAYS} days"));
                ctx.ui.info(format!(
                    "{a}: key {id} is scheduled for deletion on {when} ({KEY_DELETION_WINDOW_DAYS}-day window); until then `aws kms cancel-key-deletion --key-id {id}` undoes it"
                ));
                return Ok(());
            }
            // Already pending deletion, or gone.
            Err(e)
                if matches!(
                    code_of(&e),
                    Some("KMSInvalidStateException" | "NotFoundException")
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(Error::aws(a, "kms:ScheduleKeyDeletion", e)),
        }
    }
    Err(Error::Internal(format!("{a}: unknown address")))
}

fn humantime_date(t: SystemTime) -> String {
    hms_core::state::rfc3339(t).chars().take(10).collect()
}

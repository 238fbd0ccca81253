//! Security groups and their rules.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, Tag, TagSpecification,
    UserIdGroupPair,
};
use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::aws_tags::Ec2Tags;
use hms_core::diff::{change_tags, Tags};
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::tags::{self, TagApi, TagDelta};
use hms_core::{Error, Result};
use serde_json::Value;

use super::{after, after_str};
use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Creates a group (or adopts this stack's group of that name) and removes AWS's default egress rule.
pub(super) async fn create_group(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let tags = change_tags(change.after.as_ref());
    let vpc = spec
        .vpc_id
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: no VPC id")))?;
    let name = after_str(change, "name");
    let created = c
        .ec2
        .create_security_group()
        .group_name(&name)
        .description(after_str(change, "description"))
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
            adopt_group(c, spec, a, &vpc, &name, &tags).await?
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
    Ok(Resource::new(id))
}

/// The group named `name` in `vpc`, when its tags say it is this stack's group at `a`; its tags are
/// brought up to `tags`. Anything else of that name is refused.
async fn adopt_group(
    c: &Clients,
    spec: &Spec,
    a: &str,
    vpc: &str,
    name: &str,
    tags: &Tags,
) -> Result<String> {
    let found = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:DescribeSecurityGroups", e))?;
    let existing = found.security_groups().first();
    let pairs = |g: &aws_sdk_ec2::types::SecurityGroup| -> Vec<(String, String)> {
        g.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let have: Tags = existing
        .map(pairs)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let ours = spec
        .tagger
        .owned_address(have.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if ours.as_deref() != Some(a) {
        return Err(Error::Refused(format!(
            "{a}: a security group named {name} already exists in {vpc} and is not this stack's; rename or remove it, or use another --stack"
        )));
    }
    let id = existing
        .and_then(|g| g.group_id())
        .unwrap_or_default()
        .to_owned();
    let delta = TagDelta::between(&have, tags);
    if !delta.is_empty() {
        Ec2Tags(&c.ec2)
            .write(&id, &delta)
            .await
            .map_err(|e| e.at(a))?;
    }
    Ok(id)
}

/// A group changes in place only in its tags.
pub(super) async fn update_group(c: &Clients, id: &str, change: &Change) -> Result<()> {
    tags::sync(&Ec2Tags(&c.ec2), id, change).await?;
    Ok(())
}

pub(super) async fn delete_group(c: &Clients, change: &Change, id: &str) -> Result<()> {
    deleted(
        c.ec2.delete_security_group().group_id(id).send().await,
        &change.address,
        "ec2:DeleteSecurityGroup",
    )
}

/// Authorizes one rule; a duplicate is already there.
pub(super) async fn create_rule(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let v = change
        .after
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("{a}: no rule")))?;
    let group = rec.id(&after_str(change, "group"))?;
    let mut v = v.clone();
    if let Some(name) = after_str(change, "peer").strip_prefix("pl:") {
        v["peer"] = Value::from(prefix_list_id(c, a, name).await?);
    }
    let perm = permission(rec, &v)?;
    let egress = after(change, "egress")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let tag_spec = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroupRule)
        .set_tags(Some(ec2_tags(&spec.tagger.tags(a, None))))
        .build();
    let rule_id = |o: Option<&str>| o.map(str::to_owned);
    let r = if egress {
        c.ec2
            .authorize_security_group_egress()
            .group_id(&group)
            .ip_permissions(perm)
            .tag_specifications(tag_spec)
            .send()
            .await
            .map(|o| {
                rule_id(
                    o.security_group_rules()
                        .first()
                        .and_then(|r| r.security_group_rule_id()),
                )
            })
            .map_err(|e| Error::aws(a, "ec2:AuthorizeSecurityGroupEgress", e))
    } else {
        c.ec2
            .authorize_security_group_ingress()
            .group_id(&group)
            .ip_permissions(perm)
            .tag_specifications(tag_spec)
            .send()
            .await
            .map(|o| {
                rule_id(
                    o.security_group_rules()
                        .first()
                        .and_then(|r| r.security_group_rule_id()),
                )
            })
            .map_err(|e| Error::aws(a, "ec2:AuthorizeSecurityGroupIngress", e))
    };
    let id = match r {
        Ok(id) => id.unwrap_or_else(|| a.to_owned()),
        Err(e) if e.aws_code() == Some("InvalidPermission.Duplicate") => a.to_owned(),
        Err(e) => return Err(e),
    };
    Ok(Resource::new(id).with("group_id", group))
}

/// The id of the AWS-managed prefix list `name` in this region.
async fn prefix_list_id(c: &Clients, a: &str, name: &str) -> Result<String> {
    let out = c
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:DescribeManagedPrefixLists", e))?;
    out.prefix_lists()
        .iter()
        .find_map(|l| l.prefix_list_id())
        .map(str::to_owned)
        .ok_or_else(|| Error::Aws {
            resource: a.to_owned(),
            operation: "ec2:DescribeManagedPrefixLists".into(),
            code: "NotFound".into(),
            message: format!("no managed prefix list named {name} in this region"),
        })
}

/// Revokes one rule, rebuilt from what was observed (its numbers and its peer's id as recorded).
pub(super) async fn delete_rule(
    c: &Clients,
    rec: &Recorder<'_>,
    change: &Change,
    res: &Resource,
) -> Result<()> {
    let a = change.address.as_str();
    let before = change.before.clone().unwrap_or(Value::Null);
    let group = res
        .attr("group_id")
        .map(str::to_owned)
        .unwrap_or_else(|| res.id.split('/').next().unwrap_or_default().to_owned());
    let mut v = Value::Object(res.attrs.clone());
    if let (Some("group" | "prefix_list"), Some(peer_id)) =
        (res.attr("peer_kind"), res.attr("peer_id"))
    {
        v["peer"] = Value::from(peer_id);
    }
    let perm = permission(rec, &v)?;
    let egress = before
        .get("egress")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if egress {
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
    }
}

/// The IpPermission of a rule: from the plan's values (create) or the found rule's raw facts (delete).
/// Its `peer` is one of this stack's group addresses, another group's or a prefix list's id, or a CIDR.
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
    p = if let Some(group @ Addr::Group(_)) = Addr::parse(&peer) {
        p.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(rec.id(&group.to_string())?)
                .build(),
        )
    } else if peer.starts_with("sg-") {
        p.user_id_group_pairs(UserIdGroupPair::builder().group_id(&peer).build())
    } else if peer.starts_with("pl-") {
        p.prefix_list_ids(PrefixListId::builder().prefix_list_id(&peer).build())
    } else if peer.contains(':') {
        p.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(&peer).build())
    } else {
        p.ip_ranges(IpRange::builder().cidr_ip(&peer).build())
    };
    Ok(p.build())
}

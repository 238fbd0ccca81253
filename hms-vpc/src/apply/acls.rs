//! The network ACLs, their rules and the subnets' associations with them.
//!
//! A subnet is always associated with exactly one ACL (the VPC's default one unless told otherwise), so an
//! association is made by replacing the subnet's current one and removed by moving the subnet back to
//! the default ACL (before its ACL is deleted: an ACL with subnets cannot be).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, NetworkAcl, PortRange, ResourceType, RuleAction};
use hms_core::error::{code_of, deleted};
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::Job;
use crate::addr::{Addr, Tier};
use crate::spec::{rule_number, AclRule};

pub(super) async fn create_acl(job: &Job<'_>, tier: Tier) -> Result<Resource> {
    let out = job
        .c
        .ec2
        .create_network_acl()
        .vpc_id(job.id(&Addr::Vpc)?)
        .tag_specifications(job.tag_spec(ResourceType::NetworkAcl))
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:CreateNetworkAcl", e))?;
    let id = out
        .network_acl()
        .and_then(|n| n.network_acl_id())
        .unwrap_or_default()
        .to_owned();
    // Recorded before its rules: a run stopped in between finds the ACL and adds what is missing.
    job.rec.record(job.a(), Some(Resource::new(&id))).await?;
    put_rules(job, tier, &id, &BTreeMap::new(), &BTreeMap::new()).await?;
    Ok(Resource::new(id))
}

pub(super) async fn update_acl(job: &Job<'_>, tier: Tier, resource: Resource) -> Result<Resource> {
    if job.differs("ingress") || job.differs("egress") {
        let before = |key: &str| -> BTreeMap<i32, String> {
            job.before(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .filter_map(|w| rule_number(w).map(|n| (n, w.to_owned())))
                .collect()
        };
        put_rules(
            job,
            tier,
            &resource.id,
            &before("ingress"),
            &before("egress"),
        )
        .await?;
    }
    Ok(resource)
}

/// Makes the ACL's rules the spec's: each rule created, or replaced when its number holds another rule;
/// a number the spec does not use (a rule added by hand) deleted. `ingress`/`egress`: what it holds now.
async fn put_rules(
    job: &Job<'_>,
    tier: Tier,
    id: &str,
    ingress: &BTreeMap<i32, String>,
    egress: &BTreeMap<i32, String>,
) -> Result<()> {
    let want = job.spec.acl_rules(tier);
    for (egress_side, rules, have) in [
        (false, &want.ingress, ingress),
        (true, &want.egress, egress),
    ] {
        for n in have
            .keys()
            .filter(|n| !rules.iter().any(|r| r.number == **n))
        {
            deleted(
                job.c
                    .ec2
                    .delete_network_acl_entry()
                    .network_acl_id(id)
                    .rule_number(*n)
                    .egress(egress_side)
                    .send()
                    .await,
                &format!("{} rule {n}", job.a()),
                "ec2:DeleteNetworkAclEntry",
            )?;
        }
        for r in rules {
            match have.get(&r.number) {
                Some(w) if *w == r.to_string() => {}
                Some(_) => replace_entry(job, id, egress_side, r).await?,
                None => create_entry(job, id, egress_side, r).await?,
            }
        }
    }
    Ok(())
}

fn action(r: &AclRule) -> RuleAction {
    if r.allow {
        RuleAction::Allow
    } else {
        RuleAction::Deny
    }
}

fn ports(r: &AclRule) -> Option<PortRange> {
    r.ports
        .map(|(from, to)| PortRange::builder().from(from).to(to).build())
}

async fn create_entry(job: &Job<'_>, id: &str, egress: bool, r: &AclRule) -> Result<()> {
    match job
        .c
        .ec2
        .create_network_acl_entry()
        .network_acl_id(id)
        .rule_number(r.number)
        .protocol(r.protocol())
        .rule_action(action(r))
        .egress(egress)
        .cidr_block(&r.cidr)
        .set_port_range(ports(r))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Made by a run stopped before it recorded the rules: make sure it is ours.
        Err(e) if code_of(&e) == Some("NetworkAclEntryAlreadyExists") => {
            replace_entry(job, id, egress, r).await
        }
        Err(e) => Err(Error::aws(
            format!("{} rule {}", job.a(), r.number),
            "ec2:CreateNetworkAclEntry",
            e,
        )),
    }
}

async fn replace_entry(job: &Job<'_>, id: &str, egress: bool, r: &AclRule) -> Result<()> {
    job.c
        .ec2
        .replace_network_acl_entry()
        .network_acl_id(id)
        .rule_number(r.number)
        .protocol(r.protocol())
        .rule_action(action(r))
        .egress(egress)
        .cidr_block(&r.cidr)
        .set_port_range(ports(r))
        .send()
        .await
        .map_err(|e| {
            Error::aws(
                format!("{} rule {}", job.a(), r.number),
                "ec2:ReplaceNetworkAclEntry",
                e,
            )
        })?;
    Ok(())
}

pub(super) async fn delete_acl(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .delete_network_acl()
            .network_acl_id(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DeleteNetworkAcl",
    )
}

/// The ACLs of the VPC that match `filter` (one DescribeNetworkAcls call).
async fn acls(job: &Job<'_>, filter: Filter) -> Result<Vec<NetworkAcl>> {
    let out = job
        .c
        .ec2
        .describe_network_acls()
        .filters(
            Filter::builder()
                .name("vpc-id")
                .values(job.id(&Addr::Vpc)?)
                .build(),
        )
        .filters(filter)
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:DescribeNetworkAcls", e))?;
    Ok(out.network_acls().to_vec())
}

/// The subnet's current association id, whichever ACL holds it.
async fn association_of(job: &Job<'_>, subnet: &str) -> Result<Option<String>> {
    let held = acls(
        job,
        Filter::builder()
            .name("association.subnet-id")
            .values(subnet)
            .build(),
    )
    .await?;
    Ok(held
        .iter()
        .flat_map(|a| a.associations())
        .find(|x| x.subnet_id() == Some(subnet))
        .and_then(|x| x.network_acl_association_id())
        .map(str::to_owned))
}

/// Moves the subnet's association to `acl`; its new association id.
async fn move_to(job: &Job<'_>, subnet: &str, acl: &str) -> Result<Option<String>> {
    let Some(current) = association_of(job, subnet).await? else {
        // A subnet always has one; none means it is gone.
        return Ok(None);
    };
    let out = job
        .c
        .ec2
        .replace_network_acl_association()
        .association_id(&current)
        .network_acl_id(acl)
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:ReplaceNetworkAclAssociation", e))?;
    Ok(Some(
        out.new_association_id().unwrap_or(&current).to_owned(),
    ))
}

/// Associates the tier's subnet in `az` with the tier's ACL (also the update: it is the same move).
pub(super) async fn associate(job: &Job<'_>, tier: Tier, az: &str) -> Result<Resource> {
    let subnet = job.id(&Addr::subnet(tier, az))?;
    let acl = job.id(&Addr::Nacl(tier))?;
    let id = move_to(job, &subnet, &acl)
        .await?
        .ok_or_else(|| Error::Aws {
            resource: format!("{} {subnet}", job.a()),
            operation: "ec2:DescribeNetworkAcls".into(),
            code: "InvalidSubnetID.NotFound".into(),
            message: "the subnet has no network ACL association (was it deleted meanwhile?)".into(),
        })?;
    Ok(Resource::new(id).with("subnet_id", subnet))
}

/// Moves the subnet back to the VPC's default ACL; nothing when the subnet or the VPC is gone.
pub(super) async fn disassociate(job: &Job<'_>, res: &Resource) -> Result<()> {
    let subnet = res
        .attrs
        .get("subnet_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(subnet) = subnet.or_else(|| {
        let Some(Addr::NaclAssoc(tier, az)) = <Addr as hms_core::addr::Address>::parse(job.a())
        else {
            return None;
        };
        job.rec.id(&Addr::subnet(tier, &az).to_string()).ok()
    }) else {
        return Ok(());
    };
    if job.rec.id(&Addr::Vpc.to_string()).is_err() {
        return Ok(());
    }
    let default = acls(
        job,
        Filter::builder().name("default").values("true").build(),
    )
    .await?;
    let Some(default) = default.first().and_then(|a| a.network_acl_id()) else {
        return Ok(());
    };
    move_to(job, &subnet, default).await?;
    Ok(())
}

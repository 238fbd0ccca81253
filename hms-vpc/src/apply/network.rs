//! The VPC, its default security group and the subnets.

use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};
use hms_core::aws_tags::Ec2Tags;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::tags::sync;
use hms_core::{Error, Result};

use super::Job;
use crate::addr::{Addr, Tier};

pub(super) async fn create_vpc(job: &Job<'_>) -> Result<Resource> {
    let a = job.a();
    let out = job
        .c
        .ec2
        .create_vpc()
        .cidr_block(job.spec.cidr.to_string())
        .tag_specifications(job.tag_spec(ResourceType::Vpc))
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:CreateVpc", e))?;
    let id = out
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    // Record at once: the attributes below can fail, and the VPC must not be lost.
    job.rec.record(a, Some(Resource::new(&id))).await?;
    set_dns(job, &id).await?;
    Ok(Resource::new(id))
}

pub(super) async fn update_vpc(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("enable_dns_support") || job.differs("enable_dns_hostnames") {
        set_dns(job, &resource.id).await?;
    }
    Ok(resource)
}

pub(super) async fn delete_vpc(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c.ec2.delete_vpc().vpc_id(&res.id).send().await,
        job.a(),
        "ec2:DeleteVpc",
    )
}

async fn set_dns(job: &Job<'_>, vpc: &str) -> Result<()> {
    // The API takes one attribute per call.
    for hostnames in [false, true] {
        let mut call = job.c.ec2.modify_vpc_attribute().vpc_id(vpc);
        let on = AttributeBooleanValue::builder().value(true).build();
        call = if hostnames {
            call.enable_dns_hostnames(on)
        } else {
            call.enable_dns_support(on)
        };
        call.send()
            .await
            .map_err(|e| Error::aws(job.a(), "ec2:ModifyVpcAttribute", e))?;
    }
    Ok(())
}

/// The default security group comes with the VPC: adopted, stripped of its rules and tagged.
pub(super) async fn adopt_default_sg(job: &Job<'_>) -> Result<Resource> {
    let resource = strip_default_sg(job).await?;
    sync(&Ec2Tags(&job.c.ec2), &resource.id, job.change).await?;
    Ok(resource)
}

pub(super) async fn update_default_sg(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("ingress_rules") || job.differs("egress_rules") {
        return strip_default_sg(job).await;
    }
    Ok(resource)
}

async fn strip_default_sg(job: &Job<'_>) -> Result<Resource> {
    let (a, ec2) = (job.a(), &job.c.ec2);
    let vpc = job.id(&Addr::Vpc)?;
    let sgs = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(&vpc).build())
        .filters(
            Filter::builder()
                .name("group-name")
                .values("default")
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:DescribeSecurityGroups", e))?;
    let sg = sgs
        .security_groups()
        .first()
        .ok_or_else(|| Error::Internal(format!("{a}: VPC {vpc} has no default security group")))?;
    let id = sg.group_id().unwrap_or_default().to_owned();
    if !sg.ip_permissions().is_empty() {
        ec2.revoke_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(sg.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws(a, "ec2:RevokeSecurityGroupIngress", e))?;
    }
    if !sg.ip_permissions_egress().is_empty() {
        ec2.revoke_security_group_egress()
            .group_id(&id)
            .set_ip_permissions(Some(sg.ip_permissions_egress().to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws(a, "ec2:RevokeSecurityGroupEgress", e))?;
    }
    Ok(Resource::new(id)
        .with("ingress_rules", 0)
        .with("egress_rules", 0))
}

pub(super) async fn create_subnet(job: &Job<'_>, tier: Tier, az: &str) -> Result<Resource> {
    let a = job.a();
    let zone = job
        .spec
        .azs
        .iter()
        .find(|z| z.name == az)
        .ok_or_else(|| Error::Internal(format!("{a}: no such AZ in spec")))?;
    let cidr = match tier {
        Tier::Public => zone.public,
        Tier::Private => zone.private,
    };
    let out = job
        .c
        .ec2
        .create_subnet()
        .vpc_id(job.id(&Addr::Vpc)?)
        .cidr_block(cidr.to_string())
        .availability_zone(az)
        .tag_specifications(job.tag_spec(ResourceType::Subnet))
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:CreateSubnet", e))?;
    Ok(Resource::new(
        out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default(),
    ))
}

pub(super) async fn update_subnet(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("map_public_ip_on_launch") {
        job.c
            .ec2
            .modify_subnet_attribute()
            .subnet_id(&resource.id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map_err(|e| Error::aws(job.a(), "ec2:ModifySubnetAttribute", e))?;
    }
    Ok(resource)
}

pub(super) async fn delete_subnet(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c.ec2.delete_subnet().subnet_id(&res.id).send().await,
        job.a(),
        "ec2:DeleteSubnet",
    )
}

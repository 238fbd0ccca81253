//! The internet gateway, the NAT gateways' Elastic IPs and the NAT gateways (with their waits).

use aws_sdk_ec2::types::{DomainType, ResourceType};
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};

use super::Job;
use crate::addr::{Addr, Tier};
use crate::Clients;

pub(super) async fn create_igw(job: &Job<'_>) -> Result<Resource> {
    let a = job.a();
    let out = job
        .c
        .ec2
        .create_internet_gateway()
        .tag_specifications(job.tag_spec(ResourceType::InternetGateway))
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:CreateInternetGateway", e))?;
    let id = out
        .internet_gateway()
        .and_then(|g| g.internet_gateway_id())
        .unwrap_or_default()
        .to_owned();
    job.rec.record(a, Some(Resource::new(&id))).await?;
    attach_igw(job, &id).await?;
    Ok(Resource::new(id))
}

pub(super) async fn update_igw(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("attached_to") {
        attach_igw(job, &resource.id).await?;
    }
    Ok(resource)
}

async fn attach_igw(job: &Job<'_>, igw: &str) -> Result<()> {
    match job
        .c
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(job.id(&Addr::Vpc)?)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("Resource.AlreadyAssociated") => Ok(()),
        Err(e) => Err(Error::aws(job.a(), "ec2:AttachInternetGateway", e)),
    }
}

pub(super) async fn delete_igw(job: &Job<'_>, res: &Resource) -> Result<()> {
    let (a, ec2) = (job.a(), &job.c.ec2);
    let vpc = res
        .attr("vpc_id")
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| job.rec.resource(&Addr::Vpc.to_string()).map(|r| r.id));
    if let Some(vpc) = vpc {
        match ec2
            .detach_internet_gateway()
            .internet_gateway_id(&res.id)
            .vpc_id(&vpc)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_gone(code_of(&e)) || code_of(&e) == Some("Gateway.NotAttached") => {}
            Err(e) => return Err(Error::aws(a, "ec2:DetachInternetGateway", e)),
        }
    }
    deleted(
        ec2.delete_internet_gateway()
            .internet_gateway_id(&res.id)
            .send()
            .await,
        a,
        "ec2:DeleteInternetGateway",
    )
}

pub(super) async fn allocate_eip(job: &Job<'_>) -> Result<Resource> {
    let out = job
        .c
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(job.tag_spec(ResourceType::ElasticIp))
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:AllocateAddress", e))?;
    Ok(Resource::new(out.allocation_id().unwrap_or_default())
        .with("public_ip", out.public_ip().unwrap_or_default()))
}

pub(super) async fn release_eip(job: &Job<'_>, res: &Resource) -> Result<()> {
    match job
        .c
        .ec2
        .release_address()
        .allocation_id(&res.id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) || code_of(&e) == Some("InvalidAllocationID.NotFound") => {
            Ok(())
        }
        Err(e) => Err(Error::aws(job.a(), "ec2:ReleaseAddress", e)),
    }
}

pub(super) async fn create_nat(job: &Job<'_>, az: &str) -> Result<Resource> {
    let a = job.a();
    let out = job
        .c
        .ec2
        .create_nat_gateway()
        .subnet_id(job.id(&Addr::subnet(Tier::Public, az))?)
        .allocation_id(job.id(&Addr::eip(az))?)
        .tag_specifications(job.tag_spec(ResourceType::Natgateway))
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:CreateNatGateway", e))?;
    let id = out
        .nat_gateway()
        .and_then(|n| n.nat_gateway_id())
        .unwrap_or_default()
        .to_owned();
    // Recorded before the wait: a timeout or a kill leaves it in state, and the next run resumes.
    job.rec
        .record(a, Some(Resource::new(&id).with("state", "pending")))
        .await?;
    let public_ip = wait_nat(job.c, job.ctx.patience(), job.task, a, &id, "available").await?;
    Ok(Resource::new(id)
        .with("public_ip", public_ip.unwrap_or_default())
        .with("state", "available"))
}

/// A NAT gateway still pending (a run that timed out or died while waiting): waited for now.
pub(super) async fn update_nat(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if !job.differs("state") {
        return Ok(resource);
    }
    let ip = wait_nat(
        job.c,
        job.ctx.patience(),
        job.task,
        job.a(),
        &resource.id,
        "available",
    )
    .await?;
    Ok(resource
        .with("public_ip", ip.unwrap_or_default())
        .with("state", "available"))
}

pub(super) async fn delete_nat(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DeleteNatGateway",
    )?;
    // Its EIP can only be released once the NAT gateway is gone.
    wait_nat(
        job.c,
        job.ctx.timeout,
        job.task,
        job.a(),
        &res.id,
        "deleted",
    )
    .await
    .map(|_| ())
}

/// Waits until the NAT gateway reaches `want` (`available` or `deleted`); returns its public IP. A wait
/// for `available` defers in an overlapped pipeline's early pass (`ctx.patience()`: the gateway is in
/// state and its plan resumes the wait); a deletion is always waited for (`ctx.timeout`).
pub async fn wait_nat(
    c: &Clients,
    patience: impl Into<hms_core::ui::Patience>,
    task: &Task<'_>,
    a: &str,
    id: &str,
    want: &str,
) -> Result<Option<String>> {
    let what = format!("NAT gateway {id} is {want}");
    wait_until(task, a, &what, patience, || async {
        let out = match c
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is_gone(code_of(&e)) || code_of(&e) == Some("NatGatewayNotFound") => {
                return if want == "deleted" {
                    Ok(Some(None))
                } else {
                    Err(Error::aws(a, "ec2:DescribeNatGateways", e))
                };
            }
            Err(e) => return Err(Error::aws(a, "ec2:DescribeNatGateways", e)),
        };
        let Some(n) = out.nat_gateways().first() else {
            return Ok((want == "deleted").then_some(None));
        };
        let state = n.state().map(|s| s.as_str()).unwrap_or_default();
        if state == want {
            return Ok(Some(
                n.nat_gateway_addresses()
                    .iter()
                    .find_map(|x| x.public_ip().map(str::to_owned)),
            ));
        }
        if state == "failed" {
            return Err(Error::Aws {
                resource: a.to_owned(),
                operation: "ec2:CreateNatGateway".into(),
                code: n.failure_code().unwrap_or("Failed").to_owned(),
                message: n
                    .failure_message()
                    .unwrap_or("NAT gateway failed")
                    .to_owned(),
            });
        }
        Ok(None)
    })
    .await
}

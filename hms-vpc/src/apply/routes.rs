//! The route tables, their default routes and the subnets' associations.

use aws_sdk_ec2::types::{Filter, ResourceType};
use hms_core::error::{code_of, deleted};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::Job;
use crate::addr::{Addr, Tier};

pub(super) async fn create_table(job: &Job<'_>) -> Result<Resource> {
    let out = job
        .c
        .ec2
        .create_route_table()
        .vpc_id(job.id(&Addr::Vpc)?)
        .tag_specifications(job.tag_spec(ResourceType::RouteTable))
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:CreateRouteTable", e))?;
    Ok(Resource::new(
        out.route_table()
            .and_then(|r| r.route_table_id())
            .unwrap_or_default(),
    ))
}

pub(super) async fn delete_table(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .delete_route_table()
            .route_table_id(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DeleteRouteTable",
    )
}

pub(super) async fn update_route(
    job: &Job<'_>,
    route: &Addr,
    resource: Resource,
) -> Result<Resource> {
    if job.differs("target") {
        return put_route(job, route, true).await;
    }
    Ok(resource)
}

/// Creates (or with `replace` re-points) a table's default route: public → IGW, private → its NAT.
pub(super) async fn put_route(job: &Job<'_>, route: &Addr, replace: bool) -> Result<Resource> {
    let a = job.a();
    let (table, target_addr) = match route {
        Addr::RoutePublic => (job.id(&Addr::RouteTablePublic)?, Addr::Igw),
        Addr::RoutePrivate(az) => {
            let nat_az = job
                .spec
                .nat_for(az)
                .ok_or_else(|| Error::Internal(format!("{a}: no NAT for {az}")))?;
            (job.id(&Addr::rt_private(az))?, Addr::nat(nat_az))
        }
        _ => return Err(Error::Internal(format!("{a} is not a route"))),
    };
    let target = job.id(&target_addr)?;
    let is_nat = matches!(route, Addr::RoutePrivate(_));
    let ec2 = &job.c.ec2;
    let send_create = || {
        let call = ec2
            .create_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0");
        if is_nat {
            call.nat_gateway_id(&target)
        } else {
            call.gateway_id(&target)
        }
        .send()
    };
    let send_replace = || {
        let call = ec2
            .replace_route()
            .route_table_id(&table)
            .destination_cidr_block("0.0.0.0/0");
        if is_nat {
            call.nat_gateway_id(&target)
        } else {
            call.gateway_id(&target)
        }
        .send()
    };
    if replace {
        send_replace()
            .await
            .map_err(|e| Error::aws(a, "ec2:ReplaceRoute", e))?;
    } else {
        match send_create().await {
            Ok(_) => {}
            Err(e) if code_of(&e) == Some("RouteAlreadyExists") => {
                send_replace()
                    .await
                    .map_err(|e| Error::aws(a, "ec2:ReplaceRoute", e))?;
            }
            Err(e) => return Err(Error::aws(a, "ec2:CreateRoute", e)),
        }
    }
    Ok(Resource::new(format!("{table}_0.0.0.0/0"))
        .with("destination", "0.0.0.0/0")
        .with("target", target_addr.to_string())
        .with("route_table_id", table)
        .with("target_id", target))
}

pub(super) async fn delete_route(job: &Job<'_>, res: &Resource) -> Result<()> {
    // A record without the table's id still has it in its own: `<table>_0.0.0.0/0`.
    let table = res
        .attr("route_table_id")
        .map(str::to_owned)
        .unwrap_or_else(|| res.id.split('_').next().unwrap_or_default().to_owned());
    deleted(
        job.c
            .ec2
            .delete_route()
            .route_table_id(table)
            .destination_cidr_block("0.0.0.0/0")
            .send()
            .await,
        job.a(),
        "ec2:DeleteRoute",
    )
}

pub(super) async fn associate(job: &Job<'_>, tier: Tier, az: &str) -> Result<Resource> {
    let (a, ec2) = (job.a(), &job.c.ec2);
    let table = job.id(&Addr::table_of(tier, az))?;
    let subnet = job.id(&Addr::subnet(tier, az))?;
    match ec2
        .associate_route_table()
        .route_table_id(&table)
        .subnet_id(&subnet)
        .send()
        .await
    {
        Ok(out) => Ok(Resource::new(out.association_id().unwrap_or_default())),
        // The subnet is associated elsewhere (by hand, or a run killed mid-way): move it here.
        Err(e) if code_of(&e) == Some("Resource.AlreadyAssociated") => {
            let assoc = find_association(job, &subnet).await?;
            let out = ec2
                .replace_route_table_association()
                .association_id(&assoc)
                .route_table_id(&table)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:ReplaceRouteTableAssociation", e))?;
            Ok(Resource::new(out.new_association_id().unwrap_or(&assoc)))
        }
        Err(e) => Err(Error::aws(a, "ec2:AssociateRouteTable", e)),
    }
}

pub(super) async fn update_association(
    job: &Job<'_>,
    tier: Tier,
    az: &str,
    resource: Resource,
) -> Result<Resource> {
    if !job.differs("route_table") {
        return Ok(resource);
    }
    let out = job
        .c
        .ec2
        .replace_route_table_association()
        .association_id(&resource.id)
        .route_table_id(job.id(&Addr::table_of(tier, az))?)
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:ReplaceRouteTableAssociation", e))?;
    Ok(Resource::new(
        out.new_association_id().unwrap_or(&resource.id),
    ))
}

async fn find_association(job: &Job<'_>, subnet: &str) -> Result<String> {
    let a = job.a();
    let out = job
        .c
        .ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(subnet)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::aws(a, "ec2:DescribeRouteTables", e))?;
    out.route_tables()
        .iter()
        .flat_map(|r| r.associations())
        .find(|x| x.subnet_id() == Some(subnet))
        .and_then(|x| x.route_table_association_id())
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::Internal(format!(
                "{a}: subnet {subnet} is associated but the association was not found"
            ))
        })
}

pub(super) async fn disassociate(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .disassociate_route_table()
            .association_id(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DisassociateRouteTable",
    )
}

//! Carries out one step of one change. Every step is idempotent: an existing resource is adopted, a
//! missing one on delete is done; tags are set at creation so that a run killed before its state write
//! is adopted by the next run instead of duplicated.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, FlowLogsResourceType, LogDestinationType,
    ResourceType, Tag, TagSpecification, TrafficType, VpcEndpointType,
};
use hms_core::apply::Recorder;
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, tag_delta, Tags};
use hms_core::error::{code_of, deleted, is_gone};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::{self, Kind, Tier};
use crate::plan::{role_policy, trust_policy, ROLE_POLICY_NAME};
use crate::spec::Spec;
use crate::Clients;

fn tag_spec(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(ec2_tags(tags)))
        .build()
}

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn after<'a>(change: &'a Change, key: &str) -> Option<&'a Value> {
    change.after.as_ref().and_then(|v| v.get(key))
}

fn before<'a>(change: &'a Change, key: &str) -> Option<&'a Value> {
    change.before.as_ref().and_then(|v| v.get(key))
}

fn differs(change: &Change, key: &str) -> bool {
    before(change, key) != after(change, key)
}

/// Runs one step of a change.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let a = change.address.as_str();
    let kind = addr::kind(a).ok_or_else(|| Error::Internal(format!("unknown address {a}")))?;
    let tags = change_tags(change.after.as_ref());
    match step {
        Step::Delete => delete(c, ctx, rec, &kind, a, task).await.map(|()| None),
        Step::Create => create(c, ctx, rec, spec, &kind, a, &tags, task)
            .await
            .map(Some),
        Step::Update => update(c, ctx, rec, spec, &kind, a, change, task)
            .await
            .map(Some),
    }
}

#[allow(clippy::too_many_arguments)]
async fn create(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    kind: &Kind,
    a: &str,
    tags: &Tags,
    task: &Task<'_>,
) -> Result<Resource> {
    let ec2 = &c.ec2;
    match kind {
        Kind::Vpc => {
            let out = ec2
                .create_vpc()
                .cidr_block(spec.cidr.to_string())
                .tag_specifications(tag_spec(ResourceType::Vpc, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateVpc", e))?;
            let id = out
                .vpc()
                .and_then(|v| v.vpc_id())
                .unwrap_or_default()
                .to_owned();
            // Record at once: the attributes below can fail, and the VPC must not be lost.
            rec.record(a, Some(Resource::new(&id))).await?;
            set_dns(c, a, &id).await?;
            Ok(Resource::new(id))
        }
        Kind::DefaultSg => {
            let vpc = rec.id(addr::VPC)?;
            strip_default_sg(c, a, &vpc).await
        }
        Kind::Subnet(tier, az) => {
            let zone = spec
                .azs
                .iter()
                .find(|z| &z.name == az)
                .ok_or_else(|| Error::Internal(format!("{a}: no such AZ in spec")))?;
            let cidr = match tier {
                Tier::Public => zone.public,
                Tier::Private => zone.private,
            };
            let out = ec2
                .create_subnet()
                .vpc_id(rec.id(addr::VPC)?)
                .cidr_block(cidr.to_string())
                .availability_zone(az)
                .tag_specifications(tag_spec(ResourceType::Subnet, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateSubnet", e))?;
            Ok(Resource::new(
                out.subnet().and_then(|s| s.subnet_id()).unwrap_or_default(),
            ))
        }
        Kind::Igw => {
            let out = ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateInternetGateway", e))?;
            let id = out
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .unwrap_or_default()
                .to_owned();
            rec.record(a, Some(Resource::new(&id))).await?;
            attach_igw(c, a, &id, &rec.id(addr::VPC)?).await?;
            Ok(Resource::new(id))
        }
        Kind::Eip(_) => {
            let out = ec2
                .allocate_address()
                .domain(DomainType::Vpc)
                .tag_specifications(tag_spec(ResourceType::ElasticIp, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:AllocateAddress", e))?;
            Ok(Resource::new(out.allocation_id().unwrap_or_default())
                .with("public_ip", out.public_ip().unwrap_or_default()))
        }
        Kind::Nat(az) => {
            let out = ec2
                .create_nat_gateway()
                .subnet_id(rec.id(&addr::subnet(Tier::Public, az))?)
                .allocation_id(rec.id(&addr::eip(az))?)
                .tag_specifications(tag_spec(ResourceType::Natgateway, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateNatGateway", e))?;
            let id = out
                .nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .unwrap_or_default()
                .to_owned();
            // Recorded before the wait: a timeout or a kill leaves it in state, and the next run resumes.
            rec.record(a, Some(Resource::new(&id).with("state", "pending")))
                .await?;
            let public_ip = wait_nat(c, ctx, task, a, &id, "available").await?;
            Ok(Resource::new(id)
                .with("public_ip", public_ip.unwrap_or_default())
                .with("state", "available"))
        }
        Kind::RouteTablePublic | Kind::RouteTablePrivate(_) => {
            let out = ec2
                .create_route_table()
                .vpc_id(rec.id(addr::VPC)?)
                .tag_specifications(tag_spec(ResourceType::RouteTable, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateRouteTable", e))?;
            Ok(Resource::new(
                out.route_table()
                    .and_then(|r| r.route_table_id())
                    .unwrap_or_default(),
            ))
        }
        Kind::RoutePublic | Kind::RoutePrivate(_) => put_route(c, rec, spec, kind, a, false).await,
        Kind::Rta(tier, az) => {
            let table = match tier {
                Tier::Public => rec.id(addr::RT_PUBLIC)?,
                Tier::Private => rec.id(&addr::rt_private(az))?,
            };
            let subnet = rec.id(&addr::subnet(*tier, az))?;
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
                    let assoc = find_association(c, a, &subnet).await?;
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
        Kind::Endpoint => {
            let tables: Vec<String> = spec
                .azs
                .iter()
                .map(|z| rec.id(&addr::rt_private(&z.name)))
                .collect::<Result<_>>()?;
            let out = ec2
                .create_vpc_endpoint()
                .vpc_id(rec.id(addr::VPC)?)
                .service_name(format!("com.amazonaws.{}.s3", spec.region))
                .vpc_endpoint_type(VpcEndpointType::Gateway)
                .set_route_table_ids(Some(tables))
                .tag_specifications(tag_spec(ResourceType::VpcEndpoint, tags))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:CreateVpcEndpoint", e))?;
            Ok(Resource::new(
                out.vpc_endpoint()
                    .and_then(|e| e.vpc_endpoint_id())
                    .unwrap_or_default(),
            ))
        }
        Kind::LogGroup => {
            let fl = flow_logs(spec, a)?;
            let r = c
                .logs
                .create_log_group()
                .log_group_name(&fl.log_group)
                .set_tags(Some(tags.clone().into_iter().collect()))
                .send()
                .await;
            match r {
                Ok(_) => {}
                Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(Error::aws(a, "logs:CreateLogGroup", e)),
            }
            c.logs
                .put_retention_policy()
                .log_group_name(&fl.log_group)
                .retention_in_days(fl.retention_days)
                .send()
                .await
                .map_err(|e| Error::aws(a, "logs:PutRetentionPolicy", e))?;
            Ok(Resource::new(&fl.log_group))
        }
        Kind::Role => {
            let fl = flow_logs(spec, a)?;
            let r = c
                .iam
                .create_role()
                .role_name(&fl.role_name)
                .assume_role_policy_document(trust_policy().to_string())
                .description("Delivers this stack's VPC flow logs to CloudWatch Logs (hms-vpc)")
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))?,
                ))
                .send()
                .await;
            let arn = match r {
                Ok(o) => o.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
                Err(e) if code_of(&e) == Some("EntityAlreadyExists") => c
                    .iam
                    .get_role()
                    .role_name(&fl.role_name)
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "iam:GetRole", e))?
                    .role()
                    .map(|r| r.arn().to_owned())
                    .unwrap_or_default(),
                Err(e) => return Err(Error::aws(a, "iam:CreateRole", e)),
            };
            Ok(Resource::new(&fl.role_name).with("arn", arn))
        }
        Kind::RolePolicy => put_role_policy(c, spec, a).await,
        Kind::FlowLog => {
            let fl = flow_logs(spec, a)?;
            let role = rec
                .resource(addr::ROLE)
                .and_then(|r| r.attr("arn").map(str::to_owned))
                .ok_or_else(|| Error::Internal(format!("{a}: role has no ARN recorded")))?;
            let vpc = rec.id(addr::VPC)?;
            // A role created seconds ago may not be assumable yet by the flow logs service (IAM is
            // eventually consistent): retry on exactly that error, for up to a minute.
            let mut delay = Duration::from_secs(2);
            let started = std::time::Instant::now();
            loop {
                let out = c
                    .ec2
                    .create_flow_logs()
                    .resource_type(FlowLogsResourceType::Vpc)
                    .resource_ids(&vpc)
                    .traffic_type(TrafficType::All)
                    .log_destination_type(LogDestinationType::CloudWatchLogs)
                    .log_group_name(&fl.log_group)
                    .deliver_logs_permission_arn(&role)
                    .tag_specifications(tag_spec(ResourceType::VpcFlowLog, tags))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "ec2:CreateFlowLogs", e))?;
                if let Some(id) = out.flow_log_ids().first() {
                    return Ok(Resource::new(id));
                }
                let why = out
                    .unsuccessful()
                    .iter()
                    .filter_map(|u| u.error())
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.code().unwrap_or_default(),
                            e.message().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let retryable = why.contains("assume") || why.contains("Access");
                if !retryable || started.elapsed() > Duration::from_secs(60) {
                    return Err(Error::Aws {
                        resource: a.to_owned(),
                        operation: "ec2:CreateFlowLogs".into(),
                        code: "Unsuccessful".into(),
                        message: why,
                    });
                }
                task.status(&format!("waiting for the role to be usable ({why})"), false);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn update(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    kind: &Kind,
    a: &str,
    change: &Change,
    task: &Task<'_>,
) -> Result<Resource> {
    let id = rec.id(a)?;
    let mut resource = rec.resource(a).unwrap_or_else(|| Resource::new(&id));
    if differs(change, "tags") {
        let (set, remove) = tag_delta(
            &change_tags(change.before.as_ref()),
            &change_tags(change.after.as_ref()),
        );
        set_tags(c, kind, a, &id, &set, &remove).await?;
    }
    match kind {
        Kind::Vpc
            if differs(change, "enable_dns_support") || differs(change, "enable_dns_hostnames") =>
        {
            set_dns(c, a, &id).await?
        }
        Kind::Subnet(..) if differs(change, "map_public_ip_on_launch") => {
            c.ec2
                .modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(false).build())
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:ModifySubnetAttribute", e))?;
        }
        // A NAT gateway still pending (a run that timed out or died while waiting): wait for it now.
        Kind::Nat(_) if differs(change, "state") => {
            let ip = wait_nat(c, ctx, task, a, &id, "available").await?;
            resource = resource
                .with("public_ip", ip.unwrap_or_default())
                .with("state", "available");
        }
        Kind::Igw if differs(change, "attached_to") => {
            attach_igw(c, a, &id, &rec.id(addr::VPC)?).await?
        }
        Kind::DefaultSg => return strip_default_sg(c, a, &rec.id(addr::VPC)?).await,
        Kind::RoutePublic | Kind::RoutePrivate(_) if differs(change, "target") => {
            return put_route(c, rec, spec, kind, a, true).await
        }
        Kind::Rta(tier, az) if differs(change, "route_table") => {
            let table = match tier {
                Tier::Public => rec.id(addr::RT_PUBLIC)?,
                Tier::Private => rec.id(&addr::rt_private(az))?,
            };
            let out = c
                .ec2
                .replace_route_table_association()
                .association_id(&id)
                .route_table_id(table)
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:ReplaceRouteTableAssociation", e))?;
            resource = Resource::new(out.new_association_id().unwrap_or(&id));
        }
        Kind::Endpoint if differs(change, "route_tables") => {
            // Our tables are addresses (resolved through state); others are raw ids.
            let ids = |v: Option<&Value>| -> Result<Vec<String>> {
                v.and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(|x| {
                                if x.starts_with("vpc.") {
                                    rec.id(x)
                                } else {
                                    Ok(x.to_owned())
                                }
                            })
                            .collect()
                    })
                    .unwrap_or_else(|| Ok(Vec::new()))
            };
            let have = ids(before(change, "route_tables"))?;
            let want = ids(after(change, "route_tables"))?;
            let add: Vec<String> = want.iter().filter(|x| !have.contains(x)).cloned().collect();
            let remove: Vec<String> = have.iter().filter(|x| !want.contains(x)).cloned().collect();
            c.ec2
                .modify_vpc_endpoint()
                .vpc_endpoint_id(&id)
                .set_add_route_table_ids((!add.is_empty()).then_some(add))
                .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
                .send()
                .await
                .map_err(|e| Error::aws(a, "ec2:ModifyVpcEndpoint", e))?;
        }
        Kind::LogGroup if differs(change, "retention_in_days") => {
            let fl = flow_logs(spec, a)?;
            c.logs
                .put_retention_policy()
                .log_group_name(&fl.log_group)
                .retention_in_days(fl.retention_days)
                .send()
                .await
                .map_err(|e| Error::aws(a, "logs:PutRetentionPolicy", e))?;
        }
        Kind::Role if differs(change, "assume_role_policy") => {
            c.iam
                .update_assume_role_policy()
                .role_name(&id)
                .policy_document(trust_policy().to_string())
                .send()
                .await
                .map_err(|e| Error::aws(a, "iam:UpdateAssumeRolePolicy", e))?;
        }
        Kind::RolePolicy => return put_role_policy(c, spec, a).await,
        _ => {}
    }
    Ok(resource)
}

async fn delete(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    kind: &Kind,
    a: &str,
    task: &Task<'_>,
) -> Result<()> {
    let Some(res) = rec.resource(a) else {
        return Ok(());
    };
    let id = res.id.clone();
    let ec2 = &c.ec2;
    match kind {
        Kind::Vpc => deleted(
            ec2.delete_vpc().vpc_id(&id).send().await,
            a,
            "ec2:DeleteVpc",
        ),
        // The default security group goes with its VPC.
        Kind::DefaultSg => Ok(()),
        Kind::Subnet(..) => deleted(
            ec2.delete_subnet().subnet_id(&id).send().await,
            a,
            "ec2:DeleteSubnet",
        ),
        Kind::Igw => {
            if let Some(vpc) = res
                .attr("vpc_id")
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .or_else(|| rec.resource(addr::VPC).map(|r| r.id))
            {
                match ec2
                    .detach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(&vpc)
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(e)
                        if is_gone(code_of(&e)) || code_of(&e) == Some("Gateway.NotAttached") => {}
                    Err(e) => return Err(Error::aws(a, "ec2:DetachInternetGateway", e)),
                }
            }
            deleted(
                ec2.delete_internet_gateway()
                    .internet_gateway_id(&id)
                    .send()
                    .await,
                a,
                "ec2:DeleteInternetGateway",
            )
        }
        Kind::Eip(_) => match ec2.release_address().allocation_id(&id).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if is_gone(code_of(&e)) || code_of(&e) == Some("InvalidAllocationID.NotFound") =>
            {
                Ok(())
            }
            Err(e) => Err(Error::aws(a, "ec2:ReleaseAddress", e)),
        },
        Kind::Nat(_) => {
            deleted(
                ec2.delete_nat_gateway().nat_gateway_id(&id).send().await,
                a,
                "ec2:DeleteNatGateway",
            )?;
            // Its EIP can only be released once the NAT gateway is gone.
            wait_nat(c, ctx, task, a, &id, "deleted").await.map(|_| ())
        }
        Kind::RouteTablePublic | Kind::RouteTablePrivate(_) => deleted(
            ec2.delete_route_table().route_table_id(&id).send().await,
            a,
            "ec2:DeleteRouteTable",
        ),
        Kind::RoutePublic | Kind::RoutePrivate(_) => {
            let table = res
                .attr("route_table_id")
                .map(str::to_owned)
                .unwrap_or_else(|| id.split('_').next().unwrap_or_default().to_owned());
            deleted(
                ec2.delete_route()
                    .route_table_id(table)
                    .destination_cidr_block("0.0.0.0/0")
                    .send()
                    .await,
                a,
                "ec2:DeleteRoute",
            )
        }
        Kind::Rta(..) => deleted(
            ec2.disassociate_route_table()
                .association_id(&id)
                .send()
                .await,
            a,
            "ec2:DisassociateRouteTable",
        ),
        Kind::Endpoint => deleted(
            ec2.delete_vpc_endpoints()
                .vpc_endpoint_ids(&id)
                .send()
                .await,
            a,
            "ec2:DeleteVpcEndpoints",
        ),
        Kind::LogGroup => deleted(
            c.logs.delete_log_group().log_group_name(&id).send().await,
            a,
            "logs:DeleteLogGroup",
        ),
        Kind::Role => deleted(
            c.iam.delete_role().role_name(&id).send().await,
            a,
            "iam:DeleteRole",
        ),
        Kind::RolePolicy => {
            let role = id.split(':').next().unwrap_or_default();
            deleted(
                c.iam
                    .delete_role_policy()
                    .role_name(role)
                    .policy_name(ROLE_POLICY_NAME)
                    .send()
                    .await,
                a,
                "iam:DeleteRolePolicy",
            )
        }
        Kind::FlowLog => deleted(
            ec2.delete_flow_logs().flow_log_ids(&id).send().await,
            a,
            "ec2:DeleteFlowLogs",
        ),
    }
}

fn flow_logs<'a>(spec: &'a Spec, a: &str) -> Result<&'a crate::spec::FlowLogs> {
    spec.flow_logs
        .as_ref()
        .ok_or_else(|| Error::Internal(format!("{a}: flow logs are off in the spec")))
}

async fn set_dns(c: &Clients, a: &str, vpc: &str) -> Result<()> {
    // The API takes one attribute per call.
    for hostnames in [false, true] {
        let mut call = c.ec2.modify_vpc_attribute().vpc_id(vpc);
        let on = AttributeBooleanValue::builder().value(true).build();
        call = if hostnames {
            call.enable_dns_hostnames(on)
        } else {
            call.enable_dns_support(on)
        };
        call.send()
            .await
            .map_err(|e| Error::aws(a, "ec2:ModifyVpcAttribute", e))?;
    }
    Ok(())
}

async fn attach_igw(c: &Clients, a: &str, igw: &str, vpc: &str) -> Result<()> {
    match c
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(igw)
        .vpc_id(vpc)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("Resource.AlreadyAssociated") => Ok(()),
        Err(e) => Err(Error::aws(a, "ec2:AttachInternetGateway", e)),
    }
}

async fn strip_default_sg(c: &Clients, a: &str, vpc: &str) -> Result<Resource> {
    let sgs = c
        .ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
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
        c.ec2
            .revoke_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(sg.ip_permissions().to_vec()))
            .send()
            .await
            .map_err(|e| Error::aws(a, "ec2:RevokeSecurityGroupIngress", e))?;
    }
    if !sg.ip_permissions_egress().is_empty() {
        c.ec2
            .revoke_security_group_egress()
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

async fn put_route(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    kind: &Kind,
    a: &str,
    replace: bool,
) -> Result<Resource> {
    let (table, target_addr) = match kind {
        Kind::RoutePublic => (rec.id(addr::RT_PUBLIC)?, addr::IGW.to_owned()),
        Kind::RoutePrivate(az) => {
            let nat_az = spec
                .nat_for(az)
                .ok_or_else(|| Error::Internal(format!("{a}: no NAT for {az}")))?;
            (rec.id(&addr::rt_private(az))?, addr::nat(nat_az))
        }
        _ => return Err(Error::Internal(format!("{a} is not a route"))),
    };
    let target = rec.id(&target_addr)?;
    let is_nat = matches!(kind, Kind::RoutePrivate(_));
    let send_create = || {
        let call = c
            .ec2
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
        let call = c
            .ec2
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
        .with("target", target_addr)
        .with("route_table_id", table)
        .with("target_id", target))
}

async fn find_association(c: &Clients, a: &str, subnet: &str) -> Result<String> {
    let out = c
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

async fn put_role_policy(c: &Clients, spec: &Spec, a: &str) -> Result<Resource> {
    let fl = flow_logs(spec, a)?;
    c.iam
        .put_role_policy()
        .role_name(&fl.role_name)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(role_policy(spec, &fl.log_group).to_string())
        .send()
        .await
        .map_err(|e| Error::aws(a, "iam:PutRolePolicy", e))?;
    Ok(Resource::new(format!(
        "{}:{ROLE_POLICY_NAME}",
        fl.role_name
    )))
}

async fn set_tags(
    c: &Clients,
    kind: &Kind,
    a: &str,
    id: &str,
    set: &Tags,
    remove: &[String],
) -> Result<()> {
    match kind {
        Kind::LogGroup => {
            #[allow(deprecated)]
            if !set.is_empty() {
                c.logs
                    .tag_log_group()
                    .log_group_name(id)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "logs:TagLogGroup", e))?;
            }
            #[allow(deprecated)]
            if !remove.is_empty() {
                c.logs
                    .untag_log_group()
                    .log_group_name(id)
                    .set_tags(Some(remove.to_vec()))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "logs:UntagLogGroup", e))?;
            }
        }
        Kind::Role => {
            if !set.is_empty() {
                let tags = set
                    .iter()
                    .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))?;
                c.iam
                    .tag_role()
                    .role_name(id)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "iam:TagRole", e))?;
            }
            if !remove.is_empty() {
                c.iam
                    .untag_role()
                    .role_name(id)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "iam:UntagRole", e))?;
            }
        }
        _ => {
            if !set.is_empty() {
                c.ec2
                    .create_tags()
                    .resources(id)
                    .set_tags(Some(ec2_tags(set)))
                    .send()
                    .await
                    .map_err(|e| Error::aws(a, "ec2:CreateTags", e))?;
            }
            if !remove.is_empty() {
                c.ec2
                    .delete_tags()
                    .resources(id)
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
        }
    }
    Ok(())
}

/// Waits until the NAT gateway reaches `want` (`available` or `deleted`); returns its public IP.
pub async fn wait_nat(
    c: &Clients,
    ctx: &Ctx<'_>,
    task: &Task<'_>,
    a: &str,
    id: &str,
    want: &str,
) -> Result<Option<String>> {
    let what = format!("NAT gateway {id} is {want}");
    wait_until(task, a, &what, ctx.timeout, || async {
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

/// Unused-key guard for BTreeMap imports when features change.
#[allow(dead_code)]
type Unused = BTreeMap<(), ()>;

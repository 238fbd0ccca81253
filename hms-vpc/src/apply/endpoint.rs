//! The S3 gateway endpoint.

use aws_sdk_ec2::types::{ResourceType, VpcEndpointType};
use hms_core::addr::Address;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::Job;
use crate::addr::Addr;

pub(super) async fn create(job: &Job<'_>) -> Result<Resource> {
    let tables: Vec<String> = job
        .spec
        .azs
        .iter()
        .map(|z| job.id(&Addr::rt_private(&z.name)))
        .collect::<Result<_>>()?;
    let out = job
        .c
        .ec2
        .create_vpc_endpoint()
        .vpc_id(job.id(&Addr::Vpc)?)
        .service_name(job.spec.s3_service())
        .vpc_endpoint_type(VpcEndpointType::Gateway)
        .set_route_table_ids(Some(tables))
        .set_policy_document(job.after("policy").map(Value::to_string))
        .tag_specifications(job.tag_spec(ResourceType::VpcEndpoint))
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:CreateVpcEndpoint", e))?;
    Ok(Resource::new(
        out.vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default(),
    ))
}

/// Moves the endpoint onto exactly the planned route tables, with the planned policy.
pub(super) async fn update(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("policy") {
        job.c
            .ec2
            .modify_vpc_endpoint()
            .vpc_endpoint_id(&resource.id)
            .set_policy_document(job.after("policy").map(Value::to_string))
            .send()
            .await
            .map_err(|e| Error::aws(job.a(), "ec2:ModifyVpcEndpoint", e))?;
    }
    if !job.differs("route_tables") {
        return Ok(resource);
    }
    // Our tables are addresses (resolved through state); others are raw ids.
    let ids = |v: Option<&Value>| -> Result<Vec<String>> {
        v.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|x| match Addr::parse(x) {
                Some(table) => job.id(&table),
                None => Ok(x.to_owned()),
            })
            .collect()
    };
    let have = ids(job.before("route_tables"))?;
    let want = ids(job.after("route_tables"))?;
    let add: Vec<String> = want.iter().filter(|x| !have.contains(x)).cloned().collect();
    let remove: Vec<String> = have.iter().filter(|x| !want.contains(x)).cloned().collect();
    job.c
        .ec2
        .modify_vpc_endpoint()
        .vpc_endpoint_id(&resource.id)
        .set_add_route_table_ids((!add.is_empty()).then_some(add))
        .set_remove_route_table_ids((!remove.is_empty()).then_some(remove))
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "ec2:ModifyVpcEndpoint", e))?;
    Ok(resource)
}

pub(super) async fn delete(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DeleteVpcEndpoints",
    )
}

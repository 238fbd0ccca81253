//! `hms-cache import`: a Terraform replication group (by `cache.replication_group_id`) and the subnet group
//! it is in; its own parameter group is not taken over (hms-cache makes the stack's and moves the group
//! to it). What ElastiCache cannot change in place (the subnet group's name, the port, encryption at rest,
//! the key) stays as Terraform made it.

use hms_core::terraform::{Mapping, TfState};

use crate::addr::Addr;
use crate::spec::Spec;

/// Maps the state's resources of hms-cache's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let mut subnet_group = None;
    for r in tf
        .resources
        .iter()
        .filter(|r| r.kind == "aws_elasticache_replication_group")
    {
        let id = r
            .str("replication_group_id")
            .or_else(|| r.id())
            .unwrap_or_default();
        if id == spec.id && subnet_group.is_none() {
            m.map(r, Addr::ReplicationGroup.to_string(), &id);
            subnet_group = Some(r.str("subnet_group_name").unwrap_or_default());
        } else {
            m.skip(
                r,
                format!(
                    "{id:?} is not cache.replication_group_id {:?}; set it to take the group over",
                    spec.id
                ),
            );
        }
    }
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_elasticache_subnet_group" => {
                let name = r.str("name").or_else(|| r.id()).unwrap_or_default();
                if subnet_group.as_deref() == Some(name.as_str()) {
                    m.map(r, Addr::SubnetGroup.to_string(), &name);
                } else {
                    m.skip(r, "not the subnet group of the replication group taken over");
                }
            }
            "aws_elasticache_parameter_group" => m.skip(
                r,
                format!(
                    "hms-cache makes the stack's parameter group {} and moves the replication group to it; remove this one from Terraform once nothing uses it",
                    spec.parameter_group
                ),
            ),
            _ => {}
        }
    }
    m
}

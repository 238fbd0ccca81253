//! `hms-db import`: the Terraform database instance (by `db.identifier`) and its subnet group (the one
//! the instance is in). Its own parameter group is not taken over: hms-db makes the stack's
//! (`<stack>-db-params-<family>`) and moves the instance to it, so a Terraform one is left, with why. The
//! master password in the Terraform state is never read.

use hms_core::terraform::{Mapping, TfState};

use crate::addr::Addr;
use crate::spec::Spec;

/// Maps the state's resources of hms-db's types.
pub fn map(spec: &Spec, tf: &TfState) -> Mapping {
    let mut m = Mapping::default();
    let mut subnet_group = None;
    for r in tf.resources.iter().filter(|r| r.kind == "aws_db_instance") {
        let id = r.str("identifier").unwrap_or_default();
        if id == spec.identifier && subnet_group.is_none() {
            m.map(r, Addr::Instance.to_string(), &id);
            subnet_group = Some(r.str("db_subnet_group_name").unwrap_or_default());
        } else {
            m.skip(
                r,
                format!(
                    "identifier {id:?} is not db.identifier {:?}; set db.identifier = {id:?} to take it over",
                    spec.identifier
                ),
            );
        }
    }
    for r in &tf.resources {
        match r.kind.as_str() {
            "aws_db_subnet_group" => {
                let name = r.str("name").or_else(|| r.id()).unwrap_or_default();
                if subnet_group.as_deref() == Some(name.as_str()) {
                    m.map(r, Addr::SubnetGroup.to_string(), &name);
                } else {
                    m.skip(r, "not the subnet group of the instance taken over");
                }
            }
            "aws_db_parameter_group" => m.skip(
                r,
                format!(
                    "hms-db makes the stack's parameter group {} and moves the instance to it (applied at a reboot); remove this one from Terraform once nothing uses it",
                    spec.parameter_group
                ),
            ),
            _ => {}
        }
    }
    m
}

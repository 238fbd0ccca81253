//! The parameter group of the spec's family: created (or adopted when a run died before recording it),
//! then its parameters written; parameters changed in place.

use aws_sdk_rds::types::{ApplyMethod, Parameter};
use hms_core::apply::Recorder;
use hms_core::error::{code_of, is_gone};
use hms_core::plan::Change;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::{tags_after, Recorded};
use crate::spec::Spec;
use crate::Clients;

fn parameters(spec: &Spec) -> Vec<Parameter> {
    spec.parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_name(k)
                .parameter_value(v)
                // Static parameters only take effect after a reboot; RDS applies dynamic ones at once.
                .apply_method(if k == "rds.force_ssl" {
                    ApplyMethod::PendingReboot
                } else {
                    ApplyMethod::Immediate
                })
                .build()
        })
        .collect()
}

async fn write_parameters(c: &Clients, a: &str, name: &str, spec: &Spec) -> Result<()> {
    c.rds
        .modify_db_parameter_group()
        .db_parameter_group_name(name)
        .set_parameters(Some(parameters(spec)))
        .send()
        .await
        .map_err(|e| Error::aws(a, "rds:ModifyDBParameterGroup", e))?;
    Ok(())
}

pub(super) async fn create(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
) -> Result<Resource> {
    let a = change.address.as_str();
    let out = c
        .rds
        .create_db_parameter_group()
        .db_parameter_group_name(&spec.parameter_group)
        .db_parameter_group_family(&spec.family)
        .description(format!(
            "HMS PostgreSQL parameters ({} {})",
            spec.tagger.id.stack, spec.tagger.id.env
        ))
        .set_tags(Some(tags_after(change)))
        .send()
        .await;
    let arn = match out {
        Ok(o) => o
            .db_parameter_group()
            .and_then(|g| g.db_parameter_group_arn())
            .unwrap_or_default()
            .to_owned(),
        Err(e) if code_of(&e).is_some_and(|c| c.contains("AlreadyExists")) => {
            adopt(c, a, spec).await?
        }
        Err(e) => return Err(Error::aws(a, "rds:CreateDBParameterGroup", e)),
    };
    let resource = Resource::new(&spec.parameter_group).with("arn", arn);
    rec.record(a, Some(resource.clone())).await?;
    write_parameters(c, a, &spec.parameter_group, spec).await?;
    Ok(resource)
}

/// A group made by a run that died before recording it: adopted only if it is ours and of this family.
/// Returns its ARN.
async fn adopt(c: &Clients, a: &str, spec: &Spec) -> Result<String> {
    let o = c
        .rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(&spec.parameter_group)
        .send()
        .await
        .map_err(|e| Error::aws(a, "rds:DescribeDBParameterGroups", e))?;
    let g = o
        .db_parameter_groups()
        .first()
        .ok_or_else(|| Error::Internal(format!("{a}: exists but cannot be read")))?;
    let arn = g.db_parameter_group_arn().unwrap_or_default().to_owned();
    let tags = c
        .rds
        .list_tags_for_resource()
        .resource_name(&arn)
        .send()
        .await
        .map_err(|e| Error::aws(a, "rds:ListTagsForResource", e))?;
    let ours = spec.tagger.owned_address(
        tags.tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())),
    );
    if ours.as_deref() != Some(a) || g.db_parameter_group_family() != Some(spec.family.as_str()) {
        return Err(Error::Refused(format!(
            "{a}: a parameter group named {} already exists and is not this stack's {}; rename or remove it",
            spec.parameter_group, spec.family
        )));
    }
    Ok(arn)
}

pub(super) async fn update(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    r: Recorded,
) -> Result<Resource> {
    if change.changed("parameters") {
        write_parameters(c, &change.address, &r.id, spec).await?;
    }
    Ok(r.resource)
}

pub(super) async fn delete(c: &Clients, a: &str, name: &str) -> Result<()> {
    match c
        .rds
        .delete_db_parameter_group()
        .db_parameter_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_gone(code_of(&e)) => Ok(()),
        Err(e) => Err(Error::aws(a, "rds:DeleteDBParameterGroup", e)),
    }
}

//! Standard logging v2: the log group (encrypted with the logs key), and the delivery source (the
//! distribution), destination (the log group) and delivery that join them.

use hms_core::apply::Recorder;
use hms_core::aws_tags::LogsTags;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::observe::logs::source_name;
use crate::spec::Spec;
use crate::Clients;

/// The log group.
pub async fn log_group(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
) -> Result<Option<Resource>> {
    let address = Addr::LogGroup.to_string();
    let name = super::before_str(change, "name")
        .filter(|_| step == Step::Delete)
        .or_else(|| spec.logging.as_ref().map(|l| l.log_group.clone()))
        .ok_or_else(|| Error::Internal(format!("{address}: no name")))?;
    match step {
        Step::Create => {
            let l = spec
                .logging
                .as_ref()
                .ok_or_else(|| Error::Internal(format!("{address}: logging off")))?;
            match c
                .logs
                .create_log_group()
                .log_group_name(&name)
                .set_kms_key_id(l.kms_key.clone())
                .set_tags(Some(spec.tagger.tags(&address, None).into_iter().collect()))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(Error::aws(&name, "logs:CreateLogGroup", e)),
            }
            rec.record(&address, Some(Resource::new(name.clone())))
                .await?;
            retention(c, spec, &name).await?;
            Ok(Some(Resource::new(name)))
        }
        Step::Update => {
            // Only what differs: a run stopped between CreateLogGroup and PutRetentionPolicy leaves the
            // retention to set and the key already associated.
            if change.changed("retention_days") {
                retention(c, spec, &name).await?;
            }
            if change.changed("kms_key") {
                if let Some(key) = spec.logging.as_ref().and_then(|l| l.kms_key.clone()) {
                    c.logs
                        .associate_kms_key()
                        .log_group_name(&name)
                        .kms_key_id(key)
                        .send()
                        .await
                        .map_err(|e| Error::aws(&name, "logs:AssociateKmsKey", e))?;
                }
            }
            let described = c
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&name)
                .send()
                .await
                .map_err(|e| Error::aws(&name, "logs:DescribeLogGroups", e))?;
            if let Some(arn) = described
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(name.as_str()))
                .and_then(|g| g.arn())
            {
                hms_core::tags::sync(&LogsTags(&c.logs), arn.trim_end_matches(":*"), change)
                    .await?;
            }
            Ok(Some(Resource::new(name)))
        }
        Step::Delete => {
            hms_core::error::deleted(
                c.logs.delete_log_group().log_group_name(&name).send().await,
                &name,
                "logs:DeleteLogGroup",
            )?;
            Ok(None)
        }
    }
}

async fn retention(c: &Clients, spec: &Spec, name: &str) -> Result<()> {
    let days = spec
        .logging
        .as_ref()
        .map(|l| l.retention_days)
        .unwrap_or(30);
    c.logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| Error::aws(name, "logs:PutRetentionPolicy", e))?;
    Ok(())
}

/// The delivery (with its source and destination).
pub async fn delivery(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    step: Step,
    id: Option<String>,
) -> Result<Option<Resource>> {
    let address = Addr::LogDelivery.to_string();
    let source = source_name(spec);
    let destination = spec.name("cdn-access-logs-destination");
    match step {
        Step::Create | Step::Update => {
            if let Some(old) = id.filter(|_| step == Step::Update) {
                hms_core::error::deleted(
                    c.logs.delete_delivery().id(&old).send().await,
                    &old,
                    "logs:DeleteDelivery",
                )?;
            }
            let dist = rec
                .resource(&Addr::Distribution.to_string())
                .and_then(|r| r.attr("arn").map(str::to_owned))
                .ok_or_else(|| {
                    Error::Internal("edge.distribution has no recorded ARN (plan order)".into())
                })?;
            let group = rec.id(&Addr::LogGroup.to_string())?;
            let described = c
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&group)
                .send()
                .await
                .map_err(|e| Error::aws(&group, "logs:DescribeLogGroups", e))?;
            let group_arn = described
                .log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(group.as_str()))
                .and_then(|g| g.arn())
                .map(|a| a.trim_end_matches(":*").to_owned())
                .ok_or_else(|| Error::Internal(format!("log group {group} not found")))?;
            c.logs
                .put_delivery_source()
                .name(&source)
                .resource_arn(&dist)
                .log_type("ACCESS_LOGS")
                .set_tags(Some(spec.tagger.tags(&address, None).into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(&address, "logs:PutDeliverySource", e))?;
            let dest = c
                .logs
                .put_delivery_destination()
                .name(&destination)
                .delivery_destination_configuration(
                    aws_sdk_cloudwatchlogs::types::DeliveryDestinationConfiguration::builder()
                        .destination_resource_arn(group_arn)
                        .build()
                        .map_err(|e| Error::Internal(e.to_string()))?,
                )
                .set_tags(Some(spec.tagger.tags(&address, None).into_iter().collect()))
                .send()
                .await
                .map_err(|e| Error::aws(&address, "logs:PutDeliveryDestination", e))?;
            let dest_arn = dest
                .delivery_destination()
                .and_then(|d| d.arn())
                .unwrap_or_default()
                .to_owned();
            let id = match c
                .logs
                .create_delivery()
                .delivery_source_name(&source)
                .delivery_destination_arn(&dest_arn)
                .set_tags(Some(spec.tagger.tags(&address, None).into_iter().collect()))
                .send()
                .await
            {
                Ok(o) => o
                    .delivery()
                    .and_then(|d| d.id())
                    .unwrap_or_default()
                    .to_owned(),
                Err(e) if code_of(&e) == Some("ConflictException") => {
                    let all = c
                        .logs
                        .describe_deliveries()
                        .send()
                        .await
                        .map_err(|e| Error::aws(&address, "logs:DescribeDeliveries", e))?;
                    all.deliveries()
                        .iter()
                        .find(|d| d.delivery_source_name() == Some(source.as_str()))
                        .and_then(|d| d.id())
                        .map(str::to_owned)
                        .ok_or_else(|| Error::aws(&address, "logs:CreateDelivery", e))?
                }
                Err(e) => return Err(Error::aws(&address, "logs:CreateDelivery", e)),
            };
            Ok(Some(Resource::new(id).with("source_name", source)))
        }
        Step::Delete => {
            if let Some(id) = id {
                hms_core::error::deleted(
                    c.logs.delete_delivery().id(&id).send().await,
                    &id,
                    "logs:DeleteDelivery",
                )?;
            }
            hms_core::error::deleted(
                c.logs.delete_delivery_source().name(&source).send().await,
                &source,
                "logs:DeleteDeliverySource",
            )?;
            hms_core::error::deleted(
                c.logs
                    .delete_delivery_destination()
                    .name(&destination)
                    .send()
                    .await,
                &destination,
                "logs:DeleteDeliveryDestination",
            )?;
            Ok(None)
        }
    }
}

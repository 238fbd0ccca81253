//! The hosted zone hms-dns creates: CreateHostedZone with a CallerReference naming this stack (so a zone
//! made by a run that died before tagging it is still recognised), recorded at once, then tagged; deleted
//! only once it holds nothing but its NS and SOA records.

use aws_sdk_route53::types::HostedZoneConfig;
use hms_core::apply::Recorder;
use hms_core::aws_tags::Route53ZoneTags;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::Task;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::observe::records;
use crate::observe::zone::{bare_id, zones_named};
use crate::spec::Spec;
use crate::Clients;

fn resource(id: &str, spec: &Spec, name_servers: Vec<String>) -> Resource {
    Resource::new(id)
        .with("name", spec.zone_name.clone())
        .with("private", false)
        .with("name_servers", name_servers)
        .with("created", true)
}

/// Runs one step of the zone's change.
pub async fn apply(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let address = Addr::Zone.to_string();
    match step {
        Step::Create => {
            let (id, ns) = create(c, spec, task).await?;
            rec.record(&address, Some(resource(&id, spec, ns.clone())))
                .await?;
            hms_core::tags::sync(&Route53ZoneTags(&c.route53), &id, change).await?;
            Ok(Some(resource(&id, spec, ns)))
        }
        Step::Update => {
            let r = rec.resource(&address).ok_or_else(|| {
                Error::Internal(format!("{address}: not recorded before its update"))
            })?;
            hms_core::tags::sync(&Route53ZoneTags(&c.route53), &r.id, change).await?;
            Ok(Some(r))
        }
        Step::Delete => {
            let id = rec.id(&address)?;
            delete(c, &id).await.map(|()| None)
        }
    }
}

async fn create(c: &Clients, spec: &Spec, task: &Task<'_>) -> Result<(String, Vec<String>)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let reference = format!("{}{nanos}", spec.caller_reference_prefix());
    let out = c
        .route53
        .create_hosted_zone()
        .name(&spec.zone_name)
        .caller_reference(&reference)
        .hosted_zone_config(
            HostedZoneConfig::builder()
                .comment(format!(
                    "HMS stack {} ({}): managed by hms-dns",
                    spec.tagger.id.stack, spec.tagger.id.env
                ))
                .private_zone(false)
                .build(),
        )
        .send()
        .await;
    match out {
        Ok(o) => {
            let id = o.hosted_zone().map(|z| bare_id(z.id())).ok_or_else(|| {
                Error::Internal("route53:CreateHostedZone returned no zone".into())
            })?;
            let ns = o
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            Ok((id, ns))
        }
        // An SDK retry of a request that had made the zone: this run's reference finds it.
        Err(e) if code_of(&e) == Some("HostedZoneAlreadyExists") => {
            task.status("already made by this request; adopting it", false);
            let zones = zones_named(c, &spec.zone_name).await?;
            let z = zones
                .iter()
                .find(|z| z.caller_reference() == reference)
                .ok_or_else(|| {
                    Error::aws(
                        format!("{} zone {}", Addr::Zone, spec.zone_name),
                        "route53:CreateHostedZone",
                        e,
                    )
                })?;
            let id = bare_id(z.id());
            let ns = c
                .route53
                .get_hosted_zone()
                .id(&id)
                .send()
                .await
                .map_err(|e| Error::aws(format!("zone {id}"), "route53:GetHostedZone", e))?
                .delegation_set()
                .map(|d| d.name_servers().to_vec())
                .unwrap_or_default();
            Ok((id, ns))
        }
        Err(e) => Err(Error::aws(
            format!("{} zone {}", Addr::Zone, spec.zone_name),
            "route53:CreateHostedZone",
            e,
        )),
    }
}

async fn delete(c: &Clients, id: &str) -> Result<()> {
    match c.route53.delete_hosted_zone().id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if code_of(&e) == Some("NoSuchHostedZone") => Ok(()),
        Err(e) if code_of(&e) == Some("HostedZoneNotEmpty") => {
            let others = records::others(c, id).await?;
            Err(Error::Refused(format!(
                "{} {id} still holds records hms-dns did not write ({}); the zone was kept — delete those records (or keep the zone by hand), then run again",
                Addr::Zone,
                others
                    .iter()
                    .map(|r| format!("{} {}", r.name, r.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        Err(e) => Err(Error::aws(
            format!("{} {id}", Addr::Zone),
            "route53:DeleteHostedZone",
            e,
        )),
    }
}

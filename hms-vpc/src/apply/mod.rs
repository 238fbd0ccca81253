//! Carries out one step of one change. Every step is idempotent: an existing resource is adopted, a
//! missing one on delete is done; tags are set at creation so that a run killed before its state write
//! is adopted by the next run instead of duplicated.
//!
//! This module matches the change's address and step to the room of its kind: [`network`] (VPC, default
//! security group, subnets), [`gateways`] (internet gateway, EIPs, NAT gateways), [`routes`] (route
//! tables, default routes, associations), [`acls`] (network ACLs, their rules, the subnets'
//! associations), [`endpoint`] and [`flow_logs`]. An update first makes the tags
//! match through the resource's tagging API ([`hms_core::tags::sync`]); a change of tags alone calls
//! nothing else.

mod acls;
mod endpoint;
mod flow_logs;
mod gateways;
mod network;
mod routes;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::aws_tags::{Ec2Tags, IamRoleTags, LogsTags};
use hms_core::contract::Ctx;
use hms_core::diff::{change_tags, Tags};
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::tags::{sync, TagDelta};
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

pub use gateways::wait_nat;

use crate::addr::Addr;
use crate::spec::{FlowLogs, Spec};
use crate::Clients;

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
    let addr = Addr::parse(&change.address)
        .ok_or_else(|| Error::Internal(format!("unknown address {}", change.address)))?;
    let job = Job {
        c,
        ctx,
        rec,
        spec,
        change,
        task,
    };
    match step {
        Step::Create => create(&job, &addr).await.map(Some),
        Step::Update => update(&job, &addr).await.map(Some),
        Step::Delete => delete(&job, &addr).await.map(|()| None),
    }
}

/// Everything one step works with.
struct Job<'a> {
    c: &'a Clients,
    ctx: &'a Ctx<'a>,
    rec: &'a Recorder<'a>,
    spec: &'a Spec,
    change: &'a Change,
    task: &'a Task<'a>,
}

impl Job<'_> {
    /// The change's address, for messages and state.
    fn a(&self) -> &str {
        &self.change.address
    }

    /// The recorded id of another resource (an internal error when the plan's order is wrong).
    fn id(&self, of: &Addr) -> Result<String> {
        self.rec.id(&of.to_string())
    }

    /// The tags the resource must carry.
    fn tags(&self) -> Tags {
        change_tags(self.change.after.as_ref())
    }

    /// The tags as an EC2 tag specification, to tag at creation.
    fn tag_spec(&self, kind: ResourceType) -> TagSpecification {
        let tags = self
            .tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags))
            .build()
    }

    fn before(&self, key: &str) -> Option<&Value> {
        self.change.before.as_ref().and_then(|v| v.get(key))
    }

    fn after(&self, key: &str) -> Option<&Value> {
        self.change.after.as_ref().and_then(|v| v.get(key))
    }

    /// Whether the compared attribute `key` changes.
    fn differs(&self, key: &str) -> bool {
        self.before(key) != self.after(key)
    }

    /// The spec's flow logs (an internal error when they are off: the plan has no such step then).
    fn flow_logs(&self) -> Result<&FlowLogs> {
        self.spec
            .flow_logs
            .as_ref()
            .ok_or_else(|| Error::Internal(format!("{}: flow logs are off in the spec", self.a())))
    }
}

async fn create(job: &Job<'_>, addr: &Addr) -> Result<Resource> {
    match addr {
        Addr::Vpc => network::create_vpc(job).await,
        Addr::DefaultSg => network::adopt_default_sg(job).await,
        Addr::Subnet(tier, az) => network::create_subnet(job, *tier, az).await,
        Addr::Igw => gateways::create_igw(job).await,
        Addr::Eip(_) => gateways::allocate_eip(job).await,
        Addr::Nat(az) => gateways::create_nat(job, az).await,
        Addr::RouteTablePublic | Addr::RouteTablePrivate(_) => routes::create_table(job).await,
        Addr::RoutePublic | Addr::RoutePrivate(_) => routes::put_route(job, addr, false).await,
        Addr::Rta(tier, az) => routes::associate(job, *tier, az).await,
        Addr::Endpoint => endpoint::create(job).await,
        Addr::LogGroup => flow_logs::create_group(job).await,
        Addr::Role => flow_logs::create_role(job).await,
        Addr::RolePolicy => flow_logs::put_policy(job).await,
        Addr::FlowLog => flow_logs::create_flow_log(job).await,
        Addr::Nacl(tier) => acls::create_acl(job, *tier).await,
        Addr::NaclAssoc(tier, az) => acls::associate(job, *tier, az).await,
    }
}

async fn update(job: &Job<'_>, addr: &Addr) -> Result<Resource> {
    let id = job.rec.id(job.a())?;
    let resource = job
        .rec
        .resource(job.a())
        .unwrap_or_else(|| Resource::new(&id));
    sync_tags(job, addr, &resource).await?;
    match addr {
        Addr::Vpc => network::update_vpc(job, resource).await,
        Addr::DefaultSg => network::update_default_sg(job, resource).await,
        Addr::Subnet(..) => network::update_subnet(job, resource).await,
        Addr::Igw => gateways::update_igw(job, resource).await,
        Addr::Nat(_) => gateways::update_nat(job, resource).await,
        Addr::RoutePublic | Addr::RoutePrivate(_) => {
            routes::update_route(job, addr, resource).await
        }
        Addr::Rta(tier, az) => routes::update_association(job, *tier, az, resource).await,
        Addr::Endpoint => endpoint::update(job, resource).await,
        Addr::LogGroup => flow_logs::update_group(job, resource).await,
        Addr::Role => flow_logs::update_role(job, resource).await,
        Addr::RolePolicy => flow_logs::put_policy(job).await,
        Addr::Nacl(tier) => acls::update_acl(job, *tier, resource).await,
        Addr::NaclAssoc(tier, az) => acls::associate(job, *tier, az).await,
        // Only their tags change in place.
        Addr::Eip(_) | Addr::RouteTablePublic | Addr::RouteTablePrivate(_) | Addr::FlowLog => {
            Ok(resource)
        }
    }
}

/// Makes the resource's tags match the change's through its tagging API; no call when they already do.
async fn sync_tags(job: &Job<'_>, addr: &Addr, resource: &Resource) -> Result<()> {
    if TagDelta::of(job.change).is_empty() {
        return Ok(());
    }
    let c = job.c;
    match addr {
        Addr::LogGroup => {
            let arn = flow_logs::group_arn(job, resource).await?;
            sync(&LogsTags(&c.logs), &arn, job.change).await?;
        }
        Addr::Role => {
            sync(&IamRoleTags(&c.iam), &resource.id, job.change).await?;
        }
        // Not taggable.
        Addr::RoutePublic
        | Addr::RoutePrivate(_)
        | Addr::Rta(..)
        | Addr::NaclAssoc(..)
        | Addr::RolePolicy => {}
        _ => {
            sync(&Ec2Tags(&c.ec2), &resource.id, job.change).await?;
        }
    }
    Ok(())
}

async fn delete(job: &Job<'_>, addr: &Addr) -> Result<()> {
    let Some(res) = job.rec.resource(job.a()) else {
        return Ok(());
    };
    match addr {
        Addr::Vpc => network::delete_vpc(job, &res).await,
        // The default security group goes with its VPC.
        Addr::DefaultSg => Ok(()),
        Addr::Subnet(..) => network::delete_subnet(job, &res).await,
        Addr::Igw => gateways::delete_igw(job, &res).await,
        Addr::Eip(_) => gateways::release_eip(job, &res).await,
        Addr::Nat(_) => gateways::delete_nat(job, &res).await,
        Addr::RouteTablePublic | Addr::RouteTablePrivate(_) => {
            routes::delete_table(job, &res).await
        }
        Addr::RoutePublic | Addr::RoutePrivate(_) => routes::delete_route(job, &res).await,
        Addr::Rta(..) => routes::disassociate(job, &res).await,
        Addr::Endpoint => endpoint::delete(job, &res).await,
        Addr::LogGroup => flow_logs::delete_group(job, &res).await,
        Addr::Role => flow_logs::delete_role(job, &res).await,
        Addr::RolePolicy => flow_logs::delete_policy(job, &res).await,
        Addr::FlowLog => flow_logs::delete_flow_log(job, &res).await,
        Addr::Nacl(_) => acls::delete_acl(job, &res).await,
        Addr::NaclAssoc(..) => acls::disassociate(job, &res).await,
    }
}

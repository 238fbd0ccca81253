//! What exists: one concurrent round of describe calls, filtered by this tool's tags (and by the ids in
//! state for anything the tags did not find). Not found is absence, never an error.
//!
//! This module runs the round (EC2's eight describes, the flow logs' log group and role, the recorded
//! VPC's attributes, all at once; then, only when state records ids the tags did not find, a second round
//! by id) and hands each kind's raw results to its builder: [`network`] (VPC, default security group,
//! subnets), [`gateways`] (internet gateway, EIPs, NAT gateways), [`routes`] (route tables, default routes,
//! associations), [`endpoint`] (the S3 endpoint) and [`flow_logs`]. The builders share a [`Builder`]:
//! which items are ours (by tags, else by state), one per address, and ids turned into addresses.

mod acls;
mod endpoint;
mod flow_logs;
mod gateways;
mod network;
mod routes;

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Address as ElasticIp, Filter, FlowLog, InternetGateway, NatGateway, NetworkAcl, RouteTable,
    Subnet, Tag, Vpc, VpcEndpoint,
};
use aws_sdk_ec2::Client as Ec2;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::state::State;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};

use crate::addr::Addr;
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every resource found, by address.
    pub found: FoundSet,
    /// The VPC's id, when it exists.
    pub vpc_id: Option<String>,
    /// Duplicates found by tags (never deleted silently; reported).
    pub warnings: Vec<String>,
    /// This stack's NAT gateways still being deleted (they hold their EIP and subnet until gone).
    pub deleting_nats: Vec<String>,
    /// The account (the delivery role's trust names it): from the role's ARN or the VPC's owner, else
    /// one STS call (a new stack with flow logs).
    pub account: Option<String>,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn found_mut(&mut self) -> &mut FoundSet {
        &mut self.found
    }
}

/// Reads everything hms-vpc owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let tagger = &spec.tagger;
    let state_vpc = state.id(&Addr::Vpc.to_string()).map(str::to_owned);
    let (mut raw, logging, details) = tokio::try_join!(
        describe(&c.ec2, Filters::every(tag_filters(tagger))),
        flow_logs::describe(c, spec),
        async {
            match &state_vpc {
                Some(id) => network::details(&c.ec2, id)
                    .await
                    .map(|d| Some((id.clone(), d))),
                None => Ok(None),
            }
        },
    )?;
    by_state_ids(&c.ec2, state, &mut raw).await?;
    let owner = raw
        .vpcs
        .iter()
        .find_map(|v| v.owner_id())
        .map(str::to_owned);

    let mut b = Builder::new(tagger, state);
    network::vpc(&mut b, &c.ec2, raw.vpcs, details).await?;
    network::subnets(&mut b, raw.subnets);
    gateways::igw(&mut b, raw.igws);
    gateways::eips(&mut b, raw.eips);
    gateways::nats(&mut b, raw.nats);
    routes::tables(&mut b, raw.rts);
    acls::build(&mut b, raw.nacls);
    endpoint::s3(&mut b, raw.endpoints);
    flow_logs::build(&mut b, logging, raw.flow_logs)?;
    let mut observed = b.finish();
    let from_role = observed
        .found
        .get(&Addr::Role.to_string())
        .and_then(|f| f.info.get("arn"))
        .and_then(|a| a.as_str())
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    observed.account = match from_role.or(owner) {
        Some(a) => Some(a),
        None if spec.flow_logs.is_some() => Some(
            c.sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?
                .account()
                .unwrap_or_default()
                .to_owned(),
        ),
        None => None,
    };
    Ok(observed)
}

/// The raw EC2 describe results of one round.
#[derive(Default)]
struct Raw {
    vpcs: Vec<Vpc>,
    subnets: Vec<Subnet>,
    igws: Vec<InternetGateway>,
    eips: Vec<ElasticIp>,
    nats: Vec<NatGateway>,
    rts: Vec<RouteTable>,
    endpoints: Vec<VpcEndpoint>,
    flow_logs: Vec<FlowLog>,
    nacls: Vec<NetworkAcl>,
}

impl Raw {
    fn extend(&mut self, more: Raw) {
        self.vpcs.extend(more.vpcs);
        self.subnets.extend(more.subnets);
        self.igws.extend(more.igws);
        self.eips.extend(more.eips);
        self.nats.extend(more.nats);
        self.rts.extend(more.rts);
        self.endpoints.extend(more.endpoints);
        self.flow_logs.extend(more.flow_logs);
        self.nacls.extend(more.nacls);
    }
}

/// The filters of one round, per EC2 type; `None` skips that type.
#[derive(Default)]
struct Filters {
    vpcs: Option<Vec<Filter>>,
    subnets: Option<Vec<Filter>>,
    igws: Option<Vec<Filter>>,
    eips: Option<Vec<Filter>>,
    nats: Option<Vec<Filter>>,
    rts: Option<Vec<Filter>>,
    endpoints: Option<Vec<Filter>>,
    flow_logs: Option<Vec<Filter>>,
    nacls: Option<Vec<Filter>>,
}

impl Filters {
    /// The same filters for every type.
    fn every(f: Vec<Filter>) -> Self {
        Filters {
            vpcs: Some(f.clone()),
            subnets: Some(f.clone()),
            igws: Some(f.clone()),
            eips: Some(f.clone()),
            nats: Some(f.clone()),
            rts: Some(f.clone()),
            endpoints: Some(f.clone()),
            flow_logs: Some(f.clone()),
            nacls: Some(f),
        }
    }

    fn is_empty(&self) -> bool {
        [
            &self.vpcs,
            &self.subnets,
            &self.igws,
            &self.eips,
            &self.nats,
            &self.rts,
            &self.endpoints,
            &self.flow_logs,
            &self.nacls,
        ]
        .iter()
        .all(|f| f.is_none())
    }
}

fn tag_filters(tagger: &Tagger) -> Vec<Filter> {
    tagger
        .filters()
        .into_iter()
        .map(|(n, v)| Filter::builder().name(n).values(v).build())
        .collect()
}

/// Every page of one describe call with `filters` (none when `None`).
macro_rules! paged {
    ($filters:expr, |$f:ident| $call:expr, $what:literal, $op:literal) => {
        async {
            let Some($f) = $filters else {
                return Ok(Vec::new());
            };
            $call
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws($what, concat!("ec2:", $op), e))
        }
    };
}

/// One round of EC2 describes, all at once.
async fn describe(ec2: &Ec2, f: Filters) -> Result<Raw> {
    let (vpcs, subnets, igws, eips, nats, rts, endpoints, flow_logs, nacls) = tokio::try_join!(
        paged!(
            f.vpcs,
            |f| ec2.describe_vpcs().set_filters(Some(f)),
            "vpc",
            "DescribeVpcs"
        ),
        paged!(
            f.subnets,
            |f| ec2.describe_subnets().set_filters(Some(f)),
            "subnets",
            "DescribeSubnets"
        ),
        paged!(
            f.igws,
            |f| ec2.describe_internet_gateways().set_filters(Some(f)),
            "internet gateway",
            "DescribeInternetGateways"
        ),
        async {
            let Some(filters) = f.eips else {
                return Ok(Vec::new());
            };
            ec2.describe_addresses()
                .set_filters(Some(filters))
                .send()
                .await
                .map(|o| o.addresses().to_vec())
                .map_err(|e| Error::aws("elastic IPs", "ec2:DescribeAddresses", e))
        },
        paged!(
            f.nats,
            |f| ec2.describe_nat_gateways().set_filter(Some(f)),
            "NAT gateways",
            "DescribeNatGateways"
        ),
        paged!(
            f.rts,
            |f| ec2.describe_route_tables().set_filters(Some(f)),
            "route tables",
            "DescribeRouteTables"
        ),
        paged!(
            f.endpoints,
            |f| ec2.describe_vpc_endpoints().set_filters(Some(f)),
            "VPC endpoints",
            "DescribeVpcEndpoints"
        ),
        paged!(
            f.flow_logs,
            |f| ec2.describe_flow_logs().set_filter(Some(f)),
            "flow logs",
            "DescribeFlowLogs"
        ),
        paged!(
            f.nacls,
            |f| ec2.describe_network_acls().set_filters(Some(f)),
            "network ACLs",
            "DescribeNetworkAcls"
        ),
    )?;
    Ok(Raw {
        vpcs,
        subnets,
        igws,
        eips,
        nats,
        rts,
        endpoints,
        flow_logs,
        nacls,
    })
}

/// Ids recorded in state but not found by tags (tags removed by hand): looked up by id, in one more
/// round only when there are any.
async fn by_state_ids(ec2: &Ec2, state: &State, raw: &mut Raw) -> Result<()> {
    fn missing<T: Item>(state: &State, is: fn(&Addr) -> bool, seen: &[T]) -> Vec<String> {
        state
            .resources
            .iter()
            .filter(|(a, r)| {
                Addr::parse(a).is_some_and(|a| is(&a))
                    && !seen.iter().any(|s| s.id() == Some(&r.id))
            })
            .map(|(_, r)| r.id.clone())
            .collect()
    }
    let by_id = |name: &str, ids: Vec<String>| {
        (!ids.is_empty()).then(|| vec![Filter::builder().name(name).set_values(Some(ids)).build()])
    };
    let f = Filters {
        vpcs: by_id("vpc-id", missing(state, |a| *a == Addr::Vpc, &raw.vpcs)),
        subnets: by_id("subnet-id", missing(state, Addr::is_subnet, &raw.subnets)),
        igws: by_id(
            "internet-gateway-id",
            missing(state, |a| *a == Addr::Igw, &raw.igws),
        ),
        eips: by_id(
            "allocation-id",
            missing(state, |a| matches!(a, Addr::Eip(_)), &raw.eips),
        ),
        nats: by_id(
            "nat-gateway-id",
            missing(state, |a| matches!(a, Addr::Nat(_)), &raw.nats),
        ),
        rts: by_id(
            "route-table-id",
            missing(state, Addr::is_route_table, &raw.rts),
        ),
        // Endpoints by id go through VpcEndpointIds (the documented way; not every implementation
        // filters on vpc-endpoint-id).
        endpoints: None,
        flow_logs: by_id(
            "flow-log-id",
            missing(state, |a| *a == Addr::FlowLog, &raw.flow_logs),
        ),
        nacls: by_id("network-acl-id", missing(state, Addr::is_nacl, &raw.nacls)),
    };
    let endpoints = missing(state, |a| *a == Addr::Endpoint, &raw.endpoints);
    if f.is_empty() && endpoints.is_empty() {
        return Ok(());
    }
    let (more, endpoints) = tokio::try_join!(describe(ec2, f), async {
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        match ec2
            .describe_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(endpoints))
            .send()
            .await
        {
            Ok(o) => Ok(o.vpc_endpoints().to_vec()),
            Err(e) if code_of(&e).is_some_and(|c| c.ends_with(".NotFound")) => Ok(Vec::new()),
            Err(e) => Err(Error::aws("VPC endpoints", "ec2:DescribeVpcEndpoints", e)),
        }
    })?;
    raw.extend(more);
    raw.endpoints.extend(endpoints);
    Ok(())
}

/// A described EC2 item: its id and its tags.
trait Item {
    fn id(&self) -> Option<&str>;
    fn tags(&self) -> &[Tag];
}

macro_rules! item {
    ($t:ty, $id:ident) => {
        impl Item for $t {
            fn id(&self) -> Option<&str> {
                <$t>::$id(self)
            }
            fn tags(&self) -> &[Tag] {
                <$t>::tags(self)
            }
        }
    };
}

item!(Vpc, vpc_id);
item!(Subnet, subnet_id);
item!(InternetGateway, internet_gateway_id);
item!(ElasticIp, allocation_id);
item!(NatGateway, nat_gateway_id);
item!(RouteTable, route_table_id);
item!(VpcEndpoint, vpc_endpoint_id);
item!(FlowLog, flow_log_id);
item!(NetworkAcl, network_acl_id);

/// EC2 tags as key/value pairs.
fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

/// What the per-kind builders share: which items are ours, the resources found so far, and the ids
/// found (to express references between resources as addresses).
struct Builder<'a> {
    tagger: &'a Tagger,
    state: &'a State,
    /// Ids recorded in state → their addresses, for what lost its tags.
    by_state: BTreeMap<String, String>,
    found: FoundSet,
    /// Ids found → their addresses.
    refs: BTreeMap<String, String>,
    warnings: Vec<String>,
    vpc_id: Option<String>,
    deleting_nats: Vec<String>,
}

impl<'a> Builder<'a> {
    fn new(tagger: &'a Tagger, state: &'a State) -> Self {
        Builder {
            tagger,
            state,
            by_state: state
                .resources
                .iter()
                .map(|(a, r)| (r.id.clone(), a.clone()))
                .collect(),
            found: FoundSet::new(),
            refs: BTreeMap::new(),
            warnings: Vec::new(),
            vpc_id: None,
            deleting_nats: Vec::new(),
        }
    }

    /// The address of a described item: its tag, else the state's record of its id (unless its tags say
    /// it belongs to someone else).
    fn address_of(&self, item: &impl Item) -> Option<Addr> {
        if let Some(a) = self.tagger.owned_address(pairs(item.tags())) {
            return Addr::parse(&a);
        }
        if item
            .tags()
            .iter()
            .any(|t| t.key() == Some(hms_core::tags::STACK))
        {
            return None;
        }
        item.id()
            .and_then(|id| self.by_state.get(id))
            .and_then(|a| Addr::parse(a))
    }

    /// The items that are ours and of the kinds `is` accepts, with their addresses.
    fn ours<T: Item>(&self, items: Vec<T>, is: impl Fn(&Addr) -> bool) -> Vec<(Addr, T)> {
        items
            .into_iter()
            .filter_map(|i| self.address_of(&i).filter(|a| is(a)).map(|a| (a, i)))
            .collect()
    }

    /// One item per address: the one recorded in state when it is among them, else the first; the others
    /// are reported as duplicates.
    fn adopt<T: Item>(&mut self, ours: Vec<(Addr, T)>) -> Vec<(Addr, T)> {
        let keyed = ours.into_iter().map(|(a, i)| (a.to_string(), i)).collect();
        let (picks, dup) = hms_core::tags::adopt(
            keyed,
            |a| self.state.id(a).map(str::to_owned),
            |i: &T| i.id().unwrap_or_default(),
        );
        self.warnings.extend(
            dup.iter()
                .map(|(a, i)| format!("{a}: also found {}", i.id().unwrap_or_default())),
        );
        picks
            .into_iter()
            .filter_map(|(a, i)| Addr::parse(&a).map(|a| (a, i)))
            .collect()
    }

    /// [`Builder::ours`], then [`Builder::adopt`].
    fn pick<T: Item>(&mut self, items: Vec<T>, is: impl Fn(&Addr) -> bool) -> Vec<(Addr, T)> {
        let ours = self.ours(items, is);
        self.adopt(ours)
    }

    /// Whether `vpc` is our VPC's id.
    fn in_vpc(&self, vpc: Option<&str>) -> bool {
        self.vpc_id.is_some() && vpc == self.vpc_id.as_deref()
    }

    /// Records a found resource, and its id for references to it.
    fn insert(&mut self, a: &Addr, f: Found) {
        self.refs.insert(f.id.clone(), a.to_string());
        self.found.insert(a.to_string(), f);
    }

    /// A reference to `id`: the address of what was found with it, else the id itself (not ours).
    fn reference(&self, id: &str) -> String {
        self.refs.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    fn finish(self) -> Observed {
        Observed {
            found: self.found,
            vpc_id: self.vpc_id,
            warnings: self.warnings,
            deleting_nats: self.deleting_nats,
            account: None,
        }
    }
}

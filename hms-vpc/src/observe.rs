//! What exists: one concurrent round of describe calls, filtered by this tool's tags (and by the ids in
//! state for anything the tags did not find). Not found is absence, never an error.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client as Ec2;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::code_of;
use hms_core::policy::normalize;
use hms_core::state::State;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::{self, Kind, Tier};
use crate::plan::ROLE_POLICY_NAME;
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
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }
}

fn tag_filters(tagger: &Tagger) -> Vec<Filter> {
    tagger
        .filters()
        .into_iter()
        .map(|(n, v)| Filter::builder().name(n).values(v).build())
        .collect()
}

fn filter(name: &str, values: &[String]) -> Vec<Filter> {
    vec![Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()]
}

fn pairs(tags: &[Tag]) -> impl Iterator<Item = (&str, &str)> {
    tags.iter()
        .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))
}

fn owned(tagger: &Tagger, tags: &[Tag]) -> Option<String> {
    tagger.owned_address(pairs(tags))
}

/// The raw describe results of one round.
#[derive(Default)]
struct Raw {
    vpcs: Vec<aws_sdk_ec2::types::Vpc>,
    subnets: Vec<aws_sdk_ec2::types::Subnet>,
    igws: Vec<aws_sdk_ec2::types::InternetGateway>,
    eips: Vec<aws_sdk_ec2::types::Address>,
    nats: Vec<aws_sdk_ec2::types::NatGateway>,
    rts: Vec<aws_sdk_ec2::types::RouteTable>,
    endpoints: Vec<aws_sdk_ec2::types::VpcEndpoint>,
    flow_logs: Vec<aws_sdk_ec2::types::FlowLog>,
}

macro_rules! describe_paged {
    ($ec2:expr, $op:ident, $set:ident, $filters:expr, $what:literal, $aws_op:literal) => {
        async {
            $ec2.$op()
                .$set(Some($filters))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws($what, concat!("ec2:", $aws_op), e))
        }
    };
}

/// One round of EC2 describes with the same kind of filter for every type (`None`: skip that type).
async fn describe(ec2: &Ec2, f: [Option<Vec<Filter>>; 8]) -> Result<Raw> {
    let [vpcs, subnets, igws, eips, nats, rts, endpoints, flow_logs] = f;
    let skip = |f: &Option<Vec<Filter>>| f.is_none();
    let (s_vpcs, s_sub, s_igw, s_eip, s_nat, s_rt, s_ep, s_fl) = (
        skip(&vpcs),
        skip(&subnets),
        skip(&igws),
        skip(&eips),
        skip(&nats),
        skip(&rts),
        skip(&endpoints),
        skip(&flow_logs),
    );
    let (vpcs, subnets, igws, eips, nats, rts, endpoints, flow_logs) = tokio::try_join!(
        async {
            if s_vpcs {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_vpcs,
                set_filters,
                vpcs.unwrap_or_default(),
                "vpc",
                "DescribeVpcs"
            )
            .await
        },
        async {
            if s_sub {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_subnets,
                set_filters,
                subnets.unwrap_or_default(),
                "subnets",
                "DescribeSubnets"
            )
            .await
        },
        async {
            if s_igw {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_internet_gateways,
                set_filters,
                igws.unwrap_or_default(),
                "internet gateway",
                "DescribeInternetGateways"
            )
            .await
        },
        async {
            if s_eip {
                return Ok(vec![]);
            }
            ec2.describe_addresses()
                .set_filters(eips)
                .send()
                .await
                .map(|o| o.addresses().to_vec())
                .map_err(|e| Error::aws("elastic IPs", "ec2:DescribeAddresses", e))
        },
        async {
            if s_nat {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_nat_gateways,
                set_filter,
                nats.unwrap_or_default(),
                "NAT gateways",
                "DescribeNatGateways"
            )
            .await
        },
        async {
            if s_rt {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_route_tables,
                set_filters,
                rts.unwrap_or_default(),
                "route tables",
                "DescribeRouteTables"
            )
            .await
        },
        async {
            if s_ep {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_vpc_endpoints,
                set_filters,
                endpoints.unwrap_or_default(),
                "VPC endpoints",
                "DescribeVpcEndpoints"
            )
            .await
        },
        async {
            if s_fl {
                return Ok(vec![]);
            }
            describe_paged!(
                ec2,
                describe_flow_logs,
                set_filter,
                flow_logs.unwrap_or_default(),
                "flow logs",
                "DescribeFlowLogs"
            )
            .await
        },
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
    })
}

/// Facts that need the VPC's id: its DNS attributes and its default security group.
#[derive(Default)]
struct VpcDetails {
    dns_support: Option<bool>,
    dns_hostnames: Option<bool>,
    default_sg: Option<aws_sdk_ec2::types::SecurityGroup>,
}

async fn vpc_details(ec2: &Ec2, vpc_id: &str) -> Result<VpcDetails> {
    use aws_sdk_ec2::types::VpcAttributeName;
    let attr = |name: VpcAttributeName| async move {
        match ec2
            .describe_vpc_attribute()
            .vpc_id(vpc_id)
            .attribute(name.clone())
            .send()
            .await
        {
            Ok(o) => Ok(Some(o)),
            Err(e) if code_of(&e) == Some("InvalidVpcID.NotFound") => Ok(None),
            Err(e) => Err(Error::aws(
                format!("vpc {vpc_id}"),
                "ec2:DescribeVpcAttribute",
                e,
            )),
        }
    };
    let (support, hostnames, sgs) = tokio::try_join!(
        attr(VpcAttributeName::EnableDnsSupport),
        attr(VpcAttributeName::EnableDnsHostnames),
        async {
            ec2.describe_security_groups()
                .set_filters(Some(vec![
                    Filter::builder().name("vpc-id").values(vpc_id).build(),
                    Filter::builder()
                        .name("group-name")
                        .values("default")
                        .build(),
                ]))
                .send()
                .await
                .map(|o| o.security_groups().to_vec())
                .map_err(|e| {
                    Error::aws(
                        format!("default security group of {vpc_id}"),
                        "ec2:DescribeSecurityGroups",
                        e,
                    )
                })
        },
    )?;
    Ok(VpcDetails {
        dns_support: support.and_then(|o| o.enable_dns_support().and_then(|v| v.value())),
        dns_hostnames: hostnames.and_then(|o| o.enable_dns_hostnames().and_then(|v| v.value())),
        default_sg: sgs.into_iter().next(),
    })
}

/// The flow logs' log group and delivery role, if they exist.
#[derive(Default)]
struct Logging {
    group: Option<aws_sdk_cloudwatchlogs::types::LogGroup>,
    group_tags: BTreeMap<String, String>,
    role: Option<aws_sdk_iam::types::Role>,
    policy: Option<String>,
}

async fn logging(c: &Clients, spec: &Spec) -> Result<Logging> {
    // Looked for whether flow logs are on or not: turned off, they are found and deleted.
    let (log_group, role_name) = crate::spec::flow_log_names(&spec.tagger);
    let fl = crate::spec::FlowLogs {
        log_group,
        role_name,
        retention_days: 0,
    };
    let (group, group_tags, role, policy) = tokio::try_join!(
        async {
            c.logs
                .describe_log_groups()
                .log_group_name_prefix(&fl.log_group)
                .send()
                .await
                .map(|o| {
                    o.log_groups()
                        .iter()
                        .find(|g| g.log_group_name() == Some(fl.log_group.as_str()))
                        .cloned()
                })
                .map_err(|e| {
                    Error::aws(
                        format!("log group {}", fl.log_group),
                        "logs:DescribeLogGroups",
                        e,
                    )
                })
        },
        async {
            #[allow(deprecated)]
            let r = c
                .logs
                .list_tags_log_group()
                .log_group_name(&fl.log_group)
                .send()
                .await;
            match r {
                Ok(o) => Ok(o
                    .tags()
                    .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default()),
                Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(BTreeMap::new()),
                Err(e) => Err(Error::aws(
                    format!("log group {}", fl.log_group),
                    "logs:ListTagsLogGroup",
                    e,
                )),
            }
        },
        async {
            match c.iam.get_role().role_name(&fl.role_name).send().await {
                Ok(o) => Ok(o.role().cloned()),
                Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
                Err(e) => Err(Error::aws(
                    format!("role {}", fl.role_name),
                    "iam:GetRole",
                    e,
                )),
            }
        },
        async {
            match c
                .iam
                .get_role_policy()
                .role_name(&fl.role_name)
                .policy_name(ROLE_POLICY_NAME)
                .send()
                .await
            {
                Ok(o) => Ok(Some(o.policy_document().to_owned())),
                Err(e) if code_of(&e) == Some("NoSuchEntity") => Ok(None),
                Err(e) => Err(Error::aws(
                    format!("role {}", fl.role_name),
                    "iam:GetRolePolicy",
                    e,
                )),
            }
        },
    )?;
    Ok(Logging {
        group,
        group_tags,
        role,
        policy,
    })
}

/// Reads everything hms-vpc owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    let tagger = &spec.tagger;
    let tags = || Some(tag_filters(tagger));
    let state_vpc = state.id(addr::VPC).map(str::to_owned);
    let (mut raw, logging, details) = tokio::try_join!(
        describe(
            &c.ec2,
            [
                tags(),
                tags(),
                tags(),
                tags(),
                tags(),
                tags(),
                tags(),
                tags()
            ]
        ),
        logging(c, spec),
        async {
            match &state_vpc {
                Some(id) => vpc_details(&c.ec2, id).await.map(Some),
                None => Ok(None),
            }
        },
    )?;

    // Ids recorded in state but not found by tags (tags removed by hand): look them up by id.
    let missing = |is_kind: fn(&Kind) -> bool, seen: Vec<String>| -> Vec<String> {
        state
            .resources
            .iter()
            .filter(|(a, r)| addr::kind(a).is_some_and(|k| is_kind(&k)) && !seen.contains(&r.id))
            .map(|(_, r)| r.id.clone())
            .collect()
    };
    let by_id = |name: &str, ids: Vec<String>| (!ids.is_empty()).then(|| filter(name, &ids));
    let missing_endpoints = missing(
        |k| *k == Kind::Endpoint,
        raw.endpoints
            .iter()
            .filter_map(|v| v.vpc_endpoint_id().map(str::to_owned))
            .collect(),
    );
    let second = [
        by_id(
            "vpc-id",
            missing(
                |k| *k == Kind::Vpc,
                raw.vpcs
                    .iter()
                    .filter_map(|v| v.vpc_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        by_id(
            "subnet-id",
            missing(
                |k| matches!(k, Kind::Subnet(..)),
                raw.subnets
                    .iter()
                    .filter_map(|v| v.subnet_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        by_id(
            "internet-gateway-id",
            missing(
                |k| *k == Kind::Igw,
                raw.igws
                    .iter()
                    .filter_map(|v| v.internet_gateway_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        by_id(
            "allocation-id",
            missing(
                |k| matches!(k, Kind::Eip(_)),
                raw.eips
                    .iter()
                    .filter_map(|v| v.allocation_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        by_id(
            "nat-gateway-id",
            missing(
                |k| matches!(k, Kind::Nat(_)),
                raw.nats
                    .iter()
                    .filter_map(|v| v.nat_gateway_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        by_id(
            "route-table-id",
            missing(
                |k| matches!(k, Kind::RouteTablePublic | Kind::RouteTablePrivate(_)),
                raw.rts
                    .iter()
                    .filter_map(|v| v.route_table_id().map(str::to_owned))
                    .collect(),
            ),
        ),
        // Endpoints by id go through VpcEndpointIds below (the documented way; not every
        // implementation filters on vpc-endpoint-id).
        None,
        by_id(
            "flow-log-id",
            missing(
                |k| *k == Kind::FlowLog,
                raw.flow_logs
                    .iter()
                    .filter_map(|v| v.flow_log_id().map(str::to_owned))
                    .collect(),
            ),
        ),
    ];
    let mut by_state: BTreeMap<String, String> = BTreeMap::new();
    if second.iter().any(Option::is_some) || !missing_endpoints.is_empty() {
        let extra = describe(&c.ec2, second).await?;
        if !missing_endpoints.is_empty() {
            match c
                .ec2
                .describe_vpc_endpoints()
                .set_vpc_endpoint_ids(Some(missing_endpoints.clone()))
                .send()
                .await
            {
                Ok(o) => raw.endpoints.extend(o.vpc_endpoints().iter().cloned()),
                Err(e) if code_of(&e).is_some_and(|c| c.ends_with(".NotFound")) => {}
                Err(e) => return Err(Error::aws("VPC endpoints", "ec2:DescribeVpcEndpoints", e)),
            }
        }
        for (a, r) in &state.resources {
            by_state.insert(r.id.clone(), a.clone());
        }
        raw.vpcs.extend(extra.vpcs);
        raw.subnets.extend(extra.subnets);
        raw.igws.extend(extra.igws);
        raw.eips.extend(extra.eips);
        raw.nats.extend(extra.nats);
        raw.rts.extend(extra.rts);
        raw.endpoints.extend(extra.endpoints);
        raw.flow_logs.extend(extra.flow_logs);
    }
    // The address of a described item: its tag, else the state's record of its id (unless the tags say it
    // belongs to someone else).
    let address_of = |id: Option<&str>, tags: &[Tag]| -> Option<String> {
        if let Some(a) = owned(tagger, tags) {
            return Some(a);
        }
        let foreign = tags.iter().any(|t| t.key() == Some(hms_core::tags::STACK));
        if foreign {
            return None;
        }
        id.and_then(|id| by_state.get(id).cloned())
    };
    let state_id = |a: &str| state.id(a).map(str::to_owned);

    let mut found = FoundSet::new();
    // VPC
    let vpcs: Vec<(String, aws_sdk_ec2::types::Vpc)> = raw
        .vpcs
        .into_iter()
        .filter(|v| v.state().map(|s| s.as_str()) != Some("deleted"))
        .filter_map(|v| {
            address_of(v.vpc_id(), v.tags())
                .filter(|a| a == addr::VPC)
                .map(|a| (a, v))
        })
        .collect();
    let (vpcs, dup) = hms_core::tags::adopt(vpcs, state_id, |v| v.vpc_id().unwrap_or_default());
    let mut warnings: Vec<String> = dup
        .iter()
        .map(|(a, v)| format!("{a}: also found {}", v.vpc_id().unwrap_or_default()))
        .collect();
    let vpc = vpcs.get(addr::VPC).cloned();
    let vpc_id = vpc.as_ref().and_then(|v| v.vpc_id()).map(str::to_owned);
    let details = match (&vpc_id, details) {
        (Some(id), Some(d)) if state_vpc.as_deref() == Some(id.as_str()) => Some(d),
        (Some(id), _) => Some(vpc_details(&c.ec2, id).await?),
        (None, _) => None,
    };
    // Ids → addresses, to express references as addresses.
    let mut addr_of_id: BTreeMap<String, String> = BTreeMap::new();
    if let (Some(v), Some(id)) = (&vpc, &vpc_id) {
        let d = details.as_ref();
        found.insert(
            addr::VPC.to_owned(),
            Found::new(id.clone())
                .attr("cidr_block", v.cidr_block().unwrap_or_default())
                .attr(
                    "enable_dns_support",
                    d.and_then(|d| d.dns_support).unwrap_or(false),
                )
                .attr(
                    "enable_dns_hostnames",
                    d.and_then(|d| d.dns_hostnames).unwrap_or(false),
                )
                .tags(pairs(v.tags())),
        );
        addr_of_id.insert(id.clone(), addr::VPC.to_owned());
        if let Some(sg) = details.as_ref().and_then(|d| d.default_sg.as_ref()) {
            found.insert(
                addr::DEFAULT_SG.to_owned(),
                Found::new(sg.group_id().unwrap_or_default())
                    .attr("ingress_rules", sg.ip_permissions().len())
                    .attr("egress_rules", sg.ip_permissions_egress().len())
                    .uses([addr::VPC]),
            );
        }
    }
    let in_vpc = |v: Option<&str>| vpc_id.is_some() && v == vpc_id.as_deref();

    // Subnets
    let subnets: Vec<(String, aws_sdk_ec2::types::Subnet)> = raw
        .subnets
        .into_iter()
        .filter(|s| in_vpc(s.vpc_id()))
        .filter_map(|s| {
            address_of(s.subnet_id(), s.tags())
                .filter(|a| matches!(addr::kind(a), Some(Kind::Subnet(..))))
                .map(|a| (a, s))
        })
        .collect();
    let (subnets, dup) =
        hms_core::tags::adopt(subnets, state_id, |s| s.subnet_id().unwrap_or_default());
    warnings.extend(
        dup.iter()
            .map(|(a, s)| format!("{a}: also found {}", s.subnet_id().unwrap_or_default())),
    );
    for (a, s) in &subnets {
        let id = s.subnet_id().unwrap_or_default().to_owned();
        addr_of_id.insert(id.clone(), a.clone());
        found.insert(
            a.clone(),
            Found::new(id)
                .attr("cidr_block", s.cidr_block().unwrap_or_default())
                .attr(
                    "availability_zone",
                    s.availability_zone().unwrap_or_default(),
                )
                .attr(
                    "map_public_ip_on_launch",
                    s.map_public_ip_on_launch().unwrap_or(false),
                )
                .tags(pairs(s.tags()))
                .uses([addr::VPC]),
        );
    }

    // Internet gateway (found even when detached, so that a run killed before attaching resumes)
    let igws: Vec<(String, aws_sdk_ec2::types::InternetGateway)> = raw
        .igws
        .into_iter()
        .filter_map(|g| {
            address_of(g.internet_gateway_id(), g.tags())
                .filter(|a| a == addr::IGW)
                .map(|a| (a, g))
        })
        .collect();
    let (igws, dup) = hms_core::tags::adopt(igws, state_id, |g| {
        g.internet_gateway_id().unwrap_or_default()
    });
    warnings.extend(dup.iter().map(|(a, g)| {
        format!(
            "{a}: also found {}",
            g.internet_gateway_id().unwrap_or_default()
        )
    }));
    if let Some(g) = igws.get(addr::IGW) {
        let id = g.internet_gateway_id().unwrap_or_default().to_owned();
        let attached = g
            .attachments()
            .iter()
            .find(|x| in_vpc(x.vpc_id()))
            .map(|_| Value::from(addr::VPC))
            .unwrap_or(Value::Null);
        addr_of_id.insert(id.clone(), addr::IGW.to_owned());
        found.insert(
            addr::IGW.to_owned(),
            Found::new(id)
                .attr("attached_to", attached)
                .info("vpc_id", vpc_id.clone().unwrap_or_default())
                .tags(pairs(g.tags()))
                .uses([addr::VPC]),
        );
    }

    // Elastic IPs
    let eips: Vec<(String, aws_sdk_ec2::types::Address)> = raw
        .eips
        .into_iter()
        .filter_map(|e| {
            address_of(e.allocation_id(), e.tags())
                .filter(|a| matches!(addr::kind(a), Some(Kind::Eip(_))))
                .map(|a| (a, e))
        })
        .collect();
    let (eips, dup) =
        hms_core::tags::adopt(eips, state_id, |e| e.allocation_id().unwrap_or_default());
    warnings.extend(
        dup.iter()
            .map(|(a, e)| format!("{a}: also found {}", e.allocation_id().unwrap_or_default())),
    );
    for (a, e) in &eips {
        let id = e.allocation_id().unwrap_or_default().to_owned();
        addr_of_id.insert(id.clone(), a.clone());
        found.insert(
            a.clone(),
            Found::new(id)
                .attr(
                    "domain",
                    e.domain()
                        .map(|d| d.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .info("public_ip", e.public_ip().unwrap_or_default())
                .tags(pairs(e.tags())),
        );
    }

    // NAT gateways: deleted and failed ones linger in the API for a while; they are gone for us. One being
    // deleted still holds its EIP and subnet: the caller waits for it before planning.
    let nat_state = |n: &aws_sdk_ec2::types::NatGateway| {
        n.state().map(|s| s.as_str().to_owned()).unwrap_or_default()
    };
    let ours: Vec<(String, aws_sdk_ec2::types::NatGateway)> = raw
        .nats
        .into_iter()
        .filter(|n| in_vpc(n.vpc_id()))
        .filter_map(|n| {
            address_of(n.nat_gateway_id(), n.tags())
                .filter(|a| matches!(addr::kind(a), Some(Kind::Nat(_))))
                .map(|a| (a, n))
        })
        .collect();
    let deleting_nats: Vec<String> = ours
        .iter()
        .filter(|(_, n)| nat_state(n) == "deleting")
        .filter_map(|(_, n)| n.nat_gateway_id().map(str::to_owned))
        .collect();
    let nats: Vec<(String, aws_sdk_ec2::types::NatGateway)> = ours
        .into_iter()
        .filter(|(_, n)| !matches!(nat_state(n).as_str(), "deleted" | "deleting" | "failed"))
        .collect();
    let (nats, dup) =
        hms_core::tags::adopt(nats, state_id, |n| n.nat_gateway_id().unwrap_or_default());
    warnings.extend(
        dup.iter()
            .map(|(a, n)| format!("{a}: also found {}", n.nat_gateway_id().unwrap_or_default())),
    );
    for (a, n) in &nats {
        let id = n.nat_gateway_id().unwrap_or_default().to_owned();
        let Some(Kind::Nat(az)) = addr::kind(a) else {
            continue;
        };
        let alloc = n
            .nat_gateway_addresses()
            .iter()
            .find_map(|x| x.allocation_id().map(str::to_owned));
        let ref_of = |id: Option<String>| {
            id.and_then(|i| addr_of_id.get(&i).cloned().or(Some(i)))
                .map(Value::from)
                .unwrap_or(Value::Null)
        };
        let (subnet_ref, eip_ref) = (ref_of(n.subnet_id().map(str::to_owned)), ref_of(alloc));
        addr_of_id.insert(id.clone(), a.clone());
        found.insert(
            a.clone(),
            Found::new(id)
                .attr("subnet", subnet_ref)
                .attr("eip", eip_ref)
                .attr(
                    "state",
                    n.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                )
                .info(
                    "public_ip",
                    n.nat_gateway_addresses()
                        .iter()
                        .find_map(|x| x.public_ip())
                        .unwrap_or_default(),
                )
                .info(
                    "network_interface_ids",
                    n.nat_gateway_addresses()
                        .iter()
                        .filter_map(|x| x.network_interface_id())
                        .collect::<Vec<_>>(),
                )
                .tags(pairs(n.tags()))
                .uses([
                    addr::subnet(Tier::Public, &az),
                    addr::eip(&az),
                    addr::IGW.to_owned(),
                ]),
        );
    }

    // Route tables, their default routes and their associations
    let rts: Vec<(String, aws_sdk_ec2::types::RouteTable)> = raw
        .rts
        .into_iter()
        .filter(|r| in_vpc(r.vpc_id()))
        .filter_map(|r| {
            address_of(r.route_table_id(), r.tags())
                .filter(|a| {
                    matches!(
                        addr::kind(a),
                        Some(Kind::RouteTablePublic | Kind::RouteTablePrivate(_))
                    )
                })
                .map(|a| (a, r))
        })
        .collect();
    let (rts, dup) =
        hms_core::tags::adopt(rts, state_id, |r| r.route_table_id().unwrap_or_default());
    warnings.extend(
        dup.iter()
            .map(|(a, r)| format!("{a}: also found {}", r.route_table_id().unwrap_or_default())),
    );
    for (a, r) in &rts {
        let id = r.route_table_id().unwrap_or_default().to_owned();
        addr_of_id.insert(id.clone(), a.clone());
        found.insert(
            a.clone(),
            Found::new(id.clone())
                .tags(pairs(r.tags()))
                .uses([addr::VPC]),
        );
    }
    for (a, r) in &rts {
        let rt_id = r.route_table_id().unwrap_or_default();
        let route_addr = match addr::kind(a) {
            Some(Kind::RouteTablePublic) => addr::ROUTE_PUBLIC.to_owned(),
            Some(Kind::RouteTablePrivate(az)) => addr::route_private(&az),
            _ => continue,
        };
        if let Some(route) = r
            .routes()
            .iter()
            .find(|x| x.destination_cidr_block() == Some("0.0.0.0/0"))
        {
            let target = route
                .nat_gateway_id()
                .or(route.gateway_id())
                .unwrap_or_default()
                .to_owned();
            let target_ref = addr_of_id.get(&target).cloned().unwrap_or(target.clone());
            found.insert(
                route_addr,
                Found::new(format!("{rt_id}_0.0.0.0/0"))
                    .attr("destination", "0.0.0.0/0")
                    .attr("target", target_ref.clone())
                    .info("route_table_id", rt_id)
                    .info("target_id", target)
                    .uses([a.clone(), target_ref]),
            );
        }
        for assoc in r.associations() {
            if assoc.main() == Some(true) {
                continue;
            }
            let Some(subnet_id) = assoc.subnet_id() else {
                continue;
            };
            let Some(subnet_addr) = addr_of_id.get(subnet_id).cloned() else {
                continue;
            };
            let Some(Kind::Subnet(tier, az)) = addr::kind(&subnet_addr) else {
                continue;
            };
            found.insert(
                addr::rta(tier, &az),
                Found::new(assoc.route_table_association_id().unwrap_or_default())
                    .attr("route_table", a.clone())
                    .attr("subnet", subnet_addr.clone())
                    .uses([a.clone(), subnet_addr]),
            );
        }
    }

    // The S3 endpoint
    let endpoints: Vec<(String, aws_sdk_ec2::types::VpcEndpoint)> = raw
        .endpoints
        .into_iter()
        .filter(|e| {
            !matches!(
                e.state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .as_deref(),
                Some("deleted" | "deleting")
            )
        })
        .filter(|e| in_vpc(e.vpc_id()))
        .filter_map(|e| {
            address_of(e.vpc_endpoint_id(), e.tags())
                .filter(|a| a == addr::ENDPOINT)
                .map(|a| (a, e))
        })
        .collect();
    let (endpoints, dup) = hms_core::tags::adopt(endpoints, state_id, |e| {
        e.vpc_endpoint_id().unwrap_or_default()
    });
    warnings.extend(dup.iter().map(|(a, e)| {
        format!(
            "{a}: also found {}",
            e.vpc_endpoint_id().unwrap_or_default()
        )
    }));
    if let Some(e) = endpoints.get(addr::ENDPOINT) {
        let mut tables: Vec<String> = e
            .route_table_ids()
            .iter()
            .map(|id| addr_of_id.get(id).cloned().unwrap_or(id.clone()))
            .collect();
        tables.sort();
        let mut deps = vec![addr::VPC.to_owned()];
        deps.extend(tables.iter().filter(|t| t.starts_with("vpc.")).cloned());
        found.insert(
            addr::ENDPOINT.to_owned(),
            Found::new(e.vpc_endpoint_id().unwrap_or_default())
                .attr("service_name", e.service_name().unwrap_or_default())
                .attr("route_tables", tables)
                .tags(pairs(e.tags()))
                .uses(deps),
        );
    }

    // Flow logs: the group, the role and its policy, the flow log
    // Names are unique in the account, so a name alone does not make a resource ours: its tags must.
    let foreign = |what: &str,
                   name: &str,
                   tags: &mut dyn Iterator<Item = (&str, &str)>,
                   address: &str|
     -> Result<()> {
        let pairs: Vec<(&str, &str)> = tags.collect();
        if tagger.owned_address(pairs.iter().copied()).as_deref() == Some(address) {
            return Ok(());
        }
        let owner = pairs
            .iter()
            .find(|(k, _)| *k == hms_core::tags::STACK)
            .map(|_| {
                let get = |key: &str| {
                    pairs
                        .iter()
                        .find(|(k, _)| *k == key)
                        .map(|(_, v)| *v)
                        .unwrap_or("?")
                };
                format!(
                    "stack {} env {}",
                    get(hms_core::tags::STACK),
                    get(hms_core::tags::ENV)
                )
            })
            .unwrap_or_else(|| String::from("nothing managed by hms"));
        Err(Error::Refused(format!(
            "{what} {name} already exists and belongs to {owner}; rename or delete it, or use another --stack"
        )))
    };
    if let Some(g) = &logging.group {
        let name = g.log_group_name().unwrap_or_default();
        foreign(
            "log group",
            name,
            &mut logging
                .group_tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
            addr::LOG_GROUP,
        )?;
        found.insert(
            addr::LOG_GROUP.to_owned(),
            Found::new(g.log_group_name().unwrap_or_default())
                .attr("name", g.log_group_name().unwrap_or_default())
                .attr(
                    "retention_in_days",
                    g.retention_in_days()
                        .map(Value::from)
                        .unwrap_or(Value::Null),
                )
                .info("arn", g.arn().unwrap_or_default().trim_end_matches(":*"))
                .tags(logging.group_tags.clone()),
        );
    }
    let mut role_arn = None;
    if let Some(role) = &logging.role {
        foreign(
            "IAM role",
            role.role_name(),
            &mut role.tags().iter().map(|t| (t.key(), t.value())),
            addr::ROLE,
        )?;
        role_arn = Some(role.arn().to_owned());
        found.insert(
            addr::ROLE.to_owned(),
            Found::new(role.role_name())
                .attr("name", role.role_name())
                .attr(
                    "assume_role_policy",
                    role.assume_role_policy_document()
                        .map(|d| normalize(&Value::from(d)))
                        .unwrap_or(Value::Null),
                )
                .info("arn", role.arn())
                .tags(
                    role.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned())),
                ),
        );
        if let Some(doc) = &logging.policy {
            found.insert(
                addr::ROLE_POLICY.to_owned(),
                Found::new(format!("{}:{ROLE_POLICY_NAME}", role.role_name()))
                    .attr("document", normalize(&Value::from(doc.as_str())))
                    .uses([addr::ROLE]),
            );
        }
    }
    let flow_logs: Vec<(String, aws_sdk_ec2::types::FlowLog)> = raw
        .flow_logs
        .into_iter()
        .filter(|f| in_vpc(f.resource_id()))
        .filter_map(|f| {
            address_of(f.flow_log_id(), f.tags())
                .filter(|a| a == addr::FLOW_LOG)
                .map(|a| (a, f))
        })
        .collect();
    let (flow_logs, dup) =
        hms_core::tags::adopt(flow_logs, state_id, |f| f.flow_log_id().unwrap_or_default());
    warnings.extend(
        dup.iter()
            .map(|(a, f)| format!("{a}: also found {}", f.flow_log_id().unwrap_or_default())),
    );
    if let Some(f) = flow_logs.get(addr::FLOW_LOG) {
        let role = f.deliver_logs_permission_arn().unwrap_or_default();
        let role_ref = if Some(role) == role_arn.as_deref() {
            addr::ROLE.to_owned()
        } else {
            role.to_owned()
        };
        found.insert(
            addr::FLOW_LOG.to_owned(),
            Found::new(f.flow_log_id().unwrap_or_default())
                .attr("resource", addr::VPC)
                .attr(
                    "traffic_type",
                    f.traffic_type()
                        .map(|t| t.as_str().to_owned())
                        .unwrap_or_default(),
                )
                .attr("log_group", f.log_group_name().unwrap_or_default())
                .attr("role", role_ref)
                .tags(pairs(f.tags()))
                .uses([addr::VPC, addr::LOG_GROUP, addr::ROLE, addr::ROLE_POLICY]),
        );
    }
    Ok(Observed {
        found,
        vpc_id,
        warnings,
        deleting_nats,
    })
}

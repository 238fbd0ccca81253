//! hms-vpc: the HMS VPC — subnets per AZ, internet and NAT gateways, routes, the default security group
//! stripped of rules, the S3 gateway endpoint and flow logs. Writes `outputs.vpc`:
//!
//! `vpc_id`, `cidr`, `azs`, `private_subnet_ids` and `public_subnet_ids` (in AZ order),
//! `public_route_table_id`, `private_route_table_ids` (AZ order), `igw_id`, `nat_gateway_ids`,
//! `nat_public_ips`, `s3_endpoint_id`, `flow_log_id`, `flow_log_group` (the flow logs' log group, which
//! hms-security encrypts with its `logs` key).
//!
//! The map: [`addr`] names the resources ([`addr::Addr`], one variant per kind); [`spec`] decides the
//! desired VPC from config; [`observe`] reads what exists in one concurrent round and builds it kind by
//! kind; [`plan`] lists the desired resources and diffs them; [`apply`] carries out one step in the room
//! of its kind. This file ties them into a [`Tool`] and writes the outputs.

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod spec;

use aws_sdk_ec2::types::Filter;
use clap::Parser;
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::ui::Task;
use hms_core::{Error, Result};
use serde_json::Value;

use hms_core::addr::Address;

use crate::addr::{Addr, Tier};
use crate::observe::Observed;
use crate::spec::Spec;

/// Command line of hms-vpc.
#[derive(Debug, Parser)]
#[command(
    name = "hms-vpc",
    version,
    about = "Provision the HMS VPC: subnets, gateways, routes, flow logs, S3 endpoint."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    hms_core::engine::run::<Vpc>(&cli.global, cli.command).await
}

/// The AWS clients hms-vpc uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
}

/// The hms-vpc tool.
#[derive(Debug)]
pub struct Vpc {
    clients: Clients,
}

impl Tool for Vpc {
    const NAME: &'static str = "hms-vpc";
    const SECTION: &'static str = "vpc";
    const USES: &'static [&'static str] = &[];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = NoFlags;
    type DownFlags = NoFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Vpc {
            clients: Clients {
                ec2: aws_sdk_ec2::Client::new(sdk),
                iam: aws_sdk_iam::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
            },
        }
    }

    async fn observe(&self, ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        let mut observed = observe::observe(&self.clients, spec, state).await?;
        if !observed.deleting_nats.is_empty() {
            // A NAT gateway being deleted still holds its EIP and subnet: plan only once it is gone.
            for id in &observed.deleting_nats {
                let task = ctx.ui.task(format!("NAT gateway {id}"));
                apply::wait_nat(&self.clients, ctx.timeout, &task, id, id, "deleted").await?;
                task.done("deleted");
            }
            observed = observe::observe(&self.clients, spec, state).await?;
        }
        for w in &observed.warnings {
            ctx.ui.warn(format!(
                "duplicate left alone (delete it by hand if unused): {w}"
            ));
        }
        Ok(observed)
    }

    fn plan(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan(spec, observed)
    }

    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        _spec: &Spec,
        observed: &Observed,
        plan: &Plan,
    ) -> Result<Vec<String>> {
        let Some(vpc) = &observed.vpc_id else {
            return Ok(vec![]);
        };
        let destroyed = plan
            .changes
            .iter()
            .filter(|c| c.action.is_destructive())
            .filter_map(|c| Addr::parse(&c.address).map(|a| (a, c)));
        let mut vpc_goes = false;
        let mut subnets: Vec<String> = Vec::new();
        for (a, c) in destroyed {
            match a {
                Addr::Vpc => vpc_goes = true,
                Addr::Subnet(..) => {
                    subnets.extend(observed.found.get(&c.address).map(|f| f.id.clone()))
                }
                _ => {}
            }
        }
        if !vpc_goes && subnets.is_empty() {
            return Ok(vec![]);
        }
        blockers(&self.clients, vpc, observed, vpc_goes, &subnets).await
    }

    async fn apply(
        &self,
        ctx: &Ctx<'_>,
        rec: &Recorder<'_>,
        spec: &Spec,
        change: &Change,
        step: Step,
        task: &Task<'_>,
    ) -> Result<Option<Resource>> {
        apply::apply(&self.clients, ctx, rec, spec, change, step, task).await
    }

    fn import(spec: &Spec, tf: &hms_core::terraform::TfState) -> hms_core::terraform::Mapping {
        import::map(spec, tf)
    }

    fn outputs(spec: &Spec, resources: &Resources) -> Outputs {
        outputs(spec, resources)
    }
}

/// `outputs.vpc` from the spec and the recorded resources.
pub fn outputs(spec: &Spec, r: &Resources) -> Outputs {
    let mut o = Outputs::default();
    let azs = spec.az_names();
    let each = |f: &dyn Fn(&str) -> Addr| -> Vec<String> {
        azs.iter().map(|az| f(az).to_string()).collect()
    };
    o.id("vpc_id", r, &Addr::Vpc.to_string());
    o.set("cidr", spec.cidr.to_string());
    o.set("azs", azs.clone());
    o.ids(
        "private_subnet_ids",
        r,
        &each(&|az| Addr::subnet(Tier::Private, az)),
    );
    o.ids(
        "public_subnet_ids",
        r,
        &each(&|az| Addr::subnet(Tier::Public, az)),
    );
    o.id(
        "public_route_table_id",
        r,
        &Addr::RouteTablePublic.to_string(),
    );
    o.ids("private_route_table_ids", r, &each(&Addr::rt_private));
    o.id("igw_id", r, &Addr::Igw.to_string());
    let nat_azs = spec.nat_azs();
    let nats: Vec<String> = nat_azs.iter().map(|az| Addr::nat(az).to_string()).collect();
    o.ids("nat_gateway_ids", r, &nats);
    let ips: Option<Vec<Value>> = nat_azs
        .iter()
        .map(|az| {
            r.get(&Addr::eip(az).to_string())
                .and_then(|e| e.attr("public_ip"))
                .filter(|s| !s.is_empty())
                .map(Value::from)
        })
        .collect();
    o.maybe("nat_public_ips", ips.map(Value::from));
    o.id("s3_endpoint_id", r, &Addr::Endpoint.to_string());
    // Whether the private subnets reach out (their default routes through the NAT gateways exist):
    // unknown until they do, so that a reader whose tasks pull images there (hms-ecs) waits for it in an
    // overlapped pipeline, where the early document comes while the NAT gateway is pending.
    let routes: Vec<String> = spec
        .azs
        .iter()
        .filter(|az| spec.nat_for(&az.name).is_some())
        .map(|az| Addr::route_private(&az.name).to_string())
        .collect();
    if routes.is_empty() {
        o.set("private_egress", "none");
    } else {
        o.maybe(
            "private_egress",
            routes
                .iter()
                .all(|a| r.contains_key(a))
                .then(|| Value::from("nat")),
        );
    }
    if let Some(f) = &spec.flow_logs {
        o.id("flow_log_id", r, &Addr::FlowLog.to_string());
        o.set("flow_log_group", f.log_group.clone());
    } else {
        o.set("flow_log_id", Value::Null);
        o.set("flow_log_group", Value::Null);
    }
    o
}

/// What else uses the VPC (when it goes) or the subnets that go: network interfaces of other tools, and
/// their security groups when the VPC goes.
async fn blockers(
    c: &Clients,
    vpc: &str,
    observed: &Observed,
    vpc_goes: bool,
    subnets: &[String],
) -> Result<Vec<String>> {
    // Our NAT gateways' interfaces go away with them.
    let nats: Vec<&hms_core::diff::Found> = observed
        .found
        .iter()
        .filter(|(a, _)| matches!(Addr::parse(a), Some(Addr::Nat(_))))
        .map(|(_, f)| f)
        .collect();
    let nat_ids: Vec<&str> = nats.iter().map(|f| f.id.as_str()).collect();
    let nat_enis: Vec<&str> = nats
        .iter()
        .filter_map(|f| {
            f.info
                .get("network_interface_ids")
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let vpc_filter = Filter::builder().name("vpc-id").values(vpc).build();
    let (enis, sgs) = tokio::try_join!(
        async {
            c.ec2
                .describe_network_interfaces()
                .filters(vpc_filter.clone())
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws(format!("vpc {vpc}"), "ec2:DescribeNetworkInterfaces", e))
        },
        async {
            c.ec2
                .describe_security_groups()
                .filters(vpc_filter.clone())
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| Error::aws(format!("vpc {vpc}"), "ec2:DescribeSecurityGroups", e))
        },
    )?;
    let mut out = Vec::new();
    for eni in &enis {
        if !vpc_goes
            && !eni
                .subnet_id()
                .is_some_and(|s| subnets.iter().any(|x| x == s))
        {
            continue;
        }
        let desc = eni.description().unwrap_or_default();
        let id = eni.network_interface_id().unwrap_or_default();
        if nat_enis.contains(&id) || nat_ids.iter().any(|n| desc.contains(n)) {
            continue;
        }
        out.push(format!(
            "network interface {} ({}{})",
            eni.network_interface_id().unwrap_or_default(),
            if desc.is_empty() {
                "no description"
            } else {
                desc
            },
            eni.requester_id()
                .map(|r| format!(", requested by {r}"))
                .unwrap_or_default()
        ));
    }
    for sg in &sgs {
        if !vpc_goes || sg.group_name() == Some("default") {
            continue;
        }
        let owner = sg
            .tags()
            .iter()
            .find(|t| t.key() == Some(hms_core::tags::TOOL))
            .and_then(|t| t.value())
            .unwrap_or("not managed by hms");
        out.push(format!(
            "security group {} ({}, {owner})",
            sg.group_id().unwrap_or_default(),
            sg.group_name().unwrap_or_default()
        ));
    }
    Ok(out)
}

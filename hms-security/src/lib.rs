//! hms-security: least-privilege security groups (alb, ecs, database, cache) with every rule managed on its
//! own, the ECS task execution role, one task role per service and the RDS enhanced-monitoring role, and
//! the KMS keys rds, backups, logs and alarms (the alarm topic's). Reads `outputs.vpc`; writes
//! `outputs.security`:
//!
//! `alb_sg_id`, `ecs_sg_id`, `database_sg_id`, `cache_sg_id`, `ecs_execution_role_arn`,
//! `monitoring_role_arn`, `task_role_arns` (service → ARN), `kms_key_arns` (`rds`, `backups`, `logs`,
//! `alarms`, and `cache` when the stack has hms-cache → ARN); with `backup.replica_region`, also
//! `replication_role_arn` (the role S3 replicates the backup bucket with) and
//! `kms_key_arns.backups_replica` (the replica key, in that region).
//!
//! Modules: [`spec`] decides, [`observe`] reads (one concurrent round; a room per kind: groups, roles,
//! keys), [`plan`] diffs, [`apply`] carries out one change (the same rooms). [`addr`] names every resource;
//! [`documents`] writes the policy documents both the plan and apply need.

pub mod addr;
pub mod apply;
pub mod documents;
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
use serde_json::{Map, Value};

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::Spec;

/// Command line of hms-security.
#[derive(Debug, Parser)]
#[command(
    name = "hms-security",
    version,
    about = "Provision the HMS security groups, IAM roles for ECS and KMS keys."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    hms_core::engine::run::<Security>(&cli.global, cli.command).await
}

/// The AWS clients hms-security uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub sts: aws_sdk_sts::Client,
    /// For hms-vpc's flow-log group, which the `logs` key encrypts.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Finds this stack's KMS keys by their tags when neither state nor an alias names them.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// For the clients of the replica's region (`backup.replica_region`), made when needed.
    pub sdk: SdkConfig,
}

impl Clients {
    /// A KMS client for `region` (the replica key's).
    pub fn kms_in(&self, region: &str) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&self.sdk)
                .region(aws_sdk_kms::config::Region::new(region.to_owned()))
                .build(),
        )
    }

    /// A Resource Groups Tagging client for `region`.
    pub fn tagging_in(&self, region: &str) -> aws_sdk_resourcegroupstagging::Client {
        aws_sdk_resourcegroupstagging::Client::from_conf(
            aws_sdk_resourcegroupstagging::config::Builder::from(&self.sdk)
                .region(aws_sdk_resourcegroupstagging::config::Region::new(
                    region.to_owned(),
                ))
                .build(),
        )
    }
}

/// The hms-security tool.
#[derive(Debug)]
pub struct Security {
    clients: Clients,
}

impl Tool for Security {
    const NAME: &'static str = "hms-security";
    const SECTION: &'static str = "security";
    const USES: &'static [&'static str] = &["vpc"];
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
        Security {
            clients: Clients {
                ec2: aws_sdk_ec2::Client::new(sdk),
                tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
                iam: aws_sdk_iam::Client::new(sdk),
                kms: aws_sdk_kms::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
                sdk: sdk.clone(),
            },
        }
    }

    async fn observe(&self, _ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        observe::observe(&self.clients, spec, state).await
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
        // The groups this plan deletes or replaces.
        let ids: Vec<String> = observed
            .group_ids
            .iter()
            .filter(|(_, key)| {
                plan.changes
                    .iter()
                    .any(|c| c.address == Addr::group(key).to_string() && c.action.is_destructive())
            })
            .map(|(id, _)| id.clone())
            .collect();
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let enis: Vec<aws_sdk_ec2::types::NetworkInterface> = self
            .clients
            .ec2
            .describe_network_interfaces()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .set_values(Some(ids))
                    .build(),
            )
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| Error::aws("security groups", "ec2:DescribeNetworkInterfaces", e))?;
        Ok(enis
            .iter()
            .map(|e| {
                let groups: Vec<&str> = e
                    .groups()
                    .iter()
                    .filter_map(|g| g.group_id())
                    .filter_map(|g| observed.group_ids.get(g).map(String::as_str))
                    .collect();
                format!(
                    "network interface {} ({}) uses the {} group",
                    e.network_interface_id().unwrap_or_default(),
                    e.description()
                        .filter(|d| !d.is_empty())
                        .unwrap_or("no description"),
                    groups.join(", ")
                )
            })
            .collect())
    }

    async fn apply(
        &self,
        ctx: &Ctx<'_>,
        rec: &Recorder<'_>,
        spec: &Spec,
        change: &Change,
        step: Step,
        _task: &Task<'_>,
    ) -> Result<Option<Resource>> {
        apply::apply(&self.clients, ctx, rec, spec, change, step).await
    }

    fn import(spec: &Spec, tf: &hms_core::terraform::TfState) -> hms_core::terraform::Mapping {
        import::map(spec, tf)
    }

    fn outputs(spec: &Spec, resources: &Resources) -> Outputs {
        outputs(spec, resources)
    }
}

/// `outputs.security` from the spec and the recorded resources.
pub fn outputs(spec: &Spec, r: &Resources) -> Outputs {
    let mut o = Outputs::default();
    for (group, _) in &spec.groups {
        o.id(
            &format!("{group}_sg_id"),
            r,
            &Addr::group(group).to_string(),
        );
    }
    let arn = |a: &Addr| {
        r.get(&a.to_string())
            .and_then(|x| x.attr("arn"))
            .filter(|s| !s.is_empty())
            .map(Value::from)
    };
    o.maybe("ecs_execution_role_arn", arn(&Addr::ExecutionRole));
    o.maybe("monitoring_role_arn", arn(&Addr::MonitoringRole));
    if spec.replica.is_some() {
        o.maybe("replication_role_arn", arn(&Addr::ReplicationRole));
    }
    let mut unknown = false;
    let roles: Map<String, Value> = spec
        .task_roles
        .iter()
        .map(|t| {
            let v = arn(&Addr::task_role(&t.service));
            unknown |= v.is_none();
            (t.service.clone(), v.unwrap_or(Value::Null))
        })
        .collect();
    o.set("task_role_arns", Value::Object(roles));
    if unknown {
        o.unknown.push("task_role_arns".into());
    }
    let mut unknown = false;
    let replica = spec
        .replica
        .as_ref()
        .map(|r| (crate::spec::REPLICA_KEY.to_owned(), r.alias.clone()));
    let keys: Map<String, Value> = spec
        .keys
        .iter()
        .chain(replica.iter())
        .map(|(k, _)| {
            let v = arn(&Addr::key(k));
            unknown |= v.is_none();
            (k.clone(), v.unwrap_or(Value::Null))
        })
        .collect();
    o.set("kms_key_arns", Value::Object(keys));
    if unknown {
        o.unknown.push("kms_key_arns".into());
    }
    o
}

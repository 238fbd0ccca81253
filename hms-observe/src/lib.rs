//! hms-observe: CloudWatch alarms with real dimensions (each ECS service's CPU — `hms-cpu-utilization` for
//! the backend — and memory, the load balancer's target 5xx count and response time, the database's CPU,
//! free storage and connections), all notifying the SNS topic `<stack>-<env>-alarms` and its email
//! subscriptions (the topic encrypted with hms-security's `alarms` key); the RDS event subscriptions
//! `<stack>-<env>-db-events` (the instance) and `<stack>-<env>-db-parameter-events` (its parameter group) to
//! the topic; the dashboard `<stack>-<env>`; the X-Ray sampling rule `hms-sampling` and a group.
//! Reads `outputs.ecs`, `outputs.db` and `outputs.security` (each optional: what is not in the stack is not
//! watched, or not encrypted); writes `outputs.observe`: `topic_arn`, `rds_event_subscriptions` (name by
//! key), `alarms` (name by key), `alarm_count`, `dashboard`, `dashboard_url`, `sampling_rule`, `xray_group`.
//!
//! The flow, as in every tool: [`spec`] decides (one room per kind under `spec/`), [`observe`] reads in one
//! concurrent round, [`plan`] diffs, [`apply`] carries out each change (one room per kind under `apply/`);
//! every address is an [`addr::Addr`].

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod spec;

use clap::Parser;
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::Result;
use serde_json::{Map, Value};

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::Spec;

/// Command line of hms-observe.
#[derive(Debug, Parser)]
#[command(
    name = "hms-observe",
    version,
    about = "Provision HMS monitoring: CloudWatch alarms and dashboard, the alarm topic, X-Ray sampling."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    hms_core::engine::run::<Observe>(&cli.global, cli.command).await
}

/// The AWS clients hms-observe uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    /// The RDS event subscriptions.
    pub rds: aws_sdk_rds::Client,
    pub xray: aws_sdk_xray::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The hms-observe tool.
#[derive(Debug)]
pub struct Observe {
    clients: Clients,
}

impl Tool for Observe {
    const NAME: &'static str = "hms-observe";
    const SECTION: &'static str = "observe";
    const USES: &'static [&'static str] = &["security", "dns", "db", "cache", "ecs", "backup"];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;

    /// `{bucket}`: the backup bucket (hms-backup's `[backup] bucket`), whose notification it writes.
    fn permission_names(
        config: &hms_core::config::Config,
        id: &hms_core::document::Identity,
    ) -> Result<Vec<(&'static str, String)>> {
        /// The one key of `[backup]` hms-observe needs; the rest is hms-backup's to check.
        #[derive(Debug, Default, serde::Deserialize)]
        struct BackupName {
            bucket: Option<String>,
        }
        let cfg: BackupName = config.section("backup")?;
        let bucket = cfg
            .bucket
            .unwrap_or_else(|| format!("{}-backups-{}", id.stack, id.env));
        Ok(vec![("bucket", bucket)])
    }
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = NoFlags;
    type DownFlags = NoFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Observe {
            clients: Clients {
                cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
                sns: aws_sdk_sns::Client::new(sdk),
                rds: aws_sdk_rds::Client::new(sdk),
                xray: aws_sdk_xray::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
                s3: aws_sdk_s3::Client::new(sdk),
            },
        }
    }

    async fn observe(&self, _ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        observe::observe(&self.clients, spec, state).await
    }

    fn plan(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan(spec, observed)
    }

    async fn apply(
        &self,
        ctx: &Ctx<'_>,
        rec: &Recorder<'_>,
        spec: &Spec,
        change: &Change,
        step: Step,
        task: &hms_core::ui::Task<'_>,
    ) -> Result<Option<Resource>> {
        apply::apply(&self.clients, ctx, rec, spec, change, step, task).await
    }

    fn import(spec: &Spec, tf: &hms_core::terraform::TfState) -> hms_core::terraform::Mapping {
        import::map(spec, tf)
    }

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let at = |a: Addr| r.get(&a.to_string());
        let arn = |a: Addr| {
            at(a)
                .and_then(|x| x.attr("arn"))
                .filter(|s| !s.is_empty())
                .map(Value::from)
        };
        o.maybe("topic_arn", arn(Addr::Topic));
        let events: Map<String, Value> = spec
            .events
            .iter()
            .map(|e| (e.key.to_owned(), Value::from(e.name.clone())))
            .collect();
        o.set("rds_event_subscriptions", Value::Object(events));
        let alarms: Map<String, Value> = spec
            .alarms
            .iter()
            .map(|a| (a.key.clone(), Value::from(a.name.clone())))
            .collect();
        o.set("alarm_count", alarms.len());
        o.set("alarms", Value::Object(alarms));
        o.set("alarm_emails", spec.emails.clone());
        let id = |a: Addr| at(a).map(|x| Value::from(x.id.clone()));
        match &spec.dashboard {
            Some(d) => {
                o.maybe("dashboard", id(Addr::Dashboard));
                o.set(
                    "dashboard_url",
                    format!(
                        "https://{0}.console.aws.amazon.com/cloudwatch/home?region={0}#dashboards:name={1}",
                        spec.region, d.name
                    ),
                );
            }
            None => o.set("dashboard", Value::Null),
        }
        o.maybe("sampling_rule", id(Addr::SamplingRule));
        o.maybe("xray_group", id(Addr::Group));
        o
    }
}

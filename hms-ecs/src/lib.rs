//! hms-ecs: the ECS Fargate cluster and services behind an ALB, with autoscaling and safe deploys. Reads
//! `outputs.vpc`, `outputs.security`, `outputs.db`; writes `outputs.ecs`:
//!
//! `cluster_name`, `cluster_arn`, `services` (key → `name`, `service_arn`, `task_definition_arn`,
//! `target_group_arn`, `log_group`), `log_bucket` (the stack's log bucket's name), `alb_arn`, `alb_dns_name`, `alb_zone_id`, `listener_arns`; with
//! `ecs.origin_verify`, `origin_verify_secret_arn` (its `AWSCURRENT` string is the bare header value) and
//! `origin_verify_header` (`X-Origin-Verify`); after `rotate-origin-secret`, `origin_verify_rotation`
//! (`rotating`, then `set`).
//!
//! Modules: [`addr`] (the typed addresses), [`spec`] (config, flags and upstream outputs → the validated
//! [`Spec`]), [`desired`] (shapes both plan and observe use), [`observe`] (one concurrent round of
//! describes, one module per kind), [`plan`] (pure diff) and [`apply`] (one module per kind); [`secret`]
//! makes, reads and hashes the origin-verify value; [`rotate`] is the `rotate-origin-secret` verb.

pub mod addr;
pub mod apply;
pub mod desired;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod rotate;
pub mod secret;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput, VerbCtx};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::ui::Task;
use hms_core::Result;
use serde_json::{json, Map, Value};

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{Deploy, DownFlags, Spec, UpFlags};

/// Command line of hms-ecs.
#[derive(Debug, Parser)]
#[command(
    name = "hms-ecs",
    version,
    about = "Provision the HMS ECS Fargate services behind an ALB, with autoscaling."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: EcsCommand,
}

/// hms-ecs's commands: the common ones with its own flags, `deploy` and `rotate-origin-secret`.
#[derive(Debug, Subcommand)]
pub enum EcsCommand {
    #[command(flatten)]
    Common(Command<NoFlags, UpFlags, DownFlags>),
    /// Roll one service to a new image (a new task definition revision, rolled out and waited for). Put the
    /// image in config to keep it for the next `up`.
    Deploy {
        /// The service's key in config (`backend`).
        service: String,
        /// The image reference (`123456789012.dkr.ecr.us-east-1.amazonaws.com/hms-backend:v1.3.0`).
        image: String,
        /// Return once the deployment is accepted instead of waiting for it.
        #[arg(long)]
        no_wait: bool,
    },
    /// Rotate the origin-verify secret (ecs.origin_verify): a new value becomes current and the listener
    /// rules accept it next to the old one; run 'hms-edge up' (CloudFront sends the new one), then run
    /// again with --finish.
    RotateOriginSecret {
        /// Accept only the current value from now on, once 'hms-edge up' has deployed it.
        #[arg(long)]
        finish: bool,
    },
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let command = match cli.command {
        EcsCommand::Common(c) => c,
        EcsCommand::Deploy {
            service,
            image,
            no_wait,
        } => Command::Up {
            allow_destroy: false,
            yes: true,
            plan_file: None,
            plan: NoFlags {},
            flags: UpFlags {
                no_wait,
                deploy: Some(Deploy { service, image }),
            },
        },
        EcsCommand::RotateOriginSecret { finish } => {
            return hms_core::engine::run_verb::<Ecs, _>(
                &cli.global,
                "rotate-origin-secret",
                true,
                async |v: &VerbCtx<'_, Ecs>| rotate::rotate(v, finish).await,
            )
            .await
        }
    };
    hms_core::engine::run::<Ecs>(&cli.global, command).await
}

/// The AWS clients hms-ecs uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub s3: aws_sdk_s3::Client,
}

/// The hms-ecs tool.
#[derive(Debug)]
pub struct Ecs {
    clients: Clients,
}

impl Tool for Ecs {
    const NAME: &'static str = "hms-ecs";
    const SECTION: &'static str = "ecs";
    const USES: &'static [&'static str] = &["vpc", "security", "dns", "db", "cache"];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = UpFlags;
    type DownFlags = DownFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Ecs {
            clients: Clients {
                ecs: aws_sdk_ecs::Client::new(sdk),
                elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
                scaling: aws_sdk_applicationautoscaling::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
                secrets: aws_sdk_secretsmanager::Client::new(sdk),
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

    fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan_down(spec, observed)
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

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let get = |a: &Addr| r.get(&a.to_string());
        let arn = |a: &Addr| {
            get(a)
                .and_then(|x| x.attr("arn"))
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(s.to_owned()))
        };
        o.set("cluster_name", spec.cluster.clone());
        o.maybe("cluster_arn", arn(&Addr::Cluster));
        let mut unknown = false;
        let services: Map<String, Value> = spec
            .services
            .iter()
            .map(|s| {
                let k = || s.key.clone();
                let svc = arn(&Addr::Service(k()));
                let td = get(&Addr::TaskDefinition(k())).map(|x| Value::from(x.id.clone()));
                let tg = arn(&Addr::TargetGroup(k()));
                unknown |= svc.is_none() || td.is_none() || tg.is_none();
                (
                    k(),
                    json!({"name": s.name, "service_arn": svc, "task_definition_arn": td, "target_group_arn": tg, "log_group": s.log_group}),
                )
            })
            .collect();
        o.set("services", Value::Object(services));
        if unknown {
            o.unknown.push("services".into());
        }
        o.maybe(
            "log_bucket",
            get(&Addr::LogBucket).map(|x| Value::from(x.id.clone())),
        );
        o.maybe("alb_arn", arn(&Addr::Alb));
        let alb = |k: &str| get(&Addr::Alb).and_then(|x| x.attr(k)).map(Value::from);
        o.maybe("alb_dns_name", alb("dns_name"));
        o.maybe("alb_zone_id", alb("zone_id"));
        let listeners: Vec<Value> = [Addr::HttpListener, Addr::HttpsListener]
            .iter()
            .filter_map(arn)
            .collect();
        o.maybe(
            "listener_arns",
            (!listeners.is_empty()).then(|| Value::from(listeners)),
        );
        if spec.origin_secret.is_some() {
            o.maybe("origin_verify_secret_arn", arn(&Addr::OriginSecret));
            o.set("origin_verify_header", secret::HEADER);
        }
        o
    }
}

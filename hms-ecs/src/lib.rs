//! hms-ecs: the ECS Fargate cluster and services behind an ALB, with autoscaling and safe deploys. Reads
//! `outputs.vpc`, `outputs.security`, `outputs.db`; writes `outputs.ecs`:
//!
//! `cluster_name`, `cluster_arn`, `services` (key → `name`, `service_arn`, `task_definition_arn`,
//! `target_group_arn`, `log_group`), `alb_arn`, `alb_dns_name`, `alb_zone_id`, `listener_arns`.

pub mod apply;
pub mod observe;
pub mod plan;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::tool::{Ctx, Outputs, SpecInput, Tool};
use hms_core::ui::Task;
use hms_core::Result;
use serde_json::{json, Map, Value};

use crate::observe::Observed;
use crate::spec::Spec;

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

/// hms-ecs's commands.
#[derive(Debug, Subcommand)]
pub enum EcsCommand {
    /// Show what `up` would change; nothing is changed.
    Plan {
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update until AWS matches the config; waits for deployments to complete.
    Up {
        #[arg(long)]
        allow_destroy: bool,
        /// Return once a deployment is accepted instead of waiting for it.
        #[arg(long)]
        no_wait: bool,
    },
    /// Roll one service to a new image (the same as `up` with ecs.services.SERVICE.image=IMAGE; put the image
    /// in config to keep it for the next `up`).
    Deploy {
        service: String,
        image: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Drain and delete everything hms-ecs owns; log groups stay unless --delete-logs.
    Down {
        #[arg(long)]
        yes: bool,
        #[arg(long)]
        delete_logs: bool,
    },
    /// Print the outputs from state.
    Show {
        #[arg(long)]
        refresh: bool,
    },
    /// Break a stale lock left by a run that died.
    Unlock { lock_id: String },
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let mut global = cli.global;
    let command = match cli.command {
        EcsCommand::Plan { detailed_exitcode } => Command::Plan { detailed_exitcode },
        EcsCommand::Up {
            allow_destroy,
            no_wait,
        } => {
            if no_wait {
                global.set.push("ecs.no_wait=true".into());
            }
            Command::Up { allow_destroy }
        }
        EcsCommand::Deploy {
            service,
            image,
            no_wait,
        } => {
            // A quoted TOML string, so that any image reference arrives as text.
            global.set.push(format!(
                "ecs.services.{service}.image={}",
                Value::from(image)
            ));
            if no_wait {
                global.set.push("ecs.no_wait=true".into());
            }
            Command::Up {
                allow_destroy: false,
            }
        }
        EcsCommand::Down { yes, delete_logs } => {
            if delete_logs {
                global.set.push("ecs.delete_logs=true".into());
            }
            Command::Down { yes }
        }
        EcsCommand::Show { refresh } => Command::Show { refresh },
        EcsCommand::Unlock { lock_id } => Command::Unlock { lock_id },
    };
    hms_core::tool::run::<Ecs>(&global, &command).await
}

/// The AWS clients hms-ecs uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub scaling: aws_sdk_applicationautoscaling::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

/// The hms-ecs tool.
#[derive(Debug)]
pub struct Ecs {
    clients: Clients,
}

impl Tool for Ecs {
    const NAME: &'static str = "hms-ecs";
    const SECTION: &'static str = "ecs";
    type Spec = Spec;
    type Observed = Observed;

    fn spec(input: &SpecInput<'_>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Ecs {
            clients: Clients {
                ecs: aws_sdk_ecs::Client::new(sdk),
                elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
                scaling: aws_sdk_applicationautoscaling::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            },
        }
    }

    async fn observe(&self, _ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        observe::observe(&self.clients, spec, state).await
    }

    fn recorded(observed: &Observed) -> Resources {
        hms_core::diff::records(&observed.found)
    }

    fn plan(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan(spec, observed)
    }

    fn plan_down(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan_down(spec, observed)
    }

    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        _spec: &Spec,
        _observed: &Observed,
        _plan: &Plan,
    ) -> Result<Vec<String>> {
        // What uses the services (hms-observe, hms-edge) is checked through the state store by hms-core.
        Ok(vec![])
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

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let arn = |a: &str| {
            r.get(a)
                .and_then(|x| x.attr("arn"))
                .filter(|s| !s.is_empty())
                .map(|s| Value::from(s.to_owned()))
        };
        o.set("cluster_name", spec.cluster.clone());
        o.maybe("cluster_arn", arn(plan::CLUSTER));
        let mut unknown = false;
        let services: Map<String, Value> = spec
            .services
            .iter()
            .map(|s| {
                let k = &s.key;
                let svc = arn(&plan::service(k));
                let td = r.get(&plan::task_definition(k)).map(|x| Value::from(x.id.clone()));
                let tg = arn(&plan::target_group(k));
                unknown |= svc.is_none() || td.is_none() || tg.is_none();
                (
                    k.clone(),
                    json!({"name": s.name, "service_arn": svc, "task_definition_arn": td, "target_group_arn": tg, "log_group": s.log_group}),
                )
            })
            .collect();
        o.set("services", Value::Object(services));
        if unknown {
            o.unknown.push("services".into());
        }
        o.maybe("alb_arn", arn(plan::ALB));
        o.maybe(
            "alb_dns_name",
            r.get(plan::ALB)
                .and_then(|x| x.attr("dns_name"))
                .map(Value::from),
        );
        o.maybe(
            "alb_zone_id",
            r.get(plan::ALB)
                .and_then(|x| x.attr("zone_id"))
                .map(Value::from),
        );
        let listeners: Vec<Value> = [plan::HTTP, plan::HTTPS]
            .iter()
            .filter_map(|l| arn(l))
            .collect();
        o.maybe(
            "listener_arns",
            (!listeners.is_empty()).then(|| Value::from(listeners)),
        );
        o
    }
}

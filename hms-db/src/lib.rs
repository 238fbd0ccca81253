//! hms-db: the HMS PostgreSQL database on RDS — a subnet group on the private subnets, a parameter group
//! (SSL forced, connection and slow-query logging), and the KMS-encrypted instance whose master password RDS
//! manages in Secrets Manager. Reads `outputs.vpc` and `outputs.security`; writes `outputs.db`:
//!
//! `instance_id`, `arn`, `endpoint`, `port`, `db_name`, `username`, `allocated_storage` (GiB), `backup_window`,
//! `maintenance_window`, `master_user_secret_arn`,
//! `engine_version` (resolved), `subnet_group`, `parameter_group`; after `down`, `final_snapshot_id`; after
//! `snapshot`, `last_snapshot`; after `reserve`, `reservation_offerings`, `reservation_coverage` and (when
//! bought or found) `reservation`.
//!
//! Map: [`spec`] decides and validates the desired database (pure); [`observe`] reads the instance and
//! its groups in one concurrent round (one room per kind); [`plan`] diffs them and says how each instance
//! change lands (in place, a brief outage, impossible, a replacement); [`apply`] carries out one step in
//! the room of its kind. [`addr`] names the resources (`db.instance`, `db.parameter_group[postgres16]`,
//! …) for all of them. The tool's own verbs are [`snapshot`] and [`reserve`].

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod reserve;
pub mod snapshot;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput, VerbCtx};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::Result;
use serde_json::Value;

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{DownFlags, PlanFlags, Spec};

/// Command line of hms-db.
#[derive(Debug, Parser)]
#[command(
    name = "hms-db",
    version,
    about = "Provision the HMS PostgreSQL database on RDS (encrypted, managed password)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: DbCommand,
}

/// hms-db's commands: the common ones with the database's own flags, and its own verbs.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    #[command(flatten)]
    Common(Command<PlanFlags, NoFlags, DownFlags>),
    /// Take a manual snapshot and wait until it is available.
    Snapshot {
        /// Snapshot name (default `<instance>-manual-<UTC time>`).
        #[arg(long)]
        name: Option<String>,
    },
    /// List reserved-instance offerings for the instance as configured, with prices and coverage.
    Reserve {
        /// Buy exactly one matching offering (never without --yes; cannot be undone).
        #[arg(long)]
        purchase: bool,
        /// The reservation's id; an existing reservation with it is reported, not bought again.
        #[arg(long)]
        reservation_id: Option<String>,
        /// Confirm the purchase.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let global = cli.global;
    match cli.command {
        DbCommand::Common(c) => hms_core::engine::run::<Db>(&global, c).await,
        DbCommand::Snapshot { name } => {
            hms_core::engine::run_verb::<Db, _>(
                &global,
                "snapshot",
                true,
                async |v: &VerbCtx<'_, Db>| snapshot::snapshot(v, name.as_deref()).await,
            )
            .await
        }
        DbCommand::Reserve {
            purchase,
            reservation_id,
            yes,
        } => {
            let req = reserve::Request {
                purchase,
                reservation_id,
                yes,
            };
            hms_core::engine::run_verb::<Db, _>(
                &global,
                "reserve",
                purchase,
                async |v: &VerbCtx<'_, Db>| {
                    reserve::reserve(&v.tool.clients, v.ctx.ui, v.spec, &req).await
                },
            )
            .await
        }
    }
}

/// The AWS clients hms-db uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub rds: aws_sdk_rds::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// The hms-db tool.
#[derive(Debug)]
pub struct Db {
    pub(crate) clients: Clients,
}

impl Tool for Db {
    const NAME: &'static str = "hms-db";
    const SECTION: &'static str = "db";
    const USES: &'static [&'static str] = &["vpc", "security"];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = PlanFlags;
    type UpFlags = NoFlags;
    type DownFlags = DownFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Db {
            clients: Clients {
                rds: aws_sdk_rds::Client::new(sdk),
                secrets: aws_sdk_secretsmanager::Client::new(sdk),
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

    // What uses the database (hms-ecs) is checked through the state store by hms-core: the default
    // `blockers` (none found in AWS) is right.

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
        let inst = r.get(&Addr::Instance.to_string());
        let attr = |k: &str| {
            inst.and_then(|i| i.attr(k))
                .filter(|s| !s.is_empty())
                .map(Value::from)
        };
        o.maybe("instance_id", inst.map(|i| Value::from(i.id.clone())));
        o.maybe("arn", attr("arn"));
        o.maybe("endpoint", attr("endpoint"));
        o.set("port", spec.port);
        o.set("db_name", spec.database_name.clone());
        o.set("username", spec.username.clone());
        o.set("allocated_storage", spec.allocated_storage);
        // Other tools keep their windows clear of the database's (hms-cache).
        o.set("backup_window", spec.backup_window.clone());
        o.set("maintenance_window", spec.maintenance_window.clone());
        o.maybe("master_user_secret_arn", attr("master_user_secret_arn"));
        o.maybe("engine_version", attr("resolved_engine_version"));
        o.maybe(
            "subnet_group",
            r.get(&Addr::SubnetGroup.to_string())
                .map(|g| Value::from(g.id.clone())),
        );
        o.maybe(
            "parameter_group",
            r.get(&Addr::parameter_group(&spec.family).to_string())
                .map(|g| Value::from(g.id.clone())),
        );
        o
    }
}

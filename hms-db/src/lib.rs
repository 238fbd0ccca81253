//! hms-db: the HMS PostgreSQL database on RDS — a subnet group on the private subnets, a parameter group
//! (SSL forced, connection and slow-query logging), and the KMS-encrypted instance whose master password RDS
//! manages in Secrets Manager. Reads `outputs.vpc` and `outputs.security`; writes `outputs.db`:
//!
//! `instance_id`, `arn`, `endpoint`, `port`, `db_name`, `username`, `allocated_storage` (GiB), `master_user_secret_arn`,
//! `engine_version` (resolved), `subnet_group`, `parameter_group`; after `down`, `final_snapshot_id`; after
//! `snapshot`, `last_snapshot`; after `reserve`, `reservation_offerings`, `reservation_coverage` and (when
//! bought or found) `reservation`.

pub mod apply;
pub mod observe;
pub mod plan;
pub mod reserve;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput, VerbCtx};
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::ui::wait_until;
use hms_core::{Error, Result};
use serde_json::{json, Map, Value};

use crate::observe::Observed;
use crate::plan::{INSTANCE, SUBNET_GROUP};
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
                async |v: &VerbCtx<'_, Db>| snapshot(v, name.as_deref()).await,
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

/// `hms-db snapshot`: a manual snapshot, waited for.
async fn snapshot(v: &VerbCtx<'_, Db>, name: Option<&str>) -> Result<Map<String, Value>> {
    let spec = v.spec;
    let c = &v.tool.clients;
    let name = name
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-manual-{}", spec.identifier, apply::stamp()));
    let tags: Vec<aws_sdk_rds::types::Tag> = spec
        .tagger
        .tags("db.snapshot", Some(&name))
        .iter()
        .map(|(k, val)| aws_sdk_rds::types::Tag::builder().key(k).value(val).build())
        .collect();
    let created = c
        .rds
        .create_db_snapshot()
        .db_instance_identifier(&spec.identifier)
        .db_snapshot_identifier(&name)
        .set_tags(Some(tags))
        .send()
        .await;
    let arn = match created {
        Ok(out) => out
            .db_snapshot()
            .and_then(|s| s.db_snapshot_arn())
            .unwrap_or_default()
            .to_owned(),
        // Asked for before (a run that died waiting): report that snapshot if it is of this instance.
        Err(e) if hms_core::error::code_of(&e) == Some("DBSnapshotAlreadyExists") => {
            let o = c
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(&name)
                .send()
                .await
                .map_err(|e| {
                    Error::aws(format!("snapshot {name}"), "rds:DescribeDBSnapshots", e)
                })?;
            let snap = o.db_snapshots().first();
            if snap.and_then(|s| s.db_instance_identifier()) != Some(spec.identifier.as_str()) {
                return Err(Error::Refused(format!(
                    "snapshot {name} already exists and is not of {}; choose another --name",
                    spec.identifier
                )));
            }
            v.ctx
                .ui
                .info(format!("snapshot {name} already exists; reporting it"));
            snap.and_then(|s| s.db_snapshot_arn())
                .unwrap_or_default()
                .to_owned()
        }
        Err(e) => {
            return Err(Error::aws(
                format!("{INSTANCE} {}", spec.identifier),
                "rds:CreateDBSnapshot",
                e,
            ))
        }
    };
    let task = v.ctx.ui.task(format!("snapshot {name}"));
    wait_until(
        &task,
        &format!("snapshot {name}"),
        "it is available",
        v.ctx.timeout,
        || async {
            let o = c
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(&name)
                .send()
                .await
                .map_err(|e| {
                    Error::aws(format!("snapshot {name}"), "rds:DescribeDBSnapshots", e)
                })?;
            let status = o
                .db_snapshots()
                .first()
                .and_then(|s| s.status())
                .unwrap_or("creating")
                .to_owned();
            task.status(&format!("status {status}"), false);
            Ok((status == "available").then_some(()))
        },
    )
    .await?;
    task.done("available");
    let mut m = Map::new();
    m.insert("last_snapshot".into(), json!({"id": name, "arn": arn}));
    Ok(m)
}

/// The AWS clients hms-db uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub rds: aws_sdk_rds::Client,
}

/// The hms-db tool.
#[derive(Debug)]
pub struct Db {
    clients: Clients,
}

impl Tool for Db {
    const NAME: &'static str = "hms-db";
    const SECTION: &'static str = "db";
    const USES: &'static [&'static str] = &["vpc", "security"];
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

    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        _spec: &Spec,
        _observed: &Observed,
        _plan: &Plan,
    ) -> Result<Vec<String>> {
        // What uses the database (hms-ecs) is checked through the state store by hms-core.
        Ok(vec![])
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

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let inst = r.get(INSTANCE);
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
        o.maybe("master_user_secret_arn", attr("master_user_secret_arn"));
        o.maybe("engine_version", attr("resolved_engine_version"));
        o.maybe(
            "subnet_group",
            r.get(SUBNET_GROUP).map(|g| Value::from(g.id.clone())),
        );
        o.maybe(
            "parameter_group",
            r.get(&plan::parameter_group(&spec.family))
                .map(|g| Value::from(g.id.clone())),
        );
        o
    }
}

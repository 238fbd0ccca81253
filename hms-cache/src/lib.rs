//! hms-cache: the HMS cache on ElastiCache for caching and sessions — a subnet group on the private
//! subnets, a parameter group of the engine's family (`maxmemory-policy volatile-lru` by default), and a
//! Redis (or Valkey) replication group `<stack>-cache`: a primary and a replica in different AZs, Multi-AZ
//! with automatic failover, encrypted at rest with the stack's `cache` key and in transit (TLS required),
//! AUTH on with a token the tool generates and keeps only in the Secrets Manager secret
//! `<stack>/<env>/cache/auth` (encrypted with the same key), slow-log and engine-log delivered to two log
//! groups encrypted with the `logs` key. Reads `outputs.vpc`, `outputs.security` and (when present)
//! `outputs.db`; writes `outputs.cache`:
//!
//! `replication_group_id`, `primary_endpoint`, `reader_endpoint`, `port`, `engine`, `engine_version`,
//! `auth_secret_arn`, `auth_secret_version` (the id of its `AWSCURRENT` version, which hms-ecs pins),
//! `tls` (true), `member_clusters` (the member cache cluster ids, primary first); after
//! `down`, `final_snapshot_id`; after `rotate-auth`, `auth_rotation` (`rotating`, then `set`).
//!
//! Map: [`spec`] decides and validates (pure; [`window`] holds the window arithmetic); [`observe`] reads
//! everything in one concurrent round (one room per kind); [`plan`] diffs and says how each change of the
//! replication group lands; [`apply`] carries out one step in the room of its kind. [`addr`] names the
//! resources; [`token`] makes the AUTH token; [`rotate`] is the `rotate-auth` verb.

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod rotate;
pub mod spec;
pub mod token;
pub mod window;

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

/// Command line of hms-cache.
#[derive(Debug, Parser)]
#[command(
    name = "hms-cache",
    version,
    about = "Provision the HMS cache on ElastiCache (Redis or Valkey: Multi-AZ, encrypted, AUTH token in Secrets Manager)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// hms-cache's commands: the common ones with the cache's own flags, and `rotate-auth`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    #[command(flatten)]
    Common(Command<PlanFlags, NoFlags, DownFlags>),
    /// Rotate the AUTH token: a new one is stored and accepted next to the old one (ROTATE); redeploy the
    /// services that read it, then run again with --finish.
    RotateAuth {
        /// Accept only the current token from now on (SET), once every service has restarted with it.
        #[arg(long)]
        finish: bool,
    },
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    let global = cli.global;
    match cli.command {
        CacheCommand::Common(c) => hms_core::engine::run::<Cache>(&global, c).await,
        CacheCommand::RotateAuth { finish } => {
            hms_core::engine::run_verb::<Cache, _>(
                &global,
                "rotate-auth",
                true,
                async |v: &VerbCtx<'_, Cache>| rotate::rotate(v, finish).await,
            )
            .await
        }
    }
}

/// The AWS clients hms-cache uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub elasticache: aws_sdk_elasticache::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

/// The hms-cache tool.
#[derive(Debug)]
pub struct Cache {
    pub(crate) clients: Clients,
}

impl Tool for Cache {
    const NAME: &'static str = "hms-cache";
    const SECTION: &'static str = "cache";
    const USES: &'static [&'static str] = &["vpc", "security", "db"];
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
        Cache {
            clients: Clients {
                elasticache: aws_sdk_elasticache::Client::new(sdk),
                secrets: aws_sdk_secretsmanager::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
                tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
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

    // What uses the cache (hms-ecs, hms-observe) is checked through the state store by hms-core: the
    // default `blockers` (none found in AWS) is right.

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
        let group = r.get(&Addr::ReplicationGroup.to_string());
        let attr = |k: &str| {
            group
                .and_then(|g| g.attr(k))
                .filter(|s| !s.is_empty())
                .map(Value::from)
        };
        o.set("replication_group_id", spec.id.clone());
        o.maybe("primary_endpoint", attr("primary_endpoint"));
        o.maybe("reader_endpoint", attr("reader_endpoint"));
        o.set("port", spec.port);
        o.set("engine", spec.engine.name());
        o.maybe("engine_version", attr("resolved_engine_version"));
        let secret = |k: &str| {
            r.get(&Addr::AuthSecret.to_string())
                .and_then(|s| s.attr(k))
                .filter(|s| !s.is_empty())
                .map(Value::from)
        };
        o.maybe("auth_secret_arn", secret("arn"));
        o.maybe("auth_secret_version", secret("version"));
        o.set("tls", true);
        o.maybe(
            "member_clusters",
            group
                .and_then(|g| g.attrs.get("members"))
                .filter(|m| m.as_array().is_some_and(|a| !a.is_empty()))
                .cloned(),
        );
        o
    }
}

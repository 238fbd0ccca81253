//! hms-backup: the HMS backup bucket on S3 — ACLs off (`BucketOwnerEnforced`), every public-access block on,
//! versioning, default encryption with the stack's `backups` KMS key and an S3 bucket key (SSE-S3 with
//! `encryption = "aes256"`), a policy that refuses requests without TLS, and the lifecycle (STANDARD_IA at
//! 30 days, GLACIER at 90, expiry at 365, noncurrent versions after 90, incomplete uploads after 7), and
//! server access logging to the stack's log bucket (`outputs.ecs.log_bucket`, under `s3/<bucket>/`;
//! off, with a note, in a stack without one). With `backup.replica_region`, the replica bucket
//! `<bucket>-replica` there (the same settings, SSE-KMS with hms-security's replica key) and the
//! replication configuration (every object version and delete marker, through hms-security's
//! replication role). Reads `outputs.security` and `outputs.ecs`; writes `outputs.backup`: `bucket`,
//! `arn`, `region`, `kms_key_arn` (null with SSE-S3), and with a replica `replica_bucket`,
//! `replica_region`.

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput};
use hms_core::plan::{Action, Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::{Error, Result};
use serde_json::Value;

use hms_core::addr::Address;

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{DownFlags, Encryption, Spec};

/// Command line of hms-backup.
#[derive(Debug, Parser)]
#[command(
    name = "hms-backup",
    version,
    about = "Provision the HMS backup bucket on S3 (versioned, KMS-encrypted, TLS-only, with a lifecycle)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: BackupCommand,
}

/// hms-backup's commands: the common ones, `down` with `--force-empty`.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    #[command(flatten)]
    Common(Command<NoFlags, NoFlags, DownFlags>),
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        BackupCommand::Common(c) => hms_core::engine::run::<Backup>(&cli.global, c).await,
    }
}

/// The AWS clients hms-backup uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    /// For the replica's region (`backup.replica_region`), made when needed.
    pub sdk: SdkConfig,
}

impl Clients {
    /// An S3 client for `region` (the replica bucket's).
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk)
                .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                .build(),
        )
    }
}

/// The hms-backup tool.
#[derive(Debug)]
pub struct Backup {
    clients: Clients,
}

impl Tool for Backup {
    const NAME: &'static str = "hms-backup";
    const SECTION: &'static str = "backup";
    const USES: &'static [&'static str] = &["security", "ecs"];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;

    /// `{bucket}`: the backup bucket's configured name (its replica and account-id suffix match `{bucket}*`).
    fn permission_names(
        config: &hms_core::config::Config,
        id: &hms_core::document::Identity,
    ) -> Result<Vec<(&'static str, String)>> {
        let cfg: spec::BackupConfig = config.section("backup")?;
        let bucket = cfg
            .bucket
            .unwrap_or_else(|| format!("{}-backups-{}", id.stack, id.env));
        Ok(vec![("bucket", bucket)])
    }
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = NoFlags;
    type DownFlags = DownFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Backup {
            clients: Clients {
                s3: aws_sdk_s3::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
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

    /// Backups are never deleted by accident: a bucket that holds any object version is only deleted with
    /// `--force-empty` (and, in production, `--yes`).
    async fn blockers(
        &self,
        ctx: &Ctx<'_>,
        spec: &Spec,
        _observed: &Observed,
        plan: &Plan,
    ) -> Result<Vec<String>> {
        for change in plan.changes.iter().filter(|c| {
            matches!(Addr::parse(&c.address), Some(Addr::Bucket | Addr::Replica))
                && matches!(c.action, Action::Delete | Action::Replace)
        }) {
            self.may_delete(ctx, spec, change).await?;
        }
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

    fn import(spec: &Spec, tf: &hms_core::terraform::TfState) -> hms_core::terraform::Mapping {
        import::map(spec, tf)
    }

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let bucket = r.get(&Addr::Bucket.to_string());
        o.maybe("bucket", bucket.map(|b| Value::from(b.id.clone())));
        o.maybe("arn", bucket.and_then(|b| b.attr("arn")).map(Value::from));
        o.set("region", spec.region.clone());
        if let Some(replica) = &spec.replica {
            let recorded = r.get(&Addr::Replica.to_string());
            o.maybe(
                "replica_bucket",
                recorded.map(|b| Value::from(b.id.clone())),
            );
            o.set("replica_region", replica.region.clone());
        }
        match &spec.encryption {
            Encryption::Aes256 => o.set("kms_key_arn", Value::Null),
            Encryption::Kms(key) => o.maybe("kms_key_arn", key.clone().map(Value::from)),
        }
        o
    }
}

impl Backup {
    /// Whether the bucket of a delete or replace `change` (the backup bucket or its replica) may go.
    async fn may_delete(&self, ctx: &Ctx<'_>, spec: &Spec, change: &Change) -> Result<()> {
        let bucket = Addr::parse(&change.address).unwrap_or(Addr::Bucket);
        let name = change
            .before
            .as_ref()
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if spec.force_empty {
            if spec.production && !spec.force_empty_confirmed {
                return Err(Error::Refused(format!(
                    "{bucket} {name} holds production's backups: --force-empty deletes every version of every object and needs --yes as well; nothing was deleted"
                )));
            }
            match change
                .before
                .as_ref()
                .and_then(|v| v.get("object_lock"))
                .and_then(|l| l.get("mode"))
                .and_then(Value::as_str)
            {
                Some("COMPLIANCE") => {
                    return Err(Error::Refused(format!(
                        "{bucket} {name} keeps its versions under Object Lock's COMPLIANCE retention: nobody can delete them before it ends, --force-empty included; nothing was deleted"
                    )))
                }
                Some(_) => ctx.ui.warn(format!(
                    "{bucket} {name}: versions under Object Lock's governance retention are deleted with s3:BypassGovernanceRetention, which the caller needs besides s3:DeleteObjectVersion"
                )),
                None => {}
            }
            return Ok(());
        }
        let s3 = match bucket {
            Addr::Replica => self.clients.s3_in(
                change
                    .before
                    .as_ref()
                    .and_then(|v| v.get("region"))
                    .and_then(Value::as_str)
                    .unwrap_or(&spec.region),
            ),
            _ => self.clients.s3.clone(),
        };
        if hms_core::s3::has_versions(&s3, &format!("{bucket} {name}"), &name).await? {
            return Err(Error::Refused(format!(
                "{bucket} {name} holds backups (object versions or delete markers); nothing was deleted. Copy what you need, then run 'hms-backup down --force-empty{}' to delete them with the bucket",
                if spec.production { " --yes" } else { "" }
            )));
        }
        Ok(())
    }
}

//! hms-backup: the HMS backup bucket on S3 — ACLs off (`BucketOwnerEnforced`), every public-access block on,
//! versioning, default encryption with the stack's `backups` KMS key and an S3 bucket key (SSE-S3 with
//! `encryption = "aes256"`), a policy that refuses requests without TLS, and the lifecycle (STANDARD_IA at
//! 30 days, GLACIER at 90, expiry at 365, noncurrent versions after 90, incomplete uploads after 7).
//! Reads `outputs.security`; writes `outputs.backup`: `bucket`, `arn`, `region`, `kms_key_arn` (null with
//! SSE-S3).

pub mod apply;
pub mod observe;
pub mod plan;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs};
use hms_core::plan::{Action, Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::tool::{Ctx, Outputs, SpecInput, Tool};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::observe::Observed;
use crate::plan::BUCKET;
use crate::spec::{Encryption, Spec};

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

/// hms-backup's commands.
#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Show what `up` would change; nothing changes.
    Plan {
        /// Exit 2 when changes are pending, 0 when none.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Create or update the bucket until AWS matches the config.
    Up {
        /// Allow changes that delete or replace the bucket (a new name).
        #[arg(long)]
        allow_destroy: bool,
    },
    /// Delete the bucket. Refused while it holds any object version, unless --force-empty.
    Down {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// Delete every object version and delete marker first (in production also needs --yes).
        #[arg(long)]
        force_empty: bool,
    },
    /// Print the outputs from state.
    Show {
        /// Check the recorded resources against AWS first.
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
        BackupCommand::Plan { detailed_exitcode } => Command::Plan { detailed_exitcode },
        BackupCommand::Up { allow_destroy } => Command::Up { allow_destroy },
        BackupCommand::Down { yes, force_empty } => {
            if force_empty {
                global.set.push("backup.force_empty=true".into());
                if yes {
                    global.set.push("backup.force_empty_confirmed=true".into());
                }
            }
            Command::Down { yes }
        }
        BackupCommand::Show { refresh } => Command::Show { refresh },
        BackupCommand::Unlock { lock_id } => Command::Unlock { lock_id },
    };
    hms_core::tool::run::<Backup>(&global, &command).await
}

/// The AWS clients hms-backup uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
}

/// The hms-backup tool.
#[derive(Debug)]
pub struct Backup {
    clients: Clients,
}

impl Tool for Backup {
    const NAME: &'static str = "hms-backup";
    const SECTION: &'static str = "backup";
    type Spec = Spec;
    type Observed = Observed;

    fn spec(input: &SpecInput<'_>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        Backup {
            clients: Clients {
                s3: aws_sdk_s3::Client::new(sdk),
                sts: aws_sdk_sts::Client::new(sdk),
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

    /// Backups are never deleted by accident: a bucket that holds any object version is only deleted with
    /// `--force-empty` (and, in production, `--yes`).
    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        spec: &Spec,
        _observed: &Observed,
        plan: &Plan,
    ) -> Result<Vec<String>> {
        let Some(change) = plan
            .changes
            .iter()
            .find(|c| c.address == BUCKET && matches!(c.action, Action::Delete | Action::Replace))
        else {
            return Ok(vec![]);
        };
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
                    "{BUCKET} {name} holds production's backups: --force-empty deletes every version of every object and needs --yes as well; nothing was deleted"
                )));
            }
            return Ok(vec![]);
        }
        if observe::has_versions(&self.clients, &name).await? {
            return Err(Error::Refused(format!(
                "{BUCKET} {name} holds backups (object versions or delete markers); nothing was deleted. Copy what you need, then run 'hms-backup down --force-empty{}' to delete them with the bucket",
                if spec.production { " --yes" } else { "" }
            )));
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

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let bucket = r.get(BUCKET);
        o.maybe("bucket", bucket.map(|b| Value::from(b.id.clone())));
        o.maybe("arn", bucket.and_then(|b| b.attr("arn")).map(Value::from));
        o.set("region", spec.region.clone());
        match &spec.encryption {
            Encryption::Aes256 => o.set("kms_key_arn", Value::Null),
            Encryption::Kms(key) => o.maybe("kms_key_arn", key.clone().map(Value::from)),
        }
        o
    }
}

//! The contract between hms-core and a tool: what a tool implements ([`Tool`]) and what it receives
//! ([`SpecInput`] for its pure `spec`, [`Ctx`] for `observe` and `apply`, [`VerbCtx`] for its own verbs).
//!
//! Nothing here runs anything: the engine that drives a tool through `spec → observe → plan → apply` is
//! [`crate::engine`]. A tool's `spec.rs` depends only on this module, the config and the tags.

use std::fmt::Debug;
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{Map, Value};

use crate::apply::Recorder;
use crate::config::Config;
use crate::diff::FoundSet;
use crate::document::Document;
use crate::error::{Error, Result};
use crate::plan::{Change, Plan, Step};
use crate::state::{Resource, Resources, State};
use crate::tags::Tagger;
use crate::ui::{Task, Ui};

/// Which command a run is. Tool verbs carry their name (`snapshot`, `reserve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    Plan,
    Up,
    Down,
    Show,
    /// A tool's own verb.
    Verb(&'static str),
}

impl CommandKind {
    /// The name recorded in the document's `runs` and used in messages.
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Plan => "plan",
            CommandKind::Up => "up",
            CommandKind::Down => "down",
            CommandKind::Show => "show",
            CommandKind::Verb(v) => v,
        }
    }
}

impl std::fmt::Display for CommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A tool's own flags, by command. Each is a clap `Args` type the tool defines and flattens into the
/// common commands; a command that does not take a set gets its `Default`. Because they are only ever
/// parsed from the command line, a safety flag (`--force-empty`) cannot come from a config file.
#[derive(Debug, Clone, Default)]
pub struct Flags<P, U, D> {
    /// Flags that decide the plan: given to `plan` and `up` alike (`--apply-immediately`).
    pub plan: P,
    /// Flags of `up` only (`--no-wait`).
    pub up: U,
    /// Flags of `down` (`--skip-final-snapshot`, `--force-empty`).
    pub down: D,
}

/// What a tool's `spec` decides from. `P`, `U`, `D` are the tool's flag types (see [`Flags`]).
#[derive(Debug)]
pub struct SpecInput<'a, P = crate::cli::NoFlags, U = crate::cli::NoFlags, D = crate::cli::NoFlags>
{
    pub config: &'a Config,
    pub tagger: &'a Tagger,
    /// The document: stdin's, or one made from the state store's outputs.
    pub doc: &'a Document,
    pub command: CommandKind,
    pub flags: &'a Flags<P, U, D>,
    /// `down --yes`: a person or a job confirmed on the command line.
    pub yes: bool,
    /// The tool's name, for messages.
    pub tool: &'a str,
}

/// The [`SpecInput`] of tool `T`.
pub type ToolInput<'a, T> =
    SpecInput<'a, <T as Tool>::PlanFlags, <T as Tool>::UpFlags, <T as Tool>::DownFlags>;

impl<P, U, D> SpecInput<'_, P, U, D> {
    fn unknown(&self, path: &str) -> bool {
        let full = format!("outputs.{path}");
        self.doc
            .unknown
            .iter()
            .any(|u| full == *u || full.starts_with(&format!("{u}.")))
    }

    /// An upstream output (`vpc.private_subnet_ids`) produced by `producer` (`hms-vpc`). Missing → a usage
    /// error naming it and how to provide it (the hint matches this run's command). Known-unknown (after
    /// a `plan` upstream) → `None`.
    pub fn upstream(&self, path: &str, producer: &str) -> Result<Option<&Value>> {
        if let Some(v) = self.doc.output(path) {
            return Ok(Some(v));
        }
        // Unknown itself, or under an unknown map (`security.kms_key_arns` while only planned).
        if self.unknown(path) {
            return Ok(None);
        }
        let section = path.split('.').next().unwrap_or(path);
        let verb = match self.command {
            CommandKind::Plan => "plan",
            _ => "up",
        };
        Err(Error::usage(format!(
            "needs outputs.{path} — run '{producer} {verb} | {} {}' or keep {section} state in --state",
            self.tool,
            self.command.name()
        )))
    }

    /// An upstream output that may be absent: a stack without that tool. `Absent` when the document (or
    /// the state store) has no such output, `Unknown` when it is only planned, else the value.
    pub fn optional(&self, path: &str) -> Upstream<'_> {
        let unknown = self.unknown(path);
        match self.doc.output(path) {
            Some(Value::Null) | None if unknown => Upstream::Unknown,
            Some(Value::Null) | None => Upstream::Absent,
            Some(v) => Upstream::Known(v),
        }
    }

    /// Whether this run is `down` (which needs no upstream values to delete what it owns).
    pub fn is_down(&self) -> bool {
        self.command == CommandKind::Down
    }
}

/// An optional upstream output (see [`SpecInput::optional`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Upstream<'a> {
    /// The upstream tool is not part of this stack.
    Absent,
    /// Planned upstream; known after its `up`.
    Unknown,
    Known(&'a Value),
}

impl<'a> Upstream<'a> {
    /// The value when known.
    pub fn known(self) -> Option<&'a Value> {
        match self {
            Upstream::Known(v) => Some(v),
            _ => None,
        }
    }
}

/// Shared context of one run for observe and apply.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub ui: &'a Ui,
    pub tagger: &'a Tagger,
    /// Longest wait for one resource.
    pub timeout: Duration,
    /// An overlapped pipeline's early pass ([`crate::overlap`]): waits that [`Ctx::patience`] governs look
    /// once and leave the resource for a later pass.
    pub defer_waits: bool,
}

impl Ctx<'_> {
    /// How long a wait for a resource to become ready may take in this pass: what a wait that a later pass
    /// can resume passes to [`crate::ui::wait_until`] (a resource recorded before its wait, whose plan then
    /// shows the wait as an update). A wait nothing resumes passes `ctx.timeout` and is never deferred.
    pub fn patience(&self) -> crate::ui::Patience {
        crate::ui::Patience {
            timeout: self.timeout,
            defer: self.defer_waits,
        }
    }
}

/// Outputs under construction: known values, and nulls listed as unknown.
#[derive(Debug, Default)]
pub struct Outputs {
    pub value: Map<String, Value>,
    pub unknown: Vec<String>,
}

impl Outputs {
    /// A known value.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.value.insert(key.to_owned(), value.into());
    }

    /// A value that may be unknown: `None` is written as null and listed.
    pub fn maybe(&mut self, key: &str, value: Option<Value>) {
        match value {
            Some(v) => self.set(key, v),
            None => {
                self.value.insert(key.to_owned(), Value::Null);
                self.unknown.push(key.to_owned());
            }
        }
    }

    /// The id of the resource at `address`, or unknown.
    pub fn id(&mut self, key: &str, resources: &Resources, address: &str) {
        self.maybe(
            key,
            resources.get(address).map(|r| Value::from(r.id.clone())),
        );
    }

    /// A list of ids in the order of `addresses`; unknown if any is.
    pub fn ids(&mut self, key: &str, resources: &Resources, addresses: &[String]) {
        let ids: Option<Vec<Value>> = addresses
            .iter()
            .map(|a| resources.get(a).map(|r| Value::from(r.id.clone())))
            .collect();
        self.maybe(key, ids.map(Value::from));
    }
}

/// What every tool's `Observed` offers the engine: the resources found (by state and by tags), and the
/// reasons some cannot be managed (a same-named resource another stack owns), which stop `up` and `down`.
pub trait Observation {
    /// The found resources by address.
    fn found(&self) -> &FoundSet;

    /// The same, to mark what was taken over from Terraform ([`crate::terraform::mark`]).
    fn found_mut(&mut self) -> &mut FoundSet;

    /// Conditions that refuse the run (exit 1) before any change; none by default.
    fn conflicts(&self) -> &[String] {
        &[]
    }
}

/// One tool: how it decides, observes, plans and applies.
#[allow(async_fn_in_trait)]
pub trait Tool: Sized {
    /// Binary name, `hms-vpc`.
    const NAME: &'static str;
    /// Config table and outputs section, `vpc`.
    const SECTION: &'static str;
    /// The upstream sections this tool reads (`["vpc", "security"]`). Recorded in its state, so that
    /// `down` of an upstream tool refuses while this one still records resources.
    const USES: &'static [&'static str];
    /// The desired state, fully decided.
    type Spec;
    /// What exists now.
    type Observed: Observation;
    /// Flags that decide the plan (`plan` and `up`); [`crate::cli::NoFlags`] when none.
    type PlanFlags: clap::Args + Clone + Default + Debug;
    /// Flags of `up` only.
    type UpFlags: clap::Args + Clone + Default + Debug;
    /// Flags of `down`.
    type DownFlags: clap::Args + Clone + Default + Debug;

    /// Decides and validates the desired state. Pure: no AWS call; every invalid input is rejected here.
    fn spec(input: &ToolInput<'_, Self>) -> Result<Self::Spec>;

    /// Creates the AWS clients the tool uses.
    fn connect(sdk: &SdkConfig) -> Self;

    /// Reads what exists: the resources recorded in `state`, and those tagged as this tool's.
    async fn observe(
        &self,
        ctx: &Ctx<'_>,
        spec: &Self::Spec,
        state: &State,
    ) -> Result<Self::Observed>;

    /// The observed resources as state records (adopted into state before any change).
    fn recorded(observed: &Self::Observed) -> Resources {
        crate::diff::records(observed.found())
    }

    /// The changes that make AWS match the spec. Pure and deterministic.
    fn plan(spec: &Self::Spec, observed: &Self::Observed) -> Plan;

    /// The deletes that remove everything this tool owns. Pure. By default: every found resource, in
    /// reverse dependency order, refused while the observation names conflicts.
    fn plan_down(_spec: &Self::Spec, observed: &Self::Observed) -> Plan {
        let mut plan = crate::diff::delete_all(observed.found(), "down");
        plan.refused.extend(observed.conflicts().iter().cloned());
        plan
    }

    /// Resources of other tools (found in AWS) that still use what `plan` deletes or replaces; `down`, and
    /// an `up` that destroys, refuse while there are any. None by default (the state store's record of
    /// who uses whom is checked by the engine for every tool).
    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        _spec: &Self::Spec,
        _observed: &Self::Observed,
        _plan: &Plan,
    ) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// Carries out one step of one change; returns what to record (ignored for deletes). `task` shows its
    /// progress (waits report through it); the executor announces the step and its end.
    #[allow(clippy::too_many_arguments)]
    async fn apply(
        &self,
        ctx: &Ctx<'_>,
        rec: &Recorder<'_>,
        spec: &Self::Spec,
        change: &Change,
        step: Step,
        task: &Task<'_>,
    ) -> Result<Option<Resource>>;

    /// The tool's outputs from the spec and the recorded resources.
    fn outputs(spec: &Self::Spec, resources: &Resources) -> Outputs;

    /// The resources of a Terraform state this tool takes over (`import --terraform-state`), mapped to
    /// its addresses by what identifies them (a subnet by CIDR and AZ, a service by name), with the
    /// ids its observe looks them up by. Pure: the engine verifies each in AWS, records and tags them.
    fn import(spec: &Self::Spec, tf: &crate::terraform::TfState) -> crate::terraform::Mapping;

    /// The IAM actions the tool's calls need (its `src/permissions.rs`), which `permissions` prints as a
    /// policy. A unit test of each tool checks that every SDK call in its source is listed.
    const PERMISSIONS: &'static [crate::permissions::Permission];

    /// Names the permission templates use beyond the identity (`("bucket", "hms-backups-production")`),
    /// from config alone: `permissions` decides no spec and needs no upstream outputs. None by default.
    fn permission_names(
        _config: &Config,
        _id: &crate::document::Identity,
    ) -> Result<Vec<(&'static str, String)>> {
        Ok(Vec::new())
    }
}

/// What a tool's own verb (`hms-db snapshot`, `hms-db reserve`) works with.
pub struct VerbCtx<'a, T: Tool> {
    pub tool: &'a T,
    pub spec: &'a T::Spec,
    pub ctx: &'a Ctx<'a>,
    /// The tool's state, if it has any.
    pub state: Option<&'a State>,
}

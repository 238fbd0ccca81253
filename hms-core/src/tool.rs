//! The engine every tool runs on: `spec → observe → plan → apply`, the commands built from it, and the
//! stack document and state handled around it.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{Map, Value};

use crate::apply::{execute, Recorder};
use crate::cli::{Command, GlobalArgs};
use crate::config::{AwsConfig, Config, StackConfig};
use crate::document::{Document, Identity, Run};
use crate::error::{Error, Result, EXIT_CHANGES, EXIT_FAILURE, EXIT_OK};
use crate::plan::{Change, Plan, Step};
use crate::state::{Resource, Resources, State, StateStore};
use crate::tags::Tagger;
use crate::ui::{Task, Ui};

/// What a tool's `spec` decides from.
#[derive(Debug)]
pub struct SpecInput<'a> {
    pub config: &'a Config,
    pub tagger: &'a Tagger,
    /// The document: stdin's, or one made from the state store's outputs.
    pub doc: &'a Document,
    /// `plan`, `up`, `down`, `show`.
    pub command: &'a str,
    /// The tool's name, for messages.
    pub tool: &'a str,
}

impl SpecInput<'_> {
    /// An upstream output (`vpc.private_subnet_ids`) produced by `producer` (`hms-vpc`). Missing → a usage
    /// error naming it and how to provide it. Known-unknown (after a `plan` upstream) → `None`.
    pub fn upstream(&self, path: &str, producer: &str) -> Result<Option<&Value>> {
        if let Some(v) = self.doc.output(path) {
            return Ok(Some(v));
        }
        // Unknown itself, or under an unknown map (`security.kms_key_arns` while only planned).
        let full = format!("outputs.{path}");
        if self
            .doc
            .unknown
            .iter()
            .any(|u| full == *u || full.starts_with(&format!("{u}.")))
        {
            return Ok(None);
        }
        let section = path.split('.').next().unwrap_or(path);
        Err(Error::usage(format!(
            "needs outputs.{path} — run '{producer} up | {} {}' or keep {section} state in --state",
            self.tool, self.command
        )))
    }

    /// An upstream output that may be absent: a stack without that tool. `Absent` when the document (or
    /// the state store) has no such output, `Unknown` when it is only planned, else the value.
    pub fn optional(&self, path: &str) -> Upstream<'_> {
        let full = format!("outputs.{path}");
        let unknown = self
            .doc
            .unknown
            .iter()
            .any(|u| full == *u || full.starts_with(&format!("{u}.")));
        match self.doc.output(path) {
            Some(Value::Null) | None if unknown => Upstream::Unknown,
            Some(Value::Null) | None => Upstream::Absent,
            Some(v) => Upstream::Known(v),
        }
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

/// One tool: how it decides, observes, plans and applies.
#[allow(async_fn_in_trait)]
pub trait Tool: Sized {
    /// Binary name, `hms-vpc`.
    const NAME: &'static str;
    /// Config table and outputs section, `vpc`.
    const SECTION: &'static str;
    /// The desired state, fully decided.
    type Spec;
    /// What exists now.
    type Observed;

    /// Decides and validates the desired state. Pure: no AWS call; every invalid input is rejected here.
    fn spec(input: &SpecInput<'_>) -> Result<Self::Spec>;

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
    fn recorded(observed: &Self::Observed) -> Resources;

    /// The changes that make AWS match the spec. Pure and deterministic.
    fn plan(spec: &Self::Spec, observed: &Self::Observed) -> Plan;

    /// The deletes that remove everything this tool owns. Pure.
    fn plan_down(spec: &Self::Spec, observed: &Self::Observed) -> Plan;

    /// Resources of other tools (found in AWS) that still use what `plan` deletes or replaces; `down`, and an
    /// `up` that destroys, refuse while there are any.
    async fn blockers(
        &self,
        ctx: &Ctx<'_>,
        spec: &Self::Spec,
        observed: &Self::Observed,
        plan: &Plan,
    ) -> Result<Vec<String>>;

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
}

/// Everything a run has decided before its first AWS call.
struct Session {
    global: GlobalArgs,
    config: Config,
    stack: StackConfig,
    aws: AwsConfig,
    id: Identity,
    doc: Document,
    store: StateStore,
}

/// Which tools use which (DESIGN.md): `down` of a tool refuses while a tool that uses it still has resources
/// recorded in the same state store.
pub const USES: &[(&str, &[&str])] = &[
    ("hms-security", &["hms-vpc"]),
    ("hms-cache", &["hms-vpc", "hms-security"]),
    ("hms-db", &["hms-vpc", "hms-security"]),
    ("hms-ecs", &["hms-vpc", "hms-security", "hms-db"]),
    ("hms-backup", &["hms-security"]),
    ("hms-observe", &["hms-ecs", "hms-db"]),
    ("hms-edge", &["hms-ecs"]),
];

/// Longest stack and env names: every AWS name built from them stays within AWS's limits (IAM role names,
/// 64 characters, are the tightest).
pub const MAX_STACK_LEN: usize = 20;
/// See [`MAX_STACK_LEN`].
pub const MAX_ENV_LEN: usize = 12;

impl Session {
    /// The identity from flags and defaults alone (used to report a failure before config is read).
    async fn fallback_identity(global: &GlobalArgs) -> Identity {
        Identity {
            stack: global.stack.clone().unwrap_or_else(|| "hms".into()),
            env: global.env.clone().unwrap_or_else(|| "production".into()),
            region: crate::aws::resolve_region(&global.aws, None).await,
        }
    }

    async fn open(
        global: &GlobalArgs,
        tool: &str,
        command: &str,
        stdin: Option<String>,
    ) -> (Identity, Result<Self>) {
        let config = match Config::load(&global.config, &global.set) {
            Ok(c) => c,
            Err(e) => return (Self::fallback_identity(global).await, Err(e)),
        };
        let stack: StackConfig = match config.section("stack") {
            Ok(s) => s,
            Err(e) => return (Self::fallback_identity(global).await, Err(e)),
        };
        let id = Identity {
            stack: global
                .stack
                .clone()
                .or_else(|| stack.name.clone())
                .unwrap_or_else(|| "hms".into()),
            env: global
                .env
                .clone()
                .or_else(|| stack.env.clone())
                .unwrap_or_else(|| "production".into()),
            region: crate::aws::resolve_region(&global.aws, stack.region.as_deref()).await,
        };
        let r = Self::finish(global, tool, command, stdin, config, stack, id.clone());
        (id, r)
    }

    fn finish(
        global: &GlobalArgs,
        tool: &str,
        command: &str,
        stdin: Option<String>,
        config: Config,
        stack: StackConfig,
        id: Identity,
    ) -> Result<Self> {
        for (what, v, max) in [
            ("--stack", &id.stack, MAX_STACK_LEN),
            ("--env", &id.env, MAX_ENV_LEN),
        ] {
            if !valid_name(v, max) {
                return Err(Error::usage(format!(
                    "{what} {v:?}: use 1-{max} lowercase letters, digits and '-', starting with a letter"
                )));
            }
        }
        for (k, v) in &stack.tags {
            let key = format!("stack.tags.{k}");
            if k.starts_with("aws:") || k.starts_with("hms:") || k == "Name" {
                return Err(config.invalid(
                    &key,
                    "aws:, hms: and Name are set by the tools; choose another tag key",
                ));
            }
            if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
                return Err(
                    config.invalid(&key, "tag keys are 1-128 characters and values at most 256")
                );
            }
        }
        let aws: AwsConfig = config.section("aws")?;
        let store = StateStore::open(global.state.as_deref(), &id.stack, &id.env)?;
        let (mut doc, piped) = match stdin.filter(|s| !s.trim().is_empty()) {
            Some(text) => (Document::parse(&text, &id)?, true),
            None => (Document::new(&id), false),
        };
        let section = tool.strip_prefix("hms-").unwrap_or(tool);
        if command == "up" {
            let foreign: Vec<&String> = doc
                .unknown
                .iter()
                .filter(|u| !u.starts_with(&format!("outputs.{section}.")))
                .collect();
            if !foreign.is_empty() {
                return Err(Error::usage(format!(
                    "stdin: the document comes from a `plan` and holds values not known yet ({}); pipe the output of `up` instead",
                    foreign.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if !piped {
            // Run alone: upstream outputs come from the other tools' state in the same store.
            for (sec, outputs) in store.all_outputs()? {
                if sec != section {
                    doc.outputs.insert(sec, outputs);
                }
            }
        }
        Ok(Session {
            global: global.clone(),
            config,
            stack,
            aws,
            id,
            doc,
            store,
        })
    }
}

/// `1-max` of `[a-z0-9-]`, starting with a letter: safe in every AWS name the tools build from it.
fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

fn read_stdin() -> Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdin.lock(), &mut text)
        .map_err(|e| Error::usage(format!("stdin: cannot read the stack document: {e}")))?;
    Ok(Some(text))
}

/// Runs one of the common commands of tool `T` and returns the exit code. Writes exactly one document to
/// stdout (also on failure, with the failed run recorded, so that the tools downstream stop).
pub async fn run<T: Tool>(global: &GlobalArgs, command: &Command) -> i32 {
    let ui = Ui::new(T::NAME, global.verbose, global.quiet);
    let stdin = match read_stdin() {
        Ok(s) => s,
        Err(e) => {
            let id = Session::fallback_identity(global).await;
            return fail(&ui, Document::new(&id), command.name(), e);
        }
    };
    let raw_stdin = stdin.clone();
    let (id, session) = Session::open(global, T::NAME, command.name(), stdin).await;
    let mut session = match session {
        Ok(s) => s,
        Err(e) => {
            // Pass on what came in, so that the failure travels down the pipe.
            let doc = raw_stdin
                .as_deref()
                .and_then(|t| serde_json::from_str::<Document>(t).ok())
                .unwrap_or_else(|| Document::new(&id));
            return fail(&ui, doc, command.name(), e);
        }
    };
    let tagger = Tagger::new(session.id.clone(), T::NAME, session.stack.tags.clone());
    let result = run_session::<T>(&ui, &mut session, &tagger, command).await;
    match result {
        Ok((code, run)) => {
            session.doc.runs.push(run);
            match session.doc.write_stdout() {
                Ok(()) => code,
                Err(e) => {
                    ui.error(e.to_string());
                    EXIT_FAILURE
                }
            }
        }
        Err(e) => fail(&ui, session.doc, command.name(), e),
    }
}

/// The document to write when the command line itself is wrong: stdin's document when there is one, else a
/// new one for the stack, env and region the raw arguments name; with a failed run appended.
pub fn failed_document_from_args(tool: &str, message: &str) -> Document {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("{flag}="))
                .map(str::to_owned)
                .or_else(|| (a == flag).then(|| args.get(i + 1).cloned()).flatten())
        })
    };
    let command = args
        .iter()
        .skip(1)
        .find(|a| ["plan", "up", "down", "show", "unlock"].contains(&a.as_str()))
        .cloned()
        .unwrap_or_else(|| "?".into());
    let stdin = read_stdin().ok().flatten();
    let mut doc = stdin
        .as_deref()
        .and_then(|t| serde_json::from_str::<Document>(t).ok())
        .unwrap_or_else(|| {
            Document::new(&Identity {
                stack: value("--stack").unwrap_or_else(|| "hms".into()),
                env: value("--env").unwrap_or_else(|| "production".into()),
                region: value("--region")
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".into()),
            })
        });
    doc.runs.push(Run {
        tool: tool.to_owned(),
        command,
        ok: false,
        created: 0,
        updated: 0,
        deleted: 0,
        error: Some(message.to_owned()),
    });
    doc
}

/// Reports `e`, writes `doc` with a failed run appended, returns the exit code.
fn fail(ui: &Ui, mut doc: Document, command: &str, e: Error) -> i32 {
    ui.error(e.to_string());
    doc.runs.push(Run {
        tool: ui.tool().to_owned(),
        command: command.to_owned(),
        ok: false,
        created: 0,
        updated: 0,
        deleted: 0,
        error: Some(e.to_string().lines().next().unwrap_or_default().to_owned()),
    });
    let _ = doc.write_stdout();
    e.exit_code()
}

/// A failed apply: its errors were reported as they happened; this is the closing line.
fn apply_failed(
    ui: &Ui,
    run: &mut Run,
    errors: usize,
    total: usize,
    skipped: &[String],
) -> (i32, Run) {
    if !skipped.is_empty() {
        ui.warn(format!(
            "not attempted (they depend on a failed change): {}",
            skipped.join(", ")
        ));
    }
    let e = Error::Partial {
        total,
        failed: errors,
    };
    ui.error(e.to_string());
    run.ok = false;
    run.error = Some(e.to_string());
    (e.exit_code(), run.clone())
}

async fn run_session<T: Tool>(
    ui: &Ui,
    s: &mut Session,
    tagger: &Tagger,
    command: &Command,
) -> Result<(i32, Run)> {
    let input = SpecInput {
        config: &s.config,
        tagger,
        doc: &s.doc,
        command: command.name(),
        tool: T::NAME,
    };
    let spec = T::spec(&input)?;
    let ctx = Ctx {
        ui,
        tagger,
        timeout: s.global.timeout,
    };
    let mut run = Run {
        tool: T::NAME.to_owned(),
        command: command.name().to_owned(),
        ok: true,
        created: 0,
        updated: 0,
        deleted: 0,
        error: None,
    };
    if let Command::Unlock { lock_id } = command {
        ui.info(s.store.unlock(T::NAME, lock_id)?);
        return Ok((EXIT_OK, run));
    }
    if let Command::Show { refresh: false } = command {
        let state = load_state::<T>(s)?.ok_or_else(|| no_state::<T>(s))?;
        s.doc.set_outputs(T::SECTION, state.outputs, &[]);
        return Ok((EXIT_OK, run));
    }

    let sdk = crate::aws::sdk_config(&s.global.aws, &s.id.region, s.aws.max_attempts).await;
    crate::aws::check_account(&sdk, &s.stack.allowed_account_ids).await?;
    let tool = T::connect(&sdk);

    match command {
        Command::Plan { detailed_exitcode } => {
            let state = load_or_empty::<T>(s)?;
            let observed = tool.observe(&ctx, &spec, &state).await?;
            let plan = T::plan(&spec, &observed);
            show_plan(ui, &plan);
            check_plan(&plan)?;
            let mut planned = T::recorded(&observed);
            let pending = plan.pending();
            planned.retain(|a, _| !pending.contains(a.as_str()));
            let out = T::outputs(&spec, &planned);
            s.doc
                .set_outputs(T::SECTION, Value::Object(out.value), &out.unknown);
            let sum = plan.summary();
            run.created = sum.create + sum.replace;
            run.updated = sum.update;
            run.deleted = sum.delete + sum.replace;
            let code = if *detailed_exitcode && !plan.is_empty() {
                EXIT_CHANGES
            } else {
                EXIT_OK
            };
            Ok((code, run))
        }
        Command::Up { allow_destroy } => {
            let _lock = s.store.lock(T::NAME, "up", s.global.lock_timeout)?;
            let state = load_or_empty::<T>(s)?;
            let observed = tool.observe(&ctx, &spec, &state).await?;
            let plan = T::plan(&spec, &observed);
            show_plan(ui, &plan);
            check_plan(&plan)?;
            let destructive = plan.destructive();
            if !destructive.is_empty() {
                if !allow_destroy {
                    return Err(Error::Refused(format!(
                        "the plan deletes or replaces {} resource(s) ({}); nothing was changed. Review the plan, then run again with --allow-destroy",
                        destructive.len(),
                        destructive.iter().map(|c| c.address.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                refuse_if_used(&tool, &ctx, &spec, &observed, &plan).await?;
            }
            let mut start = state.clone();
            start.resources = T::recorded(&observed);
            let rec = Recorder::new(&s.store, start);
            if rec.snapshot().resources != state.resources || state.serial == 0 {
                rec.save()?;
            }
            let outcome = execute(
                &plan,
                &rec,
                ui,
                async |change: &Change, step: Step, task: &Task<'_>| {
                    tool.apply(&ctx, &rec, &spec, change, step, task).await
                },
            )
            .await;
            let snapshot = rec.snapshot();
            let out = T::outputs(&spec, &snapshot.resources);
            let outputs = Value::Object(out.value);
            if snapshot.outputs != outputs {
                rec.update(|st| st.outputs = outputs.clone())?;
            }
            run.created = outcome.applied.create + outcome.applied.replace;
            run.updated = outcome.applied.update;
            run.deleted = outcome.applied.delete + outcome.applied.replace;
            s.doc
                .set_outputs(T::SECTION, with_notes(outputs, rec.notes()), &out.unknown);
            if !outcome.errors.is_empty() {
                return Ok(apply_failed(
                    ui,
                    &mut run,
                    outcome.errors.len(),
                    plan.changes.len(),
                    &outcome.skipped,
                ));
            }
            if !plan.is_empty() {
                ui.info(format!(
                    "Applied: {} created, {} updated, {} deleted.",
                    run.created, run.updated, run.deleted
                ));
            }
            Ok((EXIT_OK, run))
        }
        Command::Down { yes } => {
            let _lock = s.store.lock(T::NAME, "down", s.global.lock_timeout)?;
            let users = downstream_with_resources::<T>(s)?;
            if !users.is_empty() {
                return Err(Error::Refused(format!(
                    "still in use, nothing was deleted: {} still record resources in {}; take those down first",
                    users.join(", "),
                    s.store.dir().display()
                )));
            }
            let state = load_or_empty::<T>(s)?;
            let observed = tool.observe(&ctx, &spec, &state).await?;
            let plan = T::plan_down(&spec, &observed);
            check_plan(&plan)?;
            refuse_if_used(&tool, &ctx, &spec, &observed, &plan).await?;
            let mut start = state.clone();
            start.resources = T::recorded(&observed);
            let rec = Recorder::new(&s.store, start);
            if plan.is_empty() {
                ui.info("Nothing to delete.");
            } else {
                show_plan(ui, &plan);
                confirm(ui, *yes, plan.changes.len(), &s.id)?;
                rec.save()?;
                let outcome = execute(
                    &plan,
                    &rec,
                    ui,
                    async |change: &Change, step: Step, task: &Task<'_>| {
                        tool.apply(&ctx, &rec, &spec, change, step, task).await
                    },
                )
                .await;
                run.deleted = outcome.applied.delete;
                if !outcome.errors.is_empty() {
                    return Ok(apply_failed(
                        ui,
                        &mut run,
                        outcome.errors.len(),
                        plan.changes.len(),
                        &outcome.skipped,
                    ));
                }
                ui.info(format!("Deleted {} resource(s).", run.deleted));
            }
            if state.serial > 0 || !rec.snapshot().resources.is_empty() {
                rec.update(|st| {
                    st.resources.clear();
                    st.outputs = Value::Null;
                })?;
            }
            let notes = rec.notes();
            if notes.is_empty() {
                s.doc.remove_outputs(T::SECTION);
            } else {
                // What `down` leaves behind on purpose (a final snapshot) is still worth passing on.
                s.doc.set_outputs(T::SECTION, Value::Object(notes), &[]);
            }
            Ok((EXIT_OK, run))
        }
        Command::Show { refresh: true } => {
            let _lock = s
                .store
                .lock(T::NAME, "show --refresh", s.global.lock_timeout)?;
            let state = load_state::<T>(s)?.ok_or_else(|| no_state::<T>(s))?;
            let observed = tool.observe(&ctx, &spec, &state).await?;
            let plan = T::plan(&spec, &observed);
            if !plan.is_empty() {
                ui.warn(format!(
                    "AWS differs from the config: {} (run plan for details)",
                    plan.summary_line()
                ));
            }
            let mut fresh = state.clone();
            fresh.resources = T::recorded(&observed);
            let out = T::outputs(&spec, &fresh.resources);
            fresh.outputs = Value::Object(out.value);
            if fresh != state {
                let mut f = fresh.clone();
                s.store.save(&mut f)?;
            }
            s.doc.set_outputs(T::SECTION, fresh.outputs, &out.unknown);
            Ok((EXIT_OK, run))
        }
        Command::Show { refresh: false } | Command::Unlock { .. } => Ok((EXIT_OK, run)),
    }
}

/// Stops on changes AWS cannot make (exit 64) or conditions that forbid this run (exit 1).
fn check_plan(plan: &Plan) -> Result<()> {
    if !plan.impossible.is_empty() {
        return Err(Error::usage(plan.impossible.join("; ")));
    }
    if !plan.refused.is_empty() {
        return Err(Error::Refused(plan.refused.join("; ")));
    }
    Ok(())
}

fn with_notes(outputs: Value, notes: Map<String, Value>) -> Value {
    match outputs {
        Value::Object(mut m) => {
            m.extend(notes);
            Value::Object(m)
        }
        other => other,
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

/// Runs a tool's own verb the way the common commands run: config, stdin document, spec (no AWS call
/// before it), account guard, the lock when `lock`, and exactly one document on stdout. The verb's result
/// is added to the tool's outputs section.
pub async fn run_verb<T, F>(global: &GlobalArgs, verb: &'static str, lock: bool, f: F) -> i32
where
    T: Tool,
    F: AsyncFnOnce(&VerbCtx<'_, T>) -> Result<Map<String, Value>>,
{
    let ui = Ui::new(T::NAME, global.verbose, global.quiet);
    let stdin = match read_stdin() {
        Ok(s) => s,
        Err(e) => {
            let id = Session::fallback_identity(global).await;
            return fail(&ui, Document::new(&id), verb, e);
        }
    };
    let raw_stdin = stdin.clone();
    let (id, session) = Session::open(global, T::NAME, verb, stdin).await;
    let mut s = match session {
        Ok(s) => s,
        Err(e) => {
            let doc = raw_stdin
                .as_deref()
                .and_then(|t| serde_json::from_str::<Document>(t).ok())
                .unwrap_or_else(|| Document::new(&id));
            return fail(&ui, doc, verb, e);
        }
    };
    let tagger = Tagger::new(s.id.clone(), T::NAME, s.stack.tags.clone());
    let result: Result<Map<String, Value>> = async {
        let input = SpecInput {
            config: &s.config,
            tagger: &tagger,
            doc: &s.doc,
            command: verb,
            tool: T::NAME,
        };
        let spec = T::spec(&input)?;
        let sdk = crate::aws::sdk_config(&s.global.aws, &s.id.region, s.aws.max_attempts).await;
        crate::aws::check_account(&sdk, &s.stack.allowed_account_ids).await?;
        let tool = T::connect(&sdk);
        let _lock = if lock {
            Some(s.store.lock(T::NAME, verb, s.global.lock_timeout)?)
        } else {
            None
        };
        let state = load_state::<T>(&s)?;
        let ctx = Ctx {
            ui: &ui,
            tagger: &tagger,
            timeout: s.global.timeout,
        };
        let vctx = VerbCtx {
            tool: &tool,
            spec: &spec,
            ctx: &ctx,
            state: state.as_ref(),
        };
        let extra = f(&vctx).await?;
        let mut section = match state.map(|st| st.outputs) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        section.extend(extra);
        Ok(section)
    }
    .await;
    match result {
        Ok(section) => {
            s.doc.set_outputs(T::SECTION, Value::Object(section), &[]);
            s.doc.runs.push(Run {
                tool: T::NAME.to_owned(),
                command: verb.to_owned(),
                ok: true,
                created: 0,
                updated: 0,
                deleted: 0,
                error: None,
            });
            match s.doc.write_stdout() {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    ui.error(e.to_string());
                    EXIT_FAILURE
                }
            }
        }
        Err(e) => fail(&ui, s.doc, verb, e),
    }
}

/// Refuses when resources of other tools still use what `plan` deletes or replaces.
async fn refuse_if_used<T: Tool>(
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    observed: &T::Observed,
    plan: &Plan,
) -> Result<()> {
    if plan.destructive().is_empty() {
        return Ok(());
    }
    let blockers = tool.blockers(ctx, spec, observed, plan).await?;
    if blockers.is_empty() {
        return Ok(());
    }
    Err(Error::Refused(format!(
        "still in use, nothing was deleted: {}; take those down first",
        blockers.join("; ")
    )))
}

/// Tools that use `T` and still record resources in this state store.
fn downstream_with_resources<T: Tool>(s: &Session) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (user, uses) in USES {
        if uses.contains(&T::NAME) {
            if let Some(st) = s.store.load(user)? {
                if !st.resources.is_empty() {
                    out.push(format!("{user} ({} resources)", st.resources.len()));
                }
            }
        }
    }
    Ok(out)
}

fn no_state<T: Tool>(s: &Session) -> Error {
    Error::Refused(format!(
        "{} has no state for {}-{} in {}; run `{} up` first (or pass --state)",
        T::NAME,
        s.id.stack,
        s.id.env,
        s.store.dir().display(),
        T::NAME
    ))
}

/// Loads this tool's state and checks it is for this run's stack, env and region.
fn load_state<T: Tool>(s: &Session) -> Result<Option<State>> {
    let Some(state) = s.store.load(T::NAME)? else {
        return Ok(None);
    };
    for (what, theirs, ours, flag) in [
        ("stack", &state.stack, &s.id.stack, "--stack"),
        ("env", &state.env, &s.id.env, "--env"),
        ("region", &state.region, &s.id.region, "--region"),
    ] {
        if theirs != ours {
            return Err(Error::usage(format!(
                "state {}: recorded for {what} {theirs:?}, but this run is for {ours:?}; pass {flag} {theirs}, or use another --stack or --state for a second {what}",
                s.store.dir().display()
            )));
        }
    }
    Ok(Some(state))
}

fn load_or_empty<T: Tool>(s: &Session) -> Result<State> {
    Ok(load_state::<T>(s)?.unwrap_or_else(|| {
        State::empty(
            T::NAME,
            env!("CARGO_PKG_VERSION"),
            &s.id.stack,
            &s.id.env,
            &s.id.region,
        )
    }))
}

fn show_plan(ui: &Ui, plan: &Plan) {
    for line in plan.render() {
        ui.info(line);
    }
}

fn confirm(ui: &Ui, yes: bool, n: usize, id: &Identity) -> Result<()> {
    if yes {
        return Ok(());
    }
    // stdin may carry the document; ask on the controlling terminal, and only when a person watches stderr.
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
        .filter(|_| std::io::stderr().is_terminal());
    let Some(tty) = tty else {
        return Err(Error::Refused(format!(
            "down would delete {n} resource(s) and there is no terminal to confirm at; pass --yes"
        )));
    };
    let mut w = &tty;
    let _ = write!(
        w,
        "{}: delete these {n} resource(s) of stack {} ({}, {})? Type 'yes' to confirm: ",
        ui.tool(),
        id.stack,
        id.env,
        id.region
    );
    let _ = w.flush();
    let mut answer = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut answer)
        .map_err(|e| Error::Refused(format!("could not read the confirmation: {e}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(Error::Refused(String::from(
            "not confirmed; nothing was deleted",
        )))
    }
}

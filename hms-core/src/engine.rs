//! The engine every tool runs on: a session (config, identity, the stack document, the state store) opened
//! once before any AWS call, then `spec → observe → plan → apply` for the common commands ([`run`]) and
//! the same opening for a tool's own verbs ([`run_verb`]).
//!
//! Whatever happens, exactly one document is written to stdout: on failure the document that came in (or
//! a new one) with a failed run appended, so that the tools downstream in a pipe stop without calling AWS.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Map, Value};

use crate::apply::{execute, Outcome, Recorder};
use crate::cli::{Command, GlobalArgs};
use crate::config::{AwsConfig, Config, StackConfig, StateConfig};
use crate::contract::{CommandKind, Ctx, Flags, Observation as _, SpecInput, Tool, VerbCtx};
use crate::document::{Document, Identity, Run};
use crate::error::{Error, Result, EXIT_CHANGES, EXIT_FAILURE, EXIT_OK};
use crate::plan::{Change, Plan, Step};
use crate::state::{Location, State, StateStore};
use crate::tags::Tagger;
use crate::ui::{Task, Ui};

/// Longest stack and env names: every AWS name built from them stays within AWS's limits (IAM role names,
/// 64 characters, are the tightest).
pub const MAX_STACK_LEN: usize = 20;
/// See [`MAX_STACK_LEN`].
pub const MAX_ENV_LEN: usize = 12;

/// What a session is opened on: stdin's text, or the first document an overlapped `up` read.
enum Stdin<'a> {
    Text(Option<&'a str>),
    Doc(Option<Document>),
}

/// `up` on a document that still holds another tool's unknowns (the output of a `plan`): the error.
pub(crate) fn foreign_unknowns<T: Tool>(doc: &Document) -> Option<Error> {
    let own = format!("outputs.{}.", T::SECTION);
    let foreign: Vec<&String> = doc
        .unknown
        .iter()
        .filter(|u| !u.starts_with(&own))
        .collect();
    (!foreign.is_empty()).then(|| {
        Error::usage(format!(
            "stdin: the document comes from a `plan` and holds values not known yet ({}); pipe the output of `up` instead",
            foreign.iter().take(3).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

/// Everything a run has decided before its first AWS call.
#[derive(Debug)]
pub(crate) struct Session {
    pub global: GlobalArgs,
    pub config: Config,
    pub stack: StackConfig,
    pub aws: AwsConfig,
    pub id: Identity,
    pub doc: Document,
    pub store: StateStore,
    pub tagger: Tagger,
    /// What stdout gets instead of the document (`plan --json`).
    pub stdout: Option<String>,
}

/// What a common command asks beyond its kind and flags.
#[derive(Debug, Clone)]
enum Op {
    Plan {
        detailed_exitcode: bool,
        json: bool,
        out: Option<std::path::PathBuf>,
    },
    Up {
        allow_destroy: bool,
        yes: bool,
        plan_file: Option<std::path::PathBuf>,
    },
    Down {
        yes: bool,
    },
    Show {
        refresh: bool,
    },
    Unlock {
        lock_id: String,
    },
    Import(ImportOp),
}

impl Session {
    /// The identity from flags and defaults alone (used to report a failure before config is read).
    pub(crate) async fn fallback_identity(global: &GlobalArgs) -> Identity {
        Identity {
            stack: global.stack.clone().unwrap_or_else(|| "hms".into()),
            env: global.env.clone().unwrap_or_else(|| "production".into()),
            region: crate::aws::resolve_region(&global.aws, None).await,
        }
    }

    /// Reads stdin and opens the session for `command` of tool `T`. On failure the error is reported, the
    /// failed document written, and the exit code returned.
    pub(crate) async fn start<T: Tool>(
        global: &GlobalArgs,
        command: CommandKind,
        ui: &Ui,
    ) -> std::result::Result<Self, i32> {
        Self::start_reading::<T>(global, command, ui, true).await
    }

    /// [`Session::start`], reading the document from stdin only when `document` (`import
    /// --terraform-state -` reads stdin itself).
    pub(crate) async fn start_reading<T: Tool>(
        global: &GlobalArgs,
        command: CommandKind,
        ui: &Ui,
        document: bool,
    ) -> std::result::Result<Self, i32> {
        let read = if document { read_stdin() } else { Ok(None) };
        let stdin = match read {
            Ok(s) => s,
            Err(e) => {
                let id = Self::fallback_identity(global).await;
                return Err(fail(ui, Document::new(&id), command.name(), e));
            }
        };
        let (id, opened) = Self::open::<T>(global, command, stdin.as_deref()).await;
        opened.map_err(|e| {
            // Pass on what came in, so that the failure travels down the pipe.
            let doc = stdin
                .as_deref()
                .and_then(Document::last_in)
                .unwrap_or_else(|| Document::new(&id));
            fail(ui, doc, command.name(), e)
        })
    }

    pub(crate) async fn open<T: Tool>(
        global: &GlobalArgs,
        command: CommandKind,
        stdin: Option<&str>,
    ) -> (Identity, Result<Self>) {
        Self::open_with::<T>(global, command, Stdin::Text(stdin)).await
    }

    /// Opens the session of an overlapped `up` ([`crate::overlap`]) on the first document it read (`None`:
    /// no pipe on stdin), which may be an early one.
    pub(crate) async fn open_doc<T: Tool>(
        global: &GlobalArgs,
        first: Option<Document>,
    ) -> (Identity, Result<Self>) {
        Self::open_with::<T>(global, CommandKind::Up, Stdin::Doc(first)).await
    }

    async fn open_with<T: Tool>(
        global: &GlobalArgs,
        command: CommandKind,
        stdin: Stdin<'_>,
    ) -> (Identity, Result<Self>) {
        let config = match Config::load(&global.config, &global.set) {
            Ok(c) => c,
            Err(e) => return (Self::fallback_identity(global).await, Err(e)),
        };
        let stack: StackConfig = match config.section("stack") {
            Ok(s) => s,
            Err(e) => return (Self::fallback_identity(global).await, Err(e)),
        };
        let id = identity(global, &stack).await;
        let doc = match stdin {
            Stdin::Text(text) => text
                .filter(|s| !s.trim().is_empty())
                .map(|t| Document::parse(t, &id))
                .transpose(),
            Stdin::Doc(doc) => doc.map(|d| d.checked(&id)).transpose(),
        };
        let opened = match doc {
            Ok(doc) => Self::finish::<T>(global, command, doc, config, stack, id.clone()).await,
            Err(e) => Err(e),
        };
        (id, opened)
    }

    async fn finish<T: Tool>(
        global: &GlobalArgs,
        command: CommandKind,
        piped: Option<Document>,
        config: Config,
        stack: StackConfig,
        id: Identity,
    ) -> Result<Self> {
        check_identity(&config, &stack, &id)?;
        let aws: AwsConfig = config.section("aws")?;
        let store = open_store(global, &config, &id, &aws).await?;
        let (mut doc, piped) = match piped {
            Some(doc) => (doc, true),
            None => (Document::new(&id), false),
        };
        // An early document holds what is not ready yet; only the final one must hold no unknowns.
        if command == CommandKind::Up && doc.is_final {
            if let Some(e) = foreign_unknowns::<T>(&doc) {
                return Err(e);
            }
        }
        if !piped {
            // Run alone: upstream outputs come from the other tools' state in the same store.
            for (section, outputs) in store.all_outputs().await? {
                if section != T::SECTION {
                    doc.outputs.insert(section, outputs);
                }
            }
        }
        let tagger = Tagger::new(id.clone(), T::NAME, stack.tags.clone());
        Ok(Session {
            global: global.clone(),
            config,
            stack,
            aws,
            id,
            doc,
            store,
            tagger,
            stdout: None,
        })
    }

    /// The spec input for `command` with `flags`.
    pub(crate) fn input<'a, P, U, D>(
        &'a self,
        tool: &'a str,
        command: CommandKind,
        flags: &'a Flags<P, U, D>,
        yes: bool,
    ) -> SpecInput<'a, P, U, D> {
        SpecInput {
            config: &self.config,
            tagger: &self.tagger,
            doc: &self.doc,
            command,
            flags,
            yes,
            tool,
        }
    }

    /// The SDK config of this run, after the account guard.
    pub(crate) async fn connect(&self) -> Result<crate::aws::SdkConfig> {
        let sdk =
            crate::aws::sdk_config(&self.global.aws, &self.id.region, self.aws.max_attempts).await;
        crate::aws::check_credentials(&sdk).await?;
        crate::aws::check_account(&sdk, &self.stack.allowed_account_ids).await?;
        Ok(sdk)
    }

    /// Runs `f` holding the lock of `T` for `operation`, and releases it whatever `f` returns.
    async fn locked<T: Tool, R>(
        &self,
        operation: &str,
        f: impl AsyncFnOnce() -> Result<R>,
    ) -> Result<R> {
        let lock = self
            .store
            .lock(T::NAME, operation, self.global.lock_timeout)
            .await?;
        let result = f().await;
        let released = lock.release().await;
        let value = result?;
        released?;
        Ok(value)
    }

    /// Loads `T`'s state and checks it is for this run's stack, env and region.
    async fn load_state<T: Tool>(&self) -> Result<Option<State>> {
        let Some(mut state) = load_checked(&self.store, T::NAME, &self.id).await? else {
            return Ok(None);
        };
        state.uses = T::USES.iter().map(|s| (*s).to_owned()).collect();
        Ok(Some(state))
    }

    /// `T`'s state, or an empty one.
    pub(crate) async fn load_or_empty<T: Tool>(&self) -> Result<State> {
        Ok(self.load_state::<T>().await?.unwrap_or_else(|| {
            let mut st = State::empty(
                T::NAME,
                env!("CARGO_PKG_VERSION"),
                &self.id.stack,
                &self.id.env,
                &self.id.region,
            );
            st.uses = T::USES.iter().map(|s| (*s).to_owned()).collect();
            st
        }))
    }

    fn no_state<T: Tool>(&self) -> Error {
        Error::Refused(format!(
            "{} has no state for {}-{} in {}; run `{} up` first (or pass --state)",
            T::NAME,
            self.id.stack,
            self.id.env,
            self.store.describe(),
            T::NAME
        ))
    }

    /// Tools that declare they use `T` and still record resources in this state store.
    async fn downstream_with_resources<T: Tool>(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .all()
            .await?
            .into_iter()
            .filter(|st| st.tool != T::NAME && st.uses.iter().any(|u| u == T::SECTION))
            .filter(|st| !st.resources.is_empty())
            .map(|st| {
                format!(
                    "{} ({})",
                    st.tool,
                    crate::plan::count_of(st.resources.len(), "resource")
                )
            })
            .collect())
    }
}

/// The state store this run uses: `--state` / `HMS_STATE`, else `[state] url`, else `.hms/state`. An S3
/// store gets its own client, in `[state] region` (default: the stack's region). Makes no AWS call.
pub(crate) async fn open_store(
    global: &GlobalArgs,
    config: &Config,
    id: &Identity,
    aws: &AwsConfig,
) -> Result<StateStore> {
    let cfg: StateConfig = config.section("state")?;
    let url = global.state.as_deref().or(cfg.url.as_deref());
    store_at(global, url, &cfg, id, aws).await
}

/// The store at `url` (see [`open_store`]).
pub(crate) async fn store_at(
    global: &GlobalArgs,
    url: Option<&str>,
    cfg: &StateConfig,
    id: &Identity,
    aws: &AwsConfig,
) -> Result<StateStore> {
    Ok(match Location::parse(url)? {
        Location::Local(dir) => StateStore::local(&dir, &id.stack, &id.env),
        Location::S3(loc) => {
            let region = cfg.region.clone().unwrap_or_else(|| id.region.clone());
            let sdk = crate::aws::sdk_config(&global.aws, &region, aws.max_attempts).await;
            StateStore::s3(
                aws_sdk_s3::Client::new(&sdk),
                loc,
                &id.stack,
                &id.env,
                cfg.kms_key.clone(),
            )
        }
    })
}

/// The identity a run is for: flags, then `[stack]`, then the defaults.
pub(crate) async fn identity(global: &GlobalArgs, stack: &StackConfig) -> Identity {
    Identity {
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
    }
}

/// Loads `tool`'s state from `store` and checks it is for `id`.
pub(crate) async fn load_checked(
    store: &StateStore,
    tool: &str,
    id: &Identity,
) -> Result<Option<State>> {
    let Some(state) = store.load(tool).await? else {
        return Ok(None);
    };
    for (what, theirs, ours, flag) in [
        ("stack", &state.stack, &id.stack, "--stack"),
        ("env", &state.env, &id.env, "--env"),
        ("region", &state.region, &id.region, "--region"),
    ] {
        if theirs != ours {
            return Err(Error::usage(format!(
                "state {}: recorded for {what} {theirs:?}, but this run is for {ours:?}; pass {flag} {theirs}, or use another --stack or --state for a second {what}",
                store.describe()
            )));
        }
    }
    Ok(Some(state))
}

/// Checks the stack and env names and the stack's tags.
pub(crate) fn check_identity(config: &Config, stack: &StackConfig, id: &Identity) -> Result<()> {
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
    Ok(())
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

/// The document on stdin: `None` at a terminal. An empty pipe is an upstream tool that died before
/// writing (every hms tool writes a document, also when it fails): exit 1, no AWS call. An empty
/// `/dev/null`, file or closed stdin means "from the state store".
/// All of stdin as text, unless it is a terminal or empty (`import --terraform-state -`).
fn read_stdin_text() -> Option<String> {
    use std::io::Read as _;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return None;
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text).ok()?;
    (!text.trim().is_empty()).then_some(text)
}

pub(crate) fn read_stdin() -> Result<Option<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Ok(None);
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut stdin.lock(), &mut text)
        .map_err(|e| Error::usage(format!("stdin: cannot read the stack document: {e}")))?;
    if text.trim().is_empty() && stdin_is_pipe(&stdin) {
        return Err(empty_pipe());
    }
    Ok(Some(text))
}

/// An empty pipe on stdin: the upstream tool died before it wrote anything.
pub(crate) fn empty_pipe() -> Error {
    Error::Refused(String::from(
        "stdin: the upstream tool wrote nothing (did it crash or get killed?); nothing was done. Run the pipeline again, or run this tool alone with </dev/null to read the upstream outputs from the state store",
    ))
}

/// Whether stdin is a pipe (FIFO), as between two tools of a pipeline.
pub(crate) fn stdin_is_pipe(stdin: &std::io::Stdin) -> bool {
    is_fifo(stdin)
}

/// Whether `fd` is a pipe (FIFO), not a file, a terminal or /dev/null.
pub(crate) fn is_fifo(fd: &impl std::os::fd::AsFd) -> bool {
    use std::os::unix::fs::FileTypeExt;
    fd.as_fd()
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata().ok())
        .is_some_and(|m| m.file_type().is_fifo())
}

/// A new run record for `T`.
pub(crate) fn new_run<T: Tool>(command: &str) -> Run {
    Run {
        tool: T::NAME.to_owned(),
        command: command.to_owned(),
        ok: true,
        created: 0,
        updated: 0,
        deleted: 0,
        error: None,
    }
}

/// Writes the document with `run` appended; returns `code`, or 1 when stdout cannot be written.
pub(crate) fn finish(ui: &Ui, mut doc: Document, run: Run, code: i32) -> i32 {
    doc.runs.push(run);
    doc.is_final = true;
    match doc.write_stdout() {
        Ok(()) => code,
        Err(e) => {
            ui.error(e.to_string());
            EXIT_FAILURE
        }
    }
}

/// Runs one of the common commands of tool `T` and returns the exit code. Writes exactly one document to
/// stdout (also on failure, with the failed run recorded, so that the tools downstream stop).
pub async fn run<T: Tool>(
    global: &GlobalArgs,
    command: Command<T::PlanFlags, T::UpFlags, T::DownFlags>,
) -> i32 {
    let ui = Ui::new(T::NAME, global.verbose, global.quiet).no_color(global.no_color);
    let command = match command {
        Command::State(c) => return crate::state_cmd::state::<T>(&ui, global, c).await,
        Command::Output { name } => {
            return crate::state_cmd::output::<T>(&ui, global, name.as_deref()).await
        }
        Command::Completions { shell } => {
            return crate::cli::print_generated(&crate::cli::Generated::Completions(shell))
        }
        Command::Man => return crate::cli::print_generated(&crate::cli::Generated::Man),
        Command::Permissions {
            command,
            format,
            account,
        } => {
            return crate::permissions::verb::print::<T>(
                &ui,
                global,
                command,
                format,
                account.as_deref(),
            )
            .await
        }
        other => other,
    };
    let (kind, mut op, flags) = split::<T>(command);
    if let Op::Up {
        allow_destroy,
        yes,
        plan_file,
    } = &op
    {
        if crate::overlap::applies(global, *yes, plan_file.is_some()) {
            return crate::overlap::up::<T>(&ui, global, *allow_destroy, *yes, &flags).await;
        }
    }
    // `import --terraform-state -`: stdin is the Terraform state, not a document (the upstream outputs
    // come from the state store, as when run alone).
    let document_on_stdin = match &mut op {
        Op::Import(i) if i.source == "-" => {
            i.stdin = read_stdin_text();
            false
        }
        _ => true,
    };
    let mut s = match Session::start_reading::<T>(global, kind, &ui, document_on_stdin).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    match run_session::<T>(&ui, &mut s, kind, &op, &flags).await {
        Ok((code, run)) => match s.stdout.take() {
            Some(text) => write_stdout(&ui, &text, code),
            None => finish(&ui, s.doc, run, code),
        },
        Err(e) => fail(&ui, s.doc, kind.name(), e),
    }
}

/// Writes `text` (not a document) to stdout; returns `code`, or 1 when stdout cannot be written.
fn write_stdout(ui: &Ui, text: &str, code: i32) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            ui.error(format!("cannot write stdout: {e}"));
            EXIT_FAILURE
        }
    }
}

pub(crate) type ToolFlags<T> =
    Flags<<T as Tool>::PlanFlags, <T as Tool>::UpFlags, <T as Tool>::DownFlags>;

fn split<T: Tool>(
    command: Command<T::PlanFlags, T::UpFlags, T::DownFlags>,
) -> (CommandKind, Op, ToolFlags<T>) {
    let mut flags = ToolFlags::<T>::default();
    let (kind, op) = match command {
        Command::Plan {
            detailed_exitcode,
            json,
            out,
            flags: p,
        } => {
            flags.plan = p;
            (
                CommandKind::Plan,
                Op::Plan {
                    detailed_exitcode,
                    json,
                    out,
                },
            )
        }
        Command::Up {
            allow_destroy,
            yes,
            plan_file,
            plan,
            flags: u,
        } => {
            flags.plan = plan;
            flags.up = u;
            (
                CommandKind::Up,
                Op::Up {
                    allow_destroy,
                    yes,
                    plan_file,
                },
            )
        }
        Command::Down { yes, flags: d } => {
            flags.down = d;
            (CommandKind::Down, Op::Down { yes })
        }
        Command::Show { refresh } => (CommandKind::Show, Op::Show { refresh }),
        Command::Unlock { lock_id } => (CommandKind::Verb("unlock"), Op::Unlock { lock_id }),
        Command::Import {
            terraform_state,
            merge,
            no_tag,
            flags: p,
        } => {
            flags.plan = p;
            (
                CommandKind::Verb("import"),
                Op::Import(ImportOp {
                    source: terraform_state,
                    stdin: None,
                    merge,
                    no_tag,
                }),
            )
        }
        // Handled before: they are not pipeline stages.
        Command::State(_)
        | Command::Output { .. }
        | Command::Completions { .. }
        | Command::Man
        | Command::Permissions { .. } => (CommandKind::Show, Op::Show { refresh: false }),
    };
    (kind, op, flags)
}

async fn run_session<T: Tool>(
    ui: &Ui,
    s: &mut Session,
    kind: CommandKind,
    op: &Op,
    flags: &ToolFlags<T>,
) -> Result<(i32, Run)> {
    let mut run = new_run::<T>(kind.name());
    if let Op::Unlock { lock_id } = op {
        ui.info(s.store.unlock(T::NAME, lock_id).await?);
        return Ok((EXIT_OK, run));
    }
    let yes = matches!(op, Op::Down { yes: true });
    // `import` decides the spec as `plan` does (it ends with the plan `up` would run).
    let spec_kind = match op {
        Op::Import(_) => CommandKind::Plan,
        _ => kind,
    };
    let spec = T::spec(&s.input(T::NAME, spec_kind, flags, yes))?;
    if let Op::Show { refresh: false } = op {
        let state = s
            .load_state::<T>()
            .await?
            .ok_or_else(|| s.no_state::<T>())?;
        s.doc.set_outputs(T::SECTION, state.outputs, &[]);
        return Ok((EXIT_OK, run));
    }
    let sdk = s.connect().await?;
    let tool = T::connect(&sdk);
    let ctx = Ctx {
        ui,
        tagger: &s.tagger,
        timeout: s.global.timeout,
        defer_waits: false,
    };
    let code = match op {
        Op::Plan {
            detailed_exitcode,
            json,
            out,
        } => {
            let (code, outputs, unknown, file) =
                plan_command(s, &tool, &ctx, &spec, *detailed_exitcode, &mut run).await?;
            if let Some(path) = out {
                write_plan_file(path, &file.to_text())?;
                ctx.ui.info(format!(
                    "plan saved to {}; apply exactly it with `{} up --plan {}`",
                    path.display(),
                    T::NAME,
                    path.display()
                ));
            }
            if *json {
                s.stdout = Some(file.to_text());
            }
            s.doc.set_outputs(T::SECTION, outputs, &unknown);
            code
        }
        Op::Up {
            allow_destroy,
            yes,
            plan_file,
        } => {
            let session = &*s;
            let saved = match plan_file {
                Some(p) => Some(crate::plan_json::PlanFile::read(p, T::NAME, &session.id)?),
                None => None,
            };
            let ask = UpAsk {
                allow_destroy: *allow_destroy,
                yes: *yes || saved.is_some(),
                saved: saved.as_ref(),
            };
            let (code, outputs, unknown) = session
                .locked::<T, _>("up", async || {
                    up_command(session, &tool, &ctx, &spec, &ask, &mut run).await
                })
                .await?;
            s.doc.set_outputs(T::SECTION, outputs, &unknown);
            code
        }
        Op::Down { yes } => {
            let session = &*s;
            let (code, section) = session
                .locked::<T, _>("down", async || {
                    down_command(session, &tool, &ctx, &spec, *yes, &mut run).await
                })
                .await?;
            match section {
                Section::Keep => {}
                Section::Remove => s.doc.remove_outputs(T::SECTION),
                Section::Set(notes) => s.doc.set_outputs(T::SECTION, notes, &[]),
            }
            code
        }
        Op::Show { .. } => {
            let session = &*s;
            let (outputs, unknown) = session
                .locked::<T, _>("show --refresh", async || {
                    refresh_command(session, &tool, &ctx, &spec).await
                })
                .await?;
            s.doc.set_outputs(T::SECTION, outputs, &unknown);
            EXIT_OK
        }
        Op::Import(import) => {
            let session = &*s;
            let (code, outputs, unknown) = session
                .locked::<T, _>("import", async || {
                    import_command(session, &tool, &ctx, &spec, &sdk, import, &mut run).await
                })
                .await?;
            if !outputs.is_null() {
                s.doc.set_outputs(T::SECTION, outputs, &unknown);
            }
            code
        }
        Op::Unlock { .. } => EXIT_OK,
    };
    Ok((code, run))
}

/// `plan`: what `up` would change; the document gets the planned outputs, unknowns listed.
async fn plan_command<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    detailed_exitcode: bool,
    run: &mut Run,
) -> Result<(i32, Value, Vec<String>, crate::plan_json::PlanFile)> {
    let state = s.load_or_empty::<T>().await?;
    let observed = observe(tool, ctx, spec, &state).await?;
    let plan = T::plan(spec, &observed);
    show_plan(ctx.ui, &plan);
    check_plan(&plan)?;
    let mut planned = T::recorded(&observed);
    let pending = plan.pending();
    planned.retain(|a, _| !pending.contains(a.as_str()));
    let out = T::outputs(spec, &planned);
    let sum = plan.summary();
    run.created = sum.create + sum.replace;
    run.updated = sum.update;
    run.deleted = sum.delete + sum.replace;
    let code = if detailed_exitcode && !plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    };
    let file =
        crate::plan_json::PlanFile::new(T::NAME, &s.id, &plan, observed.found(), &out.unknown);
    Ok((code, Value::Object(out.value), out.unknown, file))
}

/// Saves a JSON plan (atomically: a reader never sees half of one).
fn write_plan_file(path: &std::path::Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp-plan");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::usage(format!("--out {}: cannot write it: {e}", path.display())))
}

/// What `up` was told beyond its flags: whether destroying is allowed, whether to skip the question at
/// a terminal, and the saved plan to hold to.
pub(crate) struct UpAsk<'a> {
    pub allow_destroy: bool,
    pub yes: bool,
    pub saved: Option<&'a crate::plan_json::PlanFile>,
}

/// `up`: observe, plan, refuse what is not allowed, apply; returns the exit code and the outputs.
pub(crate) async fn up_command<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    ask: &UpAsk<'_>,
    run: &mut Run,
) -> Result<(i32, Value, Vec<String>)> {
    let state = s.load_or_empty::<T>().await?;
    let observed = observe(tool, ctx, spec, &state).await?;
    let plan = T::plan(spec, &observed);
    show_plan(ctx.ui, &plan);
    check_plan(&plan)?;
    if let Some(saved) = ask.saved {
        let stale = saved.stale(observed.found(), &plan);
        if !stale.is_empty() {
            return Err(Error::Refused(format!(
                "{}; nothing was changed. Review a new plan: {} plan --out FILE",
                stale.join("; "),
                T::NAME
            )));
        }
    }
    let destructive = plan.destructive();
    if !destructive.is_empty() {
        if !ask.allow_destroy {
            return Err(Error::Refused(format!(
                "the plan deletes or replaces {} ({}); nothing was changed. Review the plan, then run again with --allow-destroy",
                crate::plan::count_of(destructive.len(), "resource"),
                destructive.iter().map(|c| c.address.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
        refuse_if_used(tool, ctx, spec, &observed, &plan).await?;
    }
    if !plan.is_empty() && !ask.yes && std::io::stdin().is_terminal() {
        confirm_up(ctx.ui, plan.changes.len(), &s.id)?;
    }
    let (outcome, outputs, unknown) =
        apply_recorded(s, tool, ctx, spec, &state, &observed, &plan, run).await?;
    if !outcome.errors.is_empty() {
        let code = apply_failed(ctx.ui, run, &outcome, plan.changes.len());
        return Ok((code, outputs, unknown));
    }
    if !plan.is_empty() {
        ctx.ui.info(format!(
            "Applied: {} created, {} updated, {} deleted.",
            run.created, run.updated, run.deleted
        ));
    }
    Ok((EXIT_OK, outputs, unknown))
}

/// Applies `plan` over what `observed` found (adopted into state first, saved when it differs), then
/// records the outputs in state and adds what was applied to `run` (an overlapped `up` adds its passes).
/// Returns the outcome, the outputs with the recorder's notes, and the outputs not known.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn apply_recorded<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    state: &State,
    observed: &T::Observed,
    plan: &Plan,
    run: &mut Run,
) -> Result<(Outcome, Value, Vec<String>)> {
    let mut start = state.clone();
    start.resources = T::recorded(observed);
    let rec = Recorder::new(&s.store, start);
    if rec.snapshot().resources != state.resources || state.serial == 0 {
        rec.save().await?;
    }
    let outcome = apply_plan(tool, ctx, &rec, spec, plan).await;
    let snapshot = rec.snapshot();
    let out = T::outputs(spec, &snapshot.resources);
    let outputs = Value::Object(out.value);
    if snapshot.outputs != outputs {
        rec.update(|st| st.outputs = outputs.clone()).await?;
    }
    run.created += outcome.applied.create + outcome.applied.replace;
    run.updated += outcome.applied.update;
    run.deleted += outcome.applied.delete + outcome.applied.replace;
    Ok((outcome, with_notes(outputs, rec.notes()), out.unknown))
}

/// What `down` does to the tool's section of the document.
enum Section {
    /// Leave it (a failed down: what is left still exists).
    Keep,
    Remove,
    /// What `down` leaves behind on purpose (a final snapshot's id).
    Set(Value),
}

/// `down`: delete what this tool owns.
async fn down_command<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    yes: bool,
    run: &mut Run,
) -> Result<(i32, Section)> {
    let users = s.downstream_with_resources::<T>().await?;
    if !users.is_empty() {
        return Err(Error::Refused(format!(
            "still in use, nothing was deleted: {} still record resources in {}; take those down first",
            users.join(", "),
            s.store.describe()
        )));
    }
    let state = s.load_or_empty::<T>().await?;
    let observed = observe(tool, ctx, spec, &state).await?;
    let plan = T::plan_down(spec, &observed);
    check_plan(&plan)?;
    refuse_if_used(tool, ctx, spec, &observed, &plan).await?;
    let mut start = state.clone();
    start.resources = T::recorded(&observed);
    let rec = Recorder::new(&s.store, start);
    if plan.is_empty() {
        ctx.ui.info("Nothing to delete.");
    } else {
        show_plan(ctx.ui, &plan);
        confirm(ctx.ui, yes, plan.changes.len(), &s.id)?;
        rec.save().await?;
        let outcome = apply_plan(tool, ctx, &rec, spec, &plan).await;
        run.deleted = outcome.applied.delete;
        if !outcome.errors.is_empty() {
            let code = apply_failed(ctx.ui, run, &outcome, plan.changes.len());
            return Ok((code, Section::Keep));
        }
        ctx.ui.info(format!(
            "Deleted {}.",
            crate::plan::count_of(run.deleted, "resource")
        ));
    }
    if state.serial > 0 || !rec.snapshot().resources.is_empty() {
        rec.update(|st| {
            st.resources.clear();
            st.outputs = Value::Null;
        })
        .await?;
    }
    let notes = rec.notes();
    if notes.is_empty() {
        Ok((EXIT_OK, Section::Remove))
    } else {
        Ok((EXIT_OK, Section::Set(Value::Object(notes))))
    }
}

/// `show --refresh`: the recorded resources checked against AWS; state rewritten (and said so) when AWS
/// differs from what it recorded.
async fn refresh_command<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
) -> Result<(Value, Vec<String>)> {
    let state = s
        .load_state::<T>()
        .await?
        .ok_or_else(|| s.no_state::<T>())?;
    let observed = observe(tool, ctx, spec, &state).await?;
    let plan = T::plan(spec, &observed);
    if !plan.is_empty() {
        ctx.ui.warn(format!(
            "AWS differs from the config: {} (run plan for details)",
            plan.summary_line()
        ));
    }
    let mut fresh = state.clone();
    fresh.resources = T::recorded(&observed);
    let out = T::outputs(spec, &fresh.resources);
    fresh.outputs = Value::Object(out.value);
    if fresh != state {
        ctx.ui.info(format!(
            "state updated from AWS (serial {} → {})",
            state.serial,
            state.serial + 1
        ));
        let mut f = fresh.clone();
        s.store.save(&mut f).await?;
    }
    Ok((fresh.outputs, out.unknown))
}

/// Observes through the tool, then marks what state records as taken over from Terraform.
pub(crate) async fn observe<T: Tool>(
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    state: &State,
) -> Result<T::Observed> {
    let mut observed = tool.observe(ctx, spec, state).await?;
    crate::terraform::mark(state, observed.found_mut());
    Ok(observed)
}

/// What `import` was given.
#[derive(Debug, Clone)]
struct ImportOp {
    source: String,
    /// The text of `--terraform-state -`, read before the session.
    stdin: Option<String>,
    merge: bool,
    no_tag: bool,
}

/// Reads the Terraform state `import` names: a file, stdin, or an S3 object (the S3 backend's).
async fn terraform_text(op: &ImportOp, sdk: &crate::aws::SdkConfig) -> Result<String> {
    if op.source == "-" {
        return op.stdin.clone().ok_or_else(|| {
            Error::usage(
                "--terraform-state -: stdin is empty; pipe the state into it (`terraform show -json | … import --terraform-state -`)",
            )
        });
    }
    if let Some(rest) = op.source.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty()).ok_or_else(|| {
            Error::usage(format!(
                "--terraform-state {}: give s3://BUCKET/KEY, the bucket and key of the Terraform S3 backend (its `bucket` and `key`)",
                op.source
            ))
        })?;
        let s3 = aws_sdk_s3::Client::new(sdk);
        let got = match s3.get_object().bucket(bucket).key(key).send().await {
            Ok(got) => got,
            Err(e) if matches!(crate::error::code_of(&e), Some("NoSuchKey" | "NoSuchBucket")) => {
                return Err(Error::usage(format!(
                    "--terraform-state {}: no such object; give the bucket and key of the Terraform S3 backend (its `bucket` and `key`, and --region if the bucket is in another region)",
                    op.source
                )))
            }
            Err(e) => return Err(Error::aws(&op.source, "s3:GetObject", e)),
        };
        let bytes = got
            .body
            .collect()
            .await
            .map_err(|e| Error::Internal(format!("{}: reading the object: {e}", op.source)))?;
        return String::from_utf8(bytes.to_vec()).map_err(|_| {
            Error::usage(format!(
                "--terraform-state {}: not a Terraform state (not UTF-8 text)",
                op.source
            ))
        });
    }
    std::fs::read_to_string(&op.source).map_err(|e| {
        Error::usage(format!(
            "--terraform-state {}: cannot read it: {e}; give the path of a terraform.tfstate, `-` for stdin, or s3://BUCKET/KEY",
            op.source
        ))
    })
}

/// `import`: maps the Terraform state's resources of this tool to its addresses, checks each exists,
/// records them (marked as imported), adds the `hms:*` tags, then shows the plan `up` would run.
async fn import_command<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    sdk: &crate::aws::SdkConfig,
    op: &ImportOp,
    run: &mut Run,
) -> Result<(i32, Value, Vec<String>)> {
    use crate::terraform::{TfState, IMPORTED};
    let text = terraform_text(op, sdk).await?;
    let tf = TfState::parse(&text, &op.source)?;
    drop(text);
    tf.check_region(&s.id.region)?;
    let mapping = T::import(spec, &tf);
    mapping.check(&tf.source)?;
    let state = s.load_or_empty::<T>().await?;
    let again = !mapping.mapped.is_empty()
        && mapping
            .mapped
            .iter()
            .all(|m| state.id(&m.address) == Some(m.id.as_str()));
    if !state.resources.is_empty() && !op.merge && !again {
        return Err(Error::usage(format!(
            "{}: state {} already records {}; import takes over into an empty state: pass --merge to add the Terraform resources to it, or use another --stack/--env",
            T::NAME,
            s.store.describe(),
            crate::plan::count_of(state.resources.len(), "resource")
        )));
    }
    for m in &mapping.mapped {
        if let Some(id) = state.id(&m.address) {
            if id != m.id {
                return Err(Error::usage(format!(
                    "--terraform-state {}: {} is {} in Terraform, but state records {} as {id}; `{} state rm {}` first if the Terraform one is the stack's",
                    tf.source, m.tf, m.id, m.address, T::NAME, m.address
                )));
            }
        }
    }
    let mut with = state.clone();
    for m in &mapping.mapped {
        if state.id(&m.address) == Some(m.id.as_str()) {
            // Imported before (or adopted since): keep what its record holds (a revision's content).
            continue;
        }
        let mut r = crate::state::Resource::new(&m.id);
        r.attrs = m.attrs.clone();
        r.attrs
            .insert(IMPORTED.to_owned(), Value::from(m.tf.clone()));
        with.resources.insert(m.address.clone(), r);
    }
    let observed = observe(tool, ctx, spec, &with).await?;
    let mut gone = Vec::new();
    for m in &mapping.mapped {
        match observed.found().get(&m.address) {
            None => gone.push(format!("{} ({})", m.tf, m.id)),
            Some(f) if f.id != m.id => {
                return Err(Error::usage(format!(
                    "--terraform-state {}: {} is {} in Terraform, but {} is already {} (found by its hms:* tags); import one stack's resources once, or `terraform state rm` the duplicate",
                    tf.source, m.tf, m.id, m.address, f.id
                )));
            }
            Some(_) => {}
        }
    }
    if !gone.is_empty() {
        return Err(Error::usage(format!(
            "--terraform-state {}: no longer in AWS, or tagged as another stack's: {}; run `terraform apply -refresh-only` (or `terraform state rm` what was deleted) and import again",
            tf.source,
            gone.join(", ")
        )));
    }
    report_mapping::<T>(ctx.ui, &tf, &mapping);
    // What AWS cannot do, or another stack's resource in the way: refused before anything is recorded.
    check_plan(&T::plan(spec, &observed))?;
    let mut start = with.clone();
    start.resources = T::recorded(&observed);
    let rec = Recorder::new(&s.store, start);
    rec.save().await?;
    if !op.no_tag {
        let tagging = tag_changes(&T::plan(spec, &observed), observed.found(), &mapping);
        if !tagging.is_empty() {
            ctx.ui.info(format!(
                "adding the hms:* tags to {}",
                crate::plan::count_of(tagging.changes.len(), "resource")
            ));
            let outcome = apply_plan(tool, ctx, &rec, spec, &tagging).await;
            run.updated = outcome.applied.update;
            if !outcome.errors.is_empty() {
                return Ok((
                    apply_failed(ctx.ui, run, &outcome, tagging.changes.len()),
                    Value::Null,
                    Vec::new(),
                ));
            }
        }
    }
    let recorded = rec.snapshot();
    let observed = observe(tool, ctx, spec, &recorded).await?;
    let plan = T::plan(spec, &observed);
    ctx.ui
        .info(format!("{} up would now make this plan:", T::NAME));
    show_plan(ctx.ui, &plan);
    let mut resources = T::recorded(&observed);
    crate::terraform::carry_imported(&recorded.resources, &mut resources);
    let out = T::outputs(spec, &resources);
    let outputs = Value::Object(out.value);
    rec.update(|st| {
        st.resources = resources.clone();
        st.outputs = outputs.clone();
    })
    .await?;
    let taken: Vec<&str> = mapping
        .mapped
        .iter()
        .map(|m| m.tf.as_str())
        .chain(mapping.covered.iter().map(|c| c.tf.as_str()))
        .collect();
    if !taken.is_empty() {
        ctx.ui.info(format!(
            "once `{} up` has converged, stop Terraform managing them: terraform state rm {}",
            T::NAME,
            taken
                .iter()
                .map(|a| shell_word(a))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    Ok((EXIT_OK, outputs, out.unknown))
}

/// A Terraform address as one shell word (`'aws_s3_bucket.b["main"]'`).
fn shell_word(a: &str) -> String {
    if a.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        a.to_owned()
    } else {
        format!("'{a}'")
    }
}

/// The mapping on stderr: Terraform address → hms address → id; what is part of another; what is left.
fn report_mapping<T: Tool>(
    ui: &Ui,
    tf: &crate::terraform::TfState,
    mapping: &crate::terraform::Mapping,
) {
    let width = mapping
        .mapped
        .iter()
        .map(|m| m.tf.len())
        .chain(mapping.covered.iter().map(|c| c.tf.len()))
        .max()
        .unwrap_or(0);
    ui.info(format!(
        "{} of {} in {}:",
        crate::plan::count_of(mapping.mapped.len(), "resource"),
        crate::plan::count_of(tf.resources.len(), "Terraform resource"),
        tf.source
    ));
    for m in &mapping.mapped {
        ui.info(format!("  {:width$}  → {}  {}", m.tf, m.address, m.id));
    }
    for c in &mapping.covered {
        ui.info(format!("  {:width$}  → part of {}", c.tf, c.by));
    }
    let left = crate::terraform::left(T::NAME, tf, mapping);
    let skipped = mapping.unmapped.iter().chain(left.iter());
    let n = mapping.unmapped.len() + left.len();
    if n > 0 {
        ui.info(format!("not taken over ({n}):"));
        for (a, why) in skipped {
            ui.info(format!("  {a}: {why}"));
        }
    }
}

/// The updates that add the `hms:*` tags the plan wants to the imported resources, and nothing else. A
/// resource that uses one not made yet (an alarm and its topic) is tagged by the first `up` instead: its
/// update is written whole, with what it uses.
fn tag_changes(
    plan: &Plan,
    found: &crate::diff::FoundSet,
    mapping: &crate::terraform::Mapping,
) -> Plan {
    let mut out = Plan::default();
    for m in &mapping.mapped {
        let Some(change) = plan.get(&m.address) else {
            continue;
        };
        if change.depends_on.iter().any(|d| !found.contains_key(d)) {
            continue;
        }
        let Some(before) = change.before.clone() else {
            continue;
        };
        if before.get("tags").is_none() {
            continue;
        }
        let have = crate::diff::change_tags(Some(&before));
        let mut tags = have.clone();
        for (k, v) in crate::diff::change_tags(change.after.as_ref()) {
            if k.starts_with("hms:") {
                tags.insert(k, v);
            }
        }
        if tags == have {
            continue;
        }
        let mut after = before.clone();
        if let Value::Object(o) = &mut after {
            o.insert(
                "tags".into(),
                Value::Object(tags.into_iter().map(|(k, v)| (k, Value::from(v))).collect()),
            );
        }
        out.push(
            Change::new(
                crate::plan::Action::Update,
                m.address.clone(),
                "import: hms:* tags added",
            )
            .values(Some(before), Some(after)),
        );
    }
    out
}

/// Executes `plan` through the tool's `apply`.
pub(crate) async fn apply_plan<T: Tool>(
    tool: &T,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &T::Spec,
    plan: &Plan,
) -> Outcome {
    execute(
        plan,
        rec,
        ctx.ui,
        async |change: &Change, step: Step, task: &Task<'_>| {
            tool.apply(ctx, rec, spec, change, step, task).await
        },
    )
    .await
}

/// Stops on changes AWS cannot make (exit 64) or conditions that forbid this run (exit 1).
pub(crate) fn check_plan(plan: &Plan) -> Result<()> {
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

/// Runs a tool's own verb the way the common commands run: config, stdin document, spec (no AWS call
/// before it), account guard, the lock when `lock`, and exactly one document on stdout. The verb's result
/// is added to the tool's outputs section.
pub async fn run_verb<T, F>(global: &GlobalArgs, verb: &'static str, lock: bool, f: F) -> i32
where
    T: Tool,
    F: AsyncFnOnce(&VerbCtx<'_, T>) -> Result<Map<String, Value>>,
{
    let ui = Ui::new(T::NAME, global.verbose, global.quiet).no_color(global.no_color);
    let kind = CommandKind::Verb(verb);
    let mut s = match Session::start::<T>(global, kind, &ui).await {
        Ok(s) => s,
        Err(code) => return code,
    };
    let body = async || -> Result<Map<String, Value>> {
        let flags = ToolFlags::<T>::default();
        let spec = T::spec(&s.input(T::NAME, kind, &flags, false))?;
        let sdk = s.connect().await?;
        let tool = T::connect(&sdk);
        let ctx = Ctx {
            ui: &ui,
            tagger: &s.tagger,
            timeout: s.global.timeout,
            defer_waits: false,
        };
        let go = async || {
            let state = s.load_state::<T>().await?;
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
        };
        if lock {
            s.locked::<T, _>(verb, go).await
        } else {
            go().await
        }
    };
    match body().await {
        Ok(section) => {
            s.doc.set_outputs(T::SECTION, Value::Object(section), &[]);
            finish(&ui, s.doc, new_run::<T>(verb), EXIT_OK)
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

pub(crate) fn show_plan(ui: &Ui, plan: &Plan) {
    for line in plan.render_styled(ui.color()) {
        ui.info(line);
    }
}

fn confirm(ui: &Ui, yes: bool, n: usize, id: &Identity) -> Result<()> {
    if yes {
        return Ok(());
    }
    let what = crate::plan::count_of(n, "resource");
    let question = format!(
        "delete these {what} of stack {} ({}, {})?",
        id.stack, id.env, id.region
    );
    match ask(ui, &question)? {
        None => Err(Error::Refused(format!(
            "down would delete {what} and there is no terminal to confirm at; pass --yes"
        ))),
        Some(true) => Ok(()),
        Some(false) => Err(Error::Refused(String::from(
            "not confirmed; nothing was deleted",
        ))),
    }
}

/// `up` run alone by a person: the plan was shown; nothing changes without `yes` (no one to ask: proceed,
/// as in a pipeline).
fn confirm_up(ui: &Ui, n: usize, id: &Identity) -> Result<()> {
    let question = format!(
        "apply these {} to stack {} ({}, {})?",
        crate::plan::count_of(n, "change"),
        id.stack,
        id.env,
        id.region
    );
    match ask(ui, &question)? {
        None | Some(true) => Ok(()),
        Some(false) => Err(Error::Refused(String::from(
            "not confirmed; nothing was changed",
        ))),
    }
}

/// Asks `question` on the controlling terminal (stdin may carry the document), only when a person
/// watches stderr: `None` when there is no one to ask, else whether they typed `yes`.
pub(crate) fn ask(ui: &Ui, question: &str) -> Result<Option<bool>> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
        .filter(|_| std::io::stderr().is_terminal());
    let Some(tty) = tty else {
        return Ok(None);
    };
    let mut w = &tty;
    let _ = write!(w, "{}: {question} Type 'yes' to confirm: ", ui.tool());
    let _ = w.flush();
    let mut answer = String::new();
    std::io::BufReader::new(&tty)
        .read_line(&mut answer)
        .map_err(|e| Error::Refused(format!("could not read the confirmation: {e}")))?;
    Ok(Some(answer.trim() == "yes"))
}

/// Words that name a command (common ones and the tools' own verbs), to record which one failed to parse.
const COMMAND_WORDS: &[&str] = &[
    "plan",
    "up",
    "down",
    "show",
    "unlock",
    "state",
    "output",
    "deploy",
    "snapshot",
    "reserve",
    "rotate-auth",
    "rotate-origin-secret",
    "import",
    "permissions",
    "completions",
];

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
        .find(|a| COMMAND_WORDS.contains(&a.as_str()))
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
pub(crate) fn fail(ui: &Ui, mut doc: Document, command: &str, e: Error) -> i32 {
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
    doc.is_final = true;
    let _ = doc.write_stdout();
    e.exit_code()
}

/// A failed apply: its errors were reported as they happened; this is the closing line. Returns the exit
/// code.
pub(crate) fn apply_failed(ui: &Ui, run: &mut Run, outcome: &Outcome, total: usize) -> i32 {
    if !outcome.skipped.is_empty() {
        ui.warn(format!(
            "not attempted (they depend on a failed change): {}",
            outcome.skipped.join(", ")
        ));
    }
    let e = Error::Partial {
        total,
        failed: outcome.errors.len(),
    };
    ui.error(e.to_string());
    run.ok = false;
    run.error = Some(e.to_string());
    e.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::NoFlags;
    use crate::contract::{Observation, Outputs, ToolInput};
    use crate::diff::FoundSet;
    use crate::state::{Resource, Resources};
    use clap::Parser;

    /// A tool that reads `outputs.vpc.vpc_id` and owns nothing.
    #[derive(Debug)]
    struct Dummy;

    #[derive(Debug, Default)]
    struct Seen(FoundSet);

    impl Observation for Seen {
        fn found(&self) -> &FoundSet {
            &self.0
        }

        fn found_mut(&mut self) -> &mut FoundSet {
            &mut self.0
        }
    }

    impl Tool for Dummy {
        const NAME: &'static str = "hms-dummy";
        const SECTION: &'static str = "dummy";
        const USES: &'static [&'static str] = &["vpc"];
        const PERMISSIONS: &'static [crate::permissions::Permission] = &[];
        type Spec = Option<String>;
        type Observed = Seen;
        type PlanFlags = NoFlags;
        type UpFlags = NoFlags;
        type DownFlags = NoFlags;

        fn spec(input: &ToolInput<'_, Self>) -> Result<Self::Spec> {
            Ok(input
                .upstream("vpc.vpc_id", "hms-vpc")?
                .and_then(Value::as_str)
                .map(str::to_owned))
        }
        fn connect(_: &crate::aws::SdkConfig) -> Self {
            Dummy
        }
        async fn observe(&self, _: &Ctx<'_>, _: &Self::Spec, _: &State) -> Result<Seen> {
            Ok(Seen::default())
        }
        fn plan(_: &Self::Spec, _: &Seen) -> Plan {
            Plan::default()
        }
        async fn apply(
            &self,
            _: &Ctx<'_>,
            _: &Recorder<'_>,
            _: &Self::Spec,
            _: &Change,
            _: Step,
            _: &Task<'_>,
        ) -> Result<Option<crate::state::Resource>> {
            Ok(None)
        }
        fn import(_: &Self::Spec, _: &crate::terraform::TfState) -> crate::terraform::Mapping {
            crate::terraform::Mapping::default()
        }

        fn outputs(_: &Self::Spec, _: &Resources) -> Outputs {
            Outputs::default()
        }
    }

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        global: GlobalArgs,
    }

    fn global(state: &std::path::Path) -> GlobalArgs {
        Args::parse_from([
            "t",
            "--state",
            state.to_str().expect("utf-8"),
            "--region",
            "us-east-1",
        ])
        .global
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt")
    }

    fn doc(extra: &str) -> String {
        format!(
            r#"{{"hms": 1, "stack": "hms", "env": "production", "region": "us-east-1"{extra}}}"#
        )
    }

    async fn open(g: &GlobalArgs, kind: CommandKind, stdin: Option<&str>) -> Result<Session> {
        Session::open::<Dummy>(g, kind, stdin).await.1
    }

    #[test]
    fn session_opens_from_stdin_and_checks_its_identity() {
        let d = tempfile::tempdir().expect("tmp");
        let g = global(d.path());
        rt().block_on(async {
            let text = doc(r#", "outputs": {"vpc": {"vpc_id": "vpc-1"}}"#);
            let s = open(&g, CommandKind::Up, Some(&text)).await.expect("open");
            assert_eq!(s.id.stack, "hms");
            assert_eq!(s.doc.output("vpc.vpc_id"), Some(&Value::from("vpc-1")));
            let flags = ToolFlags::<Dummy>::default();
            let spec = Dummy::spec(&s.input("hms-dummy", CommandKind::Up, &flags, false));
            assert_eq!(spec.expect("spec").as_deref(), Some("vpc-1"));

            let other = text.replace("production", "staging");
            let e = open(&g, CommandKind::Up, Some(&other))
                .await
                .expect_err("env");
            assert_eq!(e.exit_code(), 64);
            assert!(e.to_string().contains("--env staging"), "{e}");
            let e = open(&g, CommandKind::Plan, Some("{not json"))
                .await
                .expect_err("json");
            assert_eq!(e.exit_code(), 64);
        });
    }

    #[test]
    fn a_failed_upstream_document_stops_the_run() {
        let d = tempfile::tempdir().expect("tmp");
        let g = global(d.path());
        let text = doc(
            r#", "runs": [{"tool": "hms-vpc", "command": "up", "ok": false, "error": "boom"}]"#,
        );
        let e = rt()
            .block_on(open(&g, CommandKind::Up, Some(&text)))
            .expect_err("failed upstream");
        assert!(
            matches!(e, Error::UpstreamFailed { ref tool, .. } if tool == "hms-vpc"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn unknowns_pass_plan_but_not_up_and_the_hint_matches_the_command() {
        let d = tempfile::tempdir().expect("tmp");
        let g = global(d.path());
        let text =
            doc(r#", "outputs": {"vpc": {"vpc_id": null}}, "unknown": ["outputs.vpc.vpc_id"]"#);
        rt().block_on(async {
            let s = open(&g, CommandKind::Plan, Some(&text))
                .await
                .expect("plan");
            let flags = ToolFlags::<Dummy>::default();
            let spec = Dummy::spec(&s.input("hms-dummy", CommandKind::Plan, &flags, false));
            assert_eq!(spec.expect("unknown is not an error"), None);
            let e = open(&g, CommandKind::Up, Some(&text))
                .await
                .expect_err("up");
            assert!(e.to_string().contains("pipe the output of `up`"), "{e}");

            // Nothing upstream: the hint names the same command.
            let empty = doc("");
            let s = open(&g, CommandKind::Plan, Some(&empty))
                .await
                .expect("open");
            let e = Dummy::spec(&s.input("hms-dummy", CommandKind::Plan, &flags, false))
                .expect_err("missing");
            assert!(
                e.to_string().contains("'hms-vpc plan | hms-dummy plan'"),
                "{e}"
            );
        });
    }

    #[test]
    fn run_alone_reads_upstream_outputs_from_the_store() {
        let d = tempfile::tempdir().expect("tmp");
        let g = global(d.path());
        rt().block_on(async {
            let store = StateStore::open(g.state.as_deref(), "hms", "production").expect("store");
            let mut vpc = State::empty("hms-vpc", "0", "hms", "production", "us-east-1");
            vpc.outputs = serde_json::json!({"vpc_id": "vpc-9"});
            store.save(&mut vpc).await.expect("save");
            let s = open(&g, CommandKind::Plan, None).await.expect("open");
            assert_eq!(s.doc.output("vpc.vpc_id"), Some(&Value::from("vpc-9")));
        });
    }

    #[test]
    fn a_held_lock_fails_fast_and_a_user_blocks_down() {
        let d = tempfile::tempdir().expect("tmp");
        let g = global(d.path());
        rt().block_on(async {
            let s = open(&g, CommandKind::Up, None).await.expect("open");
            let held = s
                .store
                .lock("hms-dummy", "up", std::time::Duration::ZERO)
                .await
                .expect("lock");
            let e = s
                .locked::<Dummy, ()>("up", async || Ok(()))
                .await
                .expect_err("held");
            assert!(matches!(e, Error::Locked { .. }), "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("hms-dummy unlock {}", held.info.id)),
                "{e}"
            );
            held.release().await.expect("release");
            s.locked::<Dummy, ()>("up", async || Ok(()))
                .await
                .expect("free again");

            // A tool that declares it uses "dummy" and records resources blocks dummy's down.
            let mut user = State::empty("hms-user", "0", "hms", "production", "us-east-1");
            user.uses = vec!["dummy".into()];
            user.resources.insert("user.x".into(), Resource::new("x-1"));
            s.store.save(&mut user).await.expect("save");
            let users = s.downstream_with_resources::<Dummy>().await.expect("users");
            assert_eq!(users, vec!["hms-user (1 resource)".to_owned()]);
        });
    }
}

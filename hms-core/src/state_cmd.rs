//! The state verbs every tool has (`state list|show|rm|mv|pull|push|bootstrap|migrate`, `output`): what
//! Terraform users reach for when something goes wrong. They are not pipeline stages: they read no stack
//! document and print their own format on stdout (`list`: `ADDRESS  ID` lines; `show`, `pull`, `output`:
//! JSON, or one output's raw text), human words on stderr. Changes (`rm`, `mv`, `push`, `migrate`) hold the
//! tool's lock; bad input exits 64 before any change.

use std::io::Write;

use serde_json::Value;

use crate::cli::{GlobalArgs, StateCommand};
use crate::config::{AwsConfig, Config, StackConfig, StateConfig};
use crate::contract::Tool;
use crate::document::Identity;
use crate::engine::{ask, check_identity, identity, load_checked, open_store, store_at};
use crate::error::{Error, Result, EXIT_OK};
use crate::state::bootstrap;
use crate::state::{Location, State, StateStore};
use crate::tags::Tagger;
use crate::ui::Ui;

/// Config, identity and store of a state verb.
struct Opened {
    config: Config,
    aws: AwsConfig,
    id: Identity,
    store: StateStore,
}

async fn open(global: &GlobalArgs) -> Result<Opened> {
    let config = Config::load(&global.config, &global.set)?;
    let stack: StackConfig = config.section("stack")?;
    let id = identity(global, &stack).await;
    check_identity(&config, &stack, &id)?;
    let aws: AwsConfig = config.section("aws")?;
    let store = open_store(global, &config, &id, &aws).await?;
    Ok(Opened {
        config,
        aws,
        id,
        store,
    })
}

/// Writes `text` to stdout; a closed pipe is not an error.
fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Internal(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn code(ui: &Ui, r: Result<()>) -> i32 {
    match r {
        Ok(()) => EXIT_OK,
        Err(e) => {
            ui.error(e.to_string());
            e.exit_code()
        }
    }
}

/// Runs `state …` for tool `T`; returns the exit code.
pub async fn state<T: Tool>(ui: &Ui, global: &GlobalArgs, cmd: StateCommand) -> i32 {
    code(ui, run::<T>(ui, global, cmd).await)
}

/// Runs `output [NAME]` for tool `T`; returns the exit code.
pub async fn output<T: Tool>(ui: &Ui, global: &GlobalArgs, name: Option<&str>) -> i32 {
    let r = async {
        let o = open(global).await?;
        let state = required::<T>(&o).await?;
        let Some(name) = name else {
            return out(&format!("{}\n", pretty(&state.outputs)));
        };
        let mut v = &state.outputs;
        for part in name.split('.') {
            v = match v.get(part) {
                Some(x) => x,
                None => {
                    let keys: Vec<&str> = v
                        .as_object()
                        .map(|m| m.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    return Err(Error::usage(format!(
                        "output {name}: {} has no output {part:?}{}; its outputs are {}",
                        T::NAME,
                        crate::config::did_you_mean(part, keys.iter().copied())
                            .map(|k| format!(" (did you mean {k}?)"))
                            .unwrap_or_default(),
                        keys.join(", ")
                    )));
                }
            };
        }
        match v {
            Value::String(s) => out(&format!("{s}\n")),
            other => out(&format!("{}\n", pretty(other))),
        }
    }
    .await;
    code(ui, r)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// `T`'s state, or a refusal saying there is none.
async fn required<T: Tool>(o: &Opened) -> Result<State> {
    load_checked(&o.store, T::NAME, &o.id)
        .await?
        .ok_or_else(|| {
            Error::Refused(format!(
                "{} has no state for {}-{} in {}; run `{} up` first (or pass --state)",
                T::NAME,
                o.id.stack,
                o.id.env,
                o.store.describe(),
                T::NAME
            ))
        })
}

/// An address that is not recorded: a usage error naming the nearest recorded one.
fn unknown_address(state: &State, address: &str) -> Error {
    let nearest = state
        .resources
        .keys()
        .min_by_key(|k| crate::config::distance(address, k))
        .map(|k| format!(" (the nearest recorded one is {k}; `state list` shows all)"))
        .unwrap_or_else(|| String::from(" (nothing is recorded)"));
    Error::usage(format!(
        "{address} is not in {}'s state{nearest}",
        state.tool
    ))
}

/// Runs `f` on `T`'s state with its lock held, then saves it.
async fn change<T: Tool>(
    o: &Opened,
    global: &GlobalArgs,
    operation: &str,
    f: impl FnOnce(&mut State) -> Result<()>,
) -> Result<State> {
    let lock = o
        .store
        .lock(T::NAME, operation, global.lock_timeout)
        .await?;
    let result = async {
        let mut state = required::<T>(o).await?;
        f(&mut state)?;
        o.store.save(&mut state).await?;
        Ok(state)
    }
    .await;
    let released = lock.release().await;
    let state = result?;
    released?;
    Ok(state)
}

async fn run<T: Tool>(ui: &Ui, global: &GlobalArgs, cmd: StateCommand) -> Result<()> {
    // `bootstrap` makes the store; it does not need one to exist.
    if let StateCommand::Bootstrap { url } = &cmd {
        return bootstrap_cmd(ui, global, url).await;
    }
    let o = open(global).await?;
    match cmd {
        StateCommand::List => {
            let state = required::<T>(&o).await?;
            let width = state.resources.keys().map(String::len).max().unwrap_or(0);
            let mut text = String::new();
            for (a, r) in &state.resources {
                text.push_str(&format!("{a:<width$}  {}\n", r.id));
            }
            out(&text)
        }
        StateCommand::Show { address } => {
            let state = required::<T>(&o).await?;
            let r = state
                .resources
                .get(&address)
                .ok_or_else(|| unknown_address(&state, &address))?;
            let v = serde_json::to_value(r).map_err(|e| Error::Internal(e.to_string()))?;
            out(&format!("{}\n", pretty(&v)))
        }
        StateCommand::Rm { addresses, yes } => {
            let state = required::<T>(&o).await?;
            if let Some(a) = addresses.iter().find(|a| !state.resources.contains_key(*a)) {
                return Err(unknown_address(&state, a));
            }
            if !yes {
                let q = format!(
                    "forget {} from {}'s state (nothing is deleted in AWS)?",
                    crate::plan::count_of(addresses.len(), "resource"),
                    T::NAME
                );
                match ask(ui, &q)? {
                    None => {
                        return Err(Error::Refused(String::from(
                            "state rm changes the state and there is no terminal to confirm at; pass --yes",
                        )))
                    }
                    Some(false) => {
                        return Err(Error::Refused(String::from(
                            "not confirmed; the state is unchanged",
                        )))
                    }
                    Some(true) => {}
                }
            }
            change::<T>(&o, global, "state rm", |st| {
                for a in &addresses {
                    st.resources.remove(a);
                }
                Ok(())
            })
            .await?;
            for a in &addresses {
                ui.info(format!(
                    "forgot {a}: it still exists in AWS and is untracked now; a later `{} up` adopts it again by its hms:* tags unless you remove them",
                    T::NAME
                ));
            }
            Ok(())
        }
        StateCommand::Mv { old, new } => {
            let state = required::<T>(&o).await?;
            if !state.resources.contains_key(&old) {
                return Err(unknown_address(&state, &old));
            }
            if state.resources.contains_key(&new) {
                return Err(Error::usage(format!(
                    "state mv {old} {new}: {new} is already recorded; `state rm {new}` first if it is stale"
                )));
            }
            change::<T>(&o, global, "state mv", |st| {
                if let Some(r) = st.resources.remove(&old) {
                    st.resources.insert(new.clone(), r);
                }
                Ok(())
            })
            .await?;
            ui.info(format!(
                "moved {old} to {new}; the next `{} up` retags it with its new address",
                T::NAME
            ));
            Ok(())
        }
        StateCommand::Pull => {
            let state = required::<T>(&o).await?;
            let v = serde_json::to_value(&state).map_err(|e| Error::Internal(e.to_string()))?;
            out(&format!("{}\n", pretty(&v)))
        }
        StateCommand::Push { file, force } => push::<T>(ui, global, &o, &file, force).await,
        StateCommand::Migrate { to, tool } => migrate(ui, global, &o, &to, tool.as_deref()).await,
        StateCommand::Bootstrap { .. } => Ok(()),
    }
}

async fn push<T: Tool>(
    ui: &Ui,
    global: &GlobalArgs,
    o: &Opened,
    file: &str,
    force: bool,
) -> Result<()> {
    let text = if file == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut t)
            .map_err(|e| Error::usage(format!("state push -: cannot read stdin: {e}")))?;
        t
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| Error::usage(format!("state push {file}: cannot read: {e}")))?
    };
    let pushed: State = serde_json::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "state push {file}: not a state document ({e}); use the output of `state pull`"
        ))
    })?;
    for (what, theirs, ours) in [
        ("tool", &pushed.tool, &T::NAME.to_owned()),
        ("stack", &pushed.stack, &o.id.stack),
        ("env", &pushed.env, &o.id.env),
        ("region", &pushed.region, &o.id.region),
    ] {
        if theirs != ours {
            return Err(Error::usage(format!(
                "state push {file}: the document is {what} {theirs:?}'s, not {ours:?}; push it with the right tool, --stack, --env or --region"
            )));
        }
    }
    if pushed.format != crate::state::STATE_FORMAT {
        return Err(Error::usage(format!(
            "state push {file}: state format {} is not supported",
            pushed.format
        )));
    }
    let lock = o
        .store
        .lock(T::NAME, "state push", global.lock_timeout)
        .await?;
    let result = async {
        let current = load_checked(&o.store, T::NAME, &o.id).await?;
        let stored = current.as_ref().map_or(0, |c| c.serial);
        if stored > pushed.serial && !force {
            return Err(Error::usage(format!(
                "state push {file}: its serial {} is lower than the stored state's {stored} (newer changes would be lost); pull again, or pass --force",
                pushed.serial
            )));
        }
        let mut st = pushed.clone();
        st.serial = st.serial.max(stored);
        o.store.save(&mut st).await?;
        Ok(st.serial)
    }
    .await;
    let released = lock.release().await;
    let serial = result?;
    released?;
    ui.info(format!(
        "pushed {} resources as serial {serial} to {}",
        pushed.resources.len(),
        o.store.describe()
    ));
    Ok(())
}

async fn migrate(
    ui: &Ui,
    global: &GlobalArgs,
    o: &Opened,
    to: &str,
    tool: Option<&str>,
) -> Result<()> {
    let cfg: StateConfig = o.config.section("state")?;
    // Validate the target before touching anything.
    Location::parse(Some(to))?;
    let target = store_at(global, Some(to), &cfg, &o.id, &o.aws).await?;
    if target.describe() == o.store.describe() {
        return Err(Error::usage(format!(
            "state migrate --to {to}: that is the store this run already uses"
        )));
    }
    let mut tools: Vec<String> = o.store.all().await?.into_iter().map(|s| s.tool).collect();
    if let Some(t) = tool {
        if !tools.iter().any(|x| x == t) {
            return Err(Error::usage(format!(
                "state migrate --tool {t}: {} holds no state of {t} (it holds: {})",
                o.store.describe(),
                tools.join(", ")
            )));
        }
        tools = vec![t.to_owned()];
    }
    if tools.is_empty() {
        return Err(Error::Refused(format!(
            "{} holds no state for {}-{}; nothing to migrate",
            o.store.describe(),
            o.id.stack,
            o.id.env
        )));
    }
    let mut locks = Vec::new();
    let result = async {
        for t in &tools {
            locks.push(o.store.lock(t, "state migrate", global.lock_timeout).await?);
            locks.push(target.lock(t, "state migrate", global.lock_timeout).await?);
        }
        let mut copied = Vec::new();
        for t in &tools {
            let Some(src) = load_checked(&o.store, t, &o.id).await? else {
                continue;
            };
            if let Some(existing) = load_checked(&target, t, &o.id).await? {
                if existing.serial > src.serial {
                    return Err(Error::Refused(format!(
                        "state migrate: {} already holds {t} at serial {} (newer than the source's {}); nothing was copied",
                        target.describe(),
                        existing.serial,
                        src.serial
                    )));
                }
            }
            target.put(&src).await?;
            let back = target.load(t).await?;
            if back.as_ref().map(|b| b.serial) != Some(src.serial) {
                return Err(Error::State {
                    path: target.describe(),
                    message: format!("{t}: the copy does not read back with serial {}", src.serial),
                });
            }
            copied.push(format!("{t} (serial {})", src.serial));
        }
        Ok(copied)
    }
    .await;
    let mut released = Ok(());
    for l in locks {
        if let Err(e) = l.release().await {
            released = Err(e);
        }
    }
    let copied = result?;
    released?;
    ui.info(format!(
        "copied {} to {}: {}; {} is left as it was — use --state {to} from now on",
        crate::plan::count_of(copied.len(), "state"),
        target.describe(),
        copied.join(", "),
        o.store.describe()
    ));
    Ok(())
}

async fn bootstrap_cmd(ui: &Ui, global: &GlobalArgs, url: &str) -> Result<()> {
    let config = Config::load(&global.config, &global.set)?;
    let stack: StackConfig = config.section("stack")?;
    let id = identity(global, &stack).await;
    check_identity(&config, &stack, &id)?;
    let aws: AwsConfig = config.section("aws")?;
    let cfg: StateConfig = config.section("state")?;
    let Location::S3(loc) = Location::parse(Some(url))? else {
        return Err(Error::usage(format!(
            "state bootstrap {url}: bootstrap makes an S3 bucket; give s3://BUCKET/PREFIX"
        )));
    };
    let region = cfg.region.clone().unwrap_or_else(|| id.region.clone());
    let sdk = crate::aws::sdk_config(&global.aws, &region, aws.max_attempts).await;
    crate::aws::check_account(&sdk, &stack.allowed_account_ids).await?;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    let tagger = Tagger::new(id.clone(), "hms-state", stack.tags.clone());
    let wanted = bootstrap::Wanted {
        location: &loc,
        region: &region,
        kms_key: cfg.kms_key.as_deref(),
        tags: tagger.tags("state.bucket", Some(&loc.bucket)),
    };
    let did = bootstrap::ensure(&s3, &wanted).await?;
    if did.is_empty() {
        ui.info(format!(
            "{}: the bucket is as it should be; nothing changed",
            loc.url()
        ));
    }
    for line in &did {
        ui.info(format!("{}: {line}", loc.bucket));
    }
    ui.info(format!(
        "use it with --state {} (or HMS_STATE, or [state] url in hms.toml)",
        loc.url()
    ));
    Ok(())
}

//! An overlapped pipeline (`up --overlap`, `HMS_OVERLAP=1`): the tools of one pipe start on each other's
//! early documents, so that the stack's cold `up` costs its longest chain of waits instead of their sum.
//!
//! A plain pipeline runs its tools one after another: each waits for its own resources (a NAT gateway, a
//! database) before it writes its document. With `--overlap`, `up` runs in passes over the documents it
//! reads, and hands early documents on (`"final": false`, see [`crate::document`]) while it waits:
//!
//! 1. **Early pass** on the latest upstream document, which may hold unknowns: spec as for `plan` (an
//!    unknown upstream output is a `(known after …)` placeholder), observe, plan; then only
//!    [`Plan::early`](crate::plan::Plan::early) is applied: creates and updates whose values are all
//!    known, nothing destructive, nothing that uses what is left. Waits that a later run can resume (a
//!    resource recorded before its wait: NAT gateways, the database, the cache, certificates) look once
//!    ([`Ctx::patience`](crate::contract::Ctx::patience)); what is not ready is left for the next pass, and
//!    what uses it with it. Then the tool's outputs so far are written as an early document.
//! 2. **Waiting pass**, when the early pass left a wait: the same, waiting; then an early document again
//!    (the database's endpoint is known now).
//! 3. The next upstream document: a new early pass when the sections the tool reads (`Tool::USES`)
//!    changed. Once the tool has a section (after its first pass), every early document read is also
//!    handed on at once with that section as it last was, so that a tool downstream of one that is waiting
//!    still sees what the tools upstream of it made (a final upstream document is not: the tool's own
//!    final document follows it).
//! 4. **Final pass** once the upstream document is final: the plain `up` (the whole plan, `--allow-destroy`
//!    as always, the waits, unknowns refused) and the final document. When the last pass applied the
//!    whole plan of the same upstream sections, its result is the final one and no further look is taken.
//!
//! The result is the same as a plain pipeline's, and so is the exit status: a tool writes its final
//! document only after the upstream final one; an upstream failure (a final document with a failed run)
//! or an upstream that ends without a final document stops every tool downstream with exit 1 — a waiting
//! pass is abandoned at once (state is saved; the next run resumes the wait); a wait inside an early pass
//! that nothing resumes (a rollout, a distribution's deployment) ends first. Without `--overlap`, and for
//! every command but `up`, a tool writes one document as before. Early documents go only to a pipe (also
//! from the first tool of a pipe, which reads no document), and only when `up` would not ask a person (no
//! `--plan FILE`, not at a terminal without `--yes`).

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::cli::GlobalArgs;
use crate::contract::{CommandKind, Ctx, Tool};
use crate::document::{ended_early, not_a_document, Document, Run};
use crate::engine::{self, Session, ToolFlags, UpAsk};
use crate::error::{Error, Result, EXIT_OK};
use crate::ui::Ui;

/// Whether this `up` overlaps: `--overlap`, a pipe on one side, and no person to ask.
pub(crate) fn applies(global: &GlobalArgs, yes: bool, plan_file: bool) -> bool {
    let stdin = std::io::stdin();
    global.overlap
        && !plan_file
        && (engine::stdin_is_pipe(&stdin) || stdout_is_pipe())
        && (yes || !stdin.is_terminal())
}

/// Whether stdout is a pipe (FIFO): early documents go only there, never to a file or a terminal.
fn stdout_is_pipe() -> bool {
    engine::is_fifo(&std::io::stdout())
}

/// What the reader thread saw on stdin.
enum Incoming {
    Doc(Box<Document>),
    Bad(String),
    End,
}

/// The early documents this run writes: the latest upstream document with this tool's section as its
/// last pass left it. Written by the main task after a pass and by the reader thread when a document
/// comes in; the same document is never written twice, and nothing after [`Emitter::close`].
struct Emitter {
    pipe: bool,
    state: Mutex<Emitted>,
}

#[derive(Default)]
struct Emitted {
    upstream: Option<Document>,
    own: Option<(String, Value, Vec<String>)>,
    last: Option<String>,
    closed: bool,
}

impl Emitter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Emitted> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A document came in (an early one): handed on with this tool's section, once it has one.
    fn upstream(&self, doc: &Document) {
        let mut st = self.lock();
        st.upstream = Some(doc.clone());
        self.write(&mut st);
    }

    /// A pass ended: this tool's section as it is now, on top of `base` until a document comes in.
    fn own(&self, base: &Document, section: &str, value: Value, unknown: Vec<String>) {
        let mut st = self.lock();
        if st.upstream.is_none() {
            st.upstream = Some(base.clone());
        }
        st.own = Some((section.to_owned(), value, unknown));
        self.write(&mut st);
    }

    /// No more early documents: the final one follows.
    fn close(&self) {
        self.lock().closed = true;
    }

    fn write(&self, st: &mut Emitted) {
        if !self.pipe || st.closed {
            return;
        }
        let (Some(up), Some((section, value, unknown))) = (&st.upstream, &st.own) else {
            return;
        };
        let mut doc = up.clone();
        doc.set_outputs(section, value.clone(), unknown);
        doc.is_final = false;
        let Ok(text) = doc.to_text() else { return };
        if st.last.as_deref() == Some(text.as_str()) {
            return;
        }
        let mut out = std::io::stdout().lock();
        // A reader that went away is not this tool's failure; its final document reports that.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        st.last = Some(text);
    }
}

/// Reads documents from stdin as they come, handing each early one on through `emitter`.
fn spawn_reader(emitter: Arc<Emitter>) -> UnboundedReceiver<Incoming> {
    let (tx, rx) = unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let docs = serde_json::Deserializer::from_reader(stdin.lock()).into_iter::<Document>();
        for doc in docs {
            match doc {
                Ok(doc) => {
                    if !doc.is_final && doc.failed_run().is_none() {
                        emitter.upstream(&doc);
                    }
                    if tx.send(Incoming::Doc(Box::new(doc))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Incoming::Bad(e.to_string()));
                    return;
                }
            }
        }
        let _ = tx.send(Incoming::End);
    });
    rx
}

/// The documents read from stdin, with those a waiting pass took out while it watched for failures.
struct Inbox {
    rx: UnboundedReceiver<Incoming>,
    kept: VecDeque<Incoming>,
    /// The upstream's final document when it failed: passed on with this tool's failure.
    failed: Option<Document>,
}

impl Inbox {
    async fn recv(&mut self) -> Incoming {
        match self.kept.pop_front() {
            Some(i) => i,
            None => self.rx.recv().await.unwrap_or(Incoming::End),
        }
    }

    fn try_recv(&mut self) -> Option<Incoming> {
        self.kept.pop_front().or_else(|| self.rx.try_recv().ok())
    }

    /// The next document: the newest of those already read (an early pass on a document already
    /// outdated is wasted work), or the first to come. A final document is never skipped.
    async fn next(&mut self) -> Result<Document> {
        let mut got = self.recv().await;
        while matches!(&got, Incoming::Doc(d) if !d.is_final) {
            match self.try_recv() {
                Some(newer) => got = newer,
                None => break,
            }
        }
        match got {
            Incoming::Doc(d) => {
                if d.failed_run().is_some() {
                    self.failed = Some((*d).clone());
                }
                Ok(*d)
            }
            Incoming::Bad(e) => Err(broke_off(e)),
            Incoming::End => Err(ended_early()),
        }
    }

    /// Runs a waiting pass to its end, unless the upstream fails or dies meanwhile: then it is abandoned
    /// (state holds what it made and the next run resumes its wait) and the failure returned. Documents
    /// that come in meanwhile are kept for [`Inbox::next`].
    async fn watching<F>(&mut self, pass: F) -> Result<Pass>
    where
        F: std::future::Future<Output = Result<Pass>>,
    {
        let mut pass = pin!(pass);
        let mut open = true;
        loop {
            tokio::select! {
                r = &mut pass => return r,
                got = self.rx.recv(), if open => {
                    let got = got.unwrap_or(Incoming::End);
                    match &got {
                        Incoming::Doc(d) => {
                            if let Some(run) = d.failed_run() {
                                let e = Error::UpstreamFailed {
                                    tool: run.tool.clone(),
                                    command: run.command.clone(),
                                };
                                self.failed = Some((**d).clone());
                                return Err(e);
                            }
                            open = !d.is_final;
                        }
                        Incoming::Bad(e) => return Err(broke_off(e)),
                        Incoming::End => return Err(ended_early()),
                    }
                    self.kept.push_back(got);
                }
            }
        }
    }
}

/// A stream that turned into something else after its first document (past the point where bad input
/// could still be exit 64 before any AWS call).
fn broke_off(e: impl std::fmt::Display) -> Error {
    Error::Refused(format!(
        "stdin: the upstream's stream of documents broke off ({e}); nothing more was done. Run the pipeline again: every tool resumes what it started"
    ))
}

/// What the sections a tool reads hold: a new early pass when this changes.
fn reads<T: Tool>(doc: &Document) -> Value {
    let outputs: serde_json::Map<String, Value> = T::USES
        .iter()
        .map(|u| {
            (
                (*u).to_owned(),
                doc.outputs.get(*u).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let unknown: Vec<&String> = doc
        .unknown
        .iter()
        .filter(|u| {
            T::USES
                .iter()
                .any(|s| u.starts_with(&format!("outputs.{s}.")))
        })
        .collect();
    serde_json::json!({"outputs": outputs, "unknown": unknown})
}

/// The result of one early or waiting pass.
struct Pass {
    outputs: Value,
    unknown: Vec<String>,
    /// A wait was left for the next pass.
    deferred: bool,
    /// The whole plan was applied: nothing left, deferred or skipped.
    complete: bool,
    /// Steps failed (reported as they did): the run ends with this exit code, its outputs as they are.
    failed: Option<i32>,
}

/// The last pass: on what inputs, and what it left.
struct Last {
    reads: Value,
    pass: Pass,
}

/// `up --overlap` of tool `T`: the passes, then the final document. Returns the exit code.
pub(crate) async fn up<T: Tool>(
    ui: &Ui,
    global: &GlobalArgs,
    allow_destroy: bool,
    yes: bool,
    flags: &ToolFlags<T>,
) -> i32 {
    let emitter = Arc::new(Emitter {
        pipe: stdout_is_pipe(),
        state: Mutex::new(Emitted::default()),
    });
    let mut inbox = engine::stdin_is_pipe(&std::io::stdin()).then(|| Inbox {
        rx: spawn_reader(emitter.clone()),
        kept: VecDeque::new(),
        failed: None,
    });
    let first = match &mut inbox {
        None => None,
        Some(inbox) => match inbox.recv().await {
            Incoming::Doc(d) => Some(*d),
            Incoming::Bad(e) => return fail_new(ui, global, not_a_document(e)).await,
            Incoming::End => return fail_new(ui, global, engine::empty_pipe()).await,
        },
    };
    // No pipe on stdin: a document in a file, or none (/dev/null, a terminal), as for a plain `up`.
    let text = match &inbox {
        Some(_) => None,
        None => match engine::read_stdin() {
            Ok(text) => text,
            Err(e) => return fail_new(ui, global, e).await,
        },
    };
    let passed_on = first
        .clone()
        .or_else(|| text.as_deref().and_then(Document::last_in));
    let (_, opened) = match &inbox {
        Some(_) => Session::open_doc::<T>(global, first).await,
        None => Session::open::<T>(global, CommandKind::Up, text.as_deref()).await,
    };
    let mut s = match opened {
        Ok(s) => s,
        Err(e) => {
            emitter.close();
            let doc = match passed_on {
                Some(d) => d,
                None => Document::new(&Session::fallback_identity(global).await),
            };
            return engine::fail(ui, doc, "up", e);
        }
    };
    let mut run = engine::new_run::<T>("up");
    let result = passes::<T>(
        ui,
        &mut s,
        &emitter,
        inbox.as_mut(),
        allow_destroy,
        yes,
        flags,
        &mut run,
    )
    .await;
    emitter.close();
    match result {
        Ok(code) => engine::finish(ui, s.doc, run, code),
        Err(e) => {
            // An upstream failure travels on in its own document, with this run's after it.
            let doc = inbox.and_then(|i| i.failed).unwrap_or(s.doc);
            engine::fail(ui, doc, "up", e)
        }
    }
}

async fn fail_new(ui: &Ui, global: &GlobalArgs, e: Error) -> i32 {
    let id = Session::fallback_identity(global).await;
    engine::fail(ui, Document::new(&id), "up", e)
}

/// The passes of an overlapped `up`, holding the lock; leaves the final document in `s.doc`.
#[allow(clippy::too_many_arguments)]
async fn passes<T: Tool>(
    ui: &Ui,
    s: &mut Session,
    emitter: &Emitter,
    mut inbox: Option<&mut Inbox>,
    allow_destroy: bool,
    yes: bool,
    flags: &ToolFlags<T>,
    run: &mut Run,
) -> Result<i32> {
    // Bad input is exit 64 before any AWS call, as in a plain `up`.
    T::spec(&s.input(T::NAME, CommandKind::Plan, flags, false))?;
    let sdk = s.connect().await?;
    let tool = T::connect(&sdk);
    let lock = s.store.lock(T::NAME, "up", s.global.lock_timeout).await?;
    let result = async {
        let mut last: Option<Last> = None;
        loop {
            let reads_now = reads::<T>(&s.doc);
            if last.as_ref().map(|l| &l.reads) != Some(&reads_now) {
                let spec = T::spec(&s.input(T::NAME, CommandKind::Plan, flags, false))?;
                let ctx = Ctx {
                    ui,
                    tagger: &s.tagger,
                    timeout: s.global.timeout,
                    defer_waits: true,
                };
                let mut pass = early_pass(s, &tool, &ctx, &spec, run).await?;
                if pass.deferred && pass.failed.is_none() {
                    emitter.own(
                        &s.doc,
                        T::SECTION,
                        pass.outputs.clone(),
                        pass.unknown.clone(),
                    );
                    let ctx = Ctx {
                        defer_waits: false,
                        ..ctx
                    };
                    let waiting = early_pass(s, &tool, &ctx, &spec, run);
                    pass = match inbox.as_deref_mut() {
                        Some(inbox) if !s.doc.is_final => inbox.watching(waiting).await?,
                        _ => waiting.await?,
                    };
                }
                if let Some(code) = pass.failed {
                    s.doc.set_outputs(T::SECTION, pass.outputs, &pass.unknown);
                    return Ok(code);
                }
                emitter.own(
                    &s.doc,
                    T::SECTION,
                    pass.outputs.clone(),
                    pass.unknown.clone(),
                );
                last = Some(Last {
                    reads: reads_now,
                    pass,
                });
            }
            if s.doc.is_final {
                break;
            }
            let Some(inbox) = inbox.as_deref_mut() else {
                break;
            };
            s.doc = inbox.next().await?.checked(&s.id)?;
        }
        // The final pass: a plain `up` on the final document.
        if let Some(e) = engine::foreign_unknowns::<T>(&s.doc) {
            return Err(e);
        }
        let spec = T::spec(&s.input(T::NAME, CommandKind::Up, flags, false))?;
        if let Some(Last { reads: then, pass }) = &last {
            if pass.complete && *then == reads::<T>(&s.doc) {
                // The last pass applied the whole plan on these very inputs: it was the plain `up`
                // (nothing destructive, no unknown, every wait waited for).
                s.doc
                    .set_outputs(T::SECTION, pass.outputs.clone(), &pass.unknown);
                if run.created + run.updated + run.deleted > 0 {
                    ui.info(format!(
                        "Applied: {} created, {} updated, {} deleted.",
                        run.created, run.updated, run.deleted
                    ));
                }
                return Ok(EXIT_OK);
            }
        }
        let ctx = Ctx {
            ui,
            tagger: &s.tagger,
            timeout: s.global.timeout,
            defer_waits: false,
        };
        let ask = UpAsk {
            allow_destroy,
            yes,
            saved: None,
        };
        let (code, outputs, unknown) = engine::up_command(s, &tool, &ctx, &spec, &ask, run).await?;
        s.doc.set_outputs(T::SECTION, outputs, &unknown);
        Ok(code)
    }
    .await;
    let released = lock.release().await;
    let code = result?;
    released?;
    Ok(code)
}

/// One early (`ctx.defer_waits`) or waiting pass: observe, plan, apply [`Plan::early`], outputs so far.
async fn early_pass<T: Tool>(
    s: &Session,
    tool: &T,
    ctx: &Ctx<'_>,
    spec: &T::Spec,
    run: &mut Run,
) -> Result<Pass> {
    let state = s.load_or_empty::<T>().await?;
    let observed = engine::observe(tool, ctx, spec, &state).await?;
    let plan = T::plan(spec, &observed);
    engine::check_plan(&plan)?;
    let (early, left) = plan.early();
    if !early.is_empty() {
        let why = if left.is_empty() {
            String::new()
        } else {
            format!(
                "; left for later (not known yet, or destructive): {}",
                left.join(", ")
            )
        };
        ctx.ui.info(format!(
            "{} pass: {} of {}{why}",
            if ctx.defer_waits { "early" } else { "waiting" },
            crate::plan::count_of(early.changes.len(), "change"),
            plan.changes.len()
        ));
        engine::show_plan(ctx.ui, &early);
    }
    let (outcome, outputs, unknown) =
        engine::apply_recorded(s, tool, ctx, spec, &state, &observed, &early, run).await?;
    let failed = (!outcome.errors.is_empty())
        .then(|| engine::apply_failed(ctx.ui, run, &outcome, early.changes.len()));
    Ok(Pass {
        outputs,
        unknown,
        deferred: !outcome.deferred.is_empty(),
        complete: left.is_empty() && outcome.deferred.is_empty() && outcome.skipped.is_empty(),
        failed,
    })
}

//! Carrying out a plan: independent steps concurrently, each after what it depends on, state recorded
//! after every step so that an interrupted run loses nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::error::{Error, Result};
use crate::plan::{Action, Change, Plan, Step, Summary};
use crate::state::{Resource, State, StateStore};
use crate::ui::{Task, Ui};

/// How many steps run at once: enough to overlap AWS latency, few enough not to be throttled.
pub const MAX_CONCURRENT_STEPS: usize = 8;

/// The state being applied, saved after every step. Saves are serialized (each one holds every change
/// recorded before it), and the in-memory copy is never locked across a write.
#[derive(Debug)]
pub struct Recorder<'a> {
    store: &'a StateStore,
    state: Mutex<State>,
    writer: tokio::sync::Mutex<()>,
    notes: Mutex<serde_json::Map<String, serde_json::Value>>,
}

impl<'a> Recorder<'a> {
    /// Wraps a state; nothing is written until the first record.
    pub fn new(store: &'a StateStore, state: State) -> Self {
        Recorder {
            store,
            state: Mutex::new(state),
            writer: tokio::sync::Mutex::new(()),
            notes: Mutex::new(serde_json::Map::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere; the state itself is still whole.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records (or with `None` forgets) the resource at `address` and saves the state.
    pub async fn record(&self, address: &str, resource: Option<Resource>) -> Result<()> {
        self.update(|st| match resource {
            Some(mut r) => {
                // A resource taken over from Terraform keeps its marker while it is the same resource.
                if let Some(old) = st.resources.get(address) {
                    if old.id == r.id && !r.attrs.contains_key(crate::terraform::IMPORTED) {
                        if let Some(v) = old.attrs.get(crate::terraform::IMPORTED) {
                            r.attrs
                                .insert(crate::terraform::IMPORTED.to_owned(), v.clone());
                        }
                    }
                }
                st.resources.insert(address.to_owned(), r);
            }
            None => {
                st.resources.remove(address);
            }
        })
        .await
    }

    /// Saves the state as it is.
    pub async fn save(&self) -> Result<()> {
        self.update(|_| {}).await
    }

    /// The recorded resource at `address`.
    pub fn resource(&self, address: &str) -> Option<Resource> {
        self.lock().resources.get(address).cloned()
    }

    /// The recorded id at `address`, or an internal error naming it (a plan whose order is wrong).
    pub fn id(&self, address: &str) -> Result<String> {
        self.lock()
            .resources
            .get(address)
            .map(|r| r.id.clone())
            .ok_or_else(|| {
                Error::Internal(format!("{address} has no recorded id yet (plan order)"))
            })
    }

    /// Notes a fact for the stack document (a final snapshot's id): added to the tool's outputs section.
    pub fn note(&self, key: &str, value: impl Into<serde_json::Value>) {
        self.notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), value.into());
    }

    /// The notes taken so far.
    pub fn notes(&self) -> serde_json::Map<String, serde_json::Value> {
        self.notes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> State {
        self.lock().clone()
    }

    /// Changes the state with `f` and saves it.
    pub async fn update(&self, f: impl FnOnce(&mut State)) -> Result<()> {
        let _writing = self.writer.lock().await;
        let mut copy = {
            let mut st = self.lock();
            f(&mut st);
            st.clone()
        };
        self.store.save(&mut copy).await?;
        let mut st = self.lock();
        st.serial = copy.serial;
        st.updated_at = copy.updated_at;
        Ok(())
    }
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Changes fully applied, by action.
    pub applied: Summary,
    /// Failures; the steps that depended on them were not attempted.
    pub errors: Vec<Error>,
    /// Changes not attempted because something they depend on failed or was deferred.
    pub skipped: Vec<String>,
    /// Changes made but not ready yet, whose wait an early pass left for a later one
    /// ([`Error::Deferred`]; state records them).
    pub deferred: Vec<String>,
}

type Node = (usize, Step);

/// Runs every step of `plan` through `run`, in dependency order, at most [`MAX_CONCURRENT_STEPS`] at once.
/// `run` returns the resource to record after a create or update, `None` after a delete.
pub async fn execute<'p, F>(plan: &'p Plan, recorder: &Recorder<'_>, ui: &Ui, run: F) -> Outcome
where
    F: AsyncFn(&'p Change, Step, &Task<'_>) -> Result<Option<Resource>>,
{
    let deps = graph(plan);
    let mut pending: BTreeSet<Node> = deps.keys().copied().collect();
    let mut done: BTreeSet<Node> = BTreeSet::new();
    let mut failed: BTreeSet<Node> = BTreeSet::new();
    let mut outcome = Outcome::default();
    let mut running = FuturesUnordered::new();
    let mut stop = false;

    loop {
        if !stop {
            let ready: Vec<Node> = pending
                .iter()
                .copied()
                .filter(|n| {
                    deps.get(n)
                        .is_some_and(|d| d.iter().all(|x| done.contains(x)))
                })
                .take(MAX_CONCURRENT_STEPS.saturating_sub(running.len()))
                .collect();
            for node in ready {
                pending.remove(&node);
                let change = &plan.changes[node.0];
                let run = &run;
                running.push(async move {
                    // Every step is shown the same way: live on a terminal, a line when it ends.
                    let task = ui.task(change.address.clone());
                    let result = run(change, node.1, &task).await;
                    match (&result, node.1) {
                        (Ok(Some(r)), Step::Create) => task.done(&format!("created {}", r.id)),
                        (Ok(Some(r)), Step::Update) => task.done(&format!("updated {}", r.id)),
                        (Ok(_), Step::Delete) => task.done("deleted"),
                        (Ok(None), _) => task.done("done"),
                        (Err(Error::Deferred { .. }), _) => {
                            task.done("not ready yet; waited for after the document is handed on")
                        }
                        (Err(_), _) => task.abandon(),
                    }
                    // Recorded here, inside the step's own future: the loop below awaits nothing but
                    // `running`, so a step holding the recorder's write lock (an S3 write in flight) is
                    // always polled to the end. (Awaiting the record in the loop deadlocked on S3.)
                    let result = match result {
                        Ok(res) => {
                            let res = if node.1 == Step::Delete { None } else { res };
                            recorder.record(&change.address, res).await
                        }
                        Err(e) => Err(e),
                    };
                    (node, result)
                });
            }
        }
        let Some((node, result)) = running.next().await else {
            break;
        };
        let change = &plan.changes[node.0];
        match result {
            Ok(()) => {
                done.insert(node);
                if change.steps().last() == Some(&node.1) {
                    count(&mut outcome.applied, change);
                }
            }
            Err(Error::Deferred { .. }) => {
                // Not a failure (made, not ready yet); what uses it waits for the pass that waits for it.
                failed.insert(node);
                outcome.deferred.push(change.address.clone());
                if node.1 == Step::Create && change.steps().last() == Some(&node.1) {
                    count(&mut outcome.applied, change);
                }
            }
            Err(e) => {
                if matches!(e, Error::State { .. }) {
                    // Without a state file nothing more may change in AWS.
                    stop = true;
                }
                ui.error(e.to_string());
                failed.insert(node);
                outcome.errors.push(e);
            }
        }
    }

    // Whatever is left waited on a failure (or, with a bug in a plan, on a cycle).
    let mut left: Vec<String> = pending
        .iter()
        .map(|n| plan.changes[n.0].address.clone())
        .collect();
    left.dedup();
    if !left.is_empty() && failed.is_empty() && !stop {
        outcome.errors.push(Error::Internal(format!(
            "plan has a dependency cycle among {}",
            left.join(", ")
        )));
    }
    outcome.skipped = left;
    outcome
}

/// Whether a plan value refers to `address` (references between resources are held as addresses).
fn mentions(v: Option<&serde_json::Value>, address: &str) -> bool {
    match v {
        Some(serde_json::Value::String(s)) => s == address,
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| mentions(Some(x), address)),
        Some(serde_json::Value::Object(m)) => m.values().any(|x| mentions(Some(x), address)),
        _ => false,
    }
}

fn count(s: &mut Summary, c: &Change) {
    match c.action {
        Action::Create => s.create += 1,
        Action::Update => s.update += 1,
        Action::Replace => s.replace += 1,
        Action::Delete => s.delete += 1,
        Action::NoOp => {}
    }
}

/// Each step's prerequisites. Creates and updates come after the creates/updates of what they use and
/// after their own delete (a replace); deletes come after the deletes of everything that uses them.
fn graph(plan: &Plan) -> BTreeMap<Node, Vec<Node>> {
    let index: BTreeMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.address.as_str(), i))
        .collect();
    let build_step = |i: usize| {
        plan.changes[i]
            .steps()
            .iter()
            .copied()
            .find(|s| *s != Step::Delete)
    };
    let has_delete = |i: usize| plan.changes[i].steps().contains(&Step::Delete);
    let mut deps: BTreeMap<Node, Vec<Node>> = BTreeMap::new();
    for (i, c) in plan.changes.iter().enumerate() {
        for step in c.steps() {
            let mut d = Vec::new();
            match step {
                Step::Create | Step::Update => {
                    if has_delete(i) {
                        d.push((i, Step::Delete));
                    }
                    for dep in &c.depends_on {
                        if let Some(&j) = index.get(dep.as_str()) {
                            if let Some(s) = build_step(j) {
                                d.push((j, s));
                            }
                        }
                    }
                }
                Step::Delete => {
                    for (j, other) in plan.changes.iter().enumerate() {
                        if j == i {
                            continue;
                        }
                        if has_delete(j) && other.depends_on.iter().any(|x| x == &c.address) {
                            d.push((j, Step::Delete));
                        }
                        // An update that moves a reference off this resource (a route re-pointed from
                        // a NAT gateway being deleted) goes first.
                        if other.action == Action::Update
                            && mentions(other.before.as_ref(), &c.address)
                        {
                            d.push((j, Step::Update));
                        }
                    }
                }
            }
            deps.insert((i, *step), d);
        }
    }
    deps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(plan: &Plan) -> Vec<String> {
        let dir = tempfile::tempdir().expect("tmp");
        let store = StateStore::open(dir.path().to_str(), "t", "e").expect("store");
        let rec = Recorder::new(&store, State::empty("hms-t", "0", "t", "e", "r"));
        let ui = Ui::new("hms-t", 0, true);
        let log = Mutex::new(Vec::new());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let outcome = rt.block_on(execute(
            plan,
            &rec,
            &ui,
            async |c: &Change, s: Step, _: &Task<'_>| {
                // Yield so that concurrent steps interleave.
                tokio::task::yield_now().await;
                log.lock()
                    .expect("log")
                    .push(format!("{:?} {}", s, c.address));
                Ok(Some(Resource::new(format!("id-{}", c.address))))
            },
        ));
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        log.into_inner().expect("log")
    }

    #[test]
    fn creates_follow_dependencies_and_deletes_reverse_them() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Create, "subnet", "new").uses(["vpc"]));
        p.push(Change::new(Action::Create, "vpc", "new"));
        p.push(Change::new(Action::Delete, "old_vpc", "gone"));
        p.push(Change::new(Action::Delete, "old_subnet", "gone").uses(["old_vpc"]));
        let log = order(&p);
        let pos = |s: &str| log.iter().position(|x| x == s).expect(s);
        assert!(pos("Create vpc") < pos("Create subnet"), "{log:?}");
        assert!(pos("Delete old_subnet") < pos("Delete old_vpc"), "{log:?}");
    }

    #[test]
    fn replace_deletes_dependents_first_then_recreates_in_order() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Replace, "subnet", "cidr").uses(["vpc"]));
        p.push(Change::new(Action::Replace, "assoc", "subnet replaced").uses(["subnet"]));
        let log = order(&p);
        assert_eq!(
            log,
            vec![
                "Delete assoc",
                "Delete subnet",
                "Create subnet",
                "Create assoc"
            ]
        );
    }

    #[test]
    fn updates_that_move_a_reference_away_run_before_the_delete() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Delete, "nat[b]", "gone"));
        p.push(
            Change::new(Action::Update, "route[b]", "target")
                .values(
                    Some(serde_json::json!({"target": "nat[b]"})),
                    Some(serde_json::json!({"target": "nat[a]"})),
                )
                .uses(["nat[a]"]),
        );
        assert_eq!(order(&p), vec!["Update route[b]", "Delete nat[b]"]);
    }

    /// Executes `p` where the step at `at` fails with `err()` and every other succeeds; returns the outcome
    /// and the state saved afterwards.
    fn failing_at(p: &Plan, at: &str, err: fn() -> Error) -> (Outcome, Option<State>) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = StateStore::open(dir.path().to_str(), "t", "e").expect("store");
        let rec = Recorder::new(&store, State::empty("hms-t", "0", "t", "e", "r"));
        let ui = Ui::new("hms-t", 0, true);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("rt");
        let outcome = rt.block_on(execute(
            p,
            &rec,
            &ui,
            async |c: &Change, _: Step, _: &Task<'_>| {
                if c.address == at {
                    Err(err())
                } else {
                    Ok(Some(Resource::new("x")))
                }
            },
        ));
        let saved = rt.block_on(store.load("hms-t")).expect("load");
        (outcome, saved)
    }

    #[test]
    fn a_deferred_wait_skips_its_dependents_and_is_no_error() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Create, "nat", "new"));
        p.push(Change::new(Action::Create, "route", "new").uses(["nat"]));
        p.push(Change::new(Action::Create, "subnet", "new"));
        let (outcome, _) = failing_at(&p, "nat", || Error::Deferred {
            resource: "nat".into(),
            what: "available".into(),
        });
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
        assert_eq!(outcome.deferred, vec!["nat".to_owned()]);
        assert_eq!(outcome.skipped, vec!["route".to_owned()]);
        // The NAT gateway was made: it counts.
        assert_eq!(outcome.applied.create, 2);
    }

    #[test]
    fn a_failure_skips_its_dependents_only() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Create, "a", "new"));
        p.push(Change::new(Action::Create, "b", "new").uses(["a"]));
        p.push(Change::new(Action::Create, "c", "new"));
        let (outcome, saved) = failing_at(&p, "a", || Error::Internal("boom".into()));
        assert_eq!(outcome.errors.len(), 1);
        assert_eq!(outcome.skipped, vec!["b".to_owned()]);
        assert_eq!(outcome.applied.create, 1);
        // The successful step was recorded and saved.
        assert!(saved.expect("state").resources.contains_key("c"));
    }
}

//! Plans: what `up` or `down` will change, rendered for people and executed in dependency order.
//!
//! A plan is decided by a tool's pure `plan(spec, observed)` and carried out exactly as it is by
//! [`crate::apply::execute`]. Every change records what it depends on ("X uses Y") whatever its action; the
//! executor derives the order from that: creates and updates after their dependencies, deletes before them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Delete,
    Replace,
    Create,
    Update,
    NoOp,
}

impl Action {
    /// Whether the change loses something that exists (needs `--allow-destroy` in `up`).
    pub fn is_destructive(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }

    fn symbol(self) -> &'static str {
        match self {
            Action::Delete => "  -",
            Action::Replace => "-/+",
            Action::Create => "  +",
            Action::Update => "  ~",
            Action::NoOp => "   ",
        }
    }

    /// The colour of the action in a plan.
    fn style(self) -> anstyle::Style {
        let color = match self {
            Action::Create => anstyle::AnsiColor::Green,
            Action::Delete | Action::Replace => anstyle::AnsiColor::Red,
            Action::Update => anstyle::AnsiColor::Yellow,
            Action::NoOp => return anstyle::Style::new(),
        };
        anstyle::Style::new().fg_color(Some(color.into()))
    }

    fn word(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Replace => "replace",
            Action::Create => "create",
            Action::Update => "update",
            Action::NoOp => "no-op",
        }
    }
}

/// How every plan shows a value not known yet: `(known after hms-db up)`, `(known after the secret is
/// made)`. [`Plan::early`] leaves a change holding one for a later pass.
pub const UNKNOWN: &str = "(known after ";

/// Whether a planned value holds an [`UNKNOWN`] placeholder anywhere.
fn holds_unknown(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains(UNKNOWN),
        Value::Array(a) => a.iter().any(holds_unknown),
        Value::Object(m) => m.values().any(holds_unknown),
        _ => false,
    }
}

/// One step of work a change breaks into when executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Create,
    Update,
    Delete,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub action: Action,
    /// Logical address: `vpc.subnet.private[us-east-1a]`.
    pub address: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Why: `new`, `cidr_block cannot change in place`, `removed from vpc.azs`, `tags differ`.
    pub reason: String,
    /// Addresses this resource uses (whatever the action).
    #[serde(skip)]
    pub depends_on: Vec<String>,
    /// A delete that removes drift (something added outside the tool to a resource it manages, like a
    /// security-group rule added by hand): `up` removes it without `--allow-destroy`.
    #[serde(skip)]
    pub drift: bool,
}

impl Change {
    /// Whether attribute `key` differs between before and after (absent on one side counts).
    pub fn changed(&self, key: &str) -> bool {
        let before = self.before.as_ref().and_then(|v| v.get(key));
        before != self.after.as_ref().and_then(|v| v.get(key))
    }

    /// A change with no dependencies.
    pub fn new(action: Action, address: impl Into<String>, reason: impl Into<String>) -> Self {
        Change {
            action,
            address: address.into(),
            before: None,
            after: None,
            reason: reason.into(),
            depends_on: Vec::new(),
            drift: false,
        }
    }

    /// Marks a delete as drift removal.
    pub fn drift(mut self) -> Self {
        self.drift = true;
        self
    }

    /// Sets the before/after values shown in the plan.
    pub fn values(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    /// Adds dependencies.
    pub fn uses<I, S>(mut self, deps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.depends_on.extend(deps.into_iter().map(Into::into));
        self
    }

    /// The steps this change runs.
    pub fn steps(&self) -> &'static [Step] {
        match self.action {
            Action::Create => &[Step::Create],
            Action::Update => &[Step::Update],
            Action::Delete => &[Step::Delete],
            Action::Replace => &[Step::Delete, Step::Create],
            Action::NoOp => &[],
        }
    }
}

/// Counts of a plan or an apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
}

/// The whole plan of one tool run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Changes the config asks for that AWS cannot make (a storage decrease): the run stops with exit 64
    /// before any change, each reason naming the input and the way out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impossible: Vec<String>,
    /// Conditions that stop this run before any change (deletion protection on at `down`): exit 1.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// What the operator should know of how the plan was decided (an explicit setting that overrides
    /// an upstream output): shown under the changes, never stopping the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    /// Adds a change unless it is a no-op.
    pub fn push(&mut self, change: Change) {
        if change.action != Action::NoOp {
            self.changes.push(change);
        }
    }

    /// What an overlapped pipeline's early pass ([`crate::overlap`]) may apply before the upstream tools are
    /// done: the creates and updates whose values are all known (no [`UNKNOWN`] placeholder of an upstream
    /// output or of a resource made in the same run) and that use nothing left out. Deletions and
    /// replacements wait for the final pass, which holds to `--allow-destroy` as a plain `up` does. Returns
    /// the plan to apply and the addresses left for a later pass.
    pub fn early(&self) -> (Plan, Vec<String>) {
        let mut left: BTreeSet<&str> = self
            .changes
            .iter()
            .filter(|c| {
                !matches!(c.action, Action::Create | Action::Update)
                    || c.after.as_ref().is_some_and(holds_unknown)
            })
            .map(|c| c.address.as_str())
            .collect();
        loop {
            let more: Vec<&str> = self
                .changes
                .iter()
                .filter(|c| !left.contains(c.address.as_str()))
                .filter(|c| c.depends_on.iter().any(|d| left.contains(d.as_str())))
                .map(|c| c.address.as_str())
                .collect();
            if more.is_empty() {
                break;
            }
            left.extend(more);
        }
        let kept = Plan {
            changes: self
                .changes
                .iter()
                .filter(|c| !left.contains(c.address.as_str()))
                .cloned()
                .collect(),
            ..Plan::default()
        };
        let left = self
            .changes
            .iter()
            .filter(|c| left.contains(c.address.as_str()))
            .map(|c| c.address.clone())
            .collect();
        (kept, left)
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The change at an address.
    pub fn get(&self, address: &str) -> Option<&Change> {
        self.changes.iter().find(|c| c.address == address)
    }

    /// Addresses the plan creates or replaces (their ids are not known until applied).
    pub fn pending(&self) -> BTreeSet<&str> {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Replace))
            .map(|c| c.address.as_str())
            .collect()
    }

    /// Counts by action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            match c.action {
                Action::Create => s.create += 1,
                Action::Update => s.update += 1,
                Action::Replace => s.replace += 1,
                Action::Delete => s.delete += 1,
                Action::NoOp => {}
            }
        }
        s
    }

    /// The destructive changes (deletes and replaces), drift removal aside.
    pub fn destructive(&self) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| c.action.is_destructive() && !c.drift)
            .collect()
    }

    /// Renders the plan for stderr (without the tool prefix), destructive changes first and marked with
    /// `!`, then the notes and a summary line. A change with one short difference keeps it on its line;
    /// with several, each goes on a line of its own below.
    pub fn render(&self) -> Vec<String> {
        self.render_styled(false)
    }

    /// [`Plan::render`], coloured when `color`: creates green, deletes and replaces red, updates yellow,
    /// the `!` marks bold.
    pub fn render_styled(&self, color: bool) -> Vec<String> {
        let mut changes: Vec<&Change> = self.changes.iter().collect();
        changes.sort_by(|a, b| (a.action, &a.address).cmp(&(b.action, &b.address)));
        let width = changes.iter().map(|c| c.address.len()).max().unwrap_or(0);
        let mut lines = Vec::new();
        for c in changes {
            let style = if color {
                c.action.style()
            } else {
                anstyle::Style::new()
            };
            let bold = if color {
                anstyle::Style::new().bold()
            } else {
                anstyle::Style::new()
            };
            let mark = if c.action.is_destructive() && !c.drift {
                format!("{bold}!{bold:#}")
            } else {
                String::from(" ")
            };
            let mut line = format!(
                "{mark}{style}{} {:<7}{style:#} {:<width$}  ({})",
                c.action.symbol(),
                c.action.word(),
                c.address,
                c.reason
            );
            let diff = diff_values(c.before.as_ref(), c.after.as_ref(), c.action);
            let joined = diff.join(", ");
            // A create's short values stay on its line when they fit; an update's only when it is one.
            let inline = diff.len() == 1 || c.action == Action::Create;
            match diff.as_slice() {
                [] => lines.push(line),
                _ if inline && joined.chars().count() <= 80 => {
                    let _ = write!(line, ": {joined}");
                    lines.push(line);
                }
                many => {
                    lines.push(line);
                    lines.extend(many.iter().map(|d| format!("        {d}")));
                }
            }
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        lines.push(self.summary_line());
        lines
    }

    /// `Plan: 3 to create, 1 to update, 0 to replace, 1 to delete.` or `No changes.`
    pub fn summary_line(&self) -> String {
        let s = self.summary();
        if self.is_empty() {
            return String::from("No changes: AWS matches the config.");
        }
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            s.create, s.update, s.replace, s.delete
        )
    }
}

/// `1 resource`, `3 resources`.
pub fn count_of(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Longest value shown whole in a plan line; longer ones are cut with their length.
const SHOWN: usize = 100;

/// Differences between two JSON values as `key: old → new`: nested objects flattened with dots, arrays by
/// index, strings that hold JSON (policy documents, dashboard bodies) parsed and compared the same way,
/// so that a change shows the keys that changed, never the whole body. Creates show their short values;
/// deletes nothing (the whole resource goes).
pub fn diff_values(before: Option<&Value>, after: Option<&Value>, action: Action) -> Vec<String> {
    if action == Action::Create {
        // What will be created, briefly: short values only (no tags, no policy documents).
        let mut flat = Vec::new();
        flatten("", after.unwrap_or(&Value::Null), &mut flat);
        return flat
            .into_iter()
            .filter(|(k, v)| !k.starts_with("tags") && v.to_string().len() <= 48)
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
    }
    differing(before, after, action)
        .into_iter()
        .map(|(name, b, a)| format!("{name}: {} → {}", shown(&b), shown(&a)))
        .collect()
}

/// The attributes that differ between `before` and `after` (dotted names, `(none)` as null); empty for
/// creates and deletes.
pub fn differing(
    before: Option<&Value>,
    after: Option<&Value>,
    action: Action,
) -> Vec<(String, Value, Value)> {
    if matches!(action, Action::Delete | Action::Create) {
        return Vec::new();
    }
    let mut flat_before = Vec::new();
    let mut flat_after = Vec::new();
    flatten("", before.unwrap_or(&Value::Null), &mut flat_before);
    flatten("", after.unwrap_or(&Value::Null), &mut flat_after);
    let b: std::collections::BTreeMap<String, Value> = flat_before.into_iter().collect();
    let a: std::collections::BTreeMap<String, Value> = flat_after.into_iter().collect();
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| {
            let name = if k.is_empty() { "value" } else { k.as_str() };
            (
                name.to_owned(),
                b.get(k).cloned().unwrap_or(Value::Null),
                a.get(k).cloned().unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// A value in a plan line: `(none)` for null, long ones cut.
fn shown(v: &Value) -> String {
    if v.is_null() {
        return String::from("(none)");
    }
    let text = v.to_string();
    let n = text.chars().count();
    if n <= SHOWN {
        return text;
    }
    let head: String = text.chars().take(SHOWN - 20).collect();
    format!("{head}… ({n} characters)")
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&key(k), v, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        Value::String(s) if s.len() > SHOWN && (s.starts_with('{') || s.starts_with('[')) => {
            match serde_json::from_str::<Value>(s) {
                Ok(parsed @ (Value::Object(_) | Value::Array(_))) => flatten(prefix, &parsed, out),
                _ => out.push((prefix.to_owned(), v.clone())),
            }
        }
        Value::Null => {}
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_early_plan_leaves_unknowns_destruction_and_what_uses_them() {
        let mut p = Plan::default();
        p.push(Change::new(Action::Create, "alb", "new"));
        p.push(Change::new(Action::Create, "task", "new").values(
            None,
            Some(serde_json::json!({"env": {"DB_HOST": "(known after hms-db up)"}})),
        ));
        p.push(Change::new(Action::Create, "service", "new").uses(["task", "alb"]));
        p.push(Change::new(Action::Create, "scaling", "new").uses(["service"]));
        p.push(Change::new(Action::Replace, "bucket", "name"));
        p.push(Change::new(Action::Update, "policy", "differs").uses(["bucket"]));
        p.push(Change::new(Action::Delete, "old", "gone").drift());
        p.push(Change::new(Action::Update, "rule", "header").values(
            None,
            Some(serde_json::json!(["x", "(known after the secret is made)"])),
        ));
        let (early, left) = p.early();
        let kept: Vec<&str> = early.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(kept, vec!["alb"]);
        assert_eq!(
            left,
            vec!["task", "service", "scaling", "bucket", "policy", "old", "rule"]
        );
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn render_puts_destructive_first_and_diffs_values() {
        let mut p = Plan::default();
        p.push(Change::new(
            Action::Create,
            "vpc.subnet.private[us-east-1d]",
            "new",
        ));
        p.push(
            Change::new(Action::Update, "vpc.vpc", "tags differ").values(
                Some(json!({"tags": {"a": "1"}})),
                Some(json!({"tags": {"a": "1", "team": "x"}})),
            ),
        );
        p.push(Change::new(
            Action::Delete,
            "vpc.subnet.public[us-east-1c]",
            "removed from vpc.azs",
        ));
        p.push(Change::new(Action::NoOp, "vpc.igw", "unchanged"));
        let lines = p.render();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("!  - delete"), "{lines:?}");
        assert!(lines[2].contains("tags.team: (none) → \"x\""), "{lines:?}");
        assert_eq!(
            lines[3],
            "Plan: 1 to create, 1 to update, 0 to replace, 1 to delete."
        );
        assert_eq!(p.destructive().len(), 1);
    }

    #[test]
    fn replace_runs_delete_then_create() {
        let c = Change::new(Action::Replace, "x", "cidr");
        assert_eq!(c.steps(), &[Step::Delete, Step::Create]);
        assert!(Plan::default().summary_line().starts_with("No changes"));
    }
}

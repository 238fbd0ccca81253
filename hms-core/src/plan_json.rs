//! The JSON plan: what `plan --json` prints and `plan --out FILE` saves, and what `up --plan FILE` applies.
//! A public interface, as `terraform show -json` is: fields are only ever added within a
//! `format_version`; a removal or a change of meaning is a new version.
//!
//! Format version 1, one object:
//!
//! ```text
//! {
//!   "format_version": 1,
//!   "tool": "hms-db", "stack": "hms", "env": "production", "region": "us-east-1",
//!   "created_at": "2026-12-01T16:20:00Z",          // UTC, RFC 3339
//!   "changes": [{
//!     "action": "create" | "update" | "replace" | "delete",
//!     "address": "db.instance",                     // the hms address (plans, `state list`)
//!     "reason": "new",                              // why, in words
//!     "destructive": false,                         // deletes or replaces: needs --allow-destroy
//!     "drift": false,                               // a delete that removes something added by hand
//!     "depends_on": ["db.subnet_group"],
//!     "before": {…} | null, "after": {…} | null,    // the compared attributes (secrets never appear)
//!     "attributes": [{"name": "instance_class", "before": "db.t4g.medium", "after": "db.r6g.large"}]
//!   }],                                             // attributes: what differs, nested keys dotted
//!   "summary": {"create": 1, "update": 0, "replace": 0, "delete": 0},
//!   "notes": ["…"], "impossible": ["…"], "refused": ["…"],   // as the text plan shows them
//!   "unknown": ["outputs.db.endpoint"],             // outputs known only after `up`
//!   "observed": {"db.instance": "3f9a…"}            // a digest of each resource as observed
//! }
//! ```
//!
//! `observed` is what `up --plan` checks: a resource whose digest differs (changed by hand since the plan),
//! appeared or disappeared makes it refuse, naming the addresses.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::diff::{Found, FoundSet};
use crate::document::Identity;
use crate::error::{Error, Result};
use crate::plan::{Action, Change, Plan, Summary};

/// The version this release writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// One attribute that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub before: Value,
    pub after: Value,
}

/// One change, as in [`Change`] plus what a reviewer asks of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonChange {
    pub action: Action,
    pub address: String,
    pub reason: String,
    pub destructive: bool,
    pub drift: bool,
    pub depends_on: Vec<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub attributes: Vec<Attribute>,
}

/// The whole JSON plan of one tool run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    pub tool: String,
    pub stack: String,
    pub env: String,
    pub region: String,
    pub created_at: String,
    pub changes: Vec<JsonChange>,
    pub summary: Summary,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub impossible: Vec<String>,
    #[serde(default)]
    pub refused: Vec<String>,
    #[serde(default)]
    pub unknown: Vec<String>,
    pub observed: BTreeMap<String, String>,
}

impl PlanFile {
    /// The JSON plan of `plan`, decided on `found`.
    pub fn new(
        tool: &str,
        id: &Identity,
        plan: &Plan,
        found: &FoundSet,
        unknown: &[String],
    ) -> Self {
        PlanFile {
            format_version: FORMAT_VERSION,
            tool: tool.to_owned(),
            stack: id.stack.clone(),
            env: id.env.clone(),
            region: id.region.clone(),
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            changes: plan.changes.iter().map(json_change).collect(),
            summary: plan.summary(),
            notes: plan.notes.clone(),
            impossible: plan.impossible.clone(),
            refused: plan.refused.clone(),
            unknown: unknown.to_vec(),
            observed: fingerprints(found),
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Reads a saved plan of `tool` for `id`; a wrong file is a usage error (exit 64).
    pub fn read(path: &Path, tool: &str, id: &Identity) -> Result<Self> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::usage(format!("--plan {shown}: cannot read it: {e}")))?;
        let version: Value = serde_json::from_str(&text).map_err(|e| {
            Error::usage(format!(
                "--plan {shown}: not a JSON plan ({e}); save one with `{tool} plan --out {shown}`"
            ))
        })?;
        if version["format_version"] != json!(FORMAT_VERSION) {
            return Err(Error::usage(format!(
                "--plan {shown}: format_version {} is not {FORMAT_VERSION}, the one this release reads; make the plan again",
                version["format_version"]
            )));
        }
        let file: PlanFile = serde_json::from_value(version).map_err(|e| {
            Error::usage(format!("--plan {shown}: not a plan of this release: {e}"))
        })?;
        if file.tool != tool {
            return Err(Error::usage(format!(
                "--plan {shown}: a plan of {}, not of {tool}",
                file.tool
            )));
        }
        for (what, theirs, ours) in [
            ("stack", &file.stack, &id.stack),
            ("env", &file.env, &id.env),
            ("region", &file.region, &id.region),
        ] {
            if theirs != ours {
                return Err(Error::usage(format!(
                    "--plan {shown}: made for {what} {theirs:?}, but this run is for {ours:?}"
                )));
            }
        }
        Ok(file)
    }

    /// Why this saved plan cannot be applied on what is observed now with the plan decided now; empty
    /// when it still holds exactly.
    pub fn stale(&self, found: &FoundSet, plan: &Plan) -> Vec<String> {
        let now = fingerprints(found);
        let mut out = Vec::new();
        for (a, digest) in &self.observed {
            match now.get(a) {
                None => out.push(format!("{a} (gone)")),
                Some(d) if d != digest => out.push(format!("{a} (changed)")),
                Some(_) => {}
            }
        }
        for a in now.keys().filter(|a| !self.observed.contains_key(*a)) {
            out.push(format!("{a} (appeared)"));
        }
        if !out.is_empty() {
            return vec![format!(
                "AWS changed since the plan was made: {}",
                out.join(", ")
            )];
        }
        let fresh: Vec<JsonChange> = plan.changes.iter().map(json_change).collect();
        let key = |c: &JsonChange| (c.action, c.address.clone(), c.after.clone());
        let saved: Vec<_> = self.changes.iter().map(key).collect();
        let wanted: Vec<_> = fresh.iter().map(key).collect();
        if saved != wanted {
            let differ: Vec<String> = fresh
                .iter()
                .filter(|c| !saved.contains(&key(c)))
                .chain(self.changes.iter().filter(|c| !wanted.contains(&key(c))))
                .map(|c| c.address.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            return vec![format!(
                "the config or the upstream outputs changed since the plan was made; the plan now differs at {}",
                differ.join(", ")
            )];
        }
        Vec::new()
    }
}

fn json_change(c: &Change) -> JsonChange {
    JsonChange {
        action: c.action,
        address: c.address.clone(),
        reason: c.reason.clone(),
        destructive: c.action.is_destructive() && !c.drift,
        drift: c.drift,
        depends_on: c.depends_on.clone(),
        before: c.before.clone(),
        after: c.after.clone(),
        attributes: crate::plan::differing(c.before.as_ref(), c.after.as_ref(), c.action)
            .into_iter()
            .map(|(name, before, after)| Attribute {
                name,
                before,
                after,
            })
            .collect(),
    }
}

/// A digest of each observed resource: its id, compared attributes and tags.
pub fn fingerprints(found: &FoundSet) -> BTreeMap<String, String> {
    found
        .iter()
        .map(|(a, f)| (a.clone(), fingerprint(f)))
        .collect()
}

fn fingerprint(f: &Found) -> String {
    let v = json!({"id": f.id, "attrs": f.attrs, "tags": f.tags});
    crate::secret::short_hash(&crate::policy::normalize(&v).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Change;

    fn id() -> Identity {
        Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn a_plan_round_trips_and_a_changed_resource_makes_it_stale() {
        let mut found = FoundSet::new();
        found.insert(
            "vpc.vpc".into(),
            Found::new("vpc-1").attr("cidr", "10.0.0.0/16"),
        );
        let mut plan = Plan::default();
        plan.push(
            Change::new(Action::Update, "vpc.vpc", "tags differ").values(
                Some(json!({"tags": {"a": "1"}})),
                Some(json!({"tags": {"a": "2"}})),
            ),
        );
        let file = PlanFile::new("hms-vpc", &id(), &plan, &found, &[]);
        assert_eq!(file.changes[0].attributes[0].name, "tags.a");
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("vpc.plan");
        std::fs::write(&path, file.to_text()).expect("write");
        let back = PlanFile::read(&path, "hms-vpc", &id()).expect("read");
        assert_eq!(back, file);
        assert!(back.stale(&found, &plan).is_empty());
        let mut changed = found.clone();
        changed.insert(
            "vpc.vpc".into(),
            Found::new("vpc-1").attr("cidr", "10.1.0.0/16"),
        );
        let why = back.stale(&changed, &plan);
        assert!(why[0].contains("vpc.vpc (changed)"), "{why:?}");
        assert!(PlanFile::read(&path, "hms-db", &id()).is_err());
        let other = Plan::default();
        assert!(back.stale(&found, &other)[0].contains("vpc.vpc"));
    }
}

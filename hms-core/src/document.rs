//! The stack document: the one JSON object the tools pass along a pipeline on stdin/stdout.
//!
//! ```json
//! {"hms": 1, "stack": "hms", "env": "production", "region": "us-east-1",
//!  "outputs": {"vpc": {"vpc_id": "vpc-…", …}, "security": {…}},
//!  "unknown": ["outputs.vpc.vpc_id"],
//!  "runs": [{"tool": "hms-vpc", "command": "up", "ok": true, "created": 14, "updated": 0, "deleted": 0}]}
//! ```
//!
//! - `hms`: format version, 1. A reader refuses any other.
//! - `stack`, `env`, `region`: whom the document is for; a tool refuses a document for another stack.
//! - `outputs`: one object per tool, keyed by its section (`vpc`, `security`, `db`, `ecs`, `backup`,
//!   `observe`). Each tool replaces only its own section. Field names are a public interface.
//! - `unknown`: present after `plan`: dotted paths of outputs whose value is `null` because the resource
//!   does not exist yet. `up` refuses a document that still holds unknowns.
//! - `runs`: every tool run that touched the document, in order. `ok: false` stops the tools downstream
//!   (they exit 1 without calling AWS); `error` then says why.
//!
//! Secrets never appear in a document.

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The document format version this build reads and writes.
pub const FORMAT: u32 = 1;

/// Who the document is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub stack: String,
    pub env: String,
    pub region: String,
}

/// The stack document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub hms: u32,
    pub stack: String,
    pub env: String,
    pub region: String,
    #[serde(default)]
    pub outputs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
    #[serde(default)]
    pub runs: Vec<Run>,
}

/// One tool run recorded in the document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Run {
    pub tool: String,
    pub command: String,
    pub ok: bool,
    #[serde(default)]
    pub created: usize,
    #[serde(default)]
    pub updated: usize,
    #[serde(default)]
    pub deleted: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Document {
    /// A new, empty document.
    pub fn new(id: &Identity) -> Self {
        Document {
            hms: FORMAT,
            stack: id.stack.clone(),
            env: id.env.clone(),
            region: id.region.clone(),
            outputs: Map::new(),
            unknown: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Parses a document read from stdin and checks it is for `id`.
    pub fn parse(text: &str, id: &Identity) -> Result<Self> {
        let doc: Document = serde_json::from_str(text).map_err(|e| {
            Error::usage(format!(
                "stdin: not a stack document ({e}); pipe the stdout of another hms tool, or give no stdin"
            ))
        })?;
        // A failed run upstream wins over any mismatch: the pipe stops with exit 1.
        if let Some(run) = doc.failed_run() {
            return Err(Error::UpstreamFailed {
                tool: run.tool.clone(),
                command: run.command.clone(),
            });
        }
        if doc.hms != FORMAT {
            return Err(Error::usage(format!(
                "stdin: stack document format {} is not supported (this build reads {FORMAT}); use tools of one release",
                doc.hms
            )));
        }
        for (what, theirs, ours, flag) in [
            ("stack", &doc.stack, &id.stack, "--stack"),
            ("env", &doc.env, &id.env, "--env"),
            ("region", &doc.region, &id.region, "--region"),
        ] {
            if theirs != ours {
                return Err(Error::usage(format!(
                    "stdin: the document is for {what} {theirs:?} but this run is for {what} {ours:?}; pass {flag} {theirs} or pipe the right document"
                )));
            }
        }
        Ok(doc)
    }

    /// When the last run failed, the run where the failure started: the first of the failed runs at the end
    /// (`hms-db` failed, so `hms-ecs` and `hms-backup` did not run; each names `hms-db`).
    pub fn failed_run(&self) -> Option<&Run> {
        self.runs.last().filter(|r| !r.ok)?;
        self.runs.iter().rev().take_while(|r| !r.ok).last()
    }

    /// The value at a dotted path under `outputs` (`vpc.private_subnet_ids`), if present and not null.
    pub fn output(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut v = self.outputs.get(parts.next()?)?;
        for p in parts {
            v = v.get(p)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// Replaces this tool's section and its unknowns.
    pub fn set_outputs(&mut self, section: &str, value: Value, unknown: &[String]) {
        let prefix = format!("outputs.{section}.");
        self.unknown.retain(|u| !u.starts_with(&prefix));
        self.unknown
            .extend(unknown.iter().map(|u| format!("{prefix}{u}")));
        self.outputs.insert(section.to_owned(), value);
    }

    /// Removes this tool's section (after `down`).
    pub fn remove_outputs(&mut self, section: &str) {
        let prefix = format!("outputs.{section}.");
        self.unknown.retain(|u| !u.starts_with(&prefix));
        self.outputs.remove(section);
    }

    /// Writes the document to stdout. A closed pipe is not an error (the reader went away on purpose).
    pub fn write_stdout(&self) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("cannot serialize the stack document: {e}")))?;
        text.push('\n');
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(Error::Internal(format!(
                "cannot write the stack document to stdout: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn round_trip_and_checks() {
        let mut d = Document::new(&id());
        d.set_outputs(
            "vpc",
            serde_json::json!({"vpc_id": null}),
            &["vpc_id".into()],
        );
        let text = serde_json::to_string(&d).expect("json");
        let back = Document::parse(&text, &id()).expect("parse");
        assert_eq!(back.unknown, vec!["outputs.vpc.vpc_id".to_owned()]);
        assert!(back.output("vpc.vpc_id").is_none());

        let other = Identity {
            env: "staging".into(),
            ..id()
        };
        let err = Document::parse(&text, &other).expect_err("env");
        assert!(err.to_string().contains("--env production"), "{err}");
        assert_eq!(err.exit_code(), 64);

        let err = Document::parse("{not json", &id()).expect_err("json");
        assert!(
            err.to_string().starts_with("stdin: not a stack document"),
            "{err}"
        );
        let err = Document::parse(
            r#"{"hms":2,"stack":"hms","env":"production","region":"us-east-1"}"#,
            &id(),
        )
        .expect_err("format");
        assert!(err.to_string().contains("format 2"), "{err}");
    }

    #[test]
    fn failed_run_is_seen() {
        let mut d = Document::new(&id());
        d.runs.push(Run {
            tool: "hms-vpc".into(),
            command: "up".into(),
            ok: false,
            created: 0,
            updated: 0,
            deleted: 0,
            error: Some("boom".into()),
        });
        assert_eq!(d.failed_run().map(|r| r.tool.as_str()), Some("hms-vpc"));
    }
}

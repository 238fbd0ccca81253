//! The stack document: the JSON object the tools pass along a pipeline on stdin/stdout.
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
//! - `unknown`: dotted paths of outputs whose value is `null` because the resource does not exist yet
//!   (after `plan`) or is not ready yet (an early document). `up` refuses a final document that still holds
//!   unknowns.
//! - `runs`: every tool run that touched the document, in order. `ok: false` stops the tools downstream
//!   (they exit 1 without calling AWS); `error` then says why.
//! - `final`: absent (true) on the one document a tool writes when it is done. `false` on an **early
//!   document** of an overlapped pipeline (`up --overlap`, `HMS_OVERLAP=1`; [`crate::overlap`]): what the
//!   tool's outputs are so far, its section's values not ready yet listed in `unknown`, the sections of
//!   the tools upstream as their latest document had them, and no run of its own yet.
//!
//! Stdout carries one document, or with `--overlap` on a pipe a stream of them: zero or more early
//! documents, then exactly one final document, last. Every reader takes a stream: without `--overlap` it
//! reads to the end and uses the final document; a stream that ends without one is an upstream that died
//! (exit 1, no AWS call), and a final document with a failed run stops it as always.
//!
//! Secrets never appear in a document.

use std::io::Write;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Stdin that is not a stack document.
pub(crate) fn not_a_document(e: impl std::fmt::Display) -> Error {
    Error::usage(format!(
        "stdin: not a stack document ({e}); pipe the stdout of another hms tool, or give no stdin"
    ))
}

/// A stream that ended after early documents: the upstream tool died before it was done.
pub(crate) fn ended_early() -> Error {
    Error::Refused(String::from(
        "stdin: the upstream tool handed on early documents but never its final one (did it crash or get killed?); nothing more was done. Run the pipeline again: every tool resumes what it started",
    ))
}

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
    /// `false` on an early document; more follow, the last one final.
    #[serde(rename = "final", default = "yes", skip_serializing_if = "is_true")]
    pub is_final: bool,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_true(b: &bool) -> bool {
    *b
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
            is_final: true,
        }
    }

    /// Parses what a reader found on stdin (one document, or a stream whose last is final) and checks the
    /// final document is for `id`.
    pub fn parse(text: &str, id: &Identity) -> Result<Self> {
        let mut last = None;
        for doc in serde_json::Deserializer::from_str(text).into_iter::<Document>() {
            last = Some(doc.map_err(not_a_document)?);
        }
        let doc = last.ok_or_else(|| not_a_document("no JSON value"))?;
        if !doc.is_final && doc.failed_run().is_none() {
            return Err(ended_early());
        }
        doc.checked(id)
    }

    /// The last document of a stream that parses, whatever it holds (to pass a failure on).
    pub fn last_in(text: &str) -> Option<Self> {
        serde_json::Deserializer::from_str(text)
            .into_iter::<Document>()
            .map_while(std::result::Result::ok)
            .last()
    }

    /// Checks one document read from stdin: an upstream failure, the format, and that it is for `id`.
    pub fn checked(self, id: &Identity) -> Result<Self> {
        let doc = self;
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

    /// The document as written to stdout: pretty JSON and a newline.
    pub fn to_text(&self) -> Result<String> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("cannot serialize the stack document: {e}")))?;
        text.push('\n');
        Ok(text)
    }

    /// Writes the document to stdout. A closed pipe is not an error (the reader went away on purpose).
    pub fn write_stdout(&self) -> Result<()> {
        let text = self.to_text()?;
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
    fn a_stream_is_read_to_its_final_document() {
        let mut early = Document::new(&id());
        early.is_final = false;
        early.set_outputs(
            "db",
            serde_json::json!({"endpoint": null}),
            &["endpoint".into()],
        );
        let early = serde_json::to_string_pretty(&early).expect("json");
        assert!(early.contains("\"final\": false"), "{early}");
        let mut done = Document::new(&id());
        done.set_outputs("db", serde_json::json!({"endpoint": "db.local"}), &[]);
        let done = serde_json::to_string_pretty(&done).expect("json");
        assert!(
            !done.contains("final"),
            "a final document says nothing: {done}"
        );
        let doc = Document::parse(&format!("{early}\n{early}\n{done}\n"), &id()).expect("stream");
        assert!(doc.is_final && doc.unknown.is_empty());
        assert_eq!(
            doc.output("db.endpoint"),
            Some(&serde_json::json!("db.local"))
        );
        // Early documents only: the upstream died before it was done.
        let err = Document::parse(&format!("{early}\n{early}"), &id()).expect_err("no final");
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("never its final one"), "{err}");
        // Garbage after a document is still not a document.
        let err = Document::parse(&format!("{done} nope"), &id()).expect_err("garbage");
        assert_eq!(err.exit_code(), 64);
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

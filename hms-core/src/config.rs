//! Configuration: `hms.toml` files (repeatable `--config`, later wins), `--set KEY=VALUE` overrides and the
//! built-in defaults of the reference stack.
//!
//! The merged document keeps, for every key, where its value came from, so that an error can name the file
//! (or the `--set` flag) and the key: `config hms.toml: vpc.cidr = "10.0.0.0/33": …`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Top-level tables a config file may hold: `[stack]`, `[aws]` and one per tool (present and planned).
pub const KNOWN_TABLES: &[&str] = &[
    "stack", "aws", "state", "vpc", "security", "db", "ecs", "backup", "observe", "cache", "dns",
    "edge",
];

/// CloudWatch Logs' allowed retention periods, in days (every tool that makes a log group checks them).
pub const LOG_RETENTION_DAYS: &[i32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Keys that would put a secret in a config file; refused wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "password",
    "master_password",
    "master_user_password",
    "secret_key",
    "secret_access_key",
];

/// The merged configuration and where each value came from.
#[derive(Debug, Clone, Default)]
pub struct Config {
    table: toml::Table,
    /// Dotted key path → source (`hms.toml`, `--set`) of the value at that path.
    sources: BTreeMap<String, String>,
}

/// `[stack]`: identity and tags shared by every tool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackConfig {
    pub name: Option<String>,
    pub env: Option<String>,
    pub region: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub allowed_account_ids: Vec<String>,
}

/// `[state]`: where the tools keep state (shared by every tool; `--state` / `HMS_STATE` win).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// A directory or `s3://BUCKET/PREFIX`.
    pub url: Option<String>,
    /// KMS key (id, ARN or alias) for SSE-KMS of the S3 state objects; SSE-S3 without it.
    pub kms_key: Option<String>,
    /// Region of the S3 state bucket (default: the stack's region).
    pub region: Option<String>,
}

/// `[aws]`: SDK behaviour.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    /// Attempts per AWS call with the standard retry mode (default 5).
    pub max_attempts: Option<u32>,
}

impl Config {
    /// Loads `files` in order (later wins), or `hms.toml` in the working directory when none is given and it
    /// exists, then applies `sets` in order.
    pub fn load(files: &[PathBuf], sets: &[String]) -> Result<Self> {
        let mut cfg = Config::default();
        let default = Path::new("hms.toml");
        let files: Vec<PathBuf> = if files.is_empty() && default.exists() {
            vec![default.to_path_buf()]
        } else {
            files.to_vec()
        };
        for file in &files {
            let name = file.display().to_string();
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::usage(format!("config {name}: cannot read: {e} (check --config)"))
            })?;
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                // The message only, never the offending line: it may hold a secret.
                let line = e
                    .span()
                    .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
                Error::usage(format!(
                    "config {name}{}: not valid TOML: {}",
                    line.map(|l| format!(" line {l}")).unwrap_or_default(),
                    e.message()
                ))
            })?;
            cfg.merge(table, "", &name);
        }
        for set in sets {
            let (key, value) = parse_set(set)?;
            let mut table = toml::Table::new();
            insert_path(&mut table, &key, value)
                .map_err(|m| Error::usage(format!("--set {key}=…: {m}")))?;
            cfg.merge(table, "", &format!("--set {key}"));
        }
        cfg.check()?;
        Ok(cfg)
    }

    /// Builds a config from an in-memory TOML string (tests, defaults).
    pub fn from_toml(text: &str, source: &str) -> Result<Self> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| Error::usage(format!("config {source}: {e}")))?;
        let mut cfg = Config::default();
        cfg.merge(table, "", source);
        cfg.check()?;
        Ok(cfg)
    }

    fn merge(&mut self, from: toml::Table, prefix: &str, source: &str) {
        for (key, value) in from {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            if let toml::Value::Table(inner) = &value {
                if self.is_table(&path) {
                    self.merge(inner.clone(), &path, source);
                    continue;
                }
            }
            // The parent is a table here: either the root or a table this recursion came through.
            if insert_path(&mut self.table, &path, value).is_ok() {
                let child = format!("{path}.");
                self.sources
                    .retain(|k, _| k != &path && !k.starts_with(&child));
                self.sources.insert(path, source.to_owned());
            }
        }
    }

    fn is_table(&self, key: &str) -> bool {
        let mut t = &self.table;
        for part in key.split('.') {
            match t.get(part) {
                Some(toml::Value::Table(inner)) => t = inner,
                _ => return false,
            }
        }
        true
    }

    fn check(&self) -> Result<()> {
        for key in self.table.keys() {
            if !KNOWN_TABLES.contains(&key.as_str()) {
                return Err(Error::usage(format!(
                    "config {}: unknown table [{key}]{}; known tables are {}",
                    self.source_of(key),
                    did_you_mean(key, KNOWN_TABLES.iter().copied())
                        .map(|n| format!(" (did you mean [{n}]?)"))
                        .unwrap_or_default(),
                    KNOWN_TABLES.join(", ")
                )));
            }
        }
        let mut found = None;
        walk(&self.table, "", &mut |path, _| {
            let last = path.rsplit('.').next().unwrap_or(path);
            if found.is_none() && SECRET_KEYS.contains(&last) {
                found = Some(path.to_owned());
            }
        });
        if let Some(path) = found {
            return Err(Error::usage(format!(
                "config {}: {path}: secrets are never read from config or flags; passwords are generated and \
                 kept in AWS Secrets Manager by the tool that owns them (remove {path})",
                self.source_of(&path)
            )));
        }
        Ok(())
    }

    /// Where the value at `key` (dotted) came from: the file or `--set` that last wrote it or a parent.
    pub fn source_of(&self, key: &str) -> String {
        let mut probe = key.to_owned();
        loop {
            if let Some(s) = self.sources.get(&probe) {
                return s.clone();
            }
            // A table's source is that of its first child.
            let child = format!("{probe}.");
            if let Some((k, s)) = self.sources.range(child.clone()..).next() {
                if k.starts_with(&child) {
                    return s.clone();
                }
            }
            match probe.rfind('.') {
                Some(i) => probe.truncate(i),
                None => return String::from("defaults"),
            }
        }
    }

    /// Whether the value at `key` (dotted) was given explicitly.
    pub fn is_set(&self, key: &str) -> bool {
        let mut t = &self.table;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, p) in parts.iter().enumerate() {
            match t.get(*p) {
                Some(toml::Value::Table(inner)) if i + 1 < parts.len() => t = inner,
                Some(_) if i + 1 == parts.len() => return true,
                _ => return false,
            }
        }
        false
    }

    /// Deserializes the table at `key` (`"vpc"`, `"stack"`) into `T`; an absent table gives `T::default()`.
    /// Errors name the source and the full key path.
    pub fn section<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T> {
        let Some(value) = self.table.get(key) else {
            return Ok(T::default());
        };
        let value = value.clone();
        serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
            let inner = e.path().to_string();
            let path = if inner == "." || inner.is_empty() {
                key.to_owned()
            } else {
                format!("{key}.{inner}")
            };
            let msg = e.inner().to_string();
            let msg = msg.lines().next().unwrap_or_default().to_owned();
            if let Some((field, known)) = unknown_field(&msg) {
                let full = if path == field || path.ends_with(&format!(".{field}")) {
                    path.clone()
                } else {
                    format!("{path}.{field}")
                };
                let hint = did_you_mean(&field, known.iter().map(String::as_str))
                    .map(|n| format!("did you mean {n}? "))
                    .unwrap_or_default();
                return Error::usage(format!(
                    "config {}: {full}: unknown field `{field}`; {hint}known keys here: {}",
                    self.source_of(&full),
                    known.join(", ")
                ));
            }
            Error::usage(format!(
                "config {}: {path}: {}",
                self.source_of(&path),
                plain_type_error(&msg)
            ))
        })
    }

    /// A usage error about the value at `key`, naming where it came from.
    pub fn invalid(&self, key: &str, msg: impl std::fmt::Display) -> Error {
        Error::usage(format!("config {}: {key}: {msg}", self.source_of(key)))
    }
}

/// `unknown field `x`, expected one of `a`, `b`` → (`x`, [`a`, `b`]).
fn unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    let known = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((field.to_owned(), known))
}

/// serde's type words in words a user reads: `invalid type: string "big", expected i64` → `expected a
/// whole number, got "big"`.
fn plain_type_error(msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("invalid type: ") else {
        return msg.to_owned();
    };
    let Some((got, expected)) = rest.split_once(", expected ") else {
        return msg.to_owned();
    };
    let expected = match expected {
        e if e.starts_with('i')
            || e.starts_with('u') && e[1..].chars().all(|c| c.is_ascii_digit()) =>
        {
            "a whole number"
        }
        e if e.starts_with('f') && e[1..].chars().all(|c| c.is_ascii_digit()) => "a number",
        "a boolean" | "bool" => "true or false",
        "a string" => "a string (in quotes)",
        "a sequence" => "a list like [\"a\", \"b\"]",
        "a map" => "a table",
        e if e.starts_with("struct ") => "a table",
        e => e,
    };
    let got = got
        .replace("string ", "")
        .replace("integer ", "")
        .replace("boolean ", "")
        .replace("floating point ", "");
    format!("expected {expected}, got {got}")
}

/// The known name nearest to `name` (edit distance at most 2, or a prefix), for a "did you mean".
pub fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    known
        .map(|k| (distance(name, k), k))
        .filter(|(d, k)| *d <= 2.max(name.len() / 4) || k.starts_with(name) || name.starts_with(*k))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn walk(table: &toml::Table, prefix: &str, f: &mut dyn FnMut(&str, &toml::Value)) {
    for (k, v) in table {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        f(&path, v);
        if let toml::Value::Table(t) = v {
            walk(t, &path, f);
        }
    }
}

/// Parses `KEY=VALUE`: VALUE is a TOML value; anything that does not parse as one is a string. Values are
/// never echoed in errors: a mistyped --set may carry a secret.
fn parse_set(set: &str) -> Result<(String, toml::Value)> {
    let Some((key, raw)) = set.split_once('=') else {
        return Err(Error::usage(
            "--set: expected KEY=VALUE, e.g. --set vpc.cidr=10.1.0.0/16 (the argument has no '=')",
        ));
    };
    let key = key.trim();
    let valid = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-:".contains(c))
    };
    if !key.split('.').all(valid) {
        return Err(Error::usage(
            "--set: the key before '=' must be a dotted path like vpc.cidr (letters, digits, '_', '-', ':')",
        ));
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"));
    let value = match parsed {
        Some(v) => v,
        // Meant as a TOML string, list or table but malformed: say so rather than take it as text.
        None if raw.trim_start().starts_with(['"', '\'', '[', '{']) => {
            return Err(Error::usage(format!(
                "--set {key}=…: the value starts like a TOML string, list or table but does not parse; check its quotes and brackets"
            )))
        }
        None => toml::Value::String(raw.to_owned()),
    };
    Ok((key.to_owned(), value))
}

fn insert_path(
    table: &mut toml::Table,
    key: &str,
    value: toml::Value,
) -> std::result::Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().ok_or("empty key")?;
    let mut t = table;
    for p in parents {
        let entry = t
            .entry((*p).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{p} is not a table"))?;
    }
    t.insert((*last).to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Vpc {
        cidr: Option<String>,
        azs: Option<Vec<String>>,
        single_nat_gateway: Option<bool>,
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn later_files_and_sets_win() {
        let d = tempfile::tempdir().expect("tmp");
        let a = write(
            d.path(),
            "a.toml",
            "[vpc]\ncidr = \"10.0.0.0/16\"\nazs = [\"us-east-1a\"]\n",
        );
        let b = write(d.path(), "b.toml", "[vpc]\ncidr = \"10.1.0.0/16\"\n");
        let cfg = Config::load(&[a, b], &["vpc.single_nat_gateway=false".into()]).expect("load");
        let v: Vpc = cfg.section("vpc").expect("vpc");
        assert_eq!(v.cidr.as_deref(), Some("10.1.0.0/16"));
        assert_eq!(v.azs, Some(vec!["us-east-1a".to_owned()]));
        assert_eq!(v.single_nat_gateway, Some(false));
        assert!(cfg.source_of("vpc.cidr").ends_with("b.toml"));
        assert!(cfg.source_of("vpc.azs").ends_with("a.toml"));
        assert_eq!(
            cfg.source_of("vpc.single_nat_gateway"),
            "--set vpc.single_nat_gateway"
        );
    }

    #[test]
    fn set_values_are_toml_or_bare_strings() {
        let cfg = Config::load(
            &[],
            &[
                "vpc.cidr=10.1.0.0/16".into(),
                r#"vpc.azs=["us-east-1a"]"#.into(),
            ],
        )
        .expect("load");
        let v: Vpc = cfg.section("vpc").expect("vpc");
        assert_eq!(v.cidr.as_deref(), Some("10.1.0.0/16"));
        assert_eq!(v.azs, Some(vec!["us-east-1a".to_owned()]));
    }

    #[test]
    fn errors_name_source_and_key() {
        let d = tempfile::tempdir().expect("tmp");
        let a = write(
            d.path(),
            "hms.toml",
            "[vpc]\ncidr = \"10.0.0.0/16\"\nnat = true\n",
        );
        let cfg = Config::load(&[a], &[]).expect("load");
        let err = cfg.section::<Vpc>("vpc").expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("hms.toml"), "{msg}");
        assert!(msg.contains("vpc.nat: unknown field `nat`"), "{msg}");
        assert_eq!(err.exit_code(), 64);

        let err = Config::load(&[], &["vpc.cidr=10.0.0.0/16".into(), "vpcs.x=1".into()])
            .expect_err("table");
        assert!(err.to_string().contains("unknown table [vpcs]"), "{err}");
        let err = Config::load(&[], &["nokey".into()]).expect_err("form");
        assert!(err.to_string().contains("KEY=VALUE"), "{err}");
        let err = Config::load(&[], &["db.password=hunter2".into()]).expect_err("secret");
        assert!(err.to_string().contains("never read from config"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = Config::load(&[d.path().join("missing.toml")], &[]).expect_err("missing");
        assert!(err.to_string().contains("missing.toml"), "{err}");
    }

    #[test]
    fn unknown_keys_and_tables_suggest_the_nearest() {
        let err = Config::load(&[], &["vpc.cidrr=10.0.0.0/16".into()])
            .expect("load")
            .section::<Vpc>("vpc")
            .expect_err("unknown");
        let msg = err.to_string();
        assert!(
            msg.contains("vpc.cidrr: unknown field `cidrr`; did you mean cidr?"),
            "{msg}"
        );
        let err = Config::load(&[], &["vcp.cidr=x".into()]).expect_err("table");
        assert!(err.to_string().contains("did you mean [vpc]?"), "{err}");
    }

    #[test]
    fn type_errors_read_as_words() {
        #[derive(Debug, Default, Deserialize)]
        struct Db {
            #[allow(dead_code)]
            allocated_storage: Option<i64>,
        }
        let err = Config::load(&[], &["db.allocated_storage=big".into()])
            .expect("load")
            .section::<Db>("db")
            .expect_err("type");
        assert!(
            err.to_string()
                .contains("db.allocated_storage: expected a whole number, got \"big\""),
            "{err}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let cfg = Config::load(&[], &["vpc.azs=3".into()]).expect("load");
        let err = cfg.section::<Vpc>("vpc").expect_err("type");
        assert!(err.to_string().contains("vpc.azs"), "{err}");
        assert!(err.to_string().contains("--set vpc.azs"), "{err}");
    }
}

//! The SDK operations a tool's source calls, found by reading the source: what each tool's unit test
//! checks against its permission list, so that a new call without its permission fails a test, not a
//! run in production.
//!
//! A call is `RECEIVER.operation()` (the SDK's fluent builders take no argument) where the receiver is
//! an SDK client: a field or variable named as the tools name their clients (`ec2`, `s3`, `elb`, …), or
//! one the same file declares with its type (`cf: &aws_sdk_cloudfront::Client`, `fn waf_of(..) ->
//! &aws_sdk_wafv2::Client`). The hms-core code a tool uses is read too: `s3.rs` when the tool names
//! `hms_core::s3`, and each tag adapter of `aws_tags.rs` the tool names (`Ec2Tags`). Test modules
//! (after `#[cfg(test)]`) are skipped.

use std::path::{Path, PathBuf};

use super::Permission;

/// Client field names the tools use, and their SDK crate (`aws_sdk_<crate>`).
const RECEIVERS: &[(&str, &str)] = &[
    ("ec2", "ec2"),
    ("s3", "s3"),
    ("iam", "iam"),
    ("kms", "kms"),
    ("logs", "cloudwatchlogs"),
    ("rds", "rds"),
    ("ecs", "ecs"),
    ("elb", "elasticloadbalancingv2"),
    ("scaling", "applicationautoscaling"),
    ("secrets", "secretsmanager"),
    ("elasticache", "elasticache"),
    ("acm", "acm"),
    ("acm_cdn", "acm"),
    ("route53", "route53"),
    ("cloudfront", "cloudfront"),
    ("waf", "wafv2"),
    ("waf_cdn", "wafv2"),
    ("cloudwatch", "cloudwatch"),
    ("sns", "sns"),
    ("xray", "xray"),
    ("tagging", "resourcegroupstagging"),
    ("sts", "sts"),
];

/// SDK crate → IAM service prefix.
const PREFIXES: &[(&str, &str)] = &[
    ("cloudwatchlogs", "logs"),
    ("elasticloadbalancingv2", "elasticloadbalancing"),
    ("applicationautoscaling", "application-autoscaling"),
    ("resourcegroupstagging", "tag"),
];

/// Methods without arguments on a client that are not operations.
const NOT_OPERATIONS: &[&str] = &[
    "send",
    "build",
    "into_paginator",
    "clone",
    "config",
    "is_empty",
    "len",
    "iter",
    "is_some",
    "is_none",
    "as_ref",
    "as_deref",
    "to_owned",
    "to_string",
    "first",
    "last",
    "into_iter",
    "as_str",
    "unwrap_or_default",
    "sort",
    "dedup",
    "pop",
    "clear",
    "reverse",
    "unwrap",
];

/// Operations whose IAM action is not their own name (service prefix, operation in snake case).
const ACTIONS: &[(&str, &str, &[&str])] = &[
    (
        "s3",
        "get_bucket_encryption",
        &["s3:GetEncryptionConfiguration"],
    ),
    (
        "s3",
        "put_bucket_encryption",
        &["s3:PutEncryptionConfiguration"],
    ),
    (
        "s3",
        "delete_bucket_encryption",
        &["s3:PutEncryptionConfiguration"],
    ),
    (
        "s3",
        "get_bucket_lifecycle_configuration",
        &["s3:GetLifecycleConfiguration"],
    ),
    (
        "s3",
        "put_bucket_lifecycle_configuration",
        &["s3:PutLifecycleConfiguration"],
    ),
    (
        "s3",
        "delete_bucket_lifecycle",
        &["s3:PutLifecycleConfiguration"],
    ),
    ("s3", "head_bucket", &["s3:ListBucket"]),
    ("s3", "list_objects_v2", &["s3:ListBucket"]),
    ("s3", "head_object", &["s3:GetObject"]),
    ("s3", "list_object_versions", &["s3:ListBucketVersions"]),
    (
        "s3",
        "get_bucket_replication",
        &["s3:GetReplicationConfiguration"],
    ),
    (
        "s3",
        "put_bucket_replication",
        &["s3:PutReplicationConfiguration"],
    ),
    (
        "s3",
        "delete_bucket_replication",
        &["s3:PutReplicationConfiguration"],
    ),
    (
        "s3",
        "get_bucket_notification_configuration",
        &["s3:GetBucketNotification"],
    ),
    (
        "s3",
        "put_bucket_notification_configuration",
        &["s3:PutBucketNotification"],
    ),
    (
        "s3",
        "get_public_access_block",
        &["s3:GetBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "put_public_access_block",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "delete_public_access_block",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "delete_objects",
        &["s3:DeleteObject", "s3:DeleteObjectVersion"],
    ),
    (
        "s3",
        "get_object_lock_configuration",
        &["s3:GetBucketObjectLockConfiguration"],
    ),
    (
        "s3",
        "put_object_lock_configuration",
        &["s3:PutBucketObjectLockConfiguration"],
    ),
    ("s3", "delete_bucket_tagging", &["s3:PutBucketTagging"]),
    (
        "s3",
        "delete_bucket_ownership_controls",
        &["s3:PutBucketOwnershipControls"],
    ),
    (
        "cloudfront",
        "create_distribution_with_tags",
        &["cloudfront:CreateDistribution", "cloudfront:TagResource"],
    ),
];

/// One call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// IAM service prefix, `ec2`.
    pub service: String,
    /// The SDK method, `describe_vpcs`.
    pub operation: String,
    /// `file:line`.
    pub at: String,
}

impl Call {
    /// The IAM actions the call needs.
    pub fn actions(&self) -> Vec<String> {
        if let Some((_, _, a)) = ACTIONS
            .iter()
            .find(|(s, o, _)| *s == self.service && *o == self.operation)
        {
            return a.iter().map(|s| (*s).to_owned()).collect();
        }
        vec![format!("{}:{}", self.service, pascal(&self.operation))]
    }
}

/// `describe_vpcs` → `DescribeVpcs`.
pub fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn prefix_of(krate: &str) -> String {
    PREFIXES
        .iter()
        .find(|(k, _)| *k == krate)
        .map_or(krate, |(_, p)| p)
        .to_owned()
}

/// `src` without comments, string and char literals (their contents blanked), and without its test
/// module; line breaks kept so that positions still give the line.
fn strip(src: &str) -> String {
    let src = match src.find("#[cfg(test)]") {
        Some(i) => &src[..i],
        None => src,
    };
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                if b[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_char(prev(&b, i)) {
            // A raw string: r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            out.push_str("\"\"");
            while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                if b[j] == '\n' {
                    out.push('\n');
                }
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            out.push_str("\"\"");
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && b.get(i + 2) == Some(&'\'') {
            out.push_str("' '");
            i += 3;
        } else if c == '\'' && next == Some('\\') {
            // '\n', '\''
            let mut j = i + 2;
            while j < b.len() && b[j] != '\'' {
                j += 1;
            }
            out.push_str("' '");
            i = j + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev(b: &[char], i: usize) -> char {
    if i == 0 {
        ' '
    } else {
        b[i - 1]
    }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier ending at byte `end` of `s` (exclusive), and where it starts.
fn ident_before(s: &str, end: usize) -> Option<(usize, &str)> {
    let bytes = s.as_bytes();
    let mut i = end;
    while i > 0 && ident_char(bytes[i - 1] as char) {
        i -= 1;
    }
    (i < end).then(|| (i, &s[i..end]))
}

/// Declarations of clients in `s`: (position, name, crate) for `NAME: &'a aws_sdk_X::Client`,
/// `let NAME = aws_sdk_X::Client…` and `fn NAME(…) -> &aws_sdk_X::Client`.
fn declarations(s: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find("aws_sdk_").map(|i| i + from) {
        from = i + 8;
        let rest = &s[from..];
        let Some(end) = rest.find("::Client") else {
            continue;
        };
        let krate = &rest[..end];
        if !krate.chars().all(ident_char) {
            continue;
        }
        // Walk back over `&`, a lifetime, `mut`, spaces.
        let mut head = s[..i].trim_end();
        loop {
            let before = head;
            head = head.trim_end_matches('&').trim_end();
            if let Some(h) = head.strip_suffix("mut") {
                head = h.trim_end();
            }
            if let Some((start, _)) = ident_before(head, head.len()) {
                if head[..start].ends_with('\'') {
                    head = head[..start - 1].trim_end();
                }
            }
            if head == before {
                break;
            }
        }
        if let Some(h) = head.strip_suffix(':') {
            if !h.ends_with(':') {
                if let Some((_, name)) = ident_before(h.trim_end(), h.trim_end().len()) {
                    out.push((i, name.to_owned(), krate.to_owned()));
                }
            }
        } else if let Some(h) = head.strip_suffix("->") {
            // fn NAME(args) ->
            let h = h.trim_end();
            if let Some(open) = matching_open(h) {
                if let Some((_, name)) =
                    ident_before(h[..open].trim_end(), h[..open].trim_end().len())
                {
                    out.push((i, name.to_owned(), krate.to_owned()));
                }
            }
        } else if let Some(h) = head.strip_suffix('=') {
            let h = h.trim_end();
            if let Some((_, name)) = ident_before(h, h.len()) {
                out.push((i, name.to_owned(), krate.to_owned()));
            }
        }
    }
    out
}

/// `let NAME = &x.waf;` or `let NAME = c.waf_of(door);`: a local bound to a client, as (position, name,
/// crate), the client found as a receiver is (a known field name or a declared one).
fn aliases(s: &str, decls: &[(usize, String, String)]) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (i, _) in s.match_indices("let ") {
        let rest = &s[i + 4..];
        let Some(eq) = rest.find('=') else { continue };
        let name = rest[..eq].trim().trim_start_matches("mut ").trim();
        if name.is_empty() || !name.chars().all(ident_char) {
            continue;
        }
        let Some(end) = rest[eq..].find(';') else {
            continue;
        };
        let expr = rest[eq + 1..eq + end].trim().trim_start_matches('&').trim();
        let last = if expr.ends_with(')') {
            matching_open(expr)
                .and_then(|o| ident_before(expr[..o].trim_end(), expr[..o].trim_end().len()))
                .map(|(_, n)| n)
        } else {
            ident_before(expr, expr.len()).map(|(_, n)| n)
        };
        // Only a field or method of something (`x.waf`, `c.waf_of(d)`), never a bare call or value.
        let Some(last) = last else { continue };
        if !expr.contains('.') {
            continue;
        }
        let krate = decls
            .iter()
            .find(|(_, n, _)| n == last)
            .map(|(_, _, k)| k.clone())
            .or_else(|| {
                RECEIVERS
                    .iter()
                    .find(|(n, _)| *n == last)
                    .map(|(_, k)| (*k).to_owned())
            });
        if let Some(k) = krate {
            out.push((i, name.to_owned(), k));
        }
    }
    out
}

/// Where the `(` matching the `)` that ends `s` is.
fn matching_open(s: &str) -> Option<usize> {
    if !s.ends_with(')') {
        return None;
    }
    let mut depth = 0;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The calls in one source text; `fixed` the crate of the receiver `0` (a tag adapter's `self.0`).
pub fn calls_in_text(text: &str, file: &str, fixed: Option<&str>) -> Vec<Call> {
    calls_with(text, file, fixed, &[])
}

/// [`calls_in_text`], with the client declarations of the crate's other files (`fn waf_of(..) ->
/// &aws_sdk_wafv2::Client` in lib.rs, called in apply/waf.rs).
fn calls_with(
    text: &str,
    file: &str,
    fixed: Option<&str>,
    crate_decls: &[(usize, String, String)],
) -> Vec<Call> {
    let s = strip(text);
    let mut decls = declarations(&s);
    decls.extend(crate_decls.iter().cloned());
    decls.extend(aliases(&s, &decls));
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find("()").map(|i| i + from) {
        from = i + 2;
        let Some((start, method)) = ident_before(&s, i) else {
            continue;
        };
        if start == 0 || NOT_OPERATIONS.contains(&method) {
            continue;
        }
        if !method.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        // `.method()` after optional whitespace (chains over lines).
        let before = s[..start].trim_end();
        let Some(recv_end) = before.strip_suffix('.').map(str::len) else {
            continue;
        };
        let recv_text = s[..recv_end].trim_end();
        let receiver = if recv_text.ends_with(')') {
            matching_open(recv_text)
                .and_then(|o| {
                    ident_before(recv_text[..o].trim_end(), recv_text[..o].trim_end().len())
                })
                .map(|(_, n)| n)
        } else {
            ident_before(recv_text, recv_text.len()).map(|(_, n)| n)
        };
        let Some(receiver) = receiver else { continue };
        let krate = if receiver == "0" || fixed.is_some() {
            // In a tag adapter only its own client (`self.0`) is called.
            fixed.filter(|_| receiver == "0").map(str::to_owned)
        } else {
            // The nearest declaration before the call (a parameter), else any in the file (a method
            // returning a client may come after its callers).
            decls
                .iter()
                .rfind(|(p, n, _)| *p < i && n == receiver)
                .or_else(|| decls.iter().find(|(_, n, _)| n == receiver))
                .map(|(_, _, k)| k.clone())
                .or_else(|| {
                    RECEIVERS
                        .iter()
                        .find(|(n, _)| *n == receiver)
                        .map(|(_, k)| (*k).to_owned())
                })
        };
        let Some(krate) = krate else { continue };
        let line = bytes[..i].iter().filter(|b| **b == b'\n').count() + 1;
        out.push(Call {
            service: prefix_of(&krate),
            operation: method.to_owned(),
            at: format!("{file}:{line}"),
        });
    }
    out
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every SDK call of the tool whose crate is at `manifest_dir`, with the hms-core code it uses.
pub fn calls(manifest_dir: &Path) -> Vec<Call> {
    let mut files = Vec::new();
    rs_files(&manifest_dir.join("src"), &mut files);
    let mut out = Vec::new();
    let mut all = String::new();
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| {
            (
                f.strip_prefix(manifest_dir)
                    .unwrap_or(f)
                    .display()
                    .to_string(),
                std::fs::read_to_string(f).unwrap_or_default(),
            )
        })
        .collect();
    // Another file's declarations count as "somewhere in the file" (position past every call).
    let crate_decls: Vec<(usize, String, String)> = texts
        .iter()
        .flat_map(|(_, t)| declarations(&strip(t)))
        .map(|(_, n, k)| (usize::MAX, n, k))
        .collect();
    for (name, text) in &texts {
        out.extend(calls_with(text, name, None, &crate_decls));
        all.push_str(&strip(text));
    }
    let core = manifest_dir.join("../hms-core/src");
    if all.contains("hms_core::s3") {
        let text = std::fs::read_to_string(core.join("s3.rs")).unwrap_or_default();
        out.extend(calls_in_text(&text, "hms-core/src/s3.rs", None));
    }
    let tags = std::fs::read_to_string(core.join("aws_tags.rs")).unwrap_or_default();
    for (adapter, krate, chunk) in adapters(&tags) {
        if all.contains(&adapter) {
            out.extend(calls_in_text(
                &chunk,
                &format!("hms-core/src/aws_tags.rs ({adapter})"),
                Some(&krate),
            ));
        }
    }
    out
}

/// The tag adapters of `aws_tags.rs`: (name, crate, the text of its `impl TagApi`).
fn adapters(text: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let marker = "impl TagApi for ";
    let starts: Vec<usize> = text.match_indices(marker).map(|(i, _)| i).collect();
    for (n, &i) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let chunk = &text[i..end];
        let name: String = chunk[marker.len()..]
            .chars()
            .take_while(|c| ident_char(*c))
            .collect();
        let decl = format!("pub struct {name}<'a>(pub &'a aws_sdk_");
        let Some(d) = text.find(&decl) else { continue };
        let krate: String = text[d + decl.len()..]
            .chars()
            .take_while(|c| ident_char(*c))
            .collect();
        out.push((name, krate, chunk.to_owned()));
    }
    out
}

/// The calls of the tool at `manifest_dir` whose actions `lists` do not hold, one line each.
pub fn missing(manifest_dir: &Path, lists: &[&[Permission]]) -> Vec<String> {
    let listed: Vec<&str> = lists
        .iter()
        .flat_map(|l| l.iter())
        .flat_map(|p| p.actions.iter().copied())
        .collect();
    let mut out: Vec<String> = calls(manifest_dir)
        .into_iter()
        .flat_map(|c| {
            c.actions()
                .into_iter()
                .filter(|a| !listed.iter().any(|l| l.eq_ignore_ascii_case(a)))
                .map(|a| format!("{a} (called as {}() at {})", c.operation, c.at))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The actions of `lists` that no call of the tool needs (a list kept longer than the code): those
/// `extra` (permissions AWS checks beyond the call's own, `iam:PassRole`) does not hold.
pub fn unused(manifest_dir: &Path, list: &[Permission], extra: &[&str]) -> Vec<String> {
    let called: Vec<String> = calls(manifest_dir)
        .into_iter()
        .flat_map(|c| c.actions())
        .collect();
    let mut out: Vec<String> = list
        .iter()
        .flat_map(|p| p.actions.iter())
        .filter(|a| !called.iter().any(|c| c.eq_ignore_ascii_case(a)) && !extra.contains(a))
        .map(|a| (*a).to_owned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Everything each tool's test checks of its list, one line per problem (empty when none): every call
/// of its source listed ([`missing`]), no listed action that no call needs beyond `extra` ([`unused`]),
/// the list's own shape ([`super::lint`], `names` the tool's [`crate::contract::Tool::permission_names`]
/// keys), and the JSON check of its policy for every command ([`super::check_policy`]).
pub fn check(
    manifest_dir: &Path,
    list: &[Permission],
    names: &[&'static str],
    extra: &[&str],
) -> Vec<String> {
    let mut out: Vec<String> = missing(manifest_dir, &[list, super::verb::CORE])
        .into_iter()
        .map(|m| format!("not in src/permissions.rs: {m}"))
        .collect();
    out.extend(
        unused(manifest_dir, list, extra)
            .into_iter()
            .map(|a| format!("listed but called nowhere (or misspelt): {a}")),
    );
    out.extend(super::lint(list, names));
    let id = crate::document::Identity {
        stack: "hms".into(),
        env: "staging".into(),
        region: "eu-west-1".into(),
    };
    let vars = super::Vars::new(&id, "123456789012")
        .with(names.iter().map(|n| (*n, format!("{n}-value"))).collect());
    let exempt = super::exempt(list);
    for command in [
        super::PolicyCommand::Plan,
        super::PolicyCommand::Up,
        super::PolicyCommand::Down,
        super::PolicyCommand::All,
    ] {
        let doc = super::policy(&super::Request {
            tool: "hms-test",
            list,
            command,
            vars: &vars,
            state: None,
        });
        out.extend(
            super::check_policy(&doc, &exempt)
                .into_iter()
                .map(|m| format!("{command:?} policy: {m}")),
        );
        let text = doc.to_string();
        for var in ["partition", "region", "account", "stack", "env", "name"]
            .iter()
            .chain(names)
        {
            if text.contains(&format!("{{{var}}}")) {
                out.push(format!("{command:?} policy: {{{var}}} left unfilled"));
            }
        }
    }
    out
}

/// The unit test of every tool's `src/permissions.rs`: every SDK call in its source (and the hms-core
/// code it uses) is listed, nothing listed is unused, and its policies pass the JSON check. `names`: the
/// template names the tool fills beyond the identity; `extra`: actions AWS checks beyond the calls.
#[macro_export]
macro_rules! permissions_test {
    ($names:expr, $extra:expr) => {
        #[cfg(test)]
        mod tests {
            #[test]
            fn the_list_matches_the_calls() {
                let problems = $crate::permissions::scan::check(
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
                    super::PERMISSIONS,
                    $names,
                    $extra,
                );
                assert!(problems.is_empty(), "{}", problems.join("\n"));
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_calls_by_receiver_and_declaration() {
        let src = r#"
            // self.ec2.create_vpc() in a comment is no call
            async fn f(c: &Clients, cf: &aws_sdk_cloudfront::Client) {
                let s = "x.ec2.delete_vpc()";
                c.ec2
                    .describe_vpcs()
                    .send()
                    .await;
                cf.get_distribution().id("x").send().await;
                self.waf_of(door).list_web_acls().send().await;
                c.s3.clone();
                c.logs.put_retention_policy().send().await;
                let w = c.waf_of(door);
                w.update_web_acl().send().await;
                let logs = vec![1];
                logs.sort();
            }
            fn waf_of(&self, d: Door) -> &aws_sdk_wafv2::Client { &self.waf }
            #[cfg(test)]
            mod tests { fn g() { c.ec2.delete_subnet(); } }
        "#;
        let found: Vec<String> = calls_in_text(src, "x.rs", None)
            .iter()
            .flat_map(Call::actions)
            .collect();
        assert_eq!(
            found,
            [
                "ec2:DescribeVpcs",
                "cloudfront:GetDistribution",
                "wafv2:ListWebAcls",
                "logs:PutRetentionPolicy",
                "wafv2:UpdateWebAcl"
            ]
        );
    }

    #[test]
    fn s3_actions_that_differ_from_the_operation() {
        let c = |op: &str| Call {
            service: "s3".into(),
            operation: op.into(),
            at: String::new(),
        };
        assert_eq!(c("head_bucket").actions(), ["s3:ListBucket"]);
        assert_eq!(
            c("delete_objects").actions(),
            ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        );
        assert_eq!(
            c("put_bucket_versioning").actions(),
            ["s3:PutBucketVersioning"]
        );
    }
}

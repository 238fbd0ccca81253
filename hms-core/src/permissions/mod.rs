//! The least privilege of a tool: its list of the IAM actions its calls need ([`Permission`], one list per
//! tool in its `src/permissions.rs`, exposed as [`crate::contract::Tool::PERMISSIONS`]), and the policy
//! `hms-<tool> permissions` prints from it ([`policy`]).
//!
//! Each entry names its actions, the commands that make them ([`Needs`]: `plan` only reads; `up` makes
//! every call `up` can make, deletes included; `down` its reads and deletes) and where they apply
//! ([`Scope`]): ARNs built from the stack, env, region and account (and names the tool takes from its
//! config, `{bucket}`), the same ARNs with an `aws:ResourceTag/hms:*` condition where the ids are not
//! known in advance, with `aws:RequestTag/hms:*` on creates, or `*` with the reason where AWS has no
//! resource-level permission for the action.
//!
//! Output formats (stdout, not a pipeline stage):
//! - `json`: an IAM policy document, `{"Version": "2012-10-17", "Statement": [...]}`; statements grouped by
//!   resource and condition, actions sorted and unique, statements sorted, so that the same inputs give
//!   the same bytes (a CI diff of the policy shows only real changes).
//! - `terraform`: the same statements as a `data "aws_iam_policy_document" "<tool>_<command>"` block.
//!
//! [`scan`] is what each tool's unit test runs: every SDK operation its source calls must be in its list.

pub mod scan;
pub mod verb;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::state::s3::S3Location;

/// Which commands need an entry's actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub plan: bool,
    pub up: bool,
    pub down: bool,
}

/// Reads: every command observes first.
pub const READ: Needs = Needs {
    plan: true,
    up: true,
    down: true,
};
/// Creates and updates: only `up`.
pub const UP: Needs = Needs {
    plan: false,
    up: true,
    down: false,
};
/// Deletes (and what `down` changes before a delete): `up` (replacements, drift removal) and `down`.
pub const UP_DOWN: Needs = Needs {
    plan: false,
    up: true,
    down: true,
};

/// Where an entry's actions apply. ARN templates may use `{partition}`, `{region}`, `{account}`,
/// `{stack}`, `{env}`, `{name}` (the stack's name prefix: `<stack>-` in production, else
/// `<stack>-<env>-`, as `Tagger::name`) and the names a tool adds ([`crate::contract::Tool::permission_names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// These ARNs.
    Arns(&'static [&'static str]),
    /// These ARNs, only on resources tagged `hms:stack`/`hms:env` of this stack (`aws:ResourceTag`).
    Tagged(&'static [&'static str]),
    /// These ARNs, only when the request tags the new resource with this stack (`aws:RequestTag`).
    Create(&'static [&'static str]),
    /// `*`: AWS has no resource-level permission for these actions (the reason says so), or they are
    /// reads (`Describe*`/`List*`, which mostly have none either).
    Any(&'static str),
}

/// One entry of a tool's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// IAM actions, `ec2:CreateVpc`.
    pub actions: &'static [&'static str],
    pub needs: Needs,
    pub scope: Scope,
}

/// The entry shorthand the tools' lists use.
pub const fn allow(actions: &'static [&'static str], needs: Needs, scope: Scope) -> Permission {
    Permission {
        actions,
        needs,
        scope,
    }
}

/// A tool verb's own action (`hms-db reserve` buys reservations): listed, so that the scan finds its
/// call covered, but in no policy of `plan`, `up`, `down` or `all`; granted by hand to whoever runs it.
pub const VERB: Needs = Needs {
    plan: false,
    up: false,
    down: false,
};

/// `--command` of `permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyCommand {
    Plan,
    Up,
    Down,
    All,
}

impl PolicyCommand {
    fn name(self) -> &'static str {
        match self {
            PolicyCommand::Plan => "plan",
            PolicyCommand::Up => "up",
            PolicyCommand::Down => "down",
            PolicyCommand::All => "all",
        }
    }

    fn wants(self, needs: Needs) -> bool {
        match self {
            PolicyCommand::Plan => needs.plan,
            PolicyCommand::Up => needs.up,
            PolicyCommand::Down => needs.down,
            PolicyCommand::All => needs.plan || needs.up || needs.down,
        }
    }
}

/// `--format` of `permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PolicyFormat {
    #[default]
    Json,
    Terraform,
}

/// Whether `action` only reads (its verb: Describe, Get, List, Head).
pub fn is_read(action: &str) -> bool {
    let op = action.split_once(':').map_or(action, |(_, op)| op);
    ["Describe", "Get", "List", "Head"]
        .iter()
        .any(|p| op.starts_with(p))
}

/// What the templates are filled with.
#[derive(Debug, Clone)]
pub struct Vars {
    values: BTreeMap<String, String>,
}

impl Vars {
    /// The identity's values; `account` the account id the ARNs name.
    pub fn new(id: &crate::document::Identity, account: &str) -> Self {
        let partition = if id.region.starts_with("cn-") {
            "aws-cn"
        } else if id.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let name = if id.env == "production" {
            format!("{}-", id.stack)
        } else {
            format!("{}-{}-", id.stack, id.env)
        };
        let values = [
            ("partition", partition.to_owned()),
            ("region", id.region.clone()),
            ("account", account.to_owned()),
            ("stack", id.stack.clone()),
            ("env", id.env.clone()),
            ("name", name),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Vars { values }
    }

    /// Adds a tool's own names (`bucket`).
    pub fn with(mut self, names: Vec<(&'static str, String)>) -> Self {
        for (k, v) in names {
            self.values.insert(k.to_owned(), v);
        }
        self
    }

    /// `template` with every `{var}` replaced; an unknown var is kept as written (a test catches it).
    pub fn fill(&self, template: &str) -> String {
        let mut out = template.to_owned();
        for (k, v) in &self.values {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    fn get(&self, k: &str) -> &str {
        self.values.get(k).map_or("", String::as_str)
    }
}

/// Where a statement applies: its resources and conditions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Resources, sorted; `["*"]` for any.
    pub resources: Vec<String>,
    /// (test, variable, values), sorted.
    pub conditions: Vec<(String, String, Vec<String>)>,
}

/// The state store's own permissions (S3 only; a local directory needs none): list the stack's prefix,
/// read every tool's state (a tool run alone reads its upstreams' outputs), write this tool's state
/// object and lock object, delete the lock.
pub fn state_permissions(
    loc: &S3Location,
    vars: &Vars,
    tool: &str,
    kms_key: Option<&str>,
) -> Vec<(Vec<&'static str>, Needs, Key)> {
    let stack_dir = format!("{}-{}", vars.get("stack"), vars.get("env"));
    let dir = if loc.prefix.is_empty() {
        format!("{stack_dir}/")
    } else {
        format!("{}/{stack_dir}/", loc.prefix)
    };
    let p = vars.get("partition");
    let bucket = format!("arn:{p}:s3:::{}", loc.bucket);
    let object = |k: &str| format!("{bucket}/{dir}{k}");
    let mut out = vec![
        (
            vec!["s3:ListBucket"],
            READ,
            Key {
                resources: vec![bucket.clone()],
                conditions: vec![(
                    "StringLike".into(),
                    "s3:prefix".into(),
                    vec![dir.clone(), format!("{dir}*")],
                )],
            },
        ),
        (
            vec!["s3:GetObject"],
            READ,
            Key {
                resources: vec![object("*")],
                conditions: vec![],
            },
        ),
        // Every command holds the lock: written with If-None-Match, released with If-Match.
        (
            vec!["s3:PutObject", "s3:DeleteObject"],
            READ,
            Key {
                resources: vec![object(&format!("{tool}.lock"))],
                conditions: vec![],
            },
        ),
        (
            vec!["s3:PutObject"],
            UP_DOWN,
            Key {
                resources: vec![object(&format!("{tool}.json"))],
                conditions: vec![],
            },
        ),
    ];
    if let Some(key) = kms_key {
        let arn = if key.starts_with("arn:") {
            key.to_owned()
        } else if key.starts_with("alias/") {
            format!(
                "arn:{p}:kms:{}:{}:{key}",
                vars.get("region"),
                vars.get("account")
            )
        } else {
            format!(
                "arn:{p}:kms:{}:{}:key/{key}",
                vars.get("region"),
                vars.get("account")
            )
        };
        out.push((
            vec!["kms:Decrypt", "kms:GenerateDataKey"],
            READ,
            Key {
                resources: vec![arn],
                conditions: vec![],
            },
        ));
    }
    out
}

/// What the policy is built from.
#[derive(Debug)]
pub struct Request<'a> {
    /// The tool's name, `hms-vpc`.
    pub tool: &'a str,
    pub list: &'a [Permission],
    pub command: PolicyCommand,
    pub vars: &'a Vars,
    /// The S3 state store, when `--state` is one, and its KMS key.
    pub state: Option<(&'a S3Location, Option<&'a str>)>,
}

/// The policy's statements, grouped by resource and condition (`Sid`, actions, resources, conditions).
pub fn statements(req: &Request<'_>) -> Vec<(String, Vec<String>, Key)> {
    let mut groups: BTreeMap<Key, Vec<String>> = BTreeMap::new();
    let tag_conditions = |prefix: &str| -> Vec<(String, String, Vec<String>)> {
        vec![
            (
                "StringEquals".into(),
                format!("{prefix}/hms:env"),
                vec![req.vars.get("env").to_owned()],
            ),
            (
                "StringEquals".into(),
                format!("{prefix}/hms:stack"),
                vec![req.vars.get("stack").to_owned()],
            ),
        ]
    };
    for p in req.list.iter().filter(|p| req.command.wants(p.needs)) {
        let fill = |ts: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = ts.iter().map(|t| req.vars.fill(t)).collect();
            v.sort();
            v.dedup();
            v
        };
        let key = match p.scope {
            Scope::Arns(ts) => Key {
                resources: fill(ts),
                conditions: vec![],
            },
            Scope::Tagged(ts) => Key {
                resources: fill(ts),
                conditions: tag_conditions("aws:ResourceTag"),
            },
            Scope::Create(ts) => Key {
                resources: fill(ts),
                conditions: tag_conditions("aws:RequestTag"),
            },
            Scope::Any(_) => Key {
                resources: vec!["*".into()],
                conditions: vec![],
            },
        };
        groups
            .entry(key)
            .or_default()
            .extend(p.actions.iter().map(|a| (*a).to_owned()));
    }
    if let Some((loc, kms)) = req.state {
        for (actions, needs, k) in state_permissions(loc, req.vars, req.tool, kms) {
            if req.command.wants(needs) {
                groups
                    .entry(k)
                    .or_default()
                    .extend(actions.into_iter().map(str::to_owned));
            }
        }
    }
    let mut out: Vec<(String, Vec<String>, Key)> = groups
        .into_iter()
        .map(|(k, mut actions)| {
            actions.sort();
            actions.dedup();
            (String::new(), actions, k)
        })
        .collect();
    // Reads on `*` first, then by the first action: stable and easy to read.
    out.sort_by(|a, b| {
        let any = |k: &Key| k.resources != ["*"];
        (any(&a.2), &a.1, &a.2.resources).cmp(&(any(&b.2), &b.1, &b.2.resources))
    });
    for (i, s) in out.iter_mut().enumerate() {
        s.0 = sid(&s.1, i);
    }
    out
}

/// `S01ReadAny`-style statement ids: the index (stable order) and the first action's service.
fn sid(actions: &[String], i: usize) -> String {
    let service: String = actions
        .first()
        .and_then(|a| a.split(':').next())
        .unwrap_or("x")
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("S{:02}{service}", i + 1)
}

/// The IAM policy document.
pub fn policy(req: &Request<'_>) -> Value {
    let statements: Vec<Value> = statements(req)
        .into_iter()
        .map(|(sid, actions, key)| {
            let mut st = Map::new();
            st.insert("Sid".into(), Value::from(sid));
            st.insert("Effect".into(), Value::from("Allow"));
            st.insert("Action".into(), json!(actions));
            st.insert(
                "Resource".into(),
                if key.resources == ["*"] {
                    Value::from("*")
                } else {
                    json!(key.resources)
                },
            );
            if !key.conditions.is_empty() {
                let mut cond: Map<String, Value> = Map::new();
                for (test, var, values) in key.conditions {
                    let entry = cond
                        .entry(test)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = entry {
                        m.insert(
                            var,
                            if values.len() == 1 {
                                Value::from(values[0].clone())
                            } else {
                                json!(values)
                            },
                        );
                    }
                }
                st.insert("Condition".into(), Value::Object(cond));
            }
            Value::Object(st)
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The `aws_iam_policy_document` data source with the same statements.
pub fn terraform(req: &Request<'_>) -> String {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let list = |v: &[String]| {
        v.iter()
            .map(|s| format!("      {},\n", q(s)))
            .collect::<String>()
    };
    let name = format!("{}_{}", req.tool.replace('-', "_"), req.command.name());
    let mut out = format!("data \"aws_iam_policy_document\" \"{name}\" {{\n");
    for (sid, actions, key) in statements(req) {
        out.push_str("  statement {\n");
        out.push_str(&format!("    sid    = {}\n", q(&sid)));
        out.push_str("    effect = \"Allow\"\n");
        out.push_str(&format!("    actions = [\n{}    ]\n", list(&actions)));
        out.push_str(&format!(
            "    resources = [\n{}    ]\n",
            list(&key.resources)
        ));
        for (test, var, values) in &key.conditions {
            out.push_str("    condition {\n");
            out.push_str(&format!("      test     = {}\n", q(test)));
            out.push_str(&format!("      variable = {}\n", q(var)));
            out.push_str(&format!(
                "      values   = [{}]\n",
                values.iter().map(|v| q(v)).collect::<Vec<_>>().join(", ")
            ));
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

/// What is wrong with a tool's list, one line each (empty when nothing is): an action without a service
/// prefix or with a wildcard, a write action on `*` without a reason, a template variable no one fills.
pub fn lint(list: &[Permission], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let known = ["partition", "region", "account", "stack", "env", "name"];
    for p in list {
        for a in p.actions {
            if !a.contains(':') || a.contains('*') {
                out.push(format!("{a}: name one action with its service prefix"));
            }
            if !is_read(a) && p.needs.plan {
                out.push(format!("{a}: plan only reads; give it UP or UP_DOWN"));
            }
        }
        let templates: &[&str] = match p.scope {
            Scope::Arns(t) | Scope::Tagged(t) | Scope::Create(t) => t,
            Scope::Any(reason) => {
                if reason.trim().is_empty() {
                    out.push(format!("{:?}: `*` needs its reason", p.actions));
                }
                &[]
            }
        };
        if templates.is_empty() && !matches!(p.scope, Scope::Any(_)) {
            out.push(format!("{:?}: no resource", p.actions));
        }
        for t in templates {
            if *t == "*" {
                out.push(format!(
                    "{:?}: use Scope::Any with the reason for `*`",
                    p.actions
                ));
            }
            let mut rest = *t;
            while let Some(i) = rest.find('{') {
                let Some(j) = rest[i..].find('}') else { break };
                let var = &rest[i + 1..i + j];
                if !known.contains(&var) && !names.contains(&var) {
                    out.push(format!("{t}: no value for {{{var}}}"));
                }
                rest = &rest[i + j + 1..];
            }
        }
    }
    out
}

/// The JSON check of a printed policy: a list of what is wrong (empty when nothing is): an `Action: "*"`
/// (or a wildcard action), a write action on `Resource: "*"` that `exempt` (the actions the tools list
/// with a reason, [`Scope::Any`]) does not hold.
pub fn check_policy(doc: &Value, exempt: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    if doc.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        out.push("Version is not 2012-10-17".into());
    }
    let Some(statements) = doc.get("Statement").and_then(Value::as_array) else {
        out.push("no Statement list".into());
        return out;
    };
    for st in statements {
        let actions: Vec<&str> = match st.get("Action") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => {
                out.push(format!("statement without Action: {st}"));
                continue;
            }
        };
        let any_resource = match st.get("Resource") {
            Some(Value::String(s)) => s == "*",
            Some(Value::Array(a)) => a.iter().any(|r| r == "*"),
            _ => {
                out.push(format!("statement without Resource: {st}"));
                false
            }
        };
        for a in actions {
            if a.contains('*') {
                out.push(format!("wildcard action {a:?}"));
            }
            if any_resource && !is_read(a) && !exempt.contains(&a) {
                out.push(format!(
                    "{a} on Resource \"*\" without a reason (Scope::Any)"
                ));
            }
        }
    }
    out
}

/// The write actions of `list` that are on `*`, each with its reason (Scope::Any).
pub fn exempt(list: &[Permission]) -> Vec<&'static str> {
    list.iter()
        .filter(|p| matches!(p.scope, Scope::Any(_)))
        .flat_map(|p| p.actions.iter().copied())
        .filter(|a| !is_read(a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Identity;

    const LIST: &[Permission] = &[
        allow(&["ec2:DescribeVpcs"], READ, Scope::Any("read")),
        allow(
            &["ec2:CreateVpc"],
            UP,
            Scope::Create(&["arn:{partition}:ec2:{region}:{account}:vpc/*"]),
        ),
        allow(
            &["ec2:DeleteVpc"],
            UP_DOWN,
            Scope::Tagged(&["arn:{partition}:ec2:{region}:{account}:vpc/*"]),
        ),
        allow(
            &["iam:DeleteRole", "iam:CreateRole"],
            UP,
            Scope::Arns(&["arn:{partition}:iam::{account}:role/{name}flow"]),
        ),
    ];

    fn vars() -> Vars {
        Vars::new(
            &Identity {
                stack: "hms".into(),
                env: "staging".into(),
                region: "eu-west-1".into(),
            },
            "123456789012",
        )
    }

    fn req(command: PolicyCommand) -> Value {
        let v = vars();
        policy(&Request {
            tool: "hms-vpc",
            list: LIST,
            command,
            vars: &v,
            state: None,
        })
    }

    #[test]
    fn plan_has_only_reads_and_up_everything() {
        let plan = req(PolicyCommand::Plan);
        assert_eq!(plan["Statement"].as_array().map(Vec::len), Some(1));
        assert_eq!(plan["Statement"][0]["Action"], json!(["ec2:DescribeVpcs"]));
        let up = req(PolicyCommand::Up).to_string();
        for a in ["ec2:CreateVpc", "ec2:DeleteVpc", "iam:CreateRole"] {
            assert!(up.contains(a), "{a} in {up}");
        }
        let down = req(PolicyCommand::Down).to_string();
        assert!(down.contains("ec2:DeleteVpc") && !down.contains("ec2:CreateVpc"));
    }

    #[test]
    fn templates_conditions_and_order() {
        let all = req(PolicyCommand::All);
        let text = all.to_string();
        assert!(text.contains("arn:aws:iam::123456789012:role/hms-staging-flow"));
        assert!(text.contains("\"aws:RequestTag/hms:stack\":\"hms\""));
        assert!(text.contains("\"aws:ResourceTag/hms:env\":\"staging\""));
        // Deterministic: the same input, the same bytes; actions sorted within a statement.
        assert_eq!(text, req(PolicyCommand::All).to_string());
        let iam = all["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["Action"][0] == "iam:CreateRole");
        assert_eq!(
            iam.map(|s| s["Action"].clone()),
            Some(json!(["iam:CreateRole", "iam:DeleteRole"]))
        );
        assert!(check_policy(&all, &exempt(LIST)).is_empty());
    }

    #[test]
    fn the_json_check_finds_what_is_wrong() {
        let bad = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["xray:PutTraceSegments"], "Resource": "*"}]});
        let found = check_policy(&bad, &["xray:PutTraceSegments"]);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(lint(LIST, &[]).is_empty(), "{:?}", lint(LIST, &[]));
        let wrong = [allow(&["s3:PutObject"], READ, Scope::Arns(&["{bucket}"]))];
        assert_eq!(lint(&wrong, &[]).len(), 2, "{:?}", lint(&wrong, &[]));
    }

    #[test]
    fn state_store_permissions() {
        let v = vars();
        let loc = S3Location {
            bucket: "tfstate".into(),
            prefix: "prod".into(),
        };
        let doc = policy(&Request {
            tool: "hms-vpc",
            list: &[],
            command: PolicyCommand::Plan,
            vars: &v,
            state: Some((&loc, None)),
        })
        .to_string();
        assert!(
            doc.contains("arn:aws:s3:::tfstate/prod/hms-staging/*"),
            "{doc}"
        );
        assert!(doc.contains("arn:aws:s3:::tfstate/prod/hms-staging/hms-vpc.lock"));
        assert!(!doc.contains("hms-vpc.json"), "plan writes no state: {doc}");
    }

    #[test]
    fn terraform_block() {
        let v = vars();
        let tf = terraform(&Request {
            tool: "hms-vpc",
            list: LIST,
            command: PolicyCommand::Up,
            vars: &v,
            state: None,
        });
        assert!(tf.starts_with("data \"aws_iam_policy_document\" \"hms_vpc_up\" {\n"));
        assert!(tf.contains("      \"ec2:CreateVpc\",\n"), "{tf}");
        assert!(tf.contains("variable = \"aws:RequestTag/hms:stack\""));
        assert!(tf.ends_with("}\n"));
    }
}

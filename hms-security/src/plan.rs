//! The desired security resources ([`desired`], one builder per kind: groups, rules, roles, keys) and the
//! plan against what exists. Pure.

use hms_core::addr::Address;
use hms_core::diff::{self, Desired, FoundSet};
use hms_core::plan::{Action, Plan};
use hms_core::policy::normalize;
use hms_core::terraform::{kept, kept_str};
use serde_json::Value;

use crate::addr::Addr;
use crate::documents::{
    ecs_trust, execution_policy, key_policy, monitoring_trust, render, replication_policy,
    replication_trust, task_policy,
};
use crate::observe::Observed;
use crate::spec::{
    Peer, Spec, CACHE_KEY, EXECUTION_MANAGED_POLICY, MONITORING_MANAGED_POLICY, REPLICA_KEY,
};

/// Every resource the spec wants. `observed` supplies the account and the ARNs that already exist.
pub fn desired(spec: &Spec, observed: &Observed) -> Vec<Desired> {
    let arn = |a: &str| {
        observed
            .found
            .get(a)
            .and_then(|f| f.info.get("arn"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut out = groups(spec, &observed.found);
    out.extend(rules(spec));
    out.extend(roles(spec, &observed.account, &arn));
    out.extend(keys(spec, &observed.account));
    out.extend(flow_logs_encryption(spec));
    out
}

/// hms-vpc's flow-log group encrypted with the `logs` key (hms-vpc runs before the key exists, so the
/// key's owner associates it): the key compared by its address.
fn flow_logs_encryption(spec: &Spec) -> Option<Desired> {
    let group = spec.flow_log_group.as_ref()?;
    let key = Addr::key(LOGS_KEY).to_string();
    Some(
        Desired::new(Addr::FlowLogsEncryption.to_string())
            .attr(
                "log_group",
                group
                    .clone()
                    .unwrap_or_else(|| "(known after hms-vpc up)".into()),
            )
            .attr("kms_key", key.clone())
            .replace_on(&["log_group"])
            .uses([key]),
    )
}

/// The key that encrypts the stack's log groups.
pub const LOGS_KEY: &str = "logs";

/// The four security groups: name, description and VPC cannot change in place (a group taken over from
/// Terraform keeps its name and description).
fn groups(spec: &Spec, found: &FoundSet) -> Vec<Desired> {
    let vpc = spec
        .vpc_id
        .clone()
        .unwrap_or_else(|| "(known after hms-vpc up)".into());
    spec.groups
        .iter()
        .map(|(group, name)| {
            let address = Addr::group(group);
            let a = address.to_string();
            let description = format!(
                "HMS {group} ({} {})",
                spec.tagger.id.stack, spec.tagger.id.env
            );
            let name = kept_str(found, &a, "name", name);
            Desired::new(a.clone())
                .attr("description", kept(found, &a, "description", description))
                .attr("name", name.clone())
                .attr("vpc", vpc.clone())
                .tags(spec.tags(&address, &name))
                .replace_on(&["name", "description", "vpc"])
        })
        .collect()
}

/// One resource per rule; a rule never changes in place (it is its own address).
fn rules(spec: &Spec) -> Vec<Desired> {
    spec.rules
        .iter()
        .map(|rule| {
            let group = Addr::group(&rule.group).to_string();
            let mut deps = vec![group.clone()];
            let peer = match &rule.peer {
                Peer::Cidr(c) => Value::from(c.to_string()),
                Peer::PrefixList(_) => Value::from(rule.peer.label()),
                Peer::Group(g) => {
                    let peer = Addr::group(g).to_string();
                    deps.push(peer.clone());
                    Value::from(peer)
                }
            };
            Desired::new(rule.address().to_string())
                .attr("group", group)
                .attr("egress", rule.egress)
                .attr("protocol", "tcp")
                .attr("ports", format!("{}-{}", rule.port, rule.port))
                .attr("peer", peer)
                .replace_on(&["group", "egress", "protocol", "ports", "peer"])
                .uses(deps)
        })
        .collect()
}

/// The execution role (with the managed policy and its inline policy), one task role per service, and the
/// enhanced-monitoring role (with its managed policy).
fn roles(spec: &Spec, account: &str, arn: &dyn Fn(&str) -> Option<String>) -> Vec<Desired> {
    let ecs = normalize(&ecs_trust(account));
    let role = |address: &Addr, name: &str| {
        Desired::new(address.to_string())
            .attr("name", name.to_owned())
            .attr("assume_role_policy", ecs.clone())
            .tags(spec.tags(address, name))
            .replace_on(&["name"])
    };
    let execution = Addr::ExecutionRole.to_string();
    let mut out = vec![
        role(&Addr::ExecutionRole, &spec.execution_role),
        Desired::new(Addr::ExecutionManaged.to_string())
            .attr("policy_arn", EXECUTION_MANAGED_POLICY)
            .replace_on(&["policy_arn"])
            .uses([execution.clone()]),
        Desired::new(Addr::ExecutionPolicy.to_string())
            .attr(
                "document",
                normalize(&render(&execution_policy(spec, account), arn)),
            )
            // Every key the document names must exist first (the cache key only in a stack with hms-cache).
            .uses(
                [
                    execution,
                    Addr::key("rds").to_string(),
                    Addr::key("logs").to_string(),
                ]
                .into_iter()
                .chain(spec.cache.then(|| Addr::key(CACHE_KEY).to_string())),
            ),
    ];
    for t in &spec.task_roles {
        let address = Addr::task_role(&t.service);
        out.push(role(&address, &t.name));
        let mut deps = vec![address.to_string()];
        if t.backup_write {
            deps.push(Addr::key("backups").to_string());
        }
        out.push(
            Desired::new(Addr::task_policy(&t.service).to_string())
                .attr(
                    "document",
                    normalize(&render(&task_policy(spec, t.backup_write), arn)),
                )
                .uses(deps),
        );
    }
    let monitoring = Addr::MonitoringRole;
    out.push(
        Desired::new(monitoring.to_string())
            .attr("name", spec.monitoring_role.clone())
            .attr("assume_role_policy", normalize(&monitoring_trust(account)))
            .tags(spec.tags(&monitoring, &spec.monitoring_role))
            .replace_on(&["name"]),
    );
    out.push(
        Desired::new(Addr::MonitoringManaged.to_string())
            .attr("policy_arn", MONITORING_MANAGED_POLICY)
            .replace_on(&["policy_arn"])
            .uses([monitoring.to_string()]),
    );
    if let Some(replica) = &spec.replica {
        let role = Addr::ReplicationRole;
        out.push(
            Desired::new(role.to_string())
                .attr("name", spec.replication_role.clone())
                .attr(
                    "assume_role_policy",
                    normalize(&replication_trust(spec, account)),
                )
                .tags(spec.tags(&role, &spec.replication_role))
                .replace_on(&["name"]),
        );
        out.push(
            Desired::new(Addr::ReplicationPolicy.to_string())
                .attr(
                    "document",
                    normalize(&render(&replication_policy(spec, &replica.region), arn)),
                )
                .uses([
                    role.to_string(),
                    Addr::key("backups").to_string(),
                    Addr::key(REPLICA_KEY).to_string(),
                ]),
        );
    }
    out
}

/// The keys (enabled, rotated, with their policy) and their aliases.
fn keys(spec: &Spec, account: &str) -> Vec<Desired> {
    let mut out = Vec::new();
    let replica = spec
        .replica
        .as_ref()
        .map(|r| (REPLICA_KEY.to_owned(), r.alias.clone()));
    for (name, alias_name) in spec.keys.iter().chain(replica.iter()) {
        let key = Addr::key(name);
        out.push(
            Desired::new(key.to_string())
                .attr(
                    "description",
                    format!(
                        "HMS {name} key ({} {})",
                        spec.tagger.id.stack, spec.tagger.id.env
                    ),
                )
                .attr("enabled", true)
                .attr("rotation", true)
                .attr("policy", normalize(&key_policy(spec, name, account)))
                .tags(spec.tags(&key, alias_name)),
        );
        out.push(
            Desired::new(Addr::alias(name).to_string())
                .attr("name", alias_name.clone())
                .attr("target", key.to_string())
                .replace_on(&["name"])
                .uses([key.to_string()]),
        );
    }
    out
}

fn is_rule(address: &str) -> bool {
    matches!(Addr::parse(address), Some(Addr::Rule { .. }))
}

/// The plan that makes AWS match the spec. Rules found that the spec does not have are drift: removed by
/// `up` without `--allow-destroy` (or kept with `security.keep_unmanaged_rules`).
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    let mut found: FoundSet = observed.found.clone();
    let wanted: Vec<String> = spec.rules.iter().map(|r| r.address().to_string()).collect();
    let unmanaged = |a: &str| {
        is_rule(a) && !wanted.iter().any(|w| w == a) && !observed.recorded_rules.contains(a)
    };
    if spec.keep_unmanaged_rules {
        found.retain(|a, _| !unmanaged(a));
    }
    let mut plan = diff::diff(&desired(spec, observed), &found);
    for c in &mut plan.changes {
        if let Some(Addr::Key(name)) = Addr::parse(&c.address) {
            if let Some((of, _)) = name.split_once(crate::addr::DUPLICATE) {
                // A key a killed run made beside the one in use: nothing encrypts with it.
                c.drift = true;
                c.reason = format!(
                    "a duplicate of security.kms.{of}, tagged as it (made by an interrupted run): its deletion is scheduled"
                );
                plan.notes.push(format!(
                    "{} duplicates security.kms.{of}; up schedules its deletion (a KMS key can be recovered during its pending window)",
                    c.address
                ));
            }
        }
        if c.action == Action::Delete && is_rule(&c.address) {
            // Removing a rule loses no data: drift removal, without --allow-destroy.
            c.drift = true;
            c.reason = if unmanaged(&c.address) {
                String::from("added outside hms-security: drift (security.keep_unmanaged_rules=true keeps it)")
            } else {
                String::from("no longer in the config")
            };
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hms_core::cli::NoFlags;
    use hms_core::config::Config;
    use hms_core::contract::{CommandKind, Flags, SpecInput};
    use hms_core::diff::Found;
    use hms_core::document::{Document, Identity};
    use hms_core::tags::Tagger;
    use serde_json::json;

    use super::*;

    const ACCOUNT: &str = "123456789012";

    /// The reference stack's 34 resources, in the plan's order.
    const REFERENCE: &[&str] = &[
        "security.sg.alb",
        "security.sg.ecs",
        "security.sg.database",
        "security.sg.cache",
        "security.rule.alb.ingress[tcp/80 from 0.0.0.0/0]",
        "security.rule.alb.ingress[tcp/80 from ::/0]",
        "security.rule.alb.ingress[tcp/443 from 0.0.0.0/0]",
        "security.rule.alb.ingress[tcp/443 from ::/0]",
        "security.rule.alb.egress[tcp/80 to sg:ecs]",
        "security.rule.alb.egress[tcp/8000 to sg:ecs]",
        "security.rule.cache.ingress[tcp/6379 from sg:ecs]",
        "security.rule.database.ingress[tcp/5432 from sg:ecs]",
        "security.rule.ecs.ingress[tcp/80 from sg:alb]",
        "security.rule.ecs.ingress[tcp/8000 from sg:alb]",
        "security.rule.ecs.egress[tcp/443 to 0.0.0.0/0]",
        "security.rule.ecs.egress[tcp/5432 to sg:database]",
        "security.rule.ecs.egress[tcp/6379 to sg:cache]",
        "security.iam.execution_role",
        "security.iam.execution_role.managed[AmazonECSTaskExecutionRolePolicy]",
        "security.iam.execution_role.policy",
        "security.iam.task_role[backend]",
        "security.iam.task_role[backend].policy",
        "security.iam.task_role[frontend]",
        "security.iam.task_role[frontend].policy",
        "security.iam.monitoring_role",
        "security.iam.monitoring_role.managed[AmazonRDSEnhancedMonitoringRole]",
        "security.kms.rds",
        "security.kms.rds.alias",
        "security.kms.backups",
        "security.kms.backups.alias",
        "security.kms.logs",
        "security.kms.logs.alias",
        "security.kms.alarms",
        "security.kms.alarms.alias",
    ];

    /// Every taggable resource of the reference stack: groups, roles, keys.
    const TAGGABLE: &[&str] = &[
        "security.sg.alb",
        "security.sg.ecs",
        "security.sg.database",
        "security.sg.cache",
        "security.iam.execution_role",
        "security.iam.task_role[backend]",
        "security.iam.task_role[frontend]",
        "security.iam.monitoring_role",
        "security.kms.rds",
        "security.kms.backups",
        "security.kms.logs",
        "security.kms.alarms",
    ];

    /// The spec of `config` (an hms.toml) with the stack's own `tags`, behind a VPC that exists.
    fn spec_of(config: &str, tags: &[(&str, &str)]) -> Spec {
        let id = Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        };
        let extra: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let tagger = Tagger::new(id.clone(), "hms-security", extra);
        let mut doc = Document::new(&id);
        doc.set_outputs("vpc", json!({"vpc_id": "vpc-1"}), &[]);
        let config = Config::from_toml(config, "hms.toml").expect("config");
        let flags: Flags<NoFlags, NoFlags, NoFlags> = Flags::default();
        crate::spec::build(&SpecInput {
            config: &config,
            tagger: &tagger,
            doc: &doc,
            command: CommandKind::Plan,
            flags: &flags,
            yes: false,
            tool: "hms-security",
        })
        .expect("spec")
    }

    /// An account with nothing in it.
    fn empty() -> Observed {
        Observed {
            account: ACCOUNT.into(),
            ..Observed::default()
        }
    }

    /// What AWS holds after `up` of `spec`: every desired resource as found, with ARNs, its rules recorded.
    fn converged(spec: &Spec) -> Observed {
        let mut o = empty();
        // Twice: the second pass renders the policy documents with the ARNs the first one found.
        for _ in 0..2 {
            for d in desired(spec, &o) {
                let mut f = Found::new(d.address.clone())
                    .info("arn", format!("arn:test:{}", d.address))
                    .uses(d.depends_on.clone());
                f.attrs = d.attrs.clone();
                f.tags = d.tags.clone();
                o.found.insert(d.address.clone(), f);
            }
        }
        o.recorded_rules = spec.rules.iter().map(|r| r.address().to_string()).collect();
        o
    }

    fn reference() -> Observed {
        converged(&spec_of("", &[]))
    }

    fn with(mut o: Observed, address: &str, key: &str, value: Value) -> Observed {
        if let Some(f) = o.found.get_mut(address) {
            f.attrs.insert(key.into(), value);
        }
        o
    }

    const DRIFT: &str =
        "added outside hms-security: drift (security.keep_unmanaged_rules=true keeps it)";

    /// The reference stack with an SSH rule added by hand to the ecs group.
    fn hand_made_rule() -> Observed {
        let mut o = reference();
        o.found.insert(
            "security.rule.ecs.ingress[tcp/22 from 0.0.0.0/0]".into(),
            Found::new("sg-ecs/ingress/tcp/22-22/0.0.0.0/0")
                .attr("group", "security.sg.ecs")
                .attr("egress", false)
                .attr("protocol", "tcp")
                .attr("ports", "22-22")
                .attr("peer", "0.0.0.0/0")
                .uses(["security.sg.ecs"]),
        );
        o
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            /// hms.toml of the run.
            config: &'static str,
            /// `[stack] tags` of the run.
            tags: &'static [(&'static str, &'static str)],
            /// What exists.
            found: fn() -> Observed,
            /// (address, action, reason), in any order.
            want: Vec<(&'static str, Action, &'static str)>,
        }
        let all = |action: Action, reason: &'static str, addresses: &[&'static str]| {
            addresses
                .iter()
                .map(|a| (*a, action, reason))
                .collect::<Vec<_>>()
        };
        let worker = "[ecs.services.worker]\nport = 9000\n";
        let cases = vec![
            Case {
                name: "an empty account creates the reference stack",
                config: "",
                tags: &[],
                found: empty,
                want: all(Action::Create, "new", REFERENCE),
            },
            Case {
                name: "a converged stack plans nothing",
                config: "",
                tags: &[],
                found: reference,
                want: vec![],
            },
            Case {
                name: "a stack tag updates the tags of every group, role and key, and nothing else",
                config: "",
                tags: &[("owner", "platform")],
                found: reference,
                want: all(Action::Update, "tags differ", TAGGABLE),
            },
            Case {
                name: "a rule added by hand is drift, deleted",
                config: "",
                tags: &[],
                found: hand_made_rule,
                want: vec![(
                    "security.rule.ecs.ingress[tcp/22 from 0.0.0.0/0]",
                    Action::Delete,
                    DRIFT,
                )],
            },
            Case {
                name: "a rule added by hand is kept when asked to",
                config: "[security]\nkeep_unmanaged_rules = true\n",
                tags: &[],
                found: hand_made_rule,
                want: vec![],
            },
            Case {
                name: "a rule the config no longer has is deleted",
                config: "[security]\nalb_ingress_cidrs = [\"0.0.0.0/0\"]\n",
                tags: &[],
                found: reference,
                want: all(
                    Action::Delete,
                    "no longer in the config",
                    &[
                        "security.rule.alb.ingress[tcp/80 from ::/0]",
                        "security.rule.alb.ingress[tcp/443 from ::/0]",
                    ],
                ),
            },
            Case {
                name: "a new service port adds its rule pair, task role and policy",
                config: worker,
                tags: &[],
                found: reference,
                want: all(
                    Action::Create,
                    "new",
                    &[
                        "security.rule.alb.egress[tcp/9000 to sg:ecs]",
                        "security.rule.ecs.ingress[tcp/9000 from sg:alb]",
                        "security.iam.task_role[worker]",
                        "security.iam.task_role[worker].policy",
                    ],
                ),
            },
            Case {
                name: "a removed service loses its rule pair, task role and policy",
                config: "",
                tags: &[],
                found: || converged(&spec_of("[ecs.services.worker]\nport = 9000\n", &[])),
                want: all(
                    Action::Delete,
                    "no longer in the config",
                    &[
                        "security.rule.alb.egress[tcp/9000 to sg:ecs]",
                        "security.rule.ecs.ingress[tcp/9000 from sg:alb]",
                        "security.iam.task_role[worker]",
                        "security.iam.task_role[worker].policy",
                    ],
                ),
            },
            Case {
                name: "a key whose alias is gone gets only its alias back",
                config: "",
                tags: &[],
                found: || {
                    let mut o = reference();
                    o.found.remove("security.kms.backups.alias");
                    o
                },
                want: vec![("security.kms.backups.alias", Action::Create, "new")],
            },
            Case {
                name: "a renamed group is replaced, with the rules that use it",
                config: "",
                tags: &[],
                found: || with(reference(), "security.sg.database", "name", "db".into()),
                want: vec![
                    (
                        "security.sg.database",
                        Action::Replace,
                        "name cannot change in place",
                    ),
                    (
                        "security.rule.database.ingress[tcp/5432 from sg:ecs]",
                        Action::Replace,
                        "security.sg.database is replaced",
                    ),
                    (
                        "security.rule.ecs.egress[tcp/5432 to sg:database]",
                        Action::Replace,
                        "security.sg.database is replaced",
                    ),
                ],
            },
            Case {
                name: "a changed trust policy is updated in place",
                config: "",
                tags: &[],
                found: || {
                    with(
                        reference(),
                        "security.iam.task_role[frontend]",
                        "assume_role_policy",
                        Value::Null,
                    )
                },
                want: vec![(
                    "security.iam.task_role[frontend]",
                    Action::Update,
                    "assume_role_policy differs",
                )],
            },
            Case {
                name: "a disabled key is enabled again",
                config: "",
                tags: &[],
                found: || with(reference(), "security.kms.rds", "enabled", false.into()),
                want: vec![("security.kms.rds", Action::Update, "enabled differs")],
            },
        ];
        for c in cases {
            let spec = spec_of(c.config, c.tags);
            let plan = plan(&spec, &(c.found)());
            let mut got: Vec<(&str, Action, &str)> = plan
                .changes
                .iter()
                .map(|x| (x.address.as_str(), x.action, x.reason.as_str()))
                .collect();
            got.sort_by_key(|x| x.0);
            let mut want = c.want;
            want.sort_by_key(|x| x.0);
            assert_eq!(got, want, "{}", c.name);
            // Removing a rule loses nothing: never needs --allow-destroy.
            for x in &plan.changes {
                if x.action == Action::Delete && is_rule(&x.address) {
                    assert!(x.drift, "{}: {}", c.name, x.address);
                }
            }
        }
    }

    #[test]
    fn a_group_taken_over_from_terraform_keeps_its_name_and_description() {
        let spec = spec_of("", &[]);
        let terraform = |o: Observed| {
            let mut o = with(
                o,
                "security.sg.alb",
                "name",
                json!("hms-alb-20261201093015"),
            );
            let f = o.found.get_mut("security.sg.alb").expect("alb");
            f.attrs
                .insert("description".into(), json!("Managed by Terraform"));
            f.tags = Some(BTreeMap::new());
            o
        };
        // Not imported: another name is a replacement (the group cannot be renamed).
        let plain = terraform(reference());
        let p = plan(&spec, &plain);
        let c = p.get("security.sg.alb").expect("change");
        assert_eq!(c.action, Action::Replace, "{}", c.reason);
        // Imported: only its tags change; its rules stay where they are.
        let mut imported = terraform(reference());
        imported
            .found
            .get_mut("security.sg.alb")
            .expect("alb")
            .info
            .insert(
                hms_core::terraform::IMPORTED.into(),
                json!("module.security.aws_security_group.alb"),
            );
        let p = plan(&spec, &imported);
        let c = p.get("security.sg.alb").expect("change");
        assert_eq!(
            (c.action, c.reason.as_str()),
            (Action::Update, "tags differ")
        );
        assert_eq!(
            c.after.as_ref().and_then(|a| a.get("name")),
            Some(&json!("hms-alb-20261201093015"))
        );
        assert!(p
            .changes
            .iter()
            .all(|c| c.action != Action::Replace && c.action != Action::Delete));
    }

    #[test]
    fn the_plan_keeps_its_order_for_an_empty_account() {
        let plan = plan(&spec_of("", &[]), &empty());
        let got: Vec<&str> = plan.changes.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(got, REFERENCE);
    }

    #[test]
    fn documents_name_keys_by_placeholder_until_they_exist() {
        let spec = spec_of("", &[]);
        let doc = |o: &Observed| {
            desired(&spec, o)
                .into_iter()
                .find(|d| d.address == "security.iam.execution_role.policy")
                .and_then(|d| d.attrs.get("document").cloned())
                .expect("document")
                .to_string()
        };
        assert!(doc(&empty()).contains("${security.kms.rds.arn}"));
        let known = doc(&reference());
        assert!(
            known.contains("arn:test:security.kms.rds") && !known.contains("${"),
            "{known}"
        );
    }

    #[test]
    fn cloudfront_ingress_closes_the_public_rules_for_one_from_the_prefix_list() {
        let reference = converged(&spec_of("", &[]));
        let spec = spec_of("[security]\nalb_ingress = \"cloudfront\"\n", &[]);
        assert_eq!(
            spec.prefix_lists,
            vec![crate::spec::CLOUDFRONT_ORIGIN_FACING.to_owned()]
        );
        let p = plan(&spec, &reference);
        let mut got: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|x| (x.address.as_str(), x.action))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("security.rule.alb.ingress[tcp/443 from 0.0.0.0/0]", Action::Delete),
                ("security.rule.alb.ingress[tcp/443 from ::/0]", Action::Delete),
                (
                    "security.rule.alb.ingress[tcp/443 from pl:com.amazonaws.global.cloudfront.origin-facing]",
                    Action::Create
                ),
                ("security.rule.alb.ingress[tcp/80 from 0.0.0.0/0]", Action::Delete),
                ("security.rule.alb.ingress[tcp/80 from ::/0]", Action::Delete),
            ]
        );
        // Converged on it, nothing more to do.
        assert!(plan(&spec, &converged(&spec)).is_empty());
    }

    #[test]
    fn cloudfront_ingress_with_cidrs_or_an_unknown_mode_is_refused() {
        for (config, key) in [
            (
                "[security]\nalb_ingress = \"cloudfront\"\nalb_ingress_cidrs = [\"10.0.0.0/8\"]\n",
                "remove security.alb_ingress_cidrs",
            ),
            ("[security]\nalb_ingress = \"cdn\"\n", "\"cloudfront\""),
        ] {
            let cfg = Config::from_toml(config, "hms.toml").expect("config");
            let section: crate::spec::SecurityConfig = cfg.section("security").expect("section");
            let err = crate::spec::alb_ingress_of(&cfg, &section).expect_err(config);
            assert!(
                err.to_string().contains("security.alb_ingress") && err.to_string().contains(key),
                "{err}"
            );
        }
    }

    #[test]
    fn a_replica_region_adds_the_replication_role_and_the_replica_key() {
        let s = spec_of("[backup]\nreplica_region = \"us-west-2\"\n", &[]);
        let p = plan(&s, &empty());
        let added: Vec<&str> = p
            .changes
            .iter()
            .map(|c| c.address.as_str())
            .filter(|a| !REFERENCE.contains(a))
            .collect();
        assert_eq!(
            added,
            [
                "security.iam.replication_role",
                "security.iam.replication_role.policy",
                "security.kms.backups_replica",
                "security.kms.backups_replica.alias",
            ]
        );
        let policy = p
            .changes
            .iter()
            .find(|c| c.address == "security.iam.replication_role.policy")
            .and_then(|c| c.after.clone())
            .expect("policy");
        let text = policy.to_string();
        assert!(
            text.contains("arn:aws:s3:::hms-backups-production-replica/*"),
            "{text}"
        );
        assert!(text.contains("s3.us-west-2.amazonaws.com"), "{text}");
    }

    #[test]
    fn replica_region_must_be_another_plausible_region() {
        for (text, says) in [
            ("us-east-1", "the stack's own region"),
            ("west", "not a region name"),
        ] {
            let id = Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "us-east-1".into(),
            };
            let tagger = Tagger::new(id.clone(), "hms-security", BTreeMap::new());
            let mut doc = Document::new(&id);
            doc.set_outputs("vpc", json!({"vpc_id": "vpc-1"}), &[]);
            let config = Config::from_toml(
                &format!("[backup]\nreplica_region = \"{text}\"\n"),
                "hms.toml",
            )
            .expect("config");
            let flags: Flags<NoFlags, NoFlags, NoFlags> = Flags::default();
            let e = crate::spec::build(&SpecInput {
                config: &config,
                tagger: &tagger,
                doc: &doc,
                command: CommandKind::Plan,
                flags: &flags,
                yes: false,
                tool: "hms-security",
            })
            .expect_err("refused")
            .to_string();
            assert!(
                e.contains("backup.replica_region") && e.contains(says),
                "{e}"
            );
        }
    }
}

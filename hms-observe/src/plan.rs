//! The desired topic, subscriptions, alarms, dashboard and X-Ray resources, and the plan against what
//! exists. Pure. Attributes that name the topic hold its address (`observe.topic`), so that a plan can be
//! made before the topic's ARN exists; tags are wanted on every resource that carries them (all but the
//! subscriptions and the dashboard).

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use serde_json::{Map, Value};

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{Alarm, Dim, EventSubscription, Spec};

/// An alarm's dimensions in the compared form; values not yet known name their producer.
pub fn dimensions(a: &Alarm) -> Value {
    Value::Object(
        a.dimensions
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    Value::from(
                        v.clone()
                            .unwrap_or_else(|| format!("(known after {} up)", a.producer)),
                    ),
                )
            })
            .collect::<Map<_, _>>(),
    )
}

/// The topic's `KmsMasterKeyId` as compared: the key's ARN, what stands for it while only planned, or
/// null (not encrypted: no hms-security in the stack).
pub fn topic_key(spec: &Spec) -> Value {
    match &spec.topic_key {
        None => Value::Null,
        Some(k) => Value::from(k.shown("hms-security")),
    }
}

/// The topic's ARN as the plan shows it (the account comes from hms-security's key ARN).
pub fn topic_arn(spec: &Spec) -> String {
    let account = spec
        .account
        .clone()
        .unwrap_or_else(|| "(known after hms-security up)".into());
    format!(
        "arn:{}:sns:{}:{account}:{}",
        crate::spec::partition(&spec.region),
        spec.region,
        spec.topic_name
    )
}

/// The event notification's id on the backup bucket (other notifications there are left alone).
pub const BACKUP_DELETIONS_ID: &str = "hms-observe-backup-deletions";

/// The backup bucket's events the topic hears of: every deleted object or version.
pub const BACKUP_DELETION_EVENTS: &[&str] = &["s3:ObjectRemoved:*"];

/// With the backup bucket in the stack, the topic's access policy: AWS's default statement (this account
/// may use the topic: the alarms and RDS events publish as the account) and S3 publishing the backup
/// bucket's deletions, only for that bucket of this account.
pub fn topic_policy(spec: &Spec, topic_arn: &str) -> Option<Value> {
    let bucket = spec.backup_bucket.as_ref()?.shown("hms-backup");
    // The topic's own account (the topic ARN is the observed one once the topic exists).
    let account = topic_arn.split(':').nth(4).unwrap_or_default();
    Some(serde_json::json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [
            {
                "Sid": "__default_statement_ID",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "SNS:GetTopicAttributes",
                    "SNS:SetTopicAttributes",
                    "SNS:AddPermission",
                    "SNS:RemovePermission",
                    "SNS:DeleteTopic",
                    "SNS:Subscribe",
                    "SNS:ListSubscriptionsByTopic",
                    "SNS:Publish",
                ],
                "Resource": topic_arn,
                "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
            },
            {
                "Sid": "BackupBucketDeletions",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{bucket}")},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            },
        ],
    }))
}

fn topic(spec: &Spec, arn: &str) -> Desired {
    let mut d = Desired::new(Addr::Topic)
        .attr("name", spec.topic_name.clone())
        .attr("kms_key", topic_key(spec));
    if let Some(policy) = topic_policy(spec, arn) {
        d = d.attr("policy", hms_core::policy::normalize(&policy));
    }
    d.tags(spec.tags(&Addr::Topic, &spec.topic_name))
        .replace_on(&["name"])
}

/// The backup bucket tells the topic of every deleted object (ransomware, a mistaken script, an expired
/// credential used to purge backups all show up as deletions).
fn backup_deletions(spec: &Spec) -> Option<Desired> {
    let bucket = spec.backup_bucket.as_ref()?.shown("hms-backup");
    Some(
        Desired::new(Addr::BackupDeletions)
            .attr("bucket", bucket)
            .attr("id", BACKUP_DELETIONS_ID)
            .attr("topic", Addr::Topic.to_string())
            .attr("events", BACKUP_DELETION_EVENTS.to_vec())
            .replace_on(&["bucket"])
            .uses([Addr::Topic]),
    )
}

fn subscription(email: &str) -> Desired {
    Desired::new(Addr::subscription(email))
        .attr("protocol", "email")
        .attr("endpoint", email)
        .attr("topic", Addr::Topic.to_string())
        .replace_on(&["protocol", "endpoint", "topic"])
        .uses([Addr::Topic])
}

fn alarm(spec: &Spec, a: &Alarm) -> Desired {
    let address = Addr::alarm(&a.key);
    let topic = Addr::Topic.to_string();
    Desired::new(address.clone())
        .attr("name", a.name.clone())
        .attr("description", a.description.clone())
        .attr("namespace", a.namespace.clone())
        .attr("metric", a.metric.clone())
        .attr("statistic", a.statistic.clone())
        .attr("dimensions", dimensions(a))
        .attr("comparison", a.comparison.as_str())
        .attr("threshold", a.threshold)
        .attr("period", a.period)
        .attr("evaluation_periods", a.evaluation_periods)
        .attr("treat_missing_data", a.treat_missing_data.clone())
        .attr("actions_enabled", true)
        .attr("alarm_actions", vec![topic.clone()])
        .attr("ok_actions", vec![topic])
        .tags(spec.tags(&address, &a.name))
        .replace_on(&["name"])
        .uses([Addr::Topic])
}

/// An RDS event subscription. RDS can change each attribute in place, but the emulator cannot
/// (no ModifyEventSubscription); a subscription holds no data, so a changed one is made anew.
fn rds_events(spec: &Spec, e: &EventSubscription) -> Desired {
    let address = Addr::rds_events(e.key);
    let id = match &e.source_id {
        Dim::Known(v) => v.clone(),
        Dim::Planned => "(known after hms-db up)".into(),
    };
    Desired::new(address.clone())
        .attr("name", e.name.clone())
        .attr("topic", Addr::Topic.to_string())
        .attr("source_type", e.source_type)
        .attr("source_ids", vec![id])
        .attr("categories", e.categories.clone())
        .attr("enabled", true)
        .tags(spec.tags(&address, &e.name))
        .replace_on(&[
            "name",
            "topic",
            "source_type",
            "source_ids",
            "categories",
            "enabled",
        ])
        .uses([Addr::Topic])
}

/// Dashboards carry no tags.
fn dashboard(spec: &Spec) -> Option<Desired> {
    let d = spec.dashboard.as_ref()?;
    Some(
        Desired::new(Addr::Dashboard)
            .attr("name", d.name.clone())
            .attr("body", d.body.clone())
            .replace_on(&["name"]),
    )
}

fn sampling_rule(spec: &Spec) -> Desired {
    let r = &spec.sampling;
    Desired::new(Addr::SamplingRule)
        .attr("name", r.name.clone())
        .attr("priority", r.priority)
        .attr("reservoir_size", r.reservoir_size)
        .attr("fixed_rate", r.fixed_rate)
        .attr("service_name", "*")
        .attr("service_type", "*")
        .attr("host", "*")
        .attr("http_method", "*")
        .attr("url_path", "*")
        .attr("resource_arn", "*")
        .attr("version", 1)
        .tags(spec.tags(&Addr::SamplingRule, &r.name))
        .replace_on(&["name", "version"])
}

fn group(spec: &Spec) -> Desired {
    Desired::new(Addr::Group)
        .attr("name", spec.group_name.clone())
        .attr("filter_expression", spec.group_filter.clone())
        .attr("insights", false)
        .tags(spec.tags(&Addr::Group, &spec.group_name))
        .replace_on(&["name"])
}

/// Every resource the spec wants (the topic's ARN as the plan shows it before the topic exists).
pub fn desired(spec: &Spec) -> Vec<Desired> {
    desired_with(spec, &topic_arn(spec))
}

/// Every resource the spec wants, the topic's policy naming `topic_arn`.
fn desired_with(spec: &Spec, topic_arn: &str) -> Vec<Desired> {
    let mut out = vec![topic(spec, topic_arn)];
    out.extend(spec.emails.iter().map(|e| subscription(e)));
    out.extend(spec.alarms.iter().map(|a| alarm(spec, a)));
    out.extend(spec.events.iter().map(|e| rds_events(spec, e)));
    out.extend(backup_deletions(spec));
    out.extend(dashboard(spec));
    out.push(sampling_rule(spec));
    out.push(group(spec));
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    // The topic's real ARN once it exists (its account is the caller's, with or without hms-security).
    let arn = observed
        .found
        .get(&Addr::Topic.to_string())
        .and_then(|f| f.info.get("arn"))
        .and_then(Value::as_str)
        .map_or_else(|| topic_arn(spec), str::to_owned);
    let mut plan = diff::diff(&desired_with(spec, &arn), &observed.found);
    plan.refused.extend(observed.conflicts.iter().cloned());
    plan.notes.extend(spec.notes.iter().cloned());
    if spec.topic_key.is_none() {
        plan.notes.push(String::from(
            "the alarm topic is not encrypted: the stack has no outputs.security (hms-security makes its key, kms_key_arns.alarms)",
        ));
    }
    plan
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hms_core::addr::Address;
    use hms_core::config::Config;
    use hms_core::contract::{CommandKind, Flags, SpecInput};
    use hms_core::diff::{Found, FoundSet};
    use hms_core::document::{Document, Identity};
    use hms_core::plan::Action;
    use hms_core::tags::Tagger;
    use serde_json::json;

    use super::*;

    const EMAIL: &str = "oncall@hospital.example";

    fn id() -> Identity {
        Identity {
            stack: "hms".into(),
            env: "production".into(),
            region: "us-east-1".into(),
        }
    }

    /// The spec for `[observe]` lines `observe`, stack tags `tags`, and a document with the ECS `services`
    /// behind a load balancer (no database).
    fn spec(observe: &str, tags: &[(&str, &str)], services: &[&str]) -> Spec {
        spec_with(observe, tags, services, &[], &id()).expect("spec")
    }

    /// As [`spec`], with more upstream sections (`("cache", {...}, unknown names)`) in `at`'s region.
    fn spec_with(
        observe: &str,
        tags: &[(&str, &str)],
        services: &[&str],
        more: &[(&str, Value, &[&str])],
        at: &Identity,
    ) -> hms_core::Result<Spec> {
        let text = format!("[observe]\nalarm_emails = [\"{EMAIL}\"]\n{observe}\n");
        let config = Config::from_toml(&text, "hms.toml").expect("config");
        let extra: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let tagger = Tagger::new(at.clone(), "hms-observe", extra);
        let mut doc = Document::new(at);
        for (section, value, unknown) in more {
            let unknown: Vec<String> = unknown.iter().map(|u| (*u).to_owned()).collect();
            doc.set_outputs(section, value.clone(), &unknown);
        }
        doc.outputs.insert(
            "ecs".into(),
            json!({
                "cluster_name": "hms-cluster",
                "services": services.iter().map(|k| ((*k).to_owned(), json!({"name": format!("hms-{k}")}))).collect::<Map<_, _>>(),
                "alb_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hms-alb/50dc6c495c0c9188",
            }),
        );
        crate::spec::build(&SpecInput {
            config: &config,
            tagger: &tagger,
            doc: &doc,
            command: CommandKind::Plan,
            flags: &Flags::default(),
            yes: false,
            tool: "hms-observe",
        })
    }

    /// What AWS holds once it matches `spec`.
    fn converged(spec: &Spec) -> FoundSet {
        desired(spec)
            .into_iter()
            .map(|d| {
                let mut f = Found::new(d.address.clone());
                f.attrs = d.attrs;
                f.tags = d.tags;
                (d.address, f)
            })
            .collect()
    }

    fn attr(found: &mut FoundSet, a: Addr, key: &str, value: Value) {
        if let Some(f) = found.get_mut(&a.to_string()) {
            f.attrs.insert(key.into(), value);
        }
    }

    #[test]
    fn table() {
        struct Case {
            name: &'static str,
            /// Lines added to `[observe]`.
            observe: &'static str,
            tags: &'static [(&'static str, &'static str)],
            services: &'static [&'static str],
            found: FoundSet,
            want: Vec<(Addr, Action)>,
        }
        let base = spec("", &[], &["backend"]);
        let conv = converged(&base);
        let with = |f: &dyn Fn(&mut FoundSet)| {
            let mut s = conv.clone();
            f(&mut s);
            s
        };
        let alarms = [
            "backend.cpu",
            "backend.memory",
            "alb.5xx",
            "alb.response_time",
        ]
        .map(Addr::alarm);
        let each = |action: Action, addrs: &[Addr]| -> Vec<(Addr, Action)> {
            addrs.iter().map(|a| (a.clone(), action)).collect()
        };
        let mut everything = vec![Addr::Topic, Addr::subscription(EMAIL)];
        everything.extend(alarms.iter().cloned());
        everything.extend([Addr::Dashboard, Addr::SamplingRule, Addr::Group]);
        let mut taggable = vec![Addr::Topic];
        taggable.extend(alarms.iter().cloned());
        taggable.extend([Addr::SamplingRule, Addr::Group]);
        let cases = vec![
            Case {
                name: "an empty account gets everything",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: FoundSet::new(),
                want: each(Action::Create, &everything),
            },
            Case {
                name: "converged is empty",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: conv.clone(),
                want: vec![],
            },
            Case {
                name: "a stack tag updates every taggable resource, and only those",
                observe: "",
                tags: &[("owner", "platform")],
                services: &["backend"],
                found: conv.clone(),
                want: each(Action::Update, &taggable),
            },
            Case {
                name: "a threshold is an update of its alarm",
                observe: "service_cpu_percent = 75",
                tags: &[],
                services: &["backend"],
                found: conv.clone(),
                want: vec![(Addr::alarm("backend.cpu"), Action::Update)],
            },
            Case {
                name: "a sampling rate is an update of the rule",
                observe: "sampling = { fixed_rate = 0.1 }",
                tags: &[],
                services: &["backend"],
                found: conv.clone(),
                want: vec![(Addr::SamplingRule, Action::Update)],
            },
            Case {
                name: "a service that leaves loses its alarms; the dashboard and the group follow",
                observe: "",
                tags: &[],
                services: &[],
                found: conv.clone(),
                want: vec![
                    (Addr::Dashboard, Action::Update),
                    (Addr::Group, Action::Update),
                    (Addr::alarm("backend.cpu"), Action::Delete),
                    (Addr::alarm("backend.memory"), Action::Delete),
                ],
            },
            Case {
                name: "a new service gets its alarms",
                observe: "",
                tags: &[],
                services: &["backend", "worker"],
                found: conv.clone(),
                want: vec![
                    (Addr::alarm("worker.cpu"), Action::Create),
                    (Addr::alarm("worker.memory"), Action::Create),
                    (Addr::Dashboard, Action::Update),
                    (Addr::Group, Action::Update),
                ],
            },
            Case {
                name: "an email no longer configured is unsubscribed",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: with(&|s| {
                    let mut f = s[&Addr::subscription(EMAIL).to_string()].clone();
                    f.attrs
                        .insert("endpoint".into(), json!("old@hospital.example"));
                    s.insert(Addr::subscription("old@hospital.example").to_string(), f);
                }),
                want: vec![(Addr::subscription("old@hospital.example"), Action::Delete)],
            },
            Case {
                name: "no dashboard deletes it",
                observe: "dashboard = false",
                tags: &[],
                services: &["backend"],
                found: conv.clone(),
                want: vec![(Addr::Dashboard, Action::Delete)],
            },
            Case {
                name: "a topic of another name is replaced, with what uses it",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: with(&|s| attr(s, Addr::Topic, "name", json!("hms-old-alarms"))),
                want: {
                    let mut w = vec![
                        (Addr::Topic, Action::Replace),
                        (Addr::subscription(EMAIL), Action::Replace),
                    ];
                    w.extend(each(Action::Replace, &alarms));
                    w
                },
            },
            Case {
                name: "an alarm changed by hand is put back",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: with(&|s| {
                    attr(s, Addr::alarm("alb.5xx"), "threshold", json!(50.0));
                    attr(s, Addr::alarm("alb.5xx"), "ok_actions", json!([]));
                }),
                want: vec![(Addr::alarm("alb.5xx"), Action::Update)],
            },
            Case {
                name: "a group with insights turned on by hand is updated",
                observe: "",
                tags: &[],
                services: &["backend"],
                found: with(&|s| attr(s, Addr::Group, "insights", json!(true))),
                want: vec![(Addr::Group, Action::Update)],
            },
        ];
        for c in cases {
            let s = spec(c.observe, c.tags, c.services);
            let observed = Observed {
                found: c.found,
                conflicts: vec![],
            };
            let p = plan(&s, &observed);
            let got: Vec<(String, Action)> = p
                .changes
                .iter()
                .map(|x| (x.address.clone(), x.action))
                .collect();
            let want: Vec<(String, Action)> =
                c.want.iter().map(|(a, x)| (a.to_string(), *x)).collect();
            assert_eq!(got, want, "{}", c.name);
            // Every address the plan names is one of ours.
            for x in &p.changes {
                assert!(
                    Addr::parse(&x.address).is_some(),
                    "{}: {}",
                    c.name,
                    x.address
                );
            }
        }
    }

    #[test]
    fn the_topic_key_and_the_rds_events_follow_the_document() {
        const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/alarms";
        let db = (
            "db",
            json!({"instance_id": "hms-db", "allocated_storage": 100, "parameter_group": "hms-db-params-postgres16"}),
            &[][..],
        );
        let sec = (
            "security",
            json!({"kms_key_arns": {"alarms": KEY}}),
            &[][..],
        );
        let s = spec_with("", &[], &["backend"], &[db.clone(), sec], &id()).expect("spec");
        let d = desired(&s);
        let of = |a: Addr| {
            d.iter()
                .find(|x| x.address == a.to_string())
                .unwrap_or_else(|| panic!("{a}"))
        };
        assert_eq!(of(Addr::Topic).attrs["kms_key"], KEY);
        let instance = of(Addr::rds_events("instance"));
        assert_eq!(instance.attrs["name"], "hms-production-db-events");
        assert_eq!(instance.attrs["source_type"], "db-instance");
        assert_eq!(instance.attrs["source_ids"], json!(["hms-db"]));
        assert_eq!(
            instance.attrs["categories"],
            json!(["failover", "failure", "low storage", "maintenance"])
        );
        let params = of(Addr::rds_events("parameter_group"));
        assert_eq!(params.attrs["source_type"], "db-parameter-group");
        assert_eq!(
            params.attrs["source_ids"],
            json!(["hms-db-params-postgres16"])
        );
        assert_eq!(params.attrs["categories"], json!(["configuration change"]));

        // Converged is empty; the key taken off the topic is an update of the topic alone.
        let conv = converged(&s);
        let observed = |found: FoundSet| Observed {
            found,
            conflicts: vec![],
        };
        assert!(plan(&s, &observed(conv.clone())).is_empty());
        let mut off = conv.clone();
        attr(&mut off, Addr::Topic, "kms_key", Value::Null);
        let p = plan(&s, &observed(off));
        let got: Vec<(&str, Action)> = p
            .changes
            .iter()
            .map(|c| (c.address.as_str(), c.action))
            .collect();
        assert_eq!(got, vec![("observe.topic", Action::Update)]);
        // A subscription with other categories is made anew (it holds no data).
        let mut other = conv;
        attr(
            &mut other,
            Addr::rds_events("instance"),
            "categories",
            json!(["failure"]),
        );
        let p = plan(&s, &observed(other));
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action, Action::Replace);

        // hms-security only planned: the plan says what the key waits for.
        let planned = (
            "security",
            json!({"alb_sg_id": null}),
            &["kms_key_arns"][..],
        );
        let s = spec_with("", &[], &["backend"], &[db.clone(), planned], &id()).expect("spec");
        assert_eq!(
            desired(&s)[0].attrs["kms_key"],
            "(known after hms-security up)"
        );
        // No hms-security in the stack: not encrypted, and a note says so.
        let s = spec_with("", &[], &["backend"], &[db], &id()).expect("spec");
        assert_eq!(desired(&s)[0].attrs["kms_key"], Value::Null);
        let p = plan(&s, &observed(FoundSet::new()));
        assert!(
            p.notes.iter().any(|n| n.contains("not encrypted")),
            "{:?}",
            p.notes
        );
        // Without hms-db, no subscriptions.
        let s = spec("", &[], &["backend"]);
        assert!(s.events.is_empty());
        assert_eq!(s.event_names.len(), 2);
    }

    #[test]
    fn tag_changes_are_tags_only() {
        let s = spec("", &[("owner", "platform")], &["backend"]);
        let p = plan(
            &s,
            &Observed {
                found: converged(&spec("", &[], &["backend"])),
                conflicts: vec![],
            },
        );
        assert!(!p.is_empty());
        for c in &p.changes {
            assert_eq!(c.reason, "tags differ", "{}", c.address);
        }
    }

    #[test]
    fn conflicts_are_refused() {
        let s = spec("", &[], &["backend"]);
        let p = plan(
            &s,
            &Observed {
                found: FoundSet::new(),
                conflicts: vec!["alarm hms-cpu-utilization already exists".into()],
            },
        );
        assert_eq!(p.refused.len(), 1);
    }

    #[test]
    fn planned_dimensions_name_their_producer() {
        let mut s = spec("", &[], &["backend"]);
        s.alarms[0].dimensions[0].1 = None;
        assert_eq!(
            dimensions(&s.alarms[0])["ClusterName"],
            "(known after hms-ecs up)"
        );
    }

    #[test]
    fn the_cache_members_and_the_certificates_get_their_alarms() {
        let members = ["hms-cache-001", "hms-cache-002"];
        let cache = ("cache", json!({"member_clusters": members}), &[][..]);
        let dns = (
            "dns",
            json!({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/alb", "cdn_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/cdn"}),
            &[][..],
        );
        let s = spec_with("", &[], &["backend"], &[cache, dns.clone()], &id()).expect("spec");
        let of = |key: &str| s.alarm(key).unwrap_or_else(|| panic!("alarm {key}"));
        for m in members {
            for k in ["cpu", "memory", "evictions", "connections"] {
                let a = of(&format!("cache.{m}.{k}"));
                assert_eq!(a.namespace, "AWS/ElastiCache");
                assert_eq!(
                    a.dimensions,
                    vec![("CacheClusterId".to_owned(), Some(m.to_owned()))]
                );
            }
        }
        assert_eq!(of("cache.hms-cache-001.cpu").metric, "EngineCPUUtilization");
        assert_eq!(
            of("cache.hms-cache-002.memory").metric,
            "DatabaseMemoryUsagePercentage"
        );
        // The primary reports no replication lag; the replica does.
        assert!(s.alarm("cache.hms-cache-001.replication_lag").is_none());
        assert_eq!(
            of("cache.hms-cache-002.replication_lag").metric,
            "ReplicationLag"
        );
        let cert = of("certificate.cdn");
        assert_eq!(cert.metric, "DaysToExpiry");
        assert_eq!(
            (cert.comparison, cert.threshold, cert.period),
            (crate::spec::Comparison::Less, 30.0, 86400)
        );
        assert_eq!(
            cert.dimensions,
            vec![(
                "CertificateArn".to_owned(),
                Some("arn:aws:acm:us-east-1:123456789012:certificate/cdn".to_owned())
            )]
        );
        assert!(s.alarm("certificate.alb").is_some());
        assert!(s.notes.is_empty(), "{:?}", s.notes);
        // One certificate for both (hms-dns in us-east-1): one alarm.
        let same = (
            "dns",
            json!({"certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/one", "cdn_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/one"}),
            &[][..],
        );
        let one = spec_with("", &[], &["backend"], &[same], &id()).expect("spec");
        assert!(one.alarm("certificate.alb").is_some() && one.alarm("certificate.cdn").is_none());
        let planned_dns = (
            "dns",
            json!({"domain_name": "hms.example.org"}),
            &["certificate_arn", "cdn_certificate_arn"][..],
        );
        let one = spec_with("", &[], &["backend"], &[planned_dns], &id()).expect("spec");
        assert!(one.alarm("certificate.alb").is_some() && one.alarm("certificate.cdn").is_none());
        let body = s.dashboard.as_ref().expect("dashboard").body.to_string();
        assert!(
            body.contains("CacheClusterId") && body.contains("hms-cache-002"),
            "{body}"
        );

        // Only planned upstream: no cache alarm yet, and the plan says why.
        let planned = ("cache", json!({"port": 6379}), &["member_clusters"][..]);
        let s = spec_with("", &[], &["backend"], &[planned], &id()).expect("spec");
        assert!(!s.alarms.iter().any(|a| a.key.starts_with("cache.")));
        let p = plan(
            &s,
            &Observed {
                found: FoundSet::new(),
                conflicts: vec![],
            },
        );
        assert!(
            p.render()
                .iter()
                .any(|l| l.starts_with("note: the cache alarms")),
            "{:?}",
            p.render()
        );

        // Outside us-east-1 the CDN certificate's metric is not where the alarms are: said, not hidden.
        let eu = Identity {
            region: "eu-west-1".into(),
            ..id()
        };
        let dns_eu = (
            "dns",
            json!({"certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/alb", "cdn_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/cdn"}),
            &[][..],
        );
        let s = spec_with("", &[], &["backend"], &[dns_eu], &eu).expect("spec");
        assert!(s.alarm("certificate.alb").is_some());
        assert!(s.alarm("certificate.cdn").is_none());
        assert!(
            s.notes.iter().any(|n| n.contains("us-east-1")),
            "{:?}",
            s.notes
        );

        // A stack without hms-cache and hms-dns has none of them.
        let s = spec("", &[], &["backend"]);
        assert!(!s
            .alarms
            .iter()
            .any(|a| a.key.starts_with("cache.") || a.key.starts_with("certificate.")));

        let err = spec_with(
            "certificate_expiry_days = 90",
            &[],
            &["backend"],
            &[dns],
            &id(),
        )
        .expect_err("90 days");
        assert!(
            err.to_string().contains("observe.certificate_expiry_days"),
            "{err}"
        );
    }
}

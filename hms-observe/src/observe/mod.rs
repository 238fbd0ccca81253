//! What exists: the topic with its subscriptions, the alarms (by name: the desired ones and those recorded in
//! state), the dashboard, the sampling rule and the group, with their tags — in one round of concurrent
//! calls once state knows the topic's ARN (the first run asks STS for the account first).

use std::collections::BTreeMap;

use futures::future::try_join_all;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{Map, Value};

use crate::plan::{self, DASHBOARD, GROUP, SAMPLING_RULE, TOPIC};
use crate::spec::Spec;
use crate::Clients;

/// What exists now.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub found: FoundSet,
    /// Resources with this stack's names that belong to someone else.
    pub conflicts: Vec<String>,
}

impl hms_core::contract::Observation for Observed {
    fn found(&self) -> &FoundSet {
        &self.found
    }

    fn conflicts(&self) -> &[String] {
        &self.conflicts
    }
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Why a resource found by this stack's name is not this tool's to manage: only what carries this tool's
/// tags for `address`, or is recorded in state, is adopted (anything else could be another stack's, or made
/// by hand, and `down` would delete it).
fn not_ours(
    spec: &Spec,
    address: &str,
    what: &str,
    tags: &[(String, String)],
    recorded: bool,
) -> Option<String> {
    let pairs = || tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    if recorded || spec.tagger.owned_address(pairs()).as_deref() == Some(address) {
        return None;
    }
    let owner: Vec<String> = pairs()
        .filter(|(k, _)| k.starts_with("hms:"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(if owner.is_empty() {
        format!(
            "{what} already exists and hms-observe did not make it; remove or rename it, or adopt it on purpose by tagging it hms:stack={}, hms:env={}, hms:tool=hms-observe, hms:address={address}",
            spec.tagger.id.stack, spec.tagger.id.env
        )
    } else {
        format!(
            "{what} belongs to another stack or tool ({}); rename or remove it",
            owner.join(", ")
        )
    })
}

async fn topic(
    c: &Clients,
    spec: &Spec,
    state: &State,
    arn: &str,
) -> Result<(Option<Found>, Vec<(String, Found)>, Vec<String>)> {
    let tags = async {
        match c
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(o) => Ok(Some(
                o.tags()
                    .iter()
                    .map(|t| (t.key().to_owned(), t.value().to_owned()))
                    .collect::<Vec<_>>(),
            )),
            Err(e) if is_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(
                format!("{TOPIC} {arn}"),
                "sns:ListTagsForResource",
                e,
            )),
        }
    };
    let subs = async {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            match c
                .sns
                .list_subscriptions_by_topic()
                .topic_arn(arn)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(o) => {
                    out.extend(o.subscriptions().iter().cloned());
                    token = o.next_token().map(str::to_owned);
                    if token.is_none() {
                        return Ok(Some(out));
                    }
                }
                Err(e) if is_gone(code_of(&e)) => return Ok(None),
                Err(e) => {
                    return Err(Error::aws(
                        format!("{TOPIC} {arn}"),
                        "sns:ListSubscriptionsByTopic",
                        e,
                    ))
                }
            }
        }
    };
    let (tags, subs) = tokio::try_join!(tags, subs)?;
    let (Some(tags), Some(subs)) = (tags, subs) else {
        return Ok((None, vec![], vec![]));
    };
    let recorded = state.id(TOPIC) == Some(arn);
    if let Some(c) = not_ours(spec, TOPIC, &format!("{TOPIC} {arn}"), &tags, recorded) {
        return Ok((None, vec![], vec![c]));
    }
    let name = arn.rsplit(':').next().unwrap_or_default();
    let found = Found::new(arn)
        .attr("name", name)
        .tags(tags)
        .info("arn", arn);
    // Only the email subscriptions of the config (or recorded in state) are managed; anything else on the
    // topic (an HTTPS pager endpoint, a chat integration) is left alone.
    let subs = subs
        .iter()
        .filter(|s| s.protocol() == Some("email"))
        .filter_map(|s| {
            let endpoint = s.endpoint().unwrap_or_default().to_owned();
            let address = plan::subscription(&endpoint);
            let recorded = state.resources.get(&address);
            if !spec.emails.contains(&endpoint) && recorded.is_none() {
                return None;
            }
            let listed = s.subscription_arn().unwrap_or_default();
            // A pending subscription is listed without its ARN; the one Subscribe returned is in state.
            let id = match recorded {
                Some(r) if !listed.starts_with("arn:") && r.id.starts_with("arn:") => r.id.clone(),
                _ => listed.to_owned(),
            };
            Some((
                address,
                Found::new(&id)
                    .attr("protocol", s.protocol().unwrap_or_default())
                    .attr("endpoint", endpoint.clone())
                    .attr("topic", TOPIC)
                    .info("pending", !listed.starts_with("arn:"))
                    .uses([TOPIC]),
            ))
        })
        .collect();
    Ok((Some(found), subs, vec![]))
}

async fn cw_tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    match c
        .cloudwatch
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()),
        Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
        Err(e) => Err(Error::aws(arn, "cloudwatch:ListTagsForResource", e)),
    }
}

async fn xray_tags(c: &Clients, arn: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        match c
            .xray
            .list_tags_for_resource()
            .resource_arn(arn)
            .set_next_token(token)
            .send()
            .await
        {
            Ok(o) => {
                out.extend(
                    o.tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned())),
                );
                token = o.next_token().map(str::to_owned);
                if token.is_none() {
                    return Ok(out);
                }
            }
            Err(e) if is_gone(code_of(&e)) => return Ok(out),
            Err(e) => return Err(Error::aws(arn, "xray:ListTagsForResource", e)),
        }
    }
}

/// Alarm names to look for → their addresses: the desired ones, and those recorded in state (a service that
/// left the stack).
fn alarm_names(spec: &Spec, state: &State) -> BTreeMap<String, String> {
    let mut names: BTreeMap<String, String> = spec
        .alarms
        .iter()
        .map(|a| (a.name.clone(), plan::alarm(&a.key)))
        .collect();
    for (address, r) in &state.resources {
        if address.starts_with("observe.alarm[") {
            names.entry(r.id.clone()).or_insert_with(|| address.clone());
        }
    }
    names
}

async fn alarms(c: &Clients, spec: &Spec, state: &State) -> Result<(FoundSet, Vec<String>)> {
    let names = alarm_names(spec, state);
    let list: Vec<String> = names.keys().cloned().collect();
    let pages = try_join_all(list.chunks(100).map(|batch| async move {
        c.cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(batch.to_vec()))
            .max_records(100)
            .send()
            .await
            .map(|o| o.metric_alarms().to_vec())
            .map_err(|e| {
                Error::aws(
                    format!(
                        "{} alarm(s) {}…{}",
                        batch.len(),
                        batch.first().map(String::as_str).unwrap_or_default(),
                        batch.last().map(String::as_str).unwrap_or_default()
                    ),
                    "cloudwatch:DescribeAlarms",
                    e,
                )
            })
    }))
    .await?;
    let found: Vec<_> = pages.into_iter().flatten().collect();
    let tagged = try_join_all(found.iter().map(|a| async move {
        let arn = a.alarm_arn().unwrap_or_default();
        Ok::<_, Error>((a, cw_tags(c, arn).await?))
    }))
    .await?;
    let mut out = FoundSet::new();
    let mut conflicts = Vec::new();
    for (a, tags) in tagged {
        let name = a.alarm_name().unwrap_or_default();
        let Some(address) = names.get(name) else {
            continue;
        };
        let recorded = state.id(address) == Some(name);
        if let Some(c) = not_ours(spec, address, &format!("alarm {name}"), &tags, recorded) {
            conflicts.push(c);
            continue;
        }
        let dims: Map<String, Value> = a
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    Value::from(d.value().unwrap_or_default()),
                )
            })
            .collect();
        // Actions that are the stack's topic are compared by address.
        let actions = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|x| {
                    if x.ends_with(&format!(":{}", spec.topic_name)) {
                        TOPIC.to_owned()
                    } else {
                        x.clone()
                    }
                })
                .collect()
        };
        out.insert(
            address.clone(),
            Found::new(name)
                .attr("name", name)
                .attr("description", a.alarm_description().unwrap_or_default())
                .attr("namespace", a.namespace().unwrap_or_default())
                .attr("metric", a.metric_name().unwrap_or_default())
                .attr(
                    "statistic",
                    a.statistic().map(|s| s.as_str()).unwrap_or_default(),
                )
                .attr("dimensions", Value::Object(dims))
                .attr(
                    "comparison",
                    a.comparison_operator()
                        .map(|s| s.as_str())
                        .unwrap_or_default(),
                )
                .attr("threshold", a.threshold().unwrap_or_default())
                .attr("period", a.period().unwrap_or_default())
                .attr(
                    "evaluation_periods",
                    a.evaluation_periods().unwrap_or_default(),
                )
                .attr(
                    "treat_missing_data",
                    a.treat_missing_data().unwrap_or("missing"),
                )
                .attr("actions_enabled", a.actions_enabled().unwrap_or(true))
                .attr("alarm_actions", actions(a.alarm_actions()))
                .attr("ok_actions", actions(a.ok_actions()))
                .tags(tags)
                .info("arn", a.alarm_arn().unwrap_or_default())
                .uses([TOPIC]),
        );
    }
    Ok((out, conflicts))
}

async fn dashboard(c: &Clients, name: &str) -> Result<Option<Found>> {
    match c
        .cloudwatch
        .get_dashboard()
        .dashboard_name(name)
        .send()
        .await
    {
        Ok(o) => {
            let body = o
                .dashboard_body()
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .unwrap_or(Value::Null);
            Ok(Some(
                Found::new(name)
                    .attr("name", name)
                    .attr("body", body)
                    .info("arn", o.dashboard_arn().unwrap_or_default()),
            ))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{DASHBOARD} {name}"),
            "cloudwatch:GetDashboard",
            e,
        )),
    }
}

async fn sampling_rule(
    c: &Clients,
    spec: &Spec,
    state: &State,
    names: &[String],
) -> Result<(Option<Found>, Vec<String>)> {
    let mut token = None;
    let mut rule = None;
    loop {
        let o = c
            .xray
            .get_sampling_rules()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("X-Ray sampling rules", "xray:GetSamplingRules", e))?;
        for r in o.sampling_rule_records() {
            if let Some(sr) = r.sampling_rule() {
                if names.iter().any(|n| Some(n.as_str()) == sr.rule_name()) {
                    // The configured name wins over the recorded one.
                    if rule.is_none() || sr.rule_name() == Some(names[0].as_str()) {
                        rule = Some(sr.clone());
                    }
                }
            }
        }
        token = o.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let Some(r) = rule else {
        return Ok((None, vec![]));
    };
    let arn = r.rule_arn().unwrap_or_default().to_owned();
    let tags = xray_tags(c, &arn).await?;
    let name = r.rule_name().unwrap_or_default().to_owned();
    let recorded = state.id(SAMPLING_RULE) == Some(name.as_str());
    if let Some(c) = not_ours(
        spec,
        SAMPLING_RULE,
        &format!("X-Ray sampling rule {name}"),
        &tags,
        recorded,
    ) {
        return Ok((None, vec![c]));
    }
    Ok((
        Some(
            Found::new(name.clone())
                .attr("name", name)
                .attr("priority", r.priority())
                .attr("reservoir_size", r.reservoir_size())
                .attr("fixed_rate", r.fixed_rate())
                .attr("service_name", r.service_name())
                .attr("service_type", r.service_type())
                .attr("host", r.host())
                .attr("http_method", r.http_method())
                .attr("url_path", r.url_path())
                .attr("resource_arn", r.resource_arn())
                .attr("version", r.version())
                .tags(tags)
                .info("arn", arn),
        ),
        vec![],
    ))
}

async fn group(
    c: &Clients,
    spec: &Spec,
    state: &State,
    names: &[String],
) -> Result<(Option<Found>, Vec<String>)> {
    let mut token = None;
    let mut group = None;
    loop {
        let o = c
            .xray
            .get_groups()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| Error::aws("X-Ray groups", "xray:GetGroups", e))?;
        for g in o.groups() {
            if names.iter().any(|n| Some(n.as_str()) == g.group_name())
                && (group.is_none() || g.group_name() == Some(names[0].as_str()))
            {
                group = Some(g.clone());
            }
        }
        token = o.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let Some(g) = group else {
        return Ok((None, vec![]));
    };
    let arn = g.group_arn().unwrap_or_default().to_owned();
    let tags = xray_tags(c, &arn).await?;
    let name = g.group_name().unwrap_or_default().to_owned();
    let recorded = state.id(GROUP) == Some(name.as_str());
    if let Some(c) = not_ours(spec, GROUP, &format!("X-Ray group {name}"), &tags, recorded) {
        return Ok((None, vec![c]));
    }
    Ok((
        Some(
            Found::new(name.clone())
                .attr("name", name)
                .attr(
                    "filter_expression",
                    g.filter_expression().unwrap_or_default(),
                )
                .attr(
                    "insights",
                    g.insights_configuration()
                        .and_then(|i| i.insights_enabled())
                        .unwrap_or(false),
                )
                .tags(tags)
                .info("arn", arn),
        ),
        vec![],
    ))
}

/// Reads everything hms-observe owns.
pub async fn observe(c: &Clients, spec: &Spec, state: &State) -> Result<Observed> {
    // The topic's ARN: from state, else from the account (one STS call on the first run).
    let recorded_topic = state
        .resources
        .get(TOPIC)
        .and_then(|r| r.attr("arn"))
        .map(str::to_owned);
    let wanted_arn = |account: &str| {
        format!(
            "arn:{}:sns:{}:{account}:{}",
            partition(&spec.region),
            spec.region,
            spec.topic_name
        )
    };
    let topic_arn = match &recorded_topic {
        Some(arn) if arn.ends_with(&format!(":{}", spec.topic_name)) => arn.clone(),
        _ => {
            let me = c
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?;
            wanted_arn(me.account().unwrap_or_default())
        }
    };
    let with_recorded = |address: &str, wanted: &str| -> Vec<String> {
        let mut v = vec![wanted.to_owned()];
        if let Some(id) = state.id(address).filter(|id| *id != wanted) {
            v.push(id.to_owned());
        }
        v
    };
    let rule_names = with_recorded(SAMPLING_RULE, &spec.sampling.name);
    let group_names = with_recorded(GROUP, &spec.group_name);
    let dashboard_names: Vec<String> = match &spec.dashboard {
        Some(n) => with_recorded(DASHBOARD, n),
        None => state.id(DASHBOARD).map(str::to_owned).into_iter().collect(),
    };
    let topics = async {
        let mut r = topic(c, spec, state, &topic_arn).await?;
        // The topic was renamed in config: the recorded one is found and replaced, not orphaned.
        if r.0.is_none() {
            if let Some(old) = recorded_topic.as_deref().filter(|a| *a != topic_arn) {
                r = topic(c, spec, state, old).await?;
            }
        }
        Ok::<_, Error>(r)
    };
    let dashboards = async {
        for n in &dashboard_names {
            if let Some(f) = dashboard(c, n).await? {
                return Ok(Some(f));
            }
        }
        Ok::<_, Error>(None)
    };
    let ((topic, subs, mut conflicts), (alarms, alarm_conflicts), dash, (rule, rc), (grp, gc)) = tokio::try_join!(
        topics,
        alarms(c, spec, state),
        dashboards,
        sampling_rule(c, spec, state, &rule_names),
        group(c, spec, state, &group_names),
    )?;
    conflicts.extend(alarm_conflicts);
    conflicts.extend(rc);
    conflicts.extend(gc);
    let mut found = FoundSet::new();
    if let Some(t) = topic {
        found.insert(TOPIC.to_owned(), t);
        found.extend(subs);
    }
    found.extend(alarms);
    if let Some(d) = dash {
        found.insert(DASHBOARD.to_owned(), d);
    }
    if let Some(r) = rule {
        found.insert(SAMPLING_RULE.to_owned(), r);
    }
    if let Some(g) = grp {
        found.insert(GROUP.to_owned(), g);
    }
    Ok(Observed { found, conflicts })
}

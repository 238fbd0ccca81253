//! The services (10 a `DescribeServices`, with their tags) and the task definitions they run: a revision
//! recorded in state is ours, its content as recorded and its tags read back. A revision state does not
//! record (the state was lost, or a run was killed between registering it and recording it) is described
//! and adopted when its tags make it this stack's, its content read back from its container definitions,
//! so that an unchanged service is not rolled onto a new revision; for a service that does not exist, the
//! family's latest ACTIVE revision is the candidate. Any other revision makes the service's
//! `task_definition` differ, so that the plan registers ours and deploys it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{
    Service, ServiceField, SortOrder, TaskDefinition, TaskDefinitionField, TaskDefinitionStatus,
};
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::{json, Map, Value};

use super::{address_of, sorted, Pairs, TargetGroups};
use crate::addr::Addr;
use crate::desired::content_hash;
use crate::spec::Spec;
use crate::Clients;

/// The active services, the tags of the recorded task definitions they run (by ARN), and the revisions
/// state does not record that may be ours (by ARN: their tags and their content read back).
pub(super) struct Services {
    services: Vec<Service>,
    task_tags: BTreeMap<String, Pairs>,
    unrecorded: BTreeMap<String, (Pairs, Value)>,
}

fn pairs(tags: &[aws_sdk_ecs::types::Tag]) -> Pairs {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(super) async fn fetch(
    c: &Clients,
    spec: &Spec,
    state: &State,
    names: &[String],
) -> Result<Services> {
    let batches = try_join_all(names.chunks(10).map(|batch| async move {
        match c
            .ecs
            .describe_services()
            .cluster(&spec.cluster)
            .set_services(Some(batch.to_vec()))
            .include(ServiceField::Tags)
            .send()
            .await
        {
            Ok(o) => Ok(o.services().to_vec()),
            Err(e) if is_gone(code_of(&e)) => Ok(vec![]),
            Err(e) => Err(Error::aws("ECS services", "ecs:DescribeServices", e)),
        }
    }))
    .await?;
    let services: Vec<Service> = batches
        .into_iter()
        .flatten()
        .filter(|s| s.status() == Some("ACTIVE"))
        .collect();
    let recorded: BTreeSet<&str> = state
        .resources
        .iter()
        .filter(|(a, _)| matches!(Addr::parse(a), Some(Addr::TaskDefinition(_))))
        .map(|(_, r)| r.id.as_str())
        .collect();
    let running: BTreeSet<&str> = services
        .iter()
        .filter_map(|s| s.task_definition())
        .filter(|td| recorded.contains(td))
        .collect();
    let candidates = unrecorded_candidates(c, spec, &services, &recorded).await?;
    let unrecorded = try_join_all(candidates.iter().map(|arn| describe(c, arn))).await?;
    let task_tags = try_join_all(running.into_iter().map(|arn| async move {
        match c
            .ecs
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(o) => Ok(Some((arn.to_owned(), pairs(o.tags())))),
            Err(e) if is_gone(code_of(&e)) => Ok(None),
            Err(e) => Err(Error::aws(arn, "ecs:ListTagsForResource", e)),
        }
    }))
    .await?;
    Ok(Services {
        services,
        task_tags: task_tags.into_iter().flatten().collect(),
        unrecorded: unrecorded.into_iter().flatten().collect(),
    })
}

/// Revisions that state does not record and that may be this stack's: the ones the services run, and,
/// for a service of the spec that does not exist, its family's latest ACTIVE revision. None when state
/// records what the services run (the steady state costs no call here).
async fn unrecorded_candidates(
    c: &Clients,
    spec: &Spec,
    services: &[Service],
    recorded: &BTreeSet<&str>,
) -> Result<BTreeSet<String>> {
    let mut out: BTreeSet<String> = services
        .iter()
        .filter_map(|s| s.task_definition())
        .filter(|td| !recorded.contains(td))
        .map(str::to_owned)
        .collect();
    let missing = spec.services.iter().filter(|s| {
        !services
            .iter()
            .any(|x| x.service_name() == Some(s.name.as_str()))
            && !recorded
                .iter()
                .any(|r| family_of(r) == Some(s.name.as_str()))
    });
    let latest = try_join_all(missing.map(|s| async move {
        let page = c
            .ecs
            .list_task_definitions()
            .family_prefix(&s.name)
            .status(TaskDefinitionStatus::Active)
            .sort(SortOrder::Desc)
            .send()
            .await
            .map_err(|e| Error::aws(&s.name, "ecs:ListTaskDefinitions", e))?;
        // The prefix matches longer families too (`hms-backend` and `hms-backend-v2`).
        Ok::<_, Error>(
            page.task_definition_arns()
                .iter()
                .find(|a| family_of(a) == Some(s.name.as_str()))
                .cloned(),
        )
    }))
    .await?;
    out.extend(latest.into_iter().flatten());
    Ok(out)
}

/// One revision's tags and content (None when it is gone).
async fn describe(c: &Clients, arn: &str) -> Result<Option<(String, (Pairs, Value))>> {
    match c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
    {
        Ok(o) => Ok(o
            .task_definition()
            .filter(|t| t.status() == Some(&TaskDefinitionStatus::Active))
            .map(|t| (arn.to_owned(), (pairs(o.tags()), content_of(t))))),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(arn, "ecs:DescribeTaskDefinition", e)),
    }
}

/// The family of a task definition ARN (`…:task-definition/<family>:<revision>`).
pub(crate) fn family_of(arn: &str) -> Option<&str> {
    arn.rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once(':'))
        .map(|(f, _)| f)
}

/// A registered revision in the canonical form of [`crate::desired::task_content`]: what its container
/// definition says, read back field by field (so that equal content hashes equal).
pub(crate) fn content_of(t: &TaskDefinition) -> Value {
    let c = t.container_definitions().first();
    let env: Map<String, Value> = c
        .map(|c| c.environment())
        .unwrap_or_default()
        .iter()
        .map(|kv| {
            (
                kv.name().unwrap_or_default().to_owned(),
                Value::from(kv.value().unwrap_or_default()),
            )
        })
        .collect();
    let secrets: Map<String, Value> = c
        .map(|c| c.secrets())
        .unwrap_or_default()
        .iter()
        .map(|s| (s.name().to_owned(), Value::from(s.value_from())))
        .collect();
    let log = c
        .and_then(|c| c.log_configuration())
        .and_then(|l| l.options());
    let log_opt = |k: &str| log.and_then(|o| o.get(k)).cloned().unwrap_or_default();
    let health = c
        .and_then(|c| c.health_check())
        .and_then(|h| match h.command() {
            [kind, cmd] if kind == "CMD-SHELL" => Some(cmd.clone()),
            _ => None,
        });
    let scratch = c.and_then(|c| {
        c.mount_points()
            .iter()
            .find(|m| m.read_only() != Some(true))
            .and_then(|m| m.container_path())
            .map(str::to_owned)
    });
    json!({
        "family": t.family().unwrap_or_default(),
        "cpu": t.cpu().unwrap_or_default(),
        "memory": t.memory().unwrap_or_default(),
        "network_mode": t.network_mode().map(|m| m.as_str()).unwrap_or_default(),
        "requires": t.requires_compatibilities().first().map(|r| r.as_str()).unwrap_or_default(),
        "execution_role": t.execution_role_arn().unwrap_or_default(),
        "task_role": t.task_role_arn().unwrap_or_default(),
        "container": {
            "name": c.and_then(|c| c.name()).unwrap_or_default(),
            "image": c.and_then(|c| c.image()).unwrap_or_default(),
            "port": c.and_then(|c| c.port_mappings().first()).and_then(|p| p.container_port()).unwrap_or_default(),
            "environment": env,
            "secrets": secrets,
            "log_group": log_opt("awslogs-group"),
            "region": log_opt("awslogs-region"),
            "log_mode": log_opt("mode"),
            "log_buffer": log_opt("max-buffer-size"),
            "health_check": health,
            "read_only_root": c.and_then(|c| c.readonly_root_filesystem()).unwrap_or(false),
            "scratch": scratch,
        }
    })
}

/// Records our services and the task definitions they run; returns the services' (desired, running)
/// counts by key.
pub(super) fn build(
    spec: &Spec,
    state: &State,
    read: &Services,
    tgs: &TargetGroups,
    found: &mut FoundSet,
) -> BTreeMap<String, (i32, i32)> {
    let mut counts = BTreeMap::new();
    for svc in &read.services {
        let tags = pairs(svc.tags());
        let arn = svc.service_arn().unwrap_or_default();
        let kv = tags.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let by_state =
            || super::alb::recorded(state, arn).filter(|_| !spec.tagger.claimed_elsewhere(kv));
        let Some(Addr::Service(key)) = address_of(&spec.tagger, &tags).or_else(by_state) else {
            continue;
        };
        counts.insert(key.clone(), (svc.desired_count(), svc.running_count()));
        let td = task_definition(spec, state, read, &key, svc, found);
        found.insert(
            Addr::Service(key.clone()).to_string(),
            service_record(&key, svc, td, tgs).tags(tags),
        );
    }
    // Revisions of services that do not exist (a run killed before creating the service, or a `down`
    // killed after deleting it): adopted by their tags, so that neither `up` nor `down` leaves them.
    for (arn, (tags, content)) in &read.unrecorded {
        if let Some(Addr::TaskDefinition(key)) = address_of(&spec.tagger, tags) {
            let address = Addr::TaskDefinition(key.clone()).to_string();
            found
                .entry(address)
                .or_insert_with(|| adopted(arn, &key, tags, content));
        }
    }
    counts
}

fn adopted(arn: &str, key: &str, tags: &Pairs, content: &Value) -> Found {
    Found::new(arn)
        .attr("content", content.clone())
        .info("arn", arn.to_owned())
        .tags(tags.clone())
        .uses([Addr::LogGroup(key.to_owned())])
}

/// Records the task definition a service runs when it is ours (as recorded); returns the service's
/// `task_definition` value: the content's hash, or the other revision it runs.
fn task_definition(
    spec: &Spec,
    state: &State,
    read: &Services,
    key: &str,
    svc: &Service,
    found: &mut FoundSet,
) -> String {
    let address = Addr::TaskDefinition(key.to_owned());
    let running = svc.task_definition().unwrap_or_default();
    let recorded = state
        .resources
        .get(&address.to_string())
        .filter(|r| r.id == running);
    let (Some(r), Some(tags)) = (recorded, read.task_tags.get(running)) else {
        // Not recorded: ours when its tags say so (then its content is what AWS holds).
        return match read.unrecorded.get(running) {
            Some((tags, content)) if address_of(&spec.tagger, tags).as_ref() == Some(&address) => {
                found.insert(address.to_string(), adopted(running, key, tags, content));
                content_hash(content)
            }
            _ => format!("other revision {running}"),
        };
    };
    let content = r.attrs.get("content").cloned().unwrap_or(Value::Null);
    let mut f = Found::new(&r.id)
        .attr("content", content.clone())
        .info("arn", r.id.clone())
        .tags(tags.clone())
        .uses([Addr::LogGroup(key.to_owned())]);
    if let Some(d) = r.attrs.get("deployed") {
        // Which image `hms-ecs deploy` rolled out, and when (the next plain `up` names it).
        f = f.info("deployed", d.clone());
    }
    found.insert(address.to_string(), f);
    content_hash(&content)
}

fn service_record(key: &str, svc: &Service, td: String, tgs: &TargetGroups) -> Found {
    let k = || key.to_owned();
    let net = svc
        .network_configuration()
        .and_then(|n| n.awsvpc_configuration());
    let lb = svc.load_balancers().first();
    let dc = svc.deployment_configuration();
    let breaker = dc.and_then(|d| d.deployment_circuit_breaker());
    // Deleted before the listeners and rules that route to it (drained while still reachable).
    let mut deps = vec![
        Addr::Cluster,
        Addr::TaskDefinition(k()),
        Addr::HttpListener,
        Addr::HttpsListener,
        Addr::Rule(k()),
    ];
    let target = lb.and_then(|l| l.target_group_arn());
    let tg = match target.map(|t| tgs.get(t).ok_or(t)) {
        Some(Ok(a)) => {
            deps.push(a.clone());
            a.to_string()
        }
        Some(Err(arn)) => arn.to_owned(),
        None => String::new(),
    };
    Found::new(svc.service_arn().unwrap_or_default())
        .attr("name", svc.service_name().unwrap_or_default())
        .attr("cluster", Addr::Cluster)
        .attr(
            "launch_type",
            svc.launch_type()
                .map(|l| l.as_str().to_owned())
                .unwrap_or_default(),
        )
        .attr("task_definition", td)
        .attr(
            "subnets",
            sorted(net.map(|n| n.subnets().to_vec()).unwrap_or_default()),
        )
        .attr(
            "security_groups",
            sorted(
                net.map(|n| n.security_groups().to_vec())
                    .unwrap_or_default(),
            ),
        )
        .attr(
            "public_ip",
            net.and_then(|n| n.assign_public_ip())
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
        )
        .attr("target_group", tg)
        .attr(
            "container_port",
            lb.and_then(|l| l.container_port()).unwrap_or_default(),
        )
        .attr(
            "circuit_breaker",
            if breaker.is_some_and(|b| b.enable() && b.rollback()) {
                "rollback"
            } else {
                "off"
            },
        )
        .attr(
            "deployment",
            format!(
                "{}-{}",
                dc.and_then(|d| d.minimum_healthy_percent())
                    .unwrap_or_default(),
                dc.and_then(|d| d.maximum_percent()).unwrap_or_default()
            ),
        )
        .info("arn", svc.service_arn().unwrap_or_default())
        .info("desired_count", svc.desired_count())
        .uses(deps)
}

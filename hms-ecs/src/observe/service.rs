//! The services (10 a `DescribeServices`, with their tags) and the task definitions they run: a revision
//! recorded in state is ours, its content as recorded and its tags read back; any other revision makes the
//! service's `task_definition` differ, so that the plan registers ours and deploys it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecs::types::{Service, ServiceField};
use futures::future::try_join_all;
use hms_core::addr::Address;
use hms_core::diff::{Found, FoundSet};
use hms_core::error::{code_of, is_gone};
use hms_core::state::State;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{address_of, sorted, Pairs, TargetGroups};
use crate::addr::Addr;
use crate::desired::content_hash;
use crate::spec::Spec;
use crate::Clients;

/// The active services and the tags of the recorded task definitions they run (by ARN).
pub(super) struct Services {
    services: Vec<Service>,
    task_tags: BTreeMap<String, Pairs>,
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
        let Some(Addr::Service(key)) = address_of(&spec.tagger, &tags) else {
            continue;
        };
        counts.insert(key.clone(), (svc.desired_count(), svc.running_count()));
        let td = task_definition(state, read, &key, svc, found);
        found.insert(
            Addr::Service(key.clone()).to_string(),
            service_record(&key, svc, td, tgs).tags(tags),
        );
    }
    counts
}

/// Records the task definition a service runs when it is ours (as recorded); returns the service's
/// `task_definition` value: the content's hash, or the other revision it runs.
fn task_definition(
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
        return format!("other revision {running}");
    };
    let content = r.attrs.get("content").cloned().unwrap_or(Value::Null);
    found.insert(
        address.to_string(),
        Found::new(&r.id)
            .attr("content", content.clone())
            .info("arn", r.id.clone())
            .tags(tags.clone())
            .uses([Addr::LogGroup(key.to_owned())]),
    );
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

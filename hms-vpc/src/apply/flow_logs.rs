//! The flow logs: the log group, the delivery role and its inline policy, and the flow log.

use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{FlowLogsResourceType, LogDestinationType, ResourceType, TrafficType};
use hms_core::error::{code_of, deleted};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::Job;
use crate::addr::Addr;
use crate::spec::{role_policy, ROLE_POLICY_NAME};
use serde_json::Value;

pub(super) async fn create_group(job: &Job<'_>) -> Result<Resource> {
    let (a, fl) = (job.a(), job.flow_logs()?);
    let r = job
        .c
        .logs
        .create_log_group()
        .log_group_name(&fl.log_group)
        .set_tags(Some(job.tags().into_iter().collect()))
        .send()
        .await;
    match r {
        Ok(_) => {}
        Err(e) if code_of(&e) == Some("ResourceAlreadyExistsException") => {}
        Err(e) => return Err(Error::aws(a, "logs:CreateLogGroup", e)),
    }
    put_retention(job).await?;
    Ok(Resource::new(&fl.log_group))
}

pub(super) async fn update_group(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("retention_in_days") {
        put_retention(job).await?;
    }
    Ok(resource)
}

async fn put_retention(job: &Job<'_>) -> Result<()> {
    let fl = job.flow_logs()?;
    job.c
        .logs
        .put_retention_policy()
        .log_group_name(&fl.log_group)
        .retention_in_days(fl.retention_days)
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "logs:PutRetentionPolicy", e))?;
    Ok(())
}

/// The log group's ARN (what its tagging API takes): as observed, else looked up by name.
pub(super) async fn group_arn(job: &Job<'_>, resource: &Resource) -> Result<String> {
    if let Some(arn) = resource.attr("arn").filter(|a| !a.is_empty()) {
        return Ok(arn.to_owned());
    }
    let name = &resource.id;
    let out = job
        .c
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "logs:DescribeLogGroups", e))?;
    out.log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name.as_str()))
        .and_then(|g| g.arn())
        .map(|arn| arn.trim_end_matches(":*").to_owned())
        .ok_or_else(|| Error::Internal(format!("{}: log group {name} not found", job.a())))
}

pub(super) async fn delete_group(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .logs
            .delete_log_group()
            .log_group_name(&res.id)
            .send()
            .await,
        job.a(),
        "logs:DeleteLogGroup",
    )
}

pub(super) async fn create_role(job: &Job<'_>) -> Result<Resource> {
    let (a, fl, iam) = (job.a(), job.flow_logs()?, &job.c.iam);
    let tags = job
        .tags()
        .iter()
        .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Internal(format!("{a}: tag: {e}")))?;
    let r = iam
        .create_role()
        .role_name(&fl.role_name)
        .assume_role_policy_document(trust(job)?)
        .description("Delivers this stack's VPC flow logs to CloudWatch Logs (hms-vpc)")
        .set_tags(Some(tags))
        .send()
        .await;
    let arn = match r {
        Ok(o) => o.role().map(|r| r.arn().to_owned()).unwrap_or_default(),
        Err(e) if code_of(&e) == Some("EntityAlreadyExists") => iam
            .get_role()
            .role_name(&fl.role_name)
            .send()
            .await
            .map_err(|e| Error::aws(a, "iam:GetRole", e))?
            .role()
            .map(|r| r.arn().to_owned())
            .unwrap_or_default(),
        Err(e) => return Err(Error::aws(a, "iam:CreateRole", e)),
    };
    Ok(Resource::new(&fl.role_name).with("arn", arn))
}

/// The trust policy as planned (it names the observed account).
fn trust(job: &Job<'_>) -> Result<String> {
    job.after("assume_role_policy")
        .map(Value::to_string)
        .ok_or_else(|| Error::Internal(format!("{}: no trust policy planned", job.a())))
}

pub(super) async fn update_role(job: &Job<'_>, resource: Resource) -> Result<Resource> {
    if job.differs("assume_role_policy") {
        job.c
            .iam
            .update_assume_role_policy()
            .role_name(&resource.id)
            .policy_document(trust(job)?)
            .send()
            .await
            .map_err(|e| Error::aws(job.a(), "iam:UpdateAssumeRolePolicy", e))?;
    }
    Ok(resource)
}

pub(super) async fn delete_role(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c.iam.delete_role().role_name(&res.id).send().await,
        job.a(),
        "iam:DeleteRole",
    )
}

pub(super) async fn put_policy(job: &Job<'_>) -> Result<Resource> {
    let fl = job.flow_logs()?;
    job.c
        .iam
        .put_role_policy()
        .role_name(&fl.role_name)
        .policy_name(ROLE_POLICY_NAME)
        .policy_document(role_policy(job.spec, &fl.log_group).to_string())
        .send()
        .await
        .map_err(|e| Error::aws(job.a(), "iam:PutRolePolicy", e))?;
    Ok(Resource::new(format!(
        "{}:{ROLE_POLICY_NAME}",
        fl.role_name
    )))
}

pub(super) async fn delete_policy(job: &Job<'_>, res: &Resource) -> Result<()> {
    // The id is `<role>:<policy>`.
    let role = res.id.split(':').next().unwrap_or_default();
    deleted(
        job.c
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(ROLE_POLICY_NAME)
            .send()
            .await,
        job.a(),
        "iam:DeleteRolePolicy",
    )
}

pub(super) async fn create_flow_log(job: &Job<'_>) -> Result<Resource> {
    let (a, fl) = (job.a(), job.flow_logs()?);
    let role = job
        .rec
        .resource(&Addr::Role.to_string())
        .and_then(|r| r.attr("arn").map(str::to_owned))
        .ok_or_else(|| Error::Internal(format!("{a}: role has no ARN recorded")))?;
    let vpc = job.id(&Addr::Vpc)?;
    // A role created seconds ago may not be assumable yet by the flow logs service (IAM is eventually
    // consistent): retry on exactly that error, for up to a minute.
    let mut delay = Duration::from_secs(2);
    let started = Instant::now();
    loop {
        let out = job
            .c
            .ec2
            .create_flow_logs()
            .resource_type(FlowLogsResourceType::Vpc)
            .resource_ids(&vpc)
            .traffic_type(TrafficType::All)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(&fl.log_group)
            .deliver_logs_permission_arn(&role)
            .tag_specifications(job.tag_spec(ResourceType::VpcFlowLog))
            .send()
            .await
            .map_err(|e| Error::aws(a, "ec2:CreateFlowLogs", e))?;
        if let Some(id) = out.flow_log_ids().first() {
            return Ok(Resource::new(id));
        }
        let why = out
            .unsuccessful()
            .iter()
            .filter_map(|u| u.error())
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        let retryable = why.contains("assume") || why.contains("Access");
        if !retryable || started.elapsed() > Duration::from_secs(60) {
            return Err(Error::Aws {
                resource: a.to_owned(),
                operation: "ec2:CreateFlowLogs".into(),
                code: "Unsuccessful".into(),
                message: why,
            });
        }
        job.task
            .status(&format!("waiting for the role to be usable ({why})"), false);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

pub(super) async fn delete_flow_log(job: &Job<'_>, res: &Resource) -> Result<()> {
    deleted(
        job.c
            .ec2
            .delete_flow_logs()
            .flow_log_ids(&res.id)
            .send()
            .await,
        job.a(),
        "ec2:DeleteFlowLogs",
    )
}

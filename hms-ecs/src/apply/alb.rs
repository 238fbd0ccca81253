//! The load balancer, its listeners and path rules, and the target groups (Elastic Load Balancing v2).
//! Each is created with its tags; an update changes what differs and syncs the tags.

use aws_sdk_elasticloadbalancingv2::types::{
    Action as LbAction, ActionTypeEnum, Certificate, FixedResponseActionConfig,
    HttpHeaderConditionConfig, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum, RedirectActionConfig, RedirectActionStatusCodeEnum, RuleCondition,
    RulePriorityPair, Tag, TargetTypeEnum,
};
use hms_core::addr::Address;
use hms_core::aws_tags::ElbTags;
use hms_core::error::deleted;
use hms_core::state::Resource;
use hms_core::{Error, Result};
use serde_json::Value;

use super::{need, Op};
use crate::addr::Addr;
use crate::desired::{ALB_LOG_PREFIX, NEW_SECRET};
use crate::plan::FORBIDDEN;
use crate::secret::{self, HEADER};
use crate::spec::TLS_POLICY;

fn elb_tags(op: &Op<'_>) -> Option<Vec<Tag>> {
    Some(
        op.tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect(),
    )
}

fn forward(tg_arn: &str) -> LbAction {
    LbAction::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg_arn)
        .build()
}

fn redirect_https() -> LbAction {
    LbAction::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

/// The listener's default action with `ecs.origin_verify`: 403 to every request no rule forwards.
fn forbidden() -> LbAction {
    LbAction::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("403")
                .content_type("text/plain")
                .message_body("Forbidden")
                .build(),
        )
        .build()
}

/// A rule's conditions: its path and, with `ecs.origin_verify`, the header with the values it accepts
/// (at most 2 during a rotation: 3 condition values of the 5 a rule may have).
pub(crate) fn header_rule_conditions(path: &str, values: &[secret::Value]) -> Vec<RuleCondition> {
    let mut out = vec![RuleCondition::builder()
        .field("path-pattern")
        .values(path)
        .build()];
    if !values.is_empty() {
        out.push(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(HEADER)
                        .set_values(Some(values.iter().map(|v| v.expose().to_owned()).collect()))
                        .build(),
                )
                .build(),
        );
    }
    out
}

/// The values the planned header condition accepts, read from the secret now: the hashes in the plan
/// (or the current value of a secret made in this run). A secret changed since the plan is refused.
async fn planned_values(op: &Op<'_>) -> Result<Vec<secret::Value>> {
    let Some(header) = op.after("header").filter(|h| !h.is_null()) else {
        return Ok(Vec::new());
    };
    let wanted: Vec<&str> = header
        .get("values_sha256")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let id = op
        .rec
        .resource(&Addr::OriginSecret.to_string())
        .map(|r| r.id)
        .or_else(|| op.spec.origin_secret.clone())
        .ok_or_else(|| Error::Internal(format!("{}: no origin-verify secret", op.a)))?;
    let mut accepted = secret::accepted(op.c, &id).await?;
    if wanted == [NEW_SECRET] {
        accepted.truncate(1);
        return Ok(accepted);
    }
    accepted.retain(|v| wanted.contains(&v.hash().as_str()));
    if accepted.len() != wanted.len() {
        return Err(Error::Refused(format!(
            "{}: the origin-verify secret changed since the plan was made (a rotation?); run again",
            op.a
        )));
    }
    Ok(accepted)
}

pub(super) async fn put_load_balancer(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let subnets = spec
        .public_subnets
        .clone()
        .ok_or_else(|| Error::Internal(format!("{a}: public subnets unknown")))?;
    let sg = need(&spec.alb_sg, "alb security group", a)?;
    let arn = if op.create {
        let out = c
            .elb
            .create_load_balancer()
            .name(&spec.alb_name)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .r#type(LoadBalancerTypeEnum::Application)
            .set_subnets(Some(subnets))
            .security_groups(&sg)
            .set_tags(elb_tags(op))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateLoadBalancer", e))?;
        let lb = out
            .load_balancers()
            .first()
            .ok_or_else(|| Error::Internal(format!("{a}: nothing created")))?;
        let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
        op.rec
            .record(
                a,
                Some(
                    Resource::new(&arn)
                        .with("arn", arn.clone())
                        .with("dns_name", lb.dns_name().unwrap_or_default())
                        .with("zone_id", lb.canonical_hosted_zone_id().unwrap_or_default()),
                ),
            )
            .await?;
        arn
    } else {
        let arn = op.arn()?;
        if op.changed("subnets") {
            c.elb
                .set_subnets()
                .load_balancer_arn(&arn)
                .set_subnets(Some(subnets))
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:SetSubnets", e))?;
        }
        if op.changed("security_groups") {
            c.elb
                .set_security_groups()
                .load_balancer_arn(&arn)
                .security_groups(&sg)
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:SetSecurityGroups", e))?;
        }
        op.sync_tags(&ElbTags(&c.elb)).await?;
        arn
    };
    if op.changed("drop_invalid_headers")
        || op.changed("deletion_protection")
        || op.changed("access_logs")
    {
        let attribute = |k: &str, v: &str| LoadBalancerAttribute::builder().key(k).value(v).build();
        let mut attrs = vec![
            attribute("routing.http.drop_invalid_header_fields.enabled", "true"),
            attribute(
                "deletion_protection.enabled",
                &spec.deletion_protection.to_string(),
            ),
            attribute("access_logs.s3.enabled", &spec.access_logs.to_string()),
        ];
        if spec.access_logs {
            attrs.push(attribute("access_logs.s3.bucket", &spec.log_bucket));
            attrs.push(attribute("access_logs.s3.prefix", ALB_LOG_PREFIX));
        }
        c.elb
            .modify_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyLoadBalancerAttributes", e))?;
    }
    Ok(op
        .rec
        .resource(a)
        .unwrap_or_else(|| Resource::new(&arn).with("arn", arn.clone())))
}

pub(super) async fn put_listener(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let default = op
        .after("default")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let action = match Addr::parse(default) {
        Some(tg @ Addr::TargetGroup(_)) => forward(&op.arn_of(&tg)?),
        _ if default.starts_with("redirect:") => redirect_https(),
        _ if default == FORBIDDEN => forbidden(),
        _ => {
            return Err(Error::Internal(format!(
                "{a}: no default action in the plan ({default:?})"
            )))
        }
    };
    let https = *op.addr == Addr::HttpsListener;
    let cert = spec.certificate_arn.clone().unwrap_or_default();
    if !op.create {
        let arn = op.arn()?;
        if op.attrs_changed() {
            let mut call = c
                .elb
                .modify_listener()
                .listener_arn(&arn)
                .default_actions(action);
            if https {
                call = call
                    .certificates(Certificate::builder().certificate_arn(&cert).build())
                    .ssl_policy(TLS_POLICY);
            }
            call.send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyListener", e))?;
        }
        op.sync_tags(&ElbTags(&c.elb)).await?;
        return Ok(Resource::new(&arn).with("arn", arn.clone()));
    }
    let mut call = c
        .elb
        .create_listener()
        .load_balancer_arn(op.arn_of(&Addr::Alb)?)
        .port(if https { 443 } else { 80 })
        .protocol(if https {
            ProtocolEnum::Https
        } else {
            ProtocolEnum::Http
        })
        .default_actions(action)
        .set_tags(elb_tags(op));
    if https {
        call = call
            .certificates(Certificate::builder().certificate_arn(&cert).build())
            .ssl_policy(TLS_POLICY);
    }
    let out = call
        .send()
        .await
        .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateListener", e))?;
    let arn = out
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .unwrap_or_default()
        .to_owned();
    Ok(Resource::new(&arn).with("arn", arn.clone()))
}

pub(super) async fn put_target_group(op: &Op<'_>) -> Result<Resource> {
    let (c, spec, a) = (op.c, op.spec, op.a);
    let s = op.service()?;
    let arn = if op.create {
        let out = c
            .elb
            .create_target_group()
            .name(&s.target_group)
            .port(i32::from(s.port))
            .protocol(ProtocolEnum::Http)
            .target_type(TargetTypeEnum::Ip)
            .vpc_id(need(&spec.vpc_id, "VPC", a)?)
            .health_check_path(&s.health_check_path)
            .set_tags(elb_tags(op))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateTargetGroup", e))?;
        out.target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_owned()
    } else {
        let arn = op.arn()?;
        if op.changed("health_check_path") {
            c.elb
                .modify_target_group()
                .target_group_arn(&arn)
                .health_check_path(&s.health_check_path)
                .send()
                .await
                .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyTargetGroup", e))?;
        }
        op.sync_tags(&ElbTags(&c.elb)).await?;
        arn
    };
    Ok(Resource::new(&arn)
        .with("arn", arn.clone())
        .with("name", s.target_group.clone()))
}

pub(super) async fn put_rule(op: &Op<'_>) -> Result<Resource> {
    let (c, a) = (op.c, op.a);
    let s = op.service()?;
    let path = op
        .after("path")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let listener = op
        .after("listener")
        .and_then(Value::as_str)
        .and_then(Addr::parse)
        .unwrap_or(Addr::HttpListener);
    let priority = op
        .after("priority")
        .and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(10);
    let modify = op.create || op.changed("path") || op.changed("target") || op.changed("header");
    let values = if modify {
        planned_values(op).await?
    } else {
        Vec::new()
    };
    let conditions = Some(header_rule_conditions(&path, &values));
    let tg = op.arn_of(&Addr::TargetGroup(s.key.clone()))?;
    if op.create {
        let out = c
            .elb
            .create_rule()
            .listener_arn(op.arn_of(&listener)?)
            .priority(priority)
            .set_conditions(conditions)
            .actions(forward(&tg))
            .set_tags(elb_tags(op))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:CreateRule", e))?;
        let arn = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default()
            .to_owned();
        return Ok(Resource::new(&arn).with("arn", arn.clone()));
    }
    let arn = op.arn()?;
    if modify {
        c.elb
            .modify_rule()
            .rule_arn(&arn)
            .set_conditions(conditions)
            .actions(forward(&tg))
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:ModifyRule", e))?;
    }
    if op.changed("priority") {
        c.elb
            .set_rule_priorities()
            .rule_priorities(
                RulePriorityPair::builder()
                    .rule_arn(&arn)
                    .priority(priority)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| Error::aws(a, "elasticloadbalancing:SetRulePriorities", e))?;
    }
    op.sync_tags(&ElbTags(&c.elb)).await?;
    Ok(Resource::new(&arn).with("arn", arn.clone()))
}

pub(super) async fn delete_load_balancer(op: &Op<'_>, res: &Resource) -> Result<()> {
    let elb = &op.c.elb;
    // Planned only with `down --disable-deletion-protection` (or when protection is off): it goes first.
    let _ = elb
        .modify_load_balancer_attributes()
        .load_balancer_arn(&res.id)
        .attributes(
            LoadBalancerAttribute::builder()
                .key("deletion_protection.enabled")
                .value("false")
                .build(),
        )
        .send()
        .await;
    deleted(
        elb.delete_load_balancer()
            .load_balancer_arn(&res.id)
            .send()
            .await,
        op.a,
        "elasticloadbalancing:DeleteLoadBalancer",
    )
}

pub(super) async fn delete_listener(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.elb
            .delete_listener()
            .listener_arn(&res.id)
            .send()
            .await,
        op.a,
        "elasticloadbalancing:DeleteListener",
    )
}

pub(super) async fn delete_rule(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.elb.delete_rule().rule_arn(&res.id).send().await,
        op.a,
        "elasticloadbalancing:DeleteRule",
    )
}

pub(super) async fn delete_target_group(op: &Op<'_>, res: &Resource) -> Result<()> {
    deleted(
        op.c.elb
            .delete_target_group()
            .target_group_arn(&res.id)
            .send()
            .await,
        op.a,
        "elasticloadbalancing:DeleteTargetGroup",
    )
}

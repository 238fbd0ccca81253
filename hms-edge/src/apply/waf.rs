//! The web ACLs (rules replaced whole with the lock token read in the same step) and the ALB's
//! association.

use aws_sdk_wafv2::types::{
    AllowAction, BlockAction, DefaultAction, ManagedRuleGroupStatement, NoneAction, OverrideAction,
    RateBasedStatement, RateBasedStatementAggregateKeyType, Rule, RuleAction, Scope, Statement,
    Tag, VisibilityConfig,
};
use hms_core::apply::Recorder;
use hms_core::aws_tags::Wafv2Tags;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::built;
use crate::addr::{Addr, Door};
use crate::observe::waf::{get, name_and_id};
use crate::plan::RATE_RULE;
use crate::spec::{Spec, Waf};
use crate::Clients;

fn visibility(metric: &str) -> Result<VisibilityConfig> {
    // Metric names: letters, digits, '-' and '_'.
    let metric: String = metric
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    built(
        VisibilityConfig::builder()
            .sampled_requests_enabled(true)
            .cloud_watch_metrics_enabled(true)
            .metric_name(metric)
            .build(),
    )
}

fn rules(acl: &str, waf: &Waf) -> Result<Vec<Rule>> {
    let mut out = Vec::new();
    for (i, g) in waf.managed.iter().enumerate() {
        out.push(built(
            Rule::builder()
                .name(g)
                .priority(i as i32)
                .statement(
                    Statement::builder()
                        .managed_rule_group_statement(built(
                            ManagedRuleGroupStatement::builder()
                                .vendor_name("AWS")
                                .name(g)
                                .build(),
                        )?)
                        .build(),
                )
                .override_action(
                    OverrideAction::builder()
                        .none(NoneAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility(&format!("{acl}-{g}"))?)
                .build(),
        )?);
    }
    if let Some(limit) = waf.rate_limit {
        out.push(built(
            Rule::builder()
                .name(RATE_RULE)
                .priority(waf.managed.len() as i32)
                .statement(
                    Statement::builder()
                        .rate_based_statement(built(
                            RateBasedStatement::builder()
                                .limit(limit)
                                .evaluation_window_sec(300)
                                .aggregate_key_type(RateBasedStatementAggregateKeyType::Ip)
                                .build(),
                        )?)
                        .build(),
                )
                .action(
                    RuleAction::builder()
                        .block(BlockAction::builder().build())
                        .build(),
                )
                .visibility_config(visibility(&format!("{acl}-{RATE_RULE}"))?)
                .build(),
        )?);
    }
    Ok(out)
}

/// One web ACL.
pub async fn web_acl(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    door: Door,
    step: Step,
    id: Option<String>,
) -> Result<Option<Resource>> {
    let address = Addr::WebAcl(door).to_string();
    let client = c.waf_of(door);
    let name = spec.name(&format!("{}-web-acl", door.word()));
    let scope = Scope::from(door.scope());
    let default = DefaultAction::builder()
        .allow(AllowAction::builder().build())
        .build();
    match step {
        Step::Create | Step::Update => {
            let waf = spec
                .waf
                .as_ref()
                .ok_or_else(|| Error::Internal(format!("{address}: no rules")))?;
            let tags: Vec<Tag> = spec
                .tagger
                .tags(&address, Some(&name))
                .iter()
                .map(|(k, v)| built(Tag::builder().key(k).value(v).build()))
                .collect::<Result<_>>()?;
            if step == Step::Create {
                let out = client
                    .create_web_acl()
                    .name(&name)
                    .scope(scope)
                    .default_action(default)
                    .description(format!(
                        "hms-edge: the {} door of {}",
                        door.word(),
                        spec.tagger.id.stack
                    ))
                    .set_rules(Some(rules(&name, waf)?))
                    .visibility_config(visibility(&name)?)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| Error::aws(&address, "wafv2:CreateWebACL", e))?;
                let arn = out
                    .summary()
                    .and_then(|s| s.arn())
                    .unwrap_or_default()
                    .to_owned();
                let r = Resource::new(arn);
                rec.record(&address, Some(r.clone())).await?;
                return Ok(Some(r));
            }
            let arn = id.ok_or_else(|| Error::Internal(format!("{address}: no id")))?;
            let Some((_, token)) = get(c, door, &arn).await? else {
                return Err(Error::Refused(format!(
                    "{address} {arn} is gone; run 'hms-edge up' again to make it"
                )));
            };
            let (_, acl_id) = name_and_id(&arn).unwrap_or_default();
            client
                .update_web_acl()
                .name(&name)
                .id(acl_id)
                .scope(Scope::from(door.scope()))
                .lock_token(token)
                .default_action(default)
                .set_rules(Some(rules(&name, waf)?))
                .visibility_config(visibility(&name)?)
                .send()
                .await
                .map_err(|e| Error::aws(&arn, "wafv2:UpdateWebACL", e))?;
            Ok(Some(Resource::new(arn)))
        }
        Step::Delete => {
            let Some(arn) = id else { return Ok(None) };
            let Some((acl, token)) = get(c, door, &arn).await? else {
                return Ok(None);
            };
            match client
                .delete_web_acl()
                .name(acl.name())
                .id(acl.id())
                .scope(Scope::from(door.scope()))
                .lock_token(token)
                .send()
                .await
            {
                Ok(_) => Ok(None),
                Err(e) if code_of(&e) == Some("WAFNonexistentItemException") => Ok(None),
                Err(e) => Err(Error::aws(&arn, "wafv2:DeleteWebACL", e)),
            }
        }
    }
}

/// Tags of a web ACL (an update that changes only them).
pub async fn sync_tags(c: &Clients, door: Door, arn: &str, change: &Change) -> Result<()> {
    hms_core::tags::sync(&Wafv2Tags(c.waf_of(door)), arn, change).await?;
    Ok(())
}

/// The association of the regional web ACL with the ALB.
pub async fn association(
    c: &Clients,
    spec: &Spec,
    change: &Change,
    step: Step,
    id: Option<String>,
    rec: &Recorder<'_>,
) -> Result<Option<Resource>> {
    let address = Addr::AlbAssociation.to_string();
    match step {
        Step::Create | Step::Update => {
            let alb = spec.alb.arn.clone().ok_or_else(|| {
                Error::Refused("needs outputs.ecs.alb_arn: run 'hms-ecs up' first".into())
            })?;
            let acl = rec.id(&Addr::WebAcl(Door::Alb).to_string())?;
            c.waf
                .associate_web_acl()
                .web_acl_arn(acl)
                .resource_arn(&alb)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "wafv2:AssociateWebACL", e))?;
            Ok(Some(Resource::new(alb)))
        }
        Step::Delete => {
            let alb = id
                .or_else(|| super::before_str(change, "resource"))
                .unwrap_or_default();
            if alb.is_empty() {
                return Ok(None);
            }
            match c.waf.disassociate_web_acl().resource_arn(&alb).send().await {
                Ok(_) => Ok(None),
                Err(e) if code_of(&e) == Some("WAFNonexistentItemException") => Ok(None),
                Err(e) => Err(Error::aws(&address, "wafv2:DisassociateWebACL", e)),
            }
        }
    }
}

//! The distribution: created with its tags (a deterministic CallerReference makes a repeated create
//! adopt, not duplicate), its config replaced whole with `If-Match` on the ETag read in the same step (a
//! stale ETag is retried once from a fresh read, never forced), each change waited for until `Deployed`;
//! deleted by disabling it, waiting, then deleting with the fresh ETag.

use aws_sdk_cloudfront::types::DistributionConfigWithTags;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CacheBehavior, CacheBehaviors, CachedMethods, CustomHeaders,
    CustomOriginConfig, DefaultCacheBehavior, DistributionConfig, HttpVersion, Method,
    MinimumProtocolVersion, Origin, OriginCustomHeader, OriginProtocolPolicy, OriginSslProtocols,
    Origins, PriceClass, S3OriginConfig, SslProtocol, SslSupportMethod, Tag, Tags,
    ViewerCertificate, ViewerProtocolPolicy,
};
use hms_core::apply::Recorder;
use hms_core::aws_tags::CloudFrontTags;
use hms_core::contract::Ctx;
use hms_core::error::code_of;
use hms_core::plan::{Change, Step};
use hms_core::state::Resource;
use hms_core::ui::{wait_until, Task};
use hms_core::{Error, Result};

use super::built;
use crate::addr::{Addr, Door};
use crate::plan::{ALB_ORIGIN, ALL_METHODS, READ_METHODS, STATIC_ORIGIN};
use crate::spec::{Spec, ALL_VIEWER_EXCEPT_HOST_HEADER, CACHING_DISABLED, CACHING_OPTIMIZED};
use crate::Clients;

const DIST: Addr = Addr::Distribution;

fn methods(list: &[&str]) -> Result<AllowedMethods> {
    let items: Vec<Method> = list.iter().map(|m| Method::from(*m)).collect();
    built(
        AllowedMethods::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .cached_methods(built(
                CachedMethods::builder()
                    .quantity(2)
                    .items(Method::Get)
                    .items(Method::Head)
                    .build(),
            )?)
            .build(),
    )
}

/// The full config from the spec, the recorded ids, and the origin secret's value (if any).
fn config(
    spec: &Spec,
    rec: &Recorder<'_>,
    secret: Option<&str>,
    enabled: bool,
) -> Result<DistributionConfig> {
    let oac = rec.id(&Addr::OriginAccessControl.to_string())?;
    let rhp = rec.id(&Addr::HeadersPolicy.to_string())?;
    let web_acl = match &spec.waf {
        Some(_) => rec.id(&Addr::WebAcl(Door::Cdn).to_string())?,
        None => String::new(),
    };
    let cert = spec.certificate_arn.clone().ok_or_else(|| {
        Error::Refused("needs outputs.dns.cdn_certificate_arn: run 'hms-dns up' first".into())
    })?;
    let mut headers = CustomHeaders::builder().quantity(0);
    if let Some(value) = secret {
        headers = built(
            CustomHeaders::builder()
                .quantity(1)
                .items(built(
                    OriginCustomHeader::builder()
                        .header_name(&spec.origin_header)
                        .header_value(value)
                        .build(),
                )?)
                .build(),
        )
        .map(|h| {
            CustomHeaders::builder()
                .quantity(h.quantity())
                .set_items(Some(h.items().to_vec()))
        })?;
    }
    let alb = built(
        Origin::builder()
            .id(ALB_ORIGIN)
            .domain_name(spec.origin_domain())
            .custom_headers(built(headers.build())?)
            .custom_origin_config(built(
                CustomOriginConfig::builder()
                    .http_port(80)
                    .https_port(443)
                    .origin_protocol_policy(OriginProtocolPolicy::HttpsOnly)
                    .origin_ssl_protocols(built(
                        OriginSslProtocols::builder()
                            .quantity(1)
                            .items(SslProtocol::TlSv12)
                            .build(),
                    )?)
                    .origin_read_timeout(30)
                    .origin_keepalive_timeout(5)
                    .build(),
            )?)
            .build(),
    )?;
    let bucket = built(
        Origin::builder()
            .id(STATIC_ORIGIN)
            .domain_name(spec.bucket_domain())
            .origin_access_control_id(oac)
            // With an OAC the identity stays empty.
            .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
            .custom_headers(built(CustomHeaders::builder().quantity(0).build())?)
            .build(),
    )?;
    let default = built(
        DefaultCacheBehavior::builder()
            .target_origin_id(ALB_ORIGIN)
            .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
            .allowed_methods(methods(ALL_METHODS)?)
            .cache_policy_id(CACHING_DISABLED)
            .origin_request_policy_id(ALL_VIEWER_EXCEPT_HOST_HEADER)
            .response_headers_policy_id(&rhp)
            .compress(true)
            .build(),
    )?;
    let behaviors: Vec<CacheBehavior> = spec
        .static_paths
        .iter()
        .map(|p| {
            built(
                CacheBehavior::builder()
                    .path_pattern(p)
                    .target_origin_id(STATIC_ORIGIN)
                    .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                    .allowed_methods(methods(READ_METHODS)?)
                    .cache_policy_id(CACHING_OPTIMIZED)
                    .response_headers_policy_id(&rhp)
                    .compress(true)
                    .build(),
            )
        })
        .collect::<Result<_>>()?;
    built(
        DistributionConfig::builder()
            .caller_reference(spec.caller_reference())
            .comment(spec.comment())
            .enabled(enabled)
            .aliases(built(
                Aliases::builder()
                    .quantity(1)
                    .items(spec.domain_name.clone())
                    .build(),
            )?)
            .viewer_certificate(
                ViewerCertificate::builder()
                    .acm_certificate_arn(cert)
                    .ssl_support_method(SslSupportMethod::SniOnly)
                    .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
                    .cloud_front_default_certificate(false)
                    .build(),
            )
            .origins(built(
                Origins::builder()
                    .quantity(2)
                    .items(alb)
                    .items(bucket)
                    .build(),
            )?)
            .default_cache_behavior(default)
            .cache_behaviors(built(
                CacheBehaviors::builder()
                    .quantity(behaviors.len() as i32)
                    .set_items(Some(behaviors))
                    .build(),
            )?)
            .web_acl_id(web_acl)
            .http_version(HttpVersion::Http2and3)
            .is_ipv6_enabled(true)
            .price_class(PriceClass::from(spec.price_class.as_str()))
            .build(),
    )
}

fn record(id: &str, arn: &str, domain_name: &str) -> Resource {
    Resource::new(id)
        .with("arn", arn)
        .with("domain_name", domain_name)
}

/// Waits until the distribution is `Deployed`.
async fn deployed(c: &Clients, ctx: &Ctx<'_>, id: &str, task: &Task<'_>) -> Result<()> {
    let resource = format!("{DIST} {id}");
    wait_until(task, &resource, "Deployed", ctx.timeout, || async {
        match c.cloudfront.get_distribution().id(id).send().await {
            Ok(o) => Ok(o
                .distribution()
                .filter(|d| d.status() == "Deployed")
                .map(|_| ())),
            Err(e) if code_of(&e) == Some("NoSuchDistribution") => Ok(Some(())),
            Err(e) => Err(Error::aws(&resource, "cloudfront:GetDistribution", e)),
        }
    })
    .await
}

/// Replaces the config of `id` with `make(current enabled)`, with `If-Match` on a fresh ETag; a stale ETag
/// (412) is retried once from a fresh read.
async fn replace_config(
    c: &Clients,
    id: &str,
    mut make: impl FnMut() -> Result<DistributionConfig>,
) -> Result<()> {
    let resource = format!("{DIST} {id}");
    for attempt in 0..2 {
        let got = c
            .cloudfront
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| Error::aws(&resource, "cloudfront:GetDistributionConfig", e))?;
        let etag = got.e_tag().map(str::to_owned);
        match c
            .cloudfront
            .update_distribution()
            .id(id)
            .set_if_match(etag)
            .distribution_config(make()?)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if code_of(&e) == Some("PreconditionFailed") && attempt == 0 => continue,
            Err(e) => return Err(Error::aws(&resource, "cloudfront:UpdateDistribution", e)),
        }
    }
    Ok(())
}

/// Runs one step of the distribution.
#[allow(clippy::too_many_arguments)]
pub async fn apply(
    c: &Clients,
    ctx: &Ctx<'_>,
    rec: &Recorder<'_>,
    spec: &Spec,
    change: &Change,
    step: Step,
    id: Option<String>,
    task: &Task<'_>,
) -> Result<Option<Resource>> {
    let secret = match (&spec.origin_secret_arn, step) {
        (Some(arn), Step::Create | Step::Update) => {
            Some(crate::observe::secret_value(c, arn).await?)
        }
        _ => None,
    };
    let op = Op {
        c,
        ctx,
        rec,
        spec,
        secret: secret.as_deref(),
        task,
    };
    match step {
        Step::Create => create(&op).await,
        Step::Update => update(&op, change, id).await,
        Step::Delete => delete(&op, id).await,
    }
}

/// What every step of the distribution works with.
struct Op<'a> {
    c: &'a Clients,
    ctx: &'a Ctx<'a>,
    rec: &'a Recorder<'a>,
    spec: &'a Spec,
    /// The origin header's value, read for this step only.
    secret: Option<&'a str>,
    task: &'a Task<'a>,
}

/// Creates the distribution (or adopts the one a killed run made), records it, waits for Deployed.
async fn create(op: &Op<'_>) -> Result<Option<Resource>> {
    let (c, ctx, rec, spec, task) = (op.c, op.ctx, op.rec, op.spec, op.task);
    let address = DIST.to_string();
    let secret = op.secret.map(str::to_owned);
    let tags: Vec<Tag> = spec
        .tagger
        .tags(&address, Some(&spec.name("cdn")))
        .iter()
        .map(|(k, v)| built(Tag::builder().key(k).value(v).build()))
        .collect::<Result<_>>()?;
    let with_tags = DistributionConfigWithTags::builder()
        .distribution_config(config(spec, rec, secret.as_deref(), true)?)
        .tags(Tags::builder().set_items(Some(tags)).build())
        .build();
    let (id, arn, domain) = match c
        .cloudfront
        .create_distribution_with_tags()
        .distribution_config_with_tags(with_tags)
        .send()
        .await
    {
        Ok(out) => {
            let d = out.distribution().ok_or_else(|| {
                Error::Internal("CreateDistribution returned no distribution".into())
            })?;
            (
                d.id().to_owned(),
                d.arn().to_owned(),
                d.domain_name().to_owned(),
            )
        }
        // A run killed after the create: the same CallerReference names the one it made.
        Err(e) if code_of(&e) == Some("DistributionAlreadyExists") => {
            let msg =
                hms_core::error::Error::aws(&address, "cloudfront:CreateDistributionWithTags", e);
            let text = msg.to_string();
            let existing = text
                .split(|ch: char| !ch.is_ascii_alphanumeric())
                .find(|w| {
                    w.len() >= 13
                        && w.len() <= 14
                        && w.chars()
                            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit())
                })
                .map(str::to_owned)
                .ok_or(msg)?;
            task.status("already exists (same caller reference); adopting it", false);
            let got = c
                .cloudfront
                .get_distribution()
                .id(&existing)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "cloudfront:GetDistribution", e))?;
            let d = got.distribution().ok_or_else(|| {
                Error::Internal("GetDistribution returned no distribution".into())
            })?;
            let r = record(d.id(), d.arn(), d.domain_name());
            rec.record(&address, Some(r)).await?;
            let sec = secret.clone();
            replace_config(c, &existing, || config(spec, rec, sec.as_deref(), true)).await?;
            (
                d.id().to_owned(),
                d.arn().to_owned(),
                d.domain_name().to_owned(),
            )
        }
        Err(e) => {
            return Err(Error::aws(
                &address,
                "cloudfront:CreateDistributionWithTags",
                e,
            ))
        }
    };
    let r = record(&id, &arn, &domain);
    rec.record(&address, Some(r.clone())).await?;
    deployed(c, ctx, &id, task).await?;
    Ok(Some(r))
}

/// Replaces the config (If-Match) when it changed, syncs the tags, waits for Deployed after a change.
async fn update(op: &Op<'_>, change: &Change, id: Option<String>) -> Result<Option<Resource>> {
    let (c, ctx, rec, spec, task) = (op.c, op.ctx, op.rec, op.spec, op.task);
    let address = DIST.to_string();
    let secret = op.secret.map(str::to_owned);
    let id = id.ok_or_else(|| Error::Internal(format!("{address}: no id")))?;
    let config_changed = change.before.as_ref().and_then(|v| v.get("config"))
        != change.after.as_ref().and_then(|v| v.get("config"));
    if config_changed {
        replace_config(c, &id, || config(spec, rec, secret.as_deref(), true)).await?;
    }
    let got = c
        .cloudfront
        .get_distribution()
        .id(&id)
        .send()
        .await
        .map_err(|e| Error::aws(&address, "cloudfront:GetDistribution", e))?;
    let d = got
        .distribution()
        .ok_or_else(|| Error::Internal("GetDistribution returned no distribution".into()))?;
    hms_core::tags::sync(&CloudFrontTags(&c.cloudfront), d.arn(), change).await?;
    let r = record(&id, d.arn(), d.domain_name());
    if config_changed {
        deployed(c, ctx, &id, task).await?;
    }
    Ok(Some(r))
}

/// Disables, waits, then deletes with the fresh ETag (retried once on a stale one).
async fn delete(op: &Op<'_>, id: Option<String>) -> Result<Option<Resource>> {
    let (c, ctx, task) = (op.c, op.ctx, op.task);
    let Some(id) = id else { return Ok(None) };
    let resource = format!("{DIST} {id}");
    let got = match c.cloudfront.get_distribution_config().id(&id).send().await {
        Ok(g) => g,
        Err(e) if code_of(&e) == Some("NoSuchDistribution") => return Ok(None),
        Err(e) => return Err(Error::aws(&resource, "cloudfront:GetDistributionConfig", e)),
    };
    if got.distribution_config().is_some_and(|c| c.enabled()) {
        task.status("disabling", true);
        replace_config(c, &id, || {
            let current = got
                .distribution_config()
                .cloned()
                .ok_or_else(|| Error::Internal("no config".into()))?;
            let mut b = current.into_builder_enabled(false);
            b = b.enabled(false);
            built(b.build())
        })
        .await?;
    }
    deployed(c, ctx, &id, task).await?;
    for attempt in 0..2 {
        let etag = match c.cloudfront.get_distribution_config().id(&id).send().await {
            Ok(g) => g.e_tag().map(str::to_owned),
            Err(e) if code_of(&e) == Some("NoSuchDistribution") => return Ok(None),
            Err(e) => return Err(Error::aws(&resource, "cloudfront:GetDistributionConfig", e)),
        };
        match c
            .cloudfront
            .delete_distribution()
            .id(&id)
            .set_if_match(etag)
            .send()
            .await
        {
            Ok(_) => return Ok(None),
            Err(e) if code_of(&e) == Some("NoSuchDistribution") => return Ok(None),
            Err(e) if code_of(&e) == Some("PreconditionFailed") && attempt == 0 => continue,
            Err(e) => return Err(Error::aws(&resource, "cloudfront:DeleteDistribution", e)),
        }
    }
    Ok(None)
}

/// A config copied with another `enabled`.
trait WithEnabled {
    fn into_builder_enabled(
        self,
        enabled: bool,
    ) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder;
}

impl WithEnabled for DistributionConfig {
    fn into_builder_enabled(
        self,
        enabled: bool,
    ) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder {
        DistributionConfig::builder()
            .caller_reference(self.caller_reference())
            .set_aliases(self.aliases().cloned())
            .set_default_root_object(self.default_root_object().map(str::to_owned))
            .set_origins(self.origins().cloned())
            .set_origin_groups(self.origin_groups().cloned())
            .set_default_cache_behavior(self.default_cache_behavior().cloned())
            .set_cache_behaviors(self.cache_behaviors().cloned())
            .set_custom_error_responses(self.custom_error_responses().cloned())
            .comment(self.comment())
            .set_logging(self.logging().cloned())
            .set_price_class(self.price_class().cloned())
            .enabled(enabled)
            .set_viewer_certificate(self.viewer_certificate().cloned())
            .set_restrictions(self.restrictions().cloned())
            .set_web_acl_id(self.web_acl_id().map(str::to_owned))
            .set_http_version(self.http_version().cloned())
            .set_is_ipv6_enabled(self.is_ipv6_enabled())
    }
}

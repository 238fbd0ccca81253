//! The origin access control and the response headers policy (replaced whole, with `If-Match` on the
//! ETag read in the same step).

use aws_sdk_cloudfront::types::{
    FrameOptionsList, OriginAccessControlConfig, OriginAccessControlOriginTypes,
    OriginAccessControlSigningBehaviors, OriginAccessControlSigningProtocols, ReferrerPolicyList,
    ResponseHeadersPolicyConfig, ResponseHeadersPolicyContentSecurityPolicy,
    ResponseHeadersPolicyContentTypeOptions, ResponseHeadersPolicyFrameOptions,
    ResponseHeadersPolicyReferrerPolicy, ResponseHeadersPolicySecurityHeadersConfig,
    ResponseHeadersPolicyStrictTransportSecurity,
};
use hms_core::apply::Recorder;
use hms_core::error::code_of;
use hms_core::plan::Step;
use hms_core::state::Resource;
use hms_core::{Error, Result};

use super::built;
use crate::addr::Addr;
use crate::spec::{Spec, HSTS_MAX_AGE};
use crate::Clients;

fn oac_config(spec: &Spec) -> Result<OriginAccessControlConfig> {
    built(
        OriginAccessControlConfig::builder()
            .name(spec.name("static-oac"))
            .description(format!("hms-edge: the static bucket {}", spec.bucket))
            .signing_protocol(OriginAccessControlSigningProtocols::Sigv4)
            .signing_behavior(OriginAccessControlSigningBehaviors::Always)
            .origin_access_control_origin_type(OriginAccessControlOriginTypes::S3)
            .build(),
    )
}

/// The origin access control.
pub async fn oac(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    step: Step,
    id: Option<String>,
) -> Result<Option<Resource>> {
    let address = Addr::OriginAccessControl.to_string();
    let cf = &c.cloudfront;
    match step {
        Step::Create => {
            let out = match cf
                .create_origin_access_control()
                .origin_access_control_config(oac_config(spec)?)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) if code_of(&e) == Some("OriginAccessControlAlreadyExists") => {
                    // Made by a run that died before recording it: adopt it by name.
                    let list = cf.list_origin_access_controls().send().await.map_err(|e| {
                        Error::aws(&address, "cloudfront:ListOriginAccessControls", e)
                    })?;
                    let name = spec.name("static-oac");
                    let id = list
                        .origin_access_control_list()
                        .map(|l| l.items())
                        .unwrap_or_default()
                        .iter()
                        .find(|o| o.name() == name)
                        .map(|o| o.id().to_owned())
                        .ok_or_else(|| {
                            Error::aws(&address, "cloudfront:CreateOriginAccessControl", e)
                        })?;
                    let r = Resource::new(id);
                    rec.record(&address, Some(r.clone())).await?;
                    return Ok(Some(r));
                }
                Err(e) => {
                    return Err(Error::aws(
                        &address,
                        "cloudfront:CreateOriginAccessControl",
                        e,
                    ))
                }
            };
            let id = out
                .origin_access_control()
                .map(|o| o.id().to_owned())
                .unwrap_or_default();
            let r = Resource::new(id);
            rec.record(&address, Some(r.clone())).await?;
            Ok(Some(r))
        }
        Step::Update => {
            let id = id.ok_or_else(|| Error::Internal(format!("{address}: no id")))?;
            let got = cf
                .get_origin_access_control_config()
                .id(&id)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "cloudfront:GetOriginAccessControlConfig", e))?;
            cf.update_origin_access_control()
                .id(&id)
                .set_if_match(got.e_tag().map(str::to_owned))
                .origin_access_control_config(oac_config(spec)?)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "cloudfront:UpdateOriginAccessControl", e))?;
            Ok(Some(Resource::new(id)))
        }
        Step::Delete => {
            let Some(id) = id else { return Ok(None) };
            let got = match cf.get_origin_access_control_config().id(&id).send().await {
                Ok(g) => g,
                Err(e) if code_of(&e) == Some("NoSuchOriginAccessControl") => return Ok(None),
                Err(e) => {
                    return Err(Error::aws(
                        &address,
                        "cloudfront:GetOriginAccessControlConfig",
                        e,
                    ))
                }
            };
            match cf
                .delete_origin_access_control()
                .id(&id)
                .set_if_match(got.e_tag().map(str::to_owned))
                .send()
                .await
            {
                Ok(_) => Ok(None),
                Err(e) if code_of(&e) == Some("NoSuchOriginAccessControl") => Ok(None),
                Err(e) => Err(Error::aws(
                    &address,
                    "cloudfront:DeleteOriginAccessControl",
                    e,
                )),
            }
        }
    }
}

fn headers_config(spec: &Spec) -> Result<ResponseHeadersPolicyConfig> {
    let mut sec = ResponseHeadersPolicySecurityHeadersConfig::builder()
        .strict_transport_security(built(
            ResponseHeadersPolicyStrictTransportSecurity::builder()
                .r#override(true)
                .include_subdomains(true)
                .preload(spec.hsts_preload)
                .access_control_max_age_sec(HSTS_MAX_AGE as i32)
                .build(),
        )?)
        .content_type_options(built(
            ResponseHeadersPolicyContentTypeOptions::builder()
                .r#override(true)
                .build(),
        )?)
        .frame_options(built(
            ResponseHeadersPolicyFrameOptions::builder()
                .r#override(true)
                .frame_option(FrameOptionsList::Deny)
                .build(),
        )?)
        .referrer_policy(built(
            ResponseHeadersPolicyReferrerPolicy::builder()
                .r#override(true)
                .referrer_policy(ReferrerPolicyList::StrictOriginWhenCrossOrigin)
                .build(),
        )?);
    if let Some(csp) = &spec.csp {
        sec = sec.content_security_policy(built(
            ResponseHeadersPolicyContentSecurityPolicy::builder()
                .r#override(true)
                .content_security_policy(csp)
                .build(),
        )?);
    }
    built(
        ResponseHeadersPolicyConfig::builder()
            .name(spec.name("security-headers"))
            .comment("hms-edge: security headers for the HMS application")
            .security_headers_config(sec.build())
            .build(),
    )
}

/// The response headers policy.
pub async fn headers(
    c: &Clients,
    rec: &Recorder<'_>,
    spec: &Spec,
    step: Step,
    id: Option<String>,
) -> Result<Option<Resource>> {
    let address = Addr::HeadersPolicy.to_string();
    let cf = &c.cloudfront;
    match step {
        Step::Create => {
            let id = match cf
                .create_response_headers_policy()
                .response_headers_policy_config(headers_config(spec)?)
                .send()
                .await
            {
                Ok(o) => o
                    .response_headers_policy()
                    .map(|p| p.id().to_owned())
                    .unwrap_or_default(),
                Err(e) if code_of(&e) == Some("ResponseHeadersPolicyAlreadyExists") => {
                    let list = cf
                        .list_response_headers_policies()
                        .r#type(aws_sdk_cloudfront::types::ResponseHeadersPolicyType::Custom)
                        .send()
                        .await
                        .map_err(|e| {
                            Error::aws(&address, "cloudfront:ListResponseHeadersPolicies", e)
                        })?;
                    let name = spec.name("security-headers");
                    let found = list
                        .response_headers_policy_list()
                        .map(|l| l.items())
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|s| s.response_headers_policy())
                        .find(|p| {
                            p.response_headers_policy_config()
                                .is_some_and(|c| c.name() == name)
                        })
                        .map(|p| p.id().to_owned())
                        .ok_or_else(|| {
                            Error::aws(&address, "cloudfront:CreateResponseHeadersPolicy", e)
                        })?;
                    found
                }
                Err(e) => {
                    return Err(Error::aws(
                        &address,
                        "cloudfront:CreateResponseHeadersPolicy",
                        e,
                    ))
                }
            };
            let r = Resource::new(id);
            rec.record(&address, Some(r.clone())).await?;
            Ok(Some(r))
        }
        Step::Update => {
            let id = id.ok_or_else(|| Error::Internal(format!("{address}: no id")))?;
            let got = cf
                .get_response_headers_policy()
                .id(&id)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "cloudfront:GetResponseHeadersPolicy", e))?;
            cf.update_response_headers_policy()
                .id(&id)
                .set_if_match(got.e_tag().map(str::to_owned))
                .response_headers_policy_config(headers_config(spec)?)
                .send()
                .await
                .map_err(|e| Error::aws(&address, "cloudfront:UpdateResponseHeadersPolicy", e))?;
            Ok(Some(Resource::new(id)))
        }
        Step::Delete => {
            let Some(id) = id else { return Ok(None) };
            let got = match cf.get_response_headers_policy().id(&id).send().await {
                Ok(g) => g,
                Err(e) if code_of(&e) == Some("NoSuchResponseHeadersPolicy") => return Ok(None),
                Err(e) => {
                    return Err(Error::aws(
                        &address,
                        "cloudfront:GetResponseHeadersPolicy",
                        e,
                    ))
                }
            };
            match cf
                .delete_response_headers_policy()
                .id(&id)
                .set_if_match(got.e_tag().map(str::to_owned))
                .send()
                .await
            {
                Ok(_) => Ok(None),
                Err(e) if code_of(&e) == Some("NoSuchResponseHeadersPolicy") => Ok(None),
                Err(e) => Err(Error::aws(
                    &address,
                    "cloudfront:DeleteResponseHeadersPolicy",
                    e,
                )),
            }
        }
    }
}

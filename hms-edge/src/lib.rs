//! hms-edge: CloudFront in front of the HMS application — the static-assets bucket (ACLs off, every
//! public-access block, SSE, versioning, readable only by the distribution through its origin access
//! control), a response headers policy (HSTS, X-Content-Type-Options, X-Frame-Options DENY,
//! Referrer-Policy, and the configured Content-Security-Policy), the distribution (the ALB reached as
//! `origin.<domain>` over HTTPS with the origin-verify header, `/static/*` from the bucket), WAFv2 web ACLs
//! at both doors (CLOUDFRONT on the distribution, REGIONAL on the ALB), standard logging v2 to CloudWatch
//! Logs, and the `A`/`AAAA` alias records of the domain plus `origin.<domain>` → the ALB.
//!
//! Reads `outputs.dns` (`domain_name`, `zone_id`, `cdn_certificate_arn`), `outputs.ecs` (`alb_arn`,
//! `alb_dns_name`, `alb_zone_id`, and `origin_verify_secret_arn` / `origin_verify_header` when present),
//! `outputs.security.kms_key_arns` (`backups` with `encryption = "kms"`, `logs` for the log group).
//! Writes `outputs.edge`: `distribution_id`, `distribution_domain_name`, `static_bucket`, `web_acl_arn`,
//! `url`.

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::addr::Address;
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput};
use hms_core::plan::{Action, Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::{Error, Result};
use serde_json::Value;

use crate::addr::{Addr, Door};
use crate::observe::Observed;
use crate::spec::{DownFlags, Spec, CDN_REGION};

/// Command line of hms-edge.
#[derive(Debug, Parser)]
#[command(
    name = "hms-edge",
    version,
    about = "Provision the HMS edge: CloudFront, the static bucket, security headers, WAF and the domain's records."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: EdgeCommand,
}

/// hms-edge's commands: the common ones, `down` with `--force-empty`.
#[derive(Debug, Subcommand)]
pub enum EdgeCommand {
    #[command(flatten)]
    Common(Command<NoFlags, NoFlags, DownFlags>),
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        EdgeCommand::Common(c) => hms_core::engine::run::<Edge>(&cli.global, c).await,
    }
}

/// The AWS clients hms-edge uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    /// CloudFront (a global service, signed for us-east-1).
    pub cloudfront: aws_sdk_cloudfront::Client,
    /// WAFv2 in us-east-1 (scope CLOUDFRONT).
    pub waf_cdn: aws_sdk_wafv2::Client,
    /// WAFv2 in the stack's region (scope REGIONAL).
    pub waf: aws_sdk_wafv2::Client,
    pub route53: aws_sdk_route53::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// CloudWatch Logs in us-east-1 (CloudFront's log deliveries are made there).
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    /// The WAFv2 client of a door.
    pub fn waf_of(&self, door: Door) -> &aws_sdk_wafv2::Client {
        match door {
            Door::Cdn => &self.waf_cdn,
            Door::Alb => &self.waf,
        }
    }
}

/// The hms-edge tool.
#[derive(Debug)]
pub struct Edge {
    clients: Clients,
}

impl Tool for Edge {
    const NAME: &'static str = "hms-edge";
    const SECTION: &'static str = "edge";
    const USES: &'static [&'static str] = &["dns", "ecs", "security"];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;

    /// `{bucket}`: the static bucket's configured name.
    fn permission_names(
        config: &hms_core::config::Config,
        id: &hms_core::document::Identity,
    ) -> Result<Vec<(&'static str, String)>> {
        let cfg: spec::EdgeConfig = config.section("edge")?;
        let bucket = cfg
            .bucket
            .unwrap_or_else(|| format!("{}-static-{}", id.stack, id.env));
        Ok(vec![("bucket", bucket)])
    }
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = NoFlags;
    type DownFlags = DownFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        let us = aws_config::Region::new(CDN_REGION);
        let cloudfront = aws_sdk_cloudfront::config::Builder::from(sdk)
            .region(us.clone())
            .build();
        let waf_cdn = aws_sdk_wafv2::config::Builder::from(sdk)
            .region(us.clone())
            .build();
        let logs = aws_sdk_cloudwatchlogs::config::Builder::from(sdk)
            .region(us)
            .build();
        Edge {
            clients: Clients {
                s3: aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(sdk)
                        .force_path_style(true)
                        .build(),
                ),
                cloudfront: aws_sdk_cloudfront::Client::from_conf(cloudfront),
                waf_cdn: aws_sdk_wafv2::Client::from_conf(waf_cdn),
                waf: aws_sdk_wafv2::Client::new(sdk),
                route53: aws_sdk_route53::Client::new(sdk),
                secrets: aws_sdk_secretsmanager::Client::new(sdk),
                logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs),
            },
        }
    }

    async fn observe(&self, _ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        observe::observe(&self.clients, spec, state).await
    }

    fn plan(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan(spec, observed)
    }

    /// The static bucket is deleted only when empty, or with `--force-empty`.
    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        spec: &Spec,
        _observed: &Observed,
        plan: &Plan,
    ) -> Result<Vec<String>> {
        let Some(change) = plan.changes.iter().find(|c| {
            Addr::parse(&c.address) == Some(Addr::Bucket)
                && matches!(c.action, Action::Delete | Action::Replace)
        }) else {
            return Ok(vec![]);
        };
        if spec.force_empty {
            return Ok(vec![]);
        }
        let name = change
            .before
            .as_ref()
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if hms_core::s3::has_versions(&self.clients.s3, &format!("{} {name}", Addr::Bucket), &name)
            .await?
        {
            return Err(Error::Refused(format!(
                "{} {name} holds objects; nothing was deleted. Copy what you need, then run 'hms-edge down --force-empty' to delete them with the bucket",
                Addr::Bucket
            )));
        }
        Ok(vec![])
    }

    async fn apply(
        &self,
        ctx: &Ctx<'_>,
        rec: &Recorder<'_>,
        spec: &Spec,
        change: &Change,
        step: Step,
        task: &hms_core::ui::Task<'_>,
    ) -> Result<Option<Resource>> {
        apply::apply(&self.clients, ctx, rec, spec, change, step, task).await
    }

    fn import(spec: &Spec, tf: &hms_core::terraform::TfState) -> hms_core::terraform::Mapping {
        import::map(spec, tf)
    }

    fn outputs(spec: &Spec, r: &Resources) -> Outputs {
        let mut o = Outputs::default();
        let dist = r.get(&Addr::Distribution.to_string());
        o.maybe("distribution_id", dist.map(|d| Value::from(d.id.clone())));
        o.maybe(
            "distribution_domain_name",
            dist.and_then(|d| d.attr("domain_name")).map(Value::from),
        );
        o.set("static_bucket", spec.bucket.clone());
        if spec.waf.is_some() {
            o.maybe(
                "web_acl_arn",
                r.get(&Addr::WebAcl(Door::Cdn).to_string())
                    .map(|w| Value::from(w.id.clone())),
            );
        } else {
            o.set("web_acl_arn", Value::Null);
        }
        if !spec.domain_name.is_empty() {
            o.set("url", format!("https://{}/", spec.domain_name));
        }
        o
    }
}

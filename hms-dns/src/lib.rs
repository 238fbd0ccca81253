//! hms-dns: the HMS domain in Route 53 and its ACM certificates, so the stack serves HTTPS by default.
//!
//! Owns: the hosted zone when it creates it (`[dns] create_zone = true`; otherwise it writes into the
//! existing public zone `[dns] zone`, default the parent of `domain_name`, and never deletes it), ACM
//! certificates validated by DNS — one in us-east-1 for the CDN and, when the stack's region differs, one
//! there for the ALB that also names `origin.<domain_name>` (in us-east-1 one certificate serves both) —
//! their validation CNAMEs, and a CAA record allowing only ACM to issue for the domain.
//!
//! Reads only config (no upstream section). Writes `outputs.dns`:
//!
//! | key | value |
//! |---|---|
//! | `domain_name` | the domain |
//! | `zone_id`, `zone_name` | the hosted zone (id without `/hostedzone/`) |
//! | `name_servers` | the created zone's name servers, to delegate to (only with `create_zone`) |
//! | `certificate_arn` | the regional certificate, for the ALB |
//! | `cdn_certificate_arn` | the us-east-1 certificate, for CloudFront |
//! | `validation_status` | `ISSUED` when every certificate is, else the first other status |
//!
//! Values not known before `up` (ARNs on an empty account) are null and listed as unknown.

pub mod addr;
pub mod apply;
pub mod import;
pub mod observe;
pub mod permissions;
pub mod plan;
pub mod spec;

use clap::{Parser, Subcommand};
use hms_core::apply::Recorder;
use hms_core::aws::SdkConfig;
use hms_core::cli::{Command, GlobalArgs, NoFlags};
use hms_core::contract::{Ctx, Outputs, Tool, ToolInput};
use hms_core::diff::records;
use hms_core::plan::{Change, Plan, Step};
use hms_core::state::{Resource, Resources, State};
use hms_core::Result;
use serde_json::Value;

use crate::addr::Addr;
use crate::observe::Observed;
use crate::spec::{Spec, CDN_REGION};

/// Command line of hms-dns.
#[derive(Debug, Parser)]
#[command(
    name = "hms-dns",
    version,
    about = "Provision the HMS domain: the Route 53 zone, ACM certificates validated by DNS, and CAA."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: DnsCommand,
}

/// hms-dns's commands: the common ones.
#[derive(Debug, Subcommand)]
pub enum DnsCommand {
    #[command(flatten)]
    Common(Command<NoFlags, NoFlags, NoFlags>),
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(cli: Cli) -> i32 {
    match cli.command {
        DnsCommand::Common(c) => hms_core::engine::run::<Dns>(&cli.global, c).await,
    }
}

/// The AWS clients hms-dns uses.
#[derive(Debug, Clone)]
pub struct Clients {
    pub route53: aws_sdk_route53::Client,
    /// ACM in the stack's region.
    pub acm: aws_sdk_acm::Client,
    /// ACM in us-east-1 (the CDN's certificates).
    pub acm_cdn: aws_sdk_acm::Client,
    pub region: String,
}

impl Clients {
    /// The ACM client of `region` (us-east-1 or the stack's).
    pub fn acm_in(&self, region: &str) -> &aws_sdk_acm::Client {
        if region == CDN_REGION {
            &self.acm_cdn
        } else {
            &self.acm
        }
    }
}

/// The hms-dns tool.
#[derive(Debug)]
pub struct Dns {
    clients: Clients,
}

impl Tool for Dns {
    const NAME: &'static str = "hms-dns";
    const SECTION: &'static str = "dns";
    const USES: &'static [&'static str] = &[];
    const PERMISSIONS: &'static [hms_core::permissions::Permission] = permissions::PERMISSIONS;
    type Spec = Spec;
    type Observed = Observed;
    type PlanFlags = NoFlags;
    type UpFlags = NoFlags;
    type DownFlags = NoFlags;

    fn spec(input: &ToolInput<'_, Self>) -> Result<Spec> {
        spec::build(input)
    }

    fn connect(sdk: &SdkConfig) -> Self {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| CDN_REGION.to_owned());
        let cdn = aws_sdk_acm::config::Builder::from(sdk)
            .region(aws_config::Region::new(CDN_REGION))
            .build();
        Dns {
            clients: Clients {
                route53: aws_sdk_route53::Client::new(sdk),
                acm: aws_sdk_acm::Client::new(sdk),
                acm_cdn: aws_sdk_acm::Client::from_conf(cdn),
                region,
            },
        }
    }

    async fn observe(&self, ctx: &Ctx<'_>, spec: &Spec, state: &State) -> Result<Observed> {
        let observed = observe::observe(&self.clients, spec, state).await?;
        for w in &observed.warnings {
            ctx.ui.warn(w);
        }
        Ok(observed)
    }

    /// The found resources, and the existing zone the records go into (used, not owned: recorded so that
    /// the outputs and the record steps know its id).
    fn recorded(observed: &Observed) -> Resources {
        let mut r = records(&observed.found);
        if let Some(z) = observed.zone.as_ref().filter(|z| !z.created) {
            r.entry(Addr::Zone.to_string()).or_insert_with(|| {
                Resource::new(z.id.clone())
                    .with("name", z.name.clone())
                    .with("created", false)
            });
        }
        r
    }

    fn plan(spec: &Spec, observed: &Observed) -> Plan {
        plan::plan(spec, observed)
    }

    /// A certificate that ACM says is in use (by a load balancer, a distribution) is never deleted.
    async fn blockers(
        &self,
        _ctx: &Ctx<'_>,
        _spec: &Spec,
        observed: &Observed,
        plan: &Plan,
    ) -> Result<Vec<String>> {
        Ok(plan
            .destructive()
            .iter()
            .filter_map(|c| observed.certs.get(&c.address).map(|cert| (c, cert)))
            .filter(|(_, cert)| !cert.in_use_by.is_empty())
            .map(|(c, cert)| {
                format!(
                    "{} {} is in use by {}",
                    c.address,
                    cert.arn,
                    cert.in_use_by.join(", ")
                )
            })
            .collect())
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
        o.set("domain_name", spec.domain_name.clone());
        let zone = r.get(&Addr::Zone.to_string());
        o.maybe("zone_id", zone.map(|z| Value::from(z.id.clone())));
        o.set("zone_name", spec.zone_name.clone());
        if spec.create_zone {
            o.maybe(
                "name_servers",
                zone.and_then(|z| z.attrs.get("name_servers").cloned()),
            );
        }
        let cert = |cdn: bool| {
            spec.cert_for(cdn)
                .and_then(|c| r.get(&c.address.to_string()))
        };
        let (alb, cdn) = (cert(false), cert(true));
        // A certificate is handed on once ISSUED: a listener or a distribution refuses one still pending
        // (an overlapped pipeline's early document has it unknown until then).
        let issued = |c: Option<&Resource>| {
            c.filter(|c| c.attr("status") == Some("ISSUED"))
                .map(|c| Value::from(c.id.clone()))
        };
        o.maybe("certificate_arn", issued(alb));
        o.maybe("cdn_certificate_arn", issued(cdn));
        let status = match (alb, cdn) {
            (Some(a), Some(c)) => {
                let statuses = [a.attr("status"), c.attr("status")];
                statuses
                    .iter()
                    .copied()
                    .find(|s| *s != Some("ISSUED"))
                    .map(|s| s.map(Value::from).unwrap_or(Value::Null))
                    .or(Some(Value::from("ISSUED")))
                    .filter(|v| !v.is_null())
            }
            _ => None,
        };
        o.maybe("validation_status", status);
        o
    }
}

//! The desired edge: the static bucket, the distribution and its policies, the web ACLs, the records —
//! decided and validated from config, flags and the upstream outputs. Pure.

use clap::Args;
use hms_core::cli::NoFlags;
use hms_core::config::Config;
use hms_core::contract::{SpecInput, Upstream};
use hms_core::document::Identity;
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

/// CloudFront, its certificates and its web ACLs live in (or are managed from) this region.
pub const CDN_REGION: &str = "us-east-1";

/// The hosted zone id of every CloudFront distribution, for alias records.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

/// AWS's managed cache and origin request policies (their ids are the same in every account).
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
pub const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

/// The price classes CloudFront knows.
pub const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// AWS's managed rule groups (vendor `AWS`) a web ACL may use, by name.
pub const MANAGED_RULE_GROUPS: &[&str] = &[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
    "AWSManagedRulesAdminProtectionRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet",
    "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet",
    "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesWordPressRuleSet",
    "AWSManagedRulesBotControlRuleSet",
    "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet",
];

/// The rule groups of the reference stack.
pub const DEFAULT_RULE_GROUPS: &[&str] = &[
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
];

/// Requests per client IP in 5 minutes before the rate rule blocks (AWS's minimum is 10).
pub const DEFAULT_RATE_LIMIT: i64 = 2000;
pub const MIN_RATE_LIMIT: i64 = 10;
pub const MAX_RATE_LIMIT: i64 = 2_000_000_000;

/// HSTS max-age: one year.
pub const HSTS_MAX_AGE: i64 = 31_536_000;

/// The header CloudFront sends the ALB with the origin secret.
pub const DEFAULT_ORIGIN_HEADER: &str = "X-Origin-Verify";

/// `hms-edge down`'s own flag.
#[derive(Args, Debug, Clone, Default)]
pub struct DownFlags {
    /// Delete every object version in the static bucket first, then the bucket.
    #[arg(long)]
    pub force_empty: bool,
}

/// `[edge]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// Static-assets bucket (default `<stack>-static-<env>`).
    pub bucket: Option<String>,
    /// `aes256` (default, SSE-S3) or `kms` (the stack's backups key).
    pub encryption: Option<String>,
    /// Path patterns served from the bucket (default `["/static/*"]`).
    pub static_paths: Option<Vec<String>>,
    /// `PriceClass_100` (default), `PriceClass_200` or `PriceClass_All`.
    pub price_class: Option<String>,
    /// The Content-Security-Policy header value (default: none).
    pub content_security_policy: Option<String>,
    /// HSTS `preload` (default false).
    pub hsts_preload: Option<bool>,
    /// The header carrying the origin secret (default X-Origin-Verify, or outputs.ecs.origin_verify_header).
    pub origin_verify_header: Option<String>,
    /// `[edge.waf]`.
    pub waf: Option<WafConfig>,
    /// `[edge.logging]`.
    pub logging: Option<LoggingConfig>,
}

/// `[edge.waf]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WafConfig {
    /// Managed rule groups by name (default Common, KnownBadInputs, AmazonIpReputationList).
    pub managed_rule_groups: Option<Vec<String>>,
    /// Requests per client IP per 5 minutes (default 2000, at least 10; 0 = no rate rule).
    pub rate_limit: Option<i64>,
    /// A web ACL with the same rules on the ALB too (default true).
    pub alb: Option<bool>,
}

/// `[edge.logging]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// Standard logging v2 to CloudWatch Logs (default true).
    pub enabled: Option<bool>,
    /// Retention of the access log group, in days (default 30).
    pub retention_days: Option<i32>,
}

/// The ALB origin (from `outputs.ecs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alb {
    pub arn: Option<String>,
    pub dns_name: Option<String>,
    pub zone_id: Option<String>,
}

/// The web ACL rules (the same at both doors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waf {
    pub managed: Vec<String>,
    /// `None`: no rate rule.
    pub rate_limit: Option<i64>,
    /// A regional web ACL on the ALB too.
    pub alb: bool,
}

/// Access logs through CloudWatch Logs delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logging {
    pub log_group: String,
    pub retention_days: i32,
    /// The stack's logs key (`None`: not encrypted with a customer key).
    pub kms_key: Option<String>,
}

/// Static bucket encryption: SSE-S3, or SSE-KMS with the backups key (`None` while only planned).
pub use hms_core::s3::Sse as Encryption;

/// The desired edge.
#[derive(Debug, Clone)]
pub struct Spec {
    pub domain_name: String,
    pub zone_id: Option<String>,
    pub certificate_arn: Option<String>,
    pub alb: Alb,
    /// The Secrets Manager secret holding the origin header's value, when hms-ecs made one.
    pub origin_secret_arn: Option<String>,
    /// hms-ecs's origin secret is not known yet (only planned, or an overlapped pipeline's early
    /// document): the distribution's header shows it as a placeholder instead of being left out.
    pub origin_secret_pending: bool,
    pub origin_header: String,
    pub bucket: String,
    pub encryption: Encryption,
    pub static_paths: Vec<String>,
    pub price_class: String,
    pub csp: Option<String>,
    pub hsts_preload: bool,
    /// `None`: no web ACLs.
    pub waf: Option<Waf>,
    pub logging: Option<Logging>,
    pub region: String,
    pub force_empty: bool,
    pub down: bool,
    pub tagger: Tagger,
}

impl Spec {
    /// The distribution's comment: how it is found again when state is lost (comments are not unique on
    /// AWS, so the tags are checked too).
    pub fn comment(&self) -> String {
        format!("hms-edge {}/{}", self.tagger.id.stack, self.tagger.id.env)
    }

    /// CreateDistribution's CallerReference: the same for the same stack, so a repeated create is refused
    /// instead of making a second distribution.
    pub fn caller_reference(&self) -> String {
        format!(
            "hms-edge/{}/{}/distribution",
            self.tagger.id.stack, self.tagger.id.env
        )
    }

    /// `origin.<domain>`: the name the ALB is reached by (its certificate names it).
    pub fn origin_domain(&self) -> String {
        format!("origin.{}", self.domain_name)
    }

    /// The bucket's regional domain name (CloudFront's S3 origin).
    pub fn bucket_domain(&self) -> String {
        format!("{}.s3.{}.amazonaws.com", self.bucket, self.region)
    }

    /// Names of the policies and web ACLs (unique per account; they carry the env outside production).
    pub fn name(&self, suffix: &str) -> String {
        self.tagger.name(suffix)
    }
}

/// S3's bucket-name rules (general purpose buckets), without dots (virtual-hosted TLS).
pub fn bucket_name_ok(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !s.starts_with("xn--")
        && !s.ends_with("-s3alias")
}

/// A CloudFront path pattern: a leading `/`, at most 255 characters of the allowed set.
pub fn path_pattern_problem(p: &str) -> Option<&'static str> {
    if !p.starts_with('/') {
        return Some("must start with '/' (e.g. \"/static/*\")");
    }
    if p.len() > 255 {
        return Some("is longer than 255 characters");
    }
    let ok = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-.*$/~\"'@:+&".contains(c));
    if !ok {
        return Some("may hold only letters, digits and _ - . * $ / ~ \" ' @ : + &");
    }
    if p == "/*" || p == "*" {
        return Some("is the default behaviour (the ALB); name a sub-path like \"/static/*\"");
    }
    None
}

/// A header value CloudFront can send: printable ASCII, no line breaks.
fn header_value_problem(v: &str) -> Option<&'static str> {
    if v.contains('\n') || v.contains('\r') {
        return Some("holds a line break; a header value is one line (join directives with ';')");
    }
    if v.chars().any(|c| !(' '..='~').contains(&c)) {
        return Some("holds characters outside printable ASCII");
    }
    if v.trim().is_empty() {
        return Some("is empty; remove the key for no Content-Security-Policy");
    }
    if v.len() > 1783 {
        return Some("is longer than CloudFront's 1783 characters");
    }
    None
}

/// A KMS key ARN (`arn:aws:kms:<region>:<account>:key/<id>`).
fn kms_key_arn_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", p, "kms", r, a, res]
        if p.starts_with("aws") && !r.is_empty() && a.len() == 12 && a.chars().all(|c| c.is_ascii_digit())
            && res.starts_with("key/") && res.len() > 4)
}

/// The spec input of hms-edge.
pub type Input<'a> = SpecInput<'a, NoFlags, NoFlags, DownFlags>;

fn upstream_str(input: &Input<'_>, path: &str, producer: &str) -> Result<Option<String>> {
    match input.upstream(path, producer)? {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(v) => Err(Error::usage(format!(
            "stdin: outputs.{path} = {v}: expected a string; run '{producer} up | hms-edge {}'",
            input.command.name()
        ))),
    }
}

fn optional_str(input: &Input<'_>, path: &str) -> Option<String> {
    input
        .optional(path)
        .known()
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The web ACL rules from `[edge.waf]`.
pub fn waf(config: &Config, cfg: Option<&WafConfig>) -> Result<Option<Waf>> {
    let empty = WafConfig::default();
    let cfg = cfg.unwrap_or(&empty);
    let managed: Vec<String> = match &cfg.managed_rule_groups {
        None => DEFAULT_RULE_GROUPS
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        Some(list) => {
            let mut out: Vec<String> = Vec::new();
            for (i, name) in list.iter().enumerate() {
                if !MANAGED_RULE_GROUPS.contains(&name.as_str()) {
                    let hint =
                        hms_core::config::did_you_mean(name, MANAGED_RULE_GROUPS.iter().copied())
                            .map(|s| format!("did you mean {s:?}? "))
                            .unwrap_or_default();
                    return Err(config.invalid(
                        &format!("edge.waf.managed_rule_groups[{i}]"),
                        format!(
                            "{name:?} is not one of AWS's managed rule groups; {hint}use one of {}",
                            MANAGED_RULE_GROUPS.join(", ")
                        ),
                    ));
                }
                if out.contains(name) {
                    return Err(config.invalid(
                        &format!("edge.waf.managed_rule_groups[{i}]"),
                        format!("{name} is listed twice; remove one"),
                    ));
                }
                out.push(name.clone());
            }
            out
        }
    };
    let rate = cfg.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT);
    let rate_limit = match rate {
        0 => None,
        r if (MIN_RATE_LIMIT..=MAX_RATE_LIMIT).contains(&r) => Some(r),
        r => {
            return Err(config.invalid(
                "edge.waf.rate_limit",
                format!(
                    "{r}: requests per client IP per 5 minutes, from AWS's minimum of {MIN_RATE_LIMIT} to {MAX_RATE_LIMIT}, or 0 for no rate rule"
                ),
            ))
        }
    };
    if managed.is_empty() && rate_limit.is_none() {
        return Ok(None);
    }
    Ok(Some(Waf {
        managed,
        rate_limit,
        alb: cfg.alb.unwrap_or(true),
    }))
}

/// Builds the spec.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let config = input.config;
    if config.is_set("edge.force_empty") {
        return Err(config.invalid(
            "edge.force_empty",
            "emptying the static bucket is not a config setting; pass --force-empty to 'hms-edge down'",
        ));
    }
    let cfg: EdgeConfig = config.section("edge")?;
    let tagger = input.tagger;
    let id = &tagger.id;
    let c = checked(config, &cfg, id)?;
    // Down deletes what state and tags say is ours: it needs no upstream value. The alias records carry
    // no tags: without state they are found by the names hms-dns's outputs give, when the document (or the
    // state store) has them.
    if input.is_down() {
        let known = |path: &str| {
            input
                .doc
                .output(path)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        return Ok(Spec {
            domain_name: known("dns.domain_name").unwrap_or_default(),
            zone_id: known("dns.zone_id"),
            certificate_arn: None,
            alb: Alb {
                arn: None,
                dns_name: None,
                zone_id: None,
            },
            origin_secret_arn: None,
            origin_secret_pending: false,
            origin_header: DEFAULT_ORIGIN_HEADER.into(),
            bucket: c.bucket,
            encryption: Encryption::Aes256,
            static_paths: c.static_paths,
            price_class: c.price_class,
            csp: cfg.content_security_policy.clone(),
            hsts_preload: cfg.hsts_preload.unwrap_or(false),
            waf: c.waf,
            logging: None,
            region: id.region.clone(),
            force_empty: input.flags.down.force_empty,
            down: true,
            tagger: tagger.clone(),
        });
    }
    let u = from_upstream(input, config, &c)?;
    let logging = c.logging_enabled.then(|| Logging {
        log_group: format!("/hms/{}/{}/cloudfront", id.stack, id.env),
        retention_days: c.retention_days,
        // Not known yet: a placeholder, so that no plan makes the group without its key meanwhile.
        kms_key: match input.optional("security.kms_key_arns.logs") {
            Upstream::Unknown => Some("(known after hms-security up)".into()),
            _ => optional_str(input, "security.kms_key_arns.logs"),
        },
    });
    Ok(Spec {
        domain_name: u.domain_name,
        zone_id: u.zone_id,
        certificate_arn: u.certificate_arn,
        alb: u.alb,
        origin_secret_arn: u.origin_secret_arn,
        origin_secret_pending: u.origin_secret_pending,
        origin_header: u.origin_header,
        bucket: c.bucket,
        encryption: u.encryption,
        static_paths: c.static_paths,
        price_class: c.price_class,
        csp: cfg.content_security_policy.clone(),
        hsts_preload: cfg.hsts_preload.unwrap_or(false),
        waf: c.waf,
        logging,
        region: id.region.clone(),
        force_empty: false,
        down: false,
        tagger: tagger.clone(),
    })
}

/// `[edge]` checked on its own (no upstream value needed).
struct Checked {
    bucket: String,
    static_paths: Vec<String>,
    price_class: String,
    waf: Option<Waf>,
    logging_enabled: bool,
    retention_days: i32,
    header_cfg: Option<String>,
    encryption_word: String,
}

fn checked(config: &Config, cfg: &EdgeConfig, id: &Identity) -> Result<Checked> {
    let bucket = cfg
        .bucket
        .clone()
        .unwrap_or_else(|| format!("{}-static-{}", id.stack, id.env));
    if !bucket_name_ok(&bucket) {
        return Err(config.invalid(
            "edge.bucket",
            format!("{bucket:?}: 3-63 lowercase letters, digits and '-', starting and ending with a letter or digit"),
        ));
    }
    let static_paths = cfg
        .static_paths
        .clone()
        .unwrap_or_else(|| vec!["/static/*".to_owned()]);
    for (i, p) in static_paths.iter().enumerate() {
        let key = format!("edge.static_paths[{i}]");
        if let Some(problem) = path_pattern_problem(p) {
            return Err(config.invalid(&key, format!("{p:?} {problem}")));
        }
        if static_paths[..i].contains(p) {
            return Err(config.invalid(&key, format!("{p:?} is listed twice; remove one")));
        }
    }
    if static_paths.len() > 25 {
        return Err(config.invalid(
            "edge.static_paths",
            "at most 25 path patterns (CloudFront's cache behaviour quota)",
        ));
    }
    let price_class = cfg
        .price_class
        .clone()
        .unwrap_or_else(|| PRICE_CLASSES[0].to_owned());
    if !PRICE_CLASSES.contains(&price_class.as_str()) {
        return Err(config.invalid(
            "edge.price_class",
            format!("{price_class:?}: use one of {}", PRICE_CLASSES.join(", ")),
        ));
    }
    if let Some(csp) = &cfg.content_security_policy {
        if let Some(problem) = header_value_problem(csp) {
            return Err(config.invalid(
                "edge.content_security_policy",
                format!("the value {problem}"),
            ));
        }
    }
    let waf = waf(config, cfg.waf.as_ref())?;

    let lcfg = cfg.logging.clone().unwrap_or_default();
    let retention_days = lcfg.retention_days.unwrap_or(30);
    if !hms_core::config::LOG_RETENTION_DAYS.contains(&retention_days) {
        return Err(config.invalid(
            "edge.logging.retention_days",
            format!(
                "{retention_days}: CloudWatch Logs keeps one of {:?} days",
                hms_core::config::LOG_RETENTION_DAYS
            ),
        ));
    }

    let header_cfg = cfg.origin_verify_header.clone();
    if let Some(h) = &header_cfg {
        let ok = !h.is_empty()
            && h.len() <= 256
            && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(config.invalid(
                "edge.origin_verify_header",
                format!("{h:?}: a header name of letters, digits and '-'"),
            ));
        }
    }

    let encryption_word = cfg.encryption.clone().unwrap_or_else(|| "aes256".into());
    if !matches!(
        encryption_word.as_str(),
        "aes256" | "AES256" | "kms" | "aws:kms"
    ) {
        return Err(config.invalid(
            "edge.encryption",
            format!(
                "{encryption_word:?}: use \"aes256\" (SSE-S3) or \"kms\" (the stack's backups key)"
            ),
        ));
    }

    Ok(Checked {
        bucket,
        static_paths,
        price_class,
        waf,
        logging_enabled: lcfg.enabled.unwrap_or(true),
        retention_days,
        header_cfg,
        encryption_word,
    })
}

/// What hms-edge takes from the other tools' outputs.
struct FromUpstream {
    domain_name: String,
    zone_id: Option<String>,
    certificate_arn: Option<String>,
    alb: Alb,
    origin_secret_arn: Option<String>,
    origin_secret_pending: bool,
    origin_header: String,
    encryption: Encryption,
}

fn from_upstream(input: &Input<'_>, config: &Config, c: &Checked) -> Result<FromUpstream> {
    let header_cfg = c.header_cfg.clone();
    let encryption_word = c.encryption_word.as_str();
    let domain_name = upstream_str(input, "dns.domain_name", "hms-dns")?.ok_or_else(|| {
        Error::usage(format!(
            "needs outputs.dns.domain_name — run 'hms-dns {0} | hms-edge {0}'",
            input.command.name()
        ))
    })?;
    let zone_id = upstream_str(input, "dns.zone_id", "hms-dns")?;
    let certificate_arn = upstream_str(input, "dns.cdn_certificate_arn", "hms-dns")?;
    if let Some(arn) = &certificate_arn {
        if !arn.starts_with(&format!("arn:aws:acm:{CDN_REGION}:")) && !arn.starts_with("arn:aws-") {
            return Err(Error::usage(format!(
                "stdin: outputs.dns.cdn_certificate_arn = {arn:?}: CloudFront takes only ACM certificates from {CDN_REGION}; run 'hms-dns up | hms-edge {}'",
                input.command.name()
            )));
        }
    }
    let alb = Alb {
        arn: upstream_str(input, "ecs.alb_arn", "hms-ecs")?,
        dns_name: upstream_str(input, "ecs.alb_dns_name", "hms-ecs")?,
        zone_id: upstream_str(input, "ecs.alb_zone_id", "hms-ecs")?,
    };
    let origin_secret_arn = optional_str(input, "ecs.origin_verify_secret_arn");
    // The header hms-ecs's rules require wins: another name would be answered 403 on every request.
    let ecs_header = optional_str(input, "ecs.origin_verify_header");
    if let (Some(own), Some(ecs)) = (&header_cfg, &ecs_header) {
        if !own.eq_ignore_ascii_case(ecs) {
            return Err(config.invalid(
                "edge.origin_verify_header",
                format!("{own:?}: hms-ecs's listener rules require {ecs:?} (outputs.ecs.origin_verify_header); remove the key"),
            ));
        }
    }
    let origin_header = ecs_header
        .or(header_cfg)
        .unwrap_or_else(|| DEFAULT_ORIGIN_HEADER.into());

    let encryption = if matches!(encryption_word, "kms" | "aws:kms") {
        let key = input.upstream("security.kms_key_arns.backups", "hms-security")?;
        match key {
            None => Encryption::Kms(None),
            Some(Value::String(s)) if kms_key_arn_ok(s) => Encryption::Kms(Some(s.clone())),
            Some(v) => {
                return Err(Error::usage(format!(
                    "stdin: outputs.security.kms_key_arns.backups = {v}: not a KMS key ARN; run 'hms-security up | hms-edge {}'",
                    input.command.name()
                )))
            }
        }
    } else {
        Encryption::Aes256
    };

    Ok(FromUpstream {
        domain_name,
        zone_id,
        certificate_arn,
        alb,
        origin_secret_arn,
        origin_secret_pending: input.optional("ecs.origin_verify_secret_arn") == Upstream::Unknown,
        origin_header,
        encryption,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waf_of(text: &str) -> Result<Option<Waf>> {
        let config = Config::from_toml(text, "hms.toml")?;
        let cfg: EdgeConfig = config.section("edge")?;
        waf(&config, cfg.waf.as_ref())
    }

    #[test]
    fn reference_waf() {
        let w = waf_of("").expect("ok").expect("some");
        assert_eq!(w.managed.len(), 3);
        assert_eq!(w.rate_limit, Some(2000));
        assert!(w.alb);
    }

    #[test]
    fn bad_waf_inputs() {
        let e = waf_of("[edge.waf]\nrate_limit = 5").expect_err("below 10");
        assert!(e.to_string().contains("edge.waf.rate_limit"), "{e}");
        let e = waf_of("[edge.waf]\nmanaged_rule_groups = [\"AWSManagedRulesCommonRuleSett\"]")
            .expect_err("unknown group");
        assert!(
            e.to_string().contains("managed_rule_groups[0]")
                && e.to_string().contains("did you mean"),
            "{e}"
        );
        assert_eq!(
            waf_of("[edge.waf]\nmanaged_rule_groups = []\nrate_limit = 0").expect("off"),
            None
        );
    }

    #[test]
    fn path_patterns() {
        assert_eq!(path_pattern_problem("/static/*"), None);
        assert!(path_pattern_problem("static/*").is_some());
        assert!(path_pattern_problem("/*").is_some());
        assert!(path_pattern_problem("/a b").is_some());
    }

    #[test]
    fn header_values() {
        assert_eq!(header_value_problem("default-src 'self'"), None);
        assert!(header_value_problem("default-src 'self';\nimg-src *").is_some());
        assert!(header_value_problem(" ").is_some());
    }
}

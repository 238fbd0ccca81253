//! The desired VPC, decided and validated from config and flags, and the values derived from it that
//! observe, plan and apply share (names, the flow logs role's policies). Pure: no AWS call.

use std::collections::BTreeMap;

use hms_core::config::Config;
use hms_core::contract::SpecInput;
use hms_core::tags::Tagger;
use hms_core::Result;
use ipnet::Ipv4Net;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::addr::{Addr, Tier};

use hms_core::config::LOG_RETENTION_DAYS as RETENTION_DAYS;

/// `[vpc]` as written in config; every field optional, defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcConfig {
    /// VPC CIDR, /16 to /28 (default 10.0.0.0/16).
    pub cidr: Option<String>,
    /// Availability zones in the region (default `<region>a`, `b`, `c`).
    pub azs: Option<Vec<String>>,
    /// Private subnet CIDRs, one per AZ in order (default 10.0.1-3.0/24).
    pub private_subnets: Option<Vec<String>>,
    /// Public subnet CIDRs, one per AZ in order (default 10.0.101-103.0/24).
    pub public_subnets: Option<Vec<String>>,
    /// NAT gateways at all (default true).
    pub enable_nat_gateway: Option<bool>,
    /// One NAT gateway for all AZs, in the first public subnet (the default).
    pub single_nat_gateway: Option<bool>,
    /// One NAT gateway per AZ.
    pub one_nat_gateway_per_az: Option<bool>,
    /// VPC flow logs to CloudWatch Logs (default true).
    pub flow_logs: Option<bool>,
    /// Flow log retention in days (default 365 in production, an audit trail; 90 elsewhere).
    pub flow_log_retention_days: Option<i32>,
    /// Buckets the S3 gateway endpoint lets the VPC reach besides the stack's own (backups, static,
    /// logs, the `[state] url` bucket) and ECR's image layers: e.g. a state bucket given by --state.
    pub s3_endpoint_buckets: Option<Vec<String>>,
    /// TCP ports the public subnets' network ACL lets in from anywhere (default 80 and 443: the ALB).
    pub public_ingress_ports: Option<Vec<u16>>,
    /// TCP ports the private subnets may reach outside the VPC through the NAT gateway (default 443:
    /// ECR, AWS APIs, HTTPS services); the public ACL lets them out too, for the NAT.
    pub private_egress_ports: Option<Vec<u16>>,
    /// Extra tags on every VPC resource.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// How private subnets reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatMode {
    None,
    Single,
    PerAz,
}

/// One availability zone's subnets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Az {
    pub name: String,
    pub private: Ipv4Net,
    pub public: Ipv4Net,
}

/// Flow log settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowLogs {
    pub log_group: String,
    pub retention_days: i32,
    pub role_name: String,
}

/// The desired VPC.
#[derive(Debug, Clone)]
pub struct Spec {
    pub region: String,
    pub cidr: Ipv4Net,
    pub azs: Vec<Az>,
    pub nat: NatMode,
    pub flow_logs: Option<FlowLogs>,
    /// The buckets the S3 endpoint's policy allows (sorted): the stack's, the state bucket, the extra ones.
    pub endpoint_buckets: Vec<String>,
    /// TCP ports open from anywhere into the public subnets (sorted, distinct).
    pub public_ingress_ports: Vec<u16>,
    /// TCP ports the private subnets reach outside the VPC (sorted, distinct).
    pub private_egress_ports: Vec<u16>,
    pub tagger: Tagger,
    /// `[vpc] tags`, added to every resource's tags.
    pub extra_tags: BTreeMap<String, String>,
}

impl Spec {
    /// AZ names in order.
    pub fn az_names(&self) -> Vec<String> {
        self.azs.iter().map(|a| a.name.clone()).collect()
    }

    /// The AZ whose NAT gateway serves `az`'s private subnet, if any.
    pub fn nat_for<'a>(&'a self, az: &'a str) -> Option<&'a str> {
        match self.nat {
            NatMode::None => None,
            NatMode::Single => self.azs.first().map(|a| a.name.as_str()),
            NatMode::PerAz => Some(az),
        }
    }

    /// The AZs that hold a NAT gateway.
    pub fn nat_azs(&self) -> Vec<&str> {
        match self.nat {
            NatMode::None => vec![],
            NatMode::Single => self
                .azs
                .first()
                .map(|a| vec![a.name.as_str()])
                .unwrap_or_default(),
            NatMode::PerAz => self.azs.iter().map(|a| a.name.as_str()).collect(),
        }
    }

    /// Tags of the resource at `address`: the stack's, `[vpc] tags`, the `hms:*` tags and a `Name`.
    pub fn tags(&self, address: &Addr, name: &str) -> BTreeMap<String, String> {
        let mut t = self.extra_tags.clone();
        t.extend(self.tagger.tags(&address.to_string(), Some(name)));
        t
    }

    /// The S3 gateway endpoint's service name.
    pub fn s3_service(&self) -> String {
        format!("com.amazonaws.{}.s3", self.region)
    }

    /// A resource name (`hms-private-us-east-1a` in production).
    pub fn name(&self, suffix: &str) -> String {
        self.tagger.name(suffix)
    }
}

/// The flow logs' log group and delivery role names (also looked for when flow logs are off, to delete them).
pub fn flow_log_names(tagger: &Tagger) -> (String, String) {
    (
        format!("/aws/vpc/{}-flow-logs", tagger.name("vpc")),
        tagger.name("vpc-flow-logs"),
    )
}

/// Name of the delivery role's inline policy.
pub const ROLE_POLICY_NAME: &str = "flow-logs-delivery";

/// The trust policy of the flow logs' delivery role: the flow-logs service, only on behalf of this
/// account's flow logs in this region (`aws:SourceAccount`, `aws:SourceArn`: no confused deputy).
pub fn trust_policy(account: &str, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:ec2:{region}:{account}:vpc-flow-log/*")}
            }
        }]
    })
}

/// The delivery role's inline policy: write to this stack's flow log group only.
pub fn role_policy(spec: &Spec, log_group: &str) -> Value {
    let arn = format!("arn:aws:logs:{}:*:log-group:{log_group}", spec.region);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [arn.clone(), format!("{arn}:*")]
            },
            {
                "Effect": "Allow",
                "Action": ["logs:DescribeLogGroups"],
                "Resource": "*"
            }
        ]
    })
}

/// Builds the spec from the run's input.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let cfg: VpcConfig = input.config.section("vpc")?;
    decide(input.config, &cfg, input.tagger)
}

fn parse_net(config: &Config, key: &str, text: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = text.parse().map_err(|_| {
        config.invalid(
            key,
            format!("{text:?} is not an IPv4 CIDR like 10.0.0.0/16"),
        )
    })?;
    if !(16..=28).contains(&net.prefix_len()) {
        return Err(config.invalid(
            key,
            format!("{text}: AWS allows prefixes /16 to /28 for VPCs and subnets; use a prefix in that range"),
        ));
    }
    if net.trunc() != net {
        return Err(config.invalid(
            key,
            format!("{text} has host bits set; use {}", net.trunc()),
        ));
    }
    Ok(net)
}

/// Validates `cfg` and decides everything it leaves open.
pub fn decide(config: &Config, cfg: &VpcConfig, tagger: &Tagger) -> Result<Spec> {
    let region = tagger.id.region.clone();
    let cidr = parse_net(
        config,
        "vpc.cidr",
        cfg.cidr.as_deref().unwrap_or("10.0.0.0/16"),
    )?;
    let azs = azs(config, cfg, &region)?;
    let private = subnets(
        config,
        "vpc.private_subnets",
        &cfg.private_subnets,
        cidr,
        azs.len(),
        1,
    )?;
    let public = subnets(
        config,
        "vpc.public_subnets",
        &cfg.public_subnets,
        cidr,
        azs.len(),
        101,
    )?;
    check_layout(config, cidr, &private, &public)?;
    let nat = nat_mode(config, cfg)?;
    let flow_logs = flow_logs(config, cfg, tagger)?;
    let endpoint_buckets = endpoint_buckets(config, cfg, tagger)?;
    let public_ingress_ports = ports(
        config,
        "vpc.public_ingress_ports",
        cfg.public_ingress_ports.as_deref(),
        &[80, 443],
    )?;
    let private_egress_ports = ports(
        config,
        "vpc.private_egress_ports",
        cfg.private_egress_ports.as_deref(),
        &[443],
    )?;
    for key in cfg.tags.keys() {
        if key.starts_with("aws:") || key.starts_with("hms:") || key == "Name" {
            return Err(config.invalid(
                &format!("vpc.tags.{key}"),
                "aws:, hms: and Name are set by the tool; choose another tag key",
            ));
        }
    }
    Ok(Spec {
        region,
        cidr,
        azs: azs
            .into_iter()
            .zip(private.into_iter().zip(public))
            .map(|(name, (private, public))| Az {
                name,
                private,
                public,
            })
            .collect(),
        nat,
        flow_logs,
        endpoint_buckets,
        public_ingress_ports,
        private_egress_ports,
        tagger: tagger.clone(),
        extra_tags: cfg.tags.clone(),
    })
}

/// `vpc.azs` (default `<region>a`, `b`, `c`): AZs of the region, each once.
fn azs(config: &Config, cfg: &VpcConfig, region: &str) -> Result<Vec<String>> {
    let azs: Vec<String> = match &cfg.azs {
        Some(a) => a.clone(),
        None => ["a", "b", "c"]
            .iter()
            .map(|s| format!("{region}{s}"))
            .collect(),
    };
    if azs.is_empty() {
        return Err(config.invalid(
            "vpc.azs",
            "is empty; give at least one availability zone, e.g. [\"us-east-1a\"]",
        ));
    }
    for (i, az) in azs.iter().enumerate() {
        let suffix = az.strip_prefix(region).unwrap_or_default();
        if suffix.len() != 1 || !suffix.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(config.invalid(
                &format!("vpc.azs[{i}]"),
                format!("{az:?} is not an availability zone of region {region}; use {region}a, {region}b, …"),
            ));
        }
        if azs[..i].contains(az) {
            return Err(config.invalid(&format!("vpc.azs[{i}]"), format!("{az} is listed twice")));
        }
    }
    Ok(azs)
}

/// One tier's subnet CIDRs: as given (one per AZ), else the /8-longer subnets of the VPC from `first` on.
fn subnets(
    config: &Config,
    key: &str,
    given: &Option<Vec<String>>,
    cidr: Ipv4Net,
    count: usize,
    first: u32,
) -> Result<Vec<Ipv4Net>> {
    if let Some(list) = given {
        if list.len() != count {
            return Err(config.invalid(
                key,
                format!(
                    "has {} subnets for {count} availability zones (vpc.azs); give one per AZ, in the same order",
                    list.len(),
                ),
            ));
        }
        return list
            .iter()
            .enumerate()
            .map(|(i, s)| parse_net(config, &format!("{key}[{i}]"), s))
            .collect();
    }
    let prefix = cidr.prefix_len() + 8;
    if prefix > 28 {
        return Err(config.invalid(
            key,
            format!(
                "cannot derive subnets of a /{} VPC; list them explicitly",
                cidr.prefix_len()
            ),
        ));
    }
    let all = cidr.subnets(prefix).map_err(|e| config.invalid(key, e))?;
    (0..count as u32)
        .map(|i| {
            all.clone().nth((first + i) as usize).ok_or_else(|| {
                config.invalid(key, "too many AZs to derive subnets; list them explicitly")
            })
        })
        .collect()
}

/// A port list of the network ACLs: TCP ports 1-1023 (the ephemeral range 1024-65535 is open for return
/// traffic already; 22 and 3389 are denied from anywhere before any allow, so they cannot be opened).
fn ports(config: &Config, key: &str, given: Option<&[u16]>, default: &[u16]) -> Result<Vec<u16>> {
    let mut out: Vec<u16> = given.unwrap_or(default).to_vec();
    for (i, p) in out.iter().enumerate() {
        if *p == 22 || *p == 3389 {
            return Err(config.invalid(
                &format!("{key}[{i}]"),
                format!("{p}: SSH and RDP are denied from anywhere by the network ACLs; reach instances through SSM Session Manager instead"),
            ));
        }
        if *p == 0 || *p >= 1024 {
            return Err(config.invalid(
                &format!("{key}[{i}]"),
                format!("{p}: a TCP port from 1 to 1023 (1024-65535 are open for return traffic already)"),
            ));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// One network ACL rule, written as the plan shows it and state keeps it: `100 allow tcp 443 0.0.0.0/0`
/// (`all` for every protocol, then no port; `1024-65535` for a range).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRule {
    pub number: i32,
    pub allow: bool,
    /// `None`: every protocol (-1); `Some(6)`: TCP.
    pub tcp: bool,
    pub ports: Option<(i32, i32)>,
    pub cidr: String,
}

impl AclRule {
    fn tcp(number: i32, allow: bool, ports: (i32, i32), cidr: &str) -> Self {
        AclRule {
            number,
            allow,
            tcp: true,
            ports: Some(ports),
            cidr: cidr.to_owned(),
        }
    }

    fn all(number: i32, cidr: &str) -> Self {
        AclRule {
            number,
            allow: true,
            tcp: false,
            ports: None,
            cidr: cidr.to_owned(),
        }
    }

    /// The protocol as EC2 takes it: `6` (TCP) or `-1` (all).
    pub fn protocol(&self) -> &'static str {
        if self.tcp {
            "6"
        } else {
            "-1"
        }
    }
}

impl std::fmt::Display for AclRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = if self.allow { "allow" } else { "deny" };
        let proto = if self.tcp { "tcp" } else { "all" };
        write!(f, "{} {action} {proto}", self.number)?;
        match self.ports {
            Some((a, b)) if a == b => write!(f, " {a}")?,
            Some((a, b)) => write!(f, " {a}-{b}")?,
            None => {}
        }
        write!(f, " {}", self.cidr)
    }
}

/// The rule number in a rule's written form (its first word).
pub fn rule_number(written: &str) -> Option<i32> {
    written.split_whitespace().next()?.parse().ok()
}

/// The ephemeral ports return traffic comes back on (Linux, NAT gateways and ELB use parts of it).
pub const EPHEMERAL: (i32, i32) = (1024, 65535);

/// A network ACL's inbound and outbound rules, in rule-number order.
pub struct AclRules {
    pub ingress: Vec<AclRule>,
    pub egress: Vec<AclRule>,
}

impl Spec {
    /// The rules of the public or the private subnets' network ACL. SSH and RDP are denied from anywhere
    /// first (rules 10 and 20, before every allow: the ephemeral allow below covers 3389 too).
    /// Public in: the ALB's ports from anywhere, return traffic on the ephemeral ports, everything from
    /// the VPC (the NAT gateway forwards the private subnets' traffic, targets answer the ALB). Public
    /// out: everything into the VPC, the answers to clients (ephemeral), what the NAT forwards for the
    /// private subnets. Private in: the VPC, and return traffic through the NAT. Private out: the VPC,
    /// and the ports the private subnets reach outside.
    pub fn acl_rules(&self, tier: Tier) -> AclRules {
        let any = "0.0.0.0/0";
        let vpc = self.cidr.to_string();
        let tcp_from = |first: i32, ports: &[u16]| -> Vec<AclRule> {
            ports
                .iter()
                .zip((first..).step_by(10))
                .map(|(p, n)| AclRule::tcp(n, true, (i32::from(*p), i32::from(*p)), any))
                .collect()
        };
        let mut ingress = vec![
            AclRule::tcp(10, false, (22, 22), any),
            AclRule::tcp(20, false, (3389, 3389), any),
            AclRule::all(100, &vpc),
        ];
        let mut egress = vec![AclRule::all(100, &vpc)];
        match tier {
            Tier::Public => {
                let open = tcp_from(110, &self.public_ingress_ports);
                let after = 110 + 10 * i32::try_from(open.len()).unwrap_or(0);
                ingress.extend(open);
                ingress.push(AclRule::tcp(after, true, EPHEMERAL, any));
                egress.push(AclRule::tcp(110, true, EPHEMERAL, any));
                egress.extend(tcp_from(120, &self.private_egress_ports));
            }
            Tier::Private => {
                ingress.push(AclRule::tcp(110, true, EPHEMERAL, any));
                egress.extend(tcp_from(110, &self.private_egress_ports));
            }
        }
        AclRules { ingress, egress }
    }
}

/// Every subnet inside the VPC, none overlapping another.
fn check_layout(
    config: &Config,
    cidr: Ipv4Net,
    private: &[Ipv4Net],
    public: &[Ipv4Net],
) -> Result<()> {
    let mut all: Vec<(String, Ipv4Net)> = Vec::new();
    for (kind, list) in [("private_subnets", private), ("public_subnets", public)] {
        for (i, net) in list.iter().enumerate() {
            let key = format!("vpc.{kind}[{i}]");
            if !cidr.contains(net) {
                return Err(config.invalid(
                    &key,
                    format!("{net} is outside vpc.cidr {cidr}; use a subnet of {cidr}"),
                ));
            }
            if let Some((other, _)) = all.iter().find(|(_, o)| o.contains(net) || net.contains(o)) {
                return Err(config.invalid(
                    &key,
                    format!("{net} overlaps {other}; subnets must not overlap"),
                ));
            }
            all.push((format!("{key} = {net}"), *net));
        }
    }
    Ok(())
}

/// The NAT mode from `enable_nat_gateway`, `single_nat_gateway` and `one_nat_gateway_per_az`.
fn nat_mode(config: &Config, cfg: &VpcConfig) -> Result<NatMode> {
    let enable = cfg.enable_nat_gateway.unwrap_or(true);
    Ok(
        match (enable, cfg.single_nat_gateway, cfg.one_nat_gateway_per_az) {
            (_, Some(true), Some(true)) => {
                return Err(config.invalid(
                    "vpc.one_nat_gateway_per_az",
                    "and vpc.single_nat_gateway are both true; set only one of the two NAT modes",
                ))
            }
            (false, Some(true), _) | (false, _, Some(true)) => {
                return Err(config.invalid(
                    "vpc.enable_nat_gateway",
                    "is false but a NAT mode is set; remove single_nat_gateway / one_nat_gateway_per_az or enable NAT",
                ))
            }
            (false, _, _) => NatMode::None,
            (true, _, Some(true)) => NatMode::PerAz,
            (true, Some(false), _) => NatMode::PerAz,
            (true, _, _) => NatMode::Single,
        },
    )
}

/// The buckets the S3 gateway endpoint allows: the stack's (by the naming rules of hms-backup, hms-edge and
/// the log bucket), the state bucket of `[state] url`, and `vpc.s3_endpoint_buckets`.
fn endpoint_buckets(config: &Config, cfg: &VpcConfig, tagger: &Tagger) -> Result<Vec<String>> {
    let id = &tagger.id;
    let mut out: Vec<String> = ["backups", "static", "logs"]
        .iter()
        .map(|k| format!("{}-{k}-{}", id.stack, id.env))
        .collect();
    let state: hms_core::config::StateConfig = config.section("state")?;
    if let Some(bucket) = state
        .url
        .as_deref()
        .and_then(|u| u.strip_prefix("s3://"))
        .and_then(|r| r.split('/').next())
        .filter(|b| !b.is_empty())
    {
        out.push(bucket.to_owned());
    }
    for b in cfg.s3_endpoint_buckets.iter().flatten() {
        let ok = (3..=63).contains(&b.len())
            && b.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !ok {
            return Err(config.invalid(
                "vpc.s3_endpoint_buckets",
                format!(
                    "{b:?} is not an S3 bucket name (3-63 lowercase letters, digits, '-' and '.')"
                ),
            ));
        }
        out.push(b.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The S3 gateway endpoint's policy: the VPC reaches the stack's buckets and ECR's image layers only
/// (not every bucket of every account: no quiet way out for data).
pub fn endpoint_policy(spec: &Spec) -> Value {
    let resources: Vec<String> = spec
        .endpoint_buckets
        .iter()
        .flat_map(|b| [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StackBuckets",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": resources
            },
            {
                "Sid": "EcrImageLayers",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": format!("arn:aws:s3:::prod-{}-starport-layer-bucket/*", spec.region)
            }
        ]
    })
}

/// Flow logs (on by default) with their retention.
fn flow_logs(config: &Config, cfg: &VpcConfig, tagger: &Tagger) -> Result<Option<FlowLogs>> {
    if !cfg.flow_logs.unwrap_or(true) {
        if cfg.flow_log_retention_days.is_some() {
            return Err(config.invalid(
                "vpc.flow_log_retention_days",
                "is set but vpc.flow_logs is false; remove one",
            ));
        }
        return Ok(None);
    }
    let days = cfg
        .flow_log_retention_days
        .unwrap_or(if tagger.id.env == "production" {
            365
        } else {
            90
        });
    if !RETENTION_DAYS.contains(&days) {
        return Err(config.invalid(
            "vpc.flow_log_retention_days",
            format!("{days} is not a CloudWatch Logs retention; use one of {RETENTION_DAYS:?}"),
        ));
    }
    let (log_group, role_name) = flow_log_names(tagger);
    Ok(Some(FlowLogs {
        log_group,
        retention_days: days,
        role_name,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::document::Identity;

    fn tagger() -> Tagger {
        Tagger::new(
            Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "us-east-1".into(),
            },
            "hms-vpc",
            BTreeMap::new(),
        )
    }

    fn spec(sets: &[&str]) -> Result<Spec> {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
        let config = Config::load(&[], &sets)?;
        let cfg: VpcConfig = config.section("vpc")?;
        decide(&config, &cfg, &tagger())
    }

    #[test]
    fn defaults_are_the_reference_stack() {
        let s = spec(&[]).expect("spec");
        assert_eq!(s.cidr.to_string(), "10.0.0.0/16");
        assert_eq!(s.az_names(), vec!["us-east-1a", "us-east-1b", "us-east-1c"]);
        let private: Vec<String> = s.azs.iter().map(|a| a.private.to_string()).collect();
        let public: Vec<String> = s.azs.iter().map(|a| a.public.to_string()).collect();
        assert_eq!(private, vec!["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]);
        assert_eq!(
            public,
            vec!["10.0.101.0/24", "10.0.102.0/24", "10.0.103.0/24"]
        );
        assert_eq!(s.nat, NatMode::Single);
        assert_eq!(s.nat_for("us-east-1c"), Some("us-east-1a"));
        let fl = s.flow_logs.expect("flow logs");
        assert_eq!(fl.retention_days, 365, "production keeps a year");
        assert_eq!(fl.role_name, "hms-vpc-flow-logs");
    }

    #[test]
    fn nat_modes() {
        assert_eq!(
            spec(&["vpc.one_nat_gateway_per_az=true"])
                .expect("per az")
                .nat,
            NatMode::PerAz
        );
        assert_eq!(
            spec(&["vpc.single_nat_gateway=false"]).expect("per az").nat,
            NatMode::PerAz
        );
        assert_eq!(
            spec(&["vpc.enable_nat_gateway=false"]).expect("none").nat,
            NatMode::None
        );
        let fourth = spec(&[r#"vpc.azs=["us-east-1a","us-east-1b","us-east-1c","us-east-1d"]"#])
            .expect("4 azs");
        assert_eq!(fourth.azs[3].private.to_string(), "10.0.4.0/24");
        assert_eq!(fourth.azs[3].public.to_string(), "10.0.104.0/24");
    }

    #[test]
    fn network_acl_rules_deny_admin_ports_before_any_allow() {
        let s = spec(&["vpc.private_egress_ports=[443, 80, 443]"]).expect("spec");
        let written = |r: &[AclRule]| r.iter().map(ToString::to_string).collect::<Vec<_>>();
        let public = s.acl_rules(Tier::Public);
        assert_eq!(
            written(&public.ingress),
            [
                "10 deny tcp 22 0.0.0.0/0",
                "20 deny tcp 3389 0.0.0.0/0",
                "100 allow all 10.0.0.0/16",
                "110 allow tcp 80 0.0.0.0/0",
                "120 allow tcp 443 0.0.0.0/0",
                "130 allow tcp 1024-65535 0.0.0.0/0",
            ]
        );
        // The NAT forwards what the private subnets may reach: 80 and 443, once each.
        assert_eq!(
            written(&public.egress),
            [
                "100 allow all 10.0.0.0/16",
                "110 allow tcp 1024-65535 0.0.0.0/0",
                "120 allow tcp 80 0.0.0.0/0",
                "130 allow tcp 443 0.0.0.0/0",
            ]
        );
        let private = s.acl_rules(Tier::Private);
        assert_eq!(
            written(&private.egress),
            [
                "100 allow all 10.0.0.0/16",
                "110 allow tcp 80 0.0.0.0/0",
                "120 allow tcp 443 0.0.0.0/0",
            ]
        );
        for rules in [&public.ingress, &private.ingress] {
            let first_allow = rules.iter().position(|r| r.allow).unwrap_or(rules.len());
            assert!(
                rules[..first_allow].len() == 2 && rules.iter().filter(|r| !r.allow).count() == 2
            );
        }
        assert_eq!(rule_number("130 allow tcp 443 0.0.0.0/0"), Some(130));
    }

    #[test]
    fn bad_inputs_name_the_key() {
        let cases: &[(&[&str], &str)] = &[
            (&["vpc.cidr=10.0.0.0/33"], "vpc.cidr"),
            (&["vpc.cidr=banana"], "vpc.cidr"),
            (&["vpc.cidr=10.0.0.0/8"], "/16 to /28"),
            (&["vpc.cidr=10.0.0.1/16"], "host bits"),
            (
                &["vpc.public_ingress_ports=[443, 22]"],
                "vpc.public_ingress_ports[1]",
            ),
            (&["vpc.private_egress_ports=[3389]"], "SSM Session Manager"),
            (&["vpc.private_egress_ports=[8443]"], "from 1 to 1023"),
            (
                &[r#"vpc.private_subnets=["10.1.1.0/24","10.0.2.0/24","10.0.3.0/24"]"#],
                "outside vpc.cidr",
            ),
            (
                &[r#"vpc.private_subnets=["10.0.1.0/24","10.0.1.0/25","10.0.3.0/24"]"#],
                "overlaps",
            ),
            (&[r#"vpc.private_subnets=["10.0.1.0/24"]"#], "one per AZ"),
            (
                &[r#"vpc.azs=["us-west-2a"]"#],
                "not an availability zone of region us-east-1",
            ),
            (&[r#"vpc.azs=["us-east-1a","us-east-1a"]"#], "listed twice"),
            (
                &[
                    "vpc.single_nat_gateway=true",
                    "vpc.one_nat_gateway_per_az=true",
                ],
                "both true",
            ),
            (
                &[
                    "vpc.enable_nat_gateway=false",
                    "vpc.one_nat_gateway_per_az=true",
                ],
                "NAT mode is set",
            ),
            (&["vpc.flow_log_retention_days=45"], "retention"),
            (&["vpc.nat=true"], "unknown field `nat`"),
            (&["vpc.azs=[]"], "is empty"),
            (&["vpc.tags.hms:stack=x"], "set by the tool"),
        ];
        for (sets, want) in cases {
            let err = spec(sets).expect_err(&format!("{sets:?} should fail"));
            assert_eq!(err.exit_code(), 64, "{sets:?}");
            assert!(err.to_string().contains(want), "{sets:?}: {err}");
            assert!(
                err.to_string().starts_with("config --set"),
                "{sets:?}: {err}"
            );
        }
    }
}

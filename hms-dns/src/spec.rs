//! The desired domain: the zone (found or created), the certificates and their names, the CAA issuers —
//! decided and validated from config. Pure.

use serde::Deserialize;

use hms_core::config::Config;
use hms_core::contract::SpecInput;
use hms_core::tags::Tagger;
use hms_core::Result;

use crate::addr::{Addr, Role};

/// The reference stack's domain (the HMS design's production values).
pub const REFERENCE_DOMAIN: &str = "hms.yourcompany.com";

/// CloudFront only takes certificates from this region.
pub const CDN_REGION: &str = "us-east-1";

/// The key algorithms both CloudFront and an ALB accept.
pub const KEY_ALGORITHMS: &[&str] = &["RSA_2048", "EC_prime256v1"];

/// The CAA issuer domains that let ACM issue (any one of them is enough).
pub const AMAZON_CAA: &[&str] = &[
    "amazon.com",
    "amazontrust.com",
    "awstrust.com",
    "amazonaws.com",
];

/// Names one ACM certificate holds with ACM's default quota.
pub const MAX_NAMES: usize = 10;

/// TTL of the validation CNAMEs (ACM's own suggestion is 300).
pub const VALIDATION_TTL: i64 = 300;

/// TTL of the CAA record set.
pub const CAA_TTL: i64 = 3600;

/// `[dns]` as written in config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The domain the stack serves (default: the reference `hms.yourcompany.com`).
    pub domain_name: Option<String>,
    /// An existing public hosted zone to write into (default: the parent of domain_name).
    pub zone: Option<String>,
    /// Create a hosted zone named domain_name (its name servers are in the outputs, to delegate to).
    pub create_zone: Option<bool>,
    /// More names on the certificates (`www.hms.yourcompany.com`, `*.hms.yourcompany.com`).
    pub alternative_names: Option<Vec<String>>,
    /// `RSA_2048` (default) or `EC_prime256v1`.
    pub key_algorithm: Option<String>,
    /// Certificate authorities the CAA record allows (default `["amazon.com"]`; `[]` for no CAA record).
    pub caa_issuers: Option<Vec<String>>,
}

/// One desired certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    pub address: Addr,
    pub role: Role,
    pub region: String,
    /// The domain first (the certificate's subject), then the other names sorted.
    pub names: Vec<String>,
    pub key_algorithm: String,
    /// RequestCertificate's idempotency token: the same for the same certificate of the same stack.
    pub token: String,
}

impl CertSpec {
    /// The names sorted, as observe reads them back.
    pub fn sorted_names(&self) -> Vec<String> {
        let mut n = self.names.clone();
        n.sort();
        n
    }
}

/// The desired domain.
#[derive(Debug, Clone)]
pub struct Spec {
    pub domain_name: String,
    /// The zone's name (no trailing dot): the created one is domain_name.
    pub zone_name: String,
    pub create_zone: bool,
    /// Which settings named the zone, for messages.
    pub zone_from: &'static str,
    pub certificates: Vec<CertSpec>,
    /// CAA issuers; empty: no CAA record.
    pub caa_issuers: Vec<String>,
    pub region: String,
    pub tagger: Tagger,
    /// This run is `down`: nothing is refused for what is not ours, nothing of ours is kept.
    pub down: bool,
}

impl Spec {
    /// The CallerReference prefix of the zones this stack's hms-dns creates.
    pub fn caller_reference_prefix(&self) -> String {
        format!(
            "{}/{}/{}/",
            self.tagger.tool, self.tagger.id.stack, self.tagger.id.env
        )
    }

    /// The CAA record values (`0 issue "amazon.com"`).
    pub fn caa_values(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .caa_issuers
            .iter()
            .map(|i| format!("0 issue \"{i}\""))
            .collect();
        v.sort();
        v
    }

    /// The regions whose certificates this stack may hold.
    pub fn cert_regions(&self) -> Vec<String> {
        let mut r = vec![CDN_REGION.to_owned()];
        if self.region != CDN_REGION {
            r.push(self.region.clone());
        }
        r
    }

    /// The desired certificate serving the CDN / the ALB.
    pub fn cert_for(&self, cdn: bool) -> Option<&CertSpec> {
        self.certificates.iter().find(|c| {
            if cdn {
                c.role.serves_cdn()
            } else {
                c.role.serves_alb()
            }
        })
    }
}

/// FNV-1a, 64 bits: a short, stable, dependency-free hash for names and tokens (nothing secret is hashed).
pub fn fnv64(seed: u64, text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Why `s` is not a DNS name a public certificate can hold, if it is not (`wildcard`: `*.` allowed as the
/// whole first label).
pub fn dns_name_problem(s: &str, wildcard: bool) -> Option<String> {
    let body = match s.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        Some(_) => return Some("a wildcard is not allowed here".into()),
        None => s,
    };
    if s.len() > 253 {
        return Some("longer than 253 characters".into());
    }
    let labels: Vec<&str> = body.split('.').collect();
    if labels.len() < 2 {
        return Some("needs at least two labels (name.tld)".into());
    }
    for l in &labels {
        if l.is_empty() {
            return Some("has an empty label".into());
        }
        if l.len() > 63 {
            return Some(format!("label {l:?} is longer than 63 characters"));
        }
        if !l
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Some(format!(
                "label {l:?}: only letters, digits and '-' (IDNs in their xn-- form)"
            ));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Some(format!("label {l:?} starts or ends with '-'"));
        }
    }
    if labels
        .last()
        .is_some_and(|t| t.chars().all(|c| c.is_ascii_digit()))
    {
        return Some("the last label is numeric (an IP address is not a domain)".into());
    }
    None
}

/// Lowercase without a trailing dot: the form every name is compared in.
pub fn normalize(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `name` is `zone` or under it (a wildcard is judged by its base).
pub fn in_zone(name: &str, zone: &str) -> bool {
    let base = name.strip_prefix("*.").unwrap_or(name);
    base == zone || base.ends_with(&format!(".{zone}"))
}

/// The spec input of hms-dns.
pub type Input<'a> = SpecInput<'a>;

/// Builds the spec.
pub fn build(input: &Input<'_>) -> Result<Spec> {
    let mut spec = from_config(input.config, input.tagger)?;
    spec.down = input.is_down();
    Ok(spec)
}

/// Builds the spec from config (no upstream input: hms-dns reads only config).
pub fn from_config(config: &Config, tagger: &Tagger) -> Result<Spec> {
    let cfg: DnsConfig = config.section("dns")?;
    let domain = domain_name(config, &cfg)?;
    let (zone_name, zone_from, create_zone) = zone(config, &cfg, &domain)?;
    let origin = format!("origin.{domain}");
    let alts = alternative_names(config, &cfg, &domain, &origin, &zone_name)?;
    let key_algorithm = key_algorithm(config, &cfg)?;
    let caa_issuers = caa_issuers(config, &cfg)?;
    let region = tagger.id.region.clone();
    let certificates = certificates(tagger, &region, &domain, &origin, &alts, &key_algorithm);
    Ok(Spec {
        domain_name: domain,
        zone_name,
        create_zone,
        zone_from,
        certificates,
        caa_issuers,
        region,
        tagger: tagger.clone(),
        down: false,
    })
}

/// `dns.domain_name`, normalized and checked: a valid DNS name, not a wildcard, short enough for ACM.
fn domain_name(config: &Config, cfg: &DnsConfig) -> Result<String> {
    let raw = cfg
        .domain_name
        .clone()
        .unwrap_or_else(|| REFERENCE_DOMAIN.into());
    let domain = normalize(&raw);
    if domain.starts_with("*.") {
        return Err(config.invalid(
            "dns.domain_name",
            format!(
                "{raw:?} is a wildcard, but the CDN serves the domain itself; set domain_name = {:?} and put {raw:?} in dns.alternative_names",
                domain.trim_start_matches("*.")
            ),
        ));
    }
    if let Some(p) = dns_name_problem(&domain, false) {
        return Err(config.invalid(
            "dns.domain_name",
            format!("{raw:?} is not a valid DNS name: {p} (e.g. \"{REFERENCE_DOMAIN}\")"),
        ));
    }
    // ACM: the first name of a certificate (its subject) is at most 64 octets.
    if domain.len() > 64 {
        return Err(config.invalid(
            "dns.domain_name",
            format!("{raw:?}: ACM takes at most 64 characters for a certificate's subject; use a shorter domain"),
        ));
    }
    Ok(domain)
}

/// The zone: created (named after the domain), named by `dns.zone`, or the domain's parent.
fn zone(config: &Config, cfg: &DnsConfig, domain: &str) -> Result<(String, &'static str, bool)> {
    let create_zone = cfg.create_zone.unwrap_or(false);
    if create_zone && cfg.zone.is_some() {
        return Err(config.invalid(
            "dns.zone",
            format!(
                "set together with dns.create_zone = true; the created zone is named after dns.domain_name ({domain}): remove dns.zone to create it, or remove dns.create_zone to use the existing zone"
            ),
        ));
    }
    let (zone_name, zone_from) = if create_zone {
        (domain.to_owned(), "dns.create_zone")
    } else if let Some(z) = &cfg.zone {
        let zone = normalize(z);
        if let Some(p) = dns_name_problem(&zone, false) {
            return Err(config.invalid("dns.zone", format!("{z:?} is not a valid DNS name: {p}")));
        }
        if !in_zone(domain, &zone) {
            return Err(config.invalid(
                "dns.zone",
                format!(
                    "dns.domain_name {domain} is outside the zone {zone}; name the zone that holds it (e.g. {:?}), or set dns.create_zone = true to create a zone for it",
                    parent(domain)
                ),
            ));
        }
        (zone, "dns.zone")
    } else {
        (
            parent(domain),
            "dns.zone (default: the parent of dns.domain_name)",
        )
    };

    Ok((zone_name, zone_from, create_zone))
}

/// `dns.alternative_names`: valid, in the zone, not already on the certificates, no duplicates, and few
/// enough for ACM's quota.
fn alternative_names(
    config: &Config,
    cfg: &DnsConfig,
    domain: &str,
    origin: &str,
    zone_name: &str,
) -> Result<Vec<String>> {
    let alternative_names = cfg.alternative_names.clone().unwrap_or_default();
    let mut alts: Vec<String> = Vec::new();
    for (i, raw) in alternative_names.iter().enumerate() {
        let key = format!("dns.alternative_names[{i}]");
        let n = normalize(raw);
        if let Some(p) = dns_name_problem(&n, true) {
            return Err(config.invalid(&key, format!("{raw:?} is not a valid DNS name: {p}")));
        }
        if !in_zone(&n, zone_name) {
            return Err(config.invalid(
                &key,
                format!("{n} is outside the zone {zone_name}, so its validation record cannot be written there; use names under {zone_name}"),
            ));
        }
        if n == domain || n == origin {
            return Err(config.invalid(
                &key,
                format!("{n} is on the certificates already (domain_name, and origin.<domain_name> on the ALB's); remove it"),
            ));
        }
        if alts.contains(&n) {
            return Err(config.invalid(&key, format!("{n} is listed twice; remove one")));
        }
        alts.push(n);
    }
    // The ALB's certificate holds the domain, origin.<domain> and every alternative name.
    let room = MAX_NAMES - 2;
    if alts.len() > room {
        return Err(config.invalid(
            "dns.alternative_names",
            format!(
                "{} names: a certificate holds at most {MAX_NAMES} names (ACM's quota) and the ALB's also names {domain} and {origin}; use at most {room}",
                alts.len()
            ),
        ));
    }
    Ok(alts)
}

/// `dns.key_algorithm`.
fn key_algorithm(config: &Config, cfg: &DnsConfig) -> Result<String> {
    let key_algorithm = cfg
        .key_algorithm
        .clone()
        .unwrap_or_else(|| KEY_ALGORITHMS[0].to_owned());
    if !KEY_ALGORITHMS.contains(&key_algorithm.as_str()) {
        return Err(config.invalid(
            "dns.key_algorithm",
            format!(
                "{key_algorithm:?}: use {} (both CloudFront and the ALB take these)",
                KEY_ALGORITHMS.join(" or ")
            ),
        ));
    }
    Ok(key_algorithm)
}

/// `dns.caa_issuers`: CA domains, one of them Amazon's (or none: no CAA record).
fn caa_issuers(config: &Config, cfg: &DnsConfig) -> Result<Vec<String>> {
    let caa_issuers: Vec<String> = match &cfg.caa_issuers {
        None => vec!["amazon.com".to_owned()],
        Some(list) => {
            let mut out = Vec::new();
            for (i, raw) in list.iter().enumerate() {
                let n = normalize(raw);
                if let Some(p) = dns_name_problem(&n, false) {
                    return Err(config.invalid(
                        &format!("dns.caa_issuers[{i}]"),
                        format!("{raw:?} is not a CA's domain: {p} (e.g. \"amazon.com\")"),
                    ));
                }
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            if !out.is_empty() && !out.iter().any(|i| AMAZON_CAA.contains(&i.as_str())) {
                return Err(config.invalid(
                    "dns.caa_issuers",
                    format!(
                        "{out:?} does not allow ACM, so the certificates could never be issued; add \"amazon.com\" (or set [] for no CAA record)"
                    ),
                ));
            }
            out
        }
    };

    Ok(caa_issuers)
}

/// The certificates: one in us-east-1 serving both the CDN and the ALB, or a CDN one there and the ALB's
/// in the stack's region. Each is addressed by a short hash of its names and key algorithm, so a change of
/// names is a new certificate (made before the old one goes).
fn certificates(
    tagger: &Tagger,
    region: &str,
    domain: &str,
    origin: &str,
    alts: &[String],
    key_algorithm: &str,
) -> Vec<CertSpec> {
    let cert = |role: Role, region: &str, with_origin: bool| {
        let mut rest = alts.to_vec();
        if with_origin {
            rest.push(origin.to_owned());
        }
        rest.sort();
        let mut names = vec![domain.to_owned()];
        names.extend(rest);
        let text = format!("{}|{key_algorithm}", names.join(","));
        let key = format!("{:08x}", fnv64(0, &text) >> 32);
        let address = Addr::Certificate { role, key };
        let who = format!(
            "{}/{}/{address}/{region}/{text}",
            tagger.id.stack, tagger.id.env
        );
        let token = format!("{:016x}{:016x}", fnv64(1, &who), fnv64(2, &who));
        CertSpec {
            address,
            role,
            region: region.to_owned(),
            names,
            key_algorithm: key_algorithm.to_owned(),
            token,
        }
    };
    if region == CDN_REGION {
        vec![cert(Role::Both, CDN_REGION, true)]
    } else {
        vec![
            cert(Role::Cdn, CDN_REGION, false),
            cert(Role::Alb, region, true),
        ]
    }
}

/// The parent of a name with three labels or more (`hms.yourcompany.com` → `yourcompany.com`); a
/// two-label name is its own zone.
pub fn parent(name: &str) -> String {
    match name.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest.to_owned(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hms_core::document::Identity;
    use std::collections::BTreeMap;

    pub(crate) fn tagger(region: &str) -> Tagger {
        Tagger::new(
            Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: region.into(),
            },
            "hms-dns",
            BTreeMap::new(),
        )
    }

    fn spec_in(region: &str, text: &str) -> Result<Spec> {
        let config = Config::from_toml(text, "hms.toml")?;
        from_config(&config, &tagger(region))
    }

    fn err(text: &str) -> String {
        match spec_in("eu-west-1", text) {
            Err(e) => {
                assert_eq!(e.exit_code(), 64, "{e}");
                e.to_string()
            }
            Ok(s) => panic!("accepted: {s:?}"),
        }
    }

    #[test]
    fn reference_is_one_certificate_in_us_east_1_and_two_elsewhere() {
        let s = spec_in("us-east-1", "").expect("spec");
        assert_eq!(s.domain_name, "hms.yourcompany.com");
        assert_eq!(s.zone_name, "yourcompany.com");
        assert!(!s.create_zone);
        assert_eq!(s.certificates.len(), 1);
        let c = &s.certificates[0];
        assert_eq!(c.role, Role::Both);
        assert_eq!(c.region, "us-east-1");
        assert_eq!(
            c.names,
            vec!["hms.yourcompany.com", "origin.hms.yourcompany.com"]
        );
        assert_eq!(c.key_algorithm, "RSA_2048");
        assert_eq!(c.token.len(), 32);
        assert_eq!(s.caa_values(), vec!["0 issue \"amazon.com\""]);

        let s = spec_in(
            "eu-west-1",
            "[dns]\ndomain_name = \"HMS.Example.org.\"\ncreate_zone = true\nalternative_names = [\"www.hms.example.org\"]\n",
        )
        .expect("spec");
        assert_eq!(s.zone_name, "hms.example.org");
        let cdn = s.cert_for(true).expect("cdn");
        let alb = s.cert_for(false).expect("alb");
        assert_eq!((cdn.role, cdn.region.as_str()), (Role::Cdn, "us-east-1"));
        assert_eq!((alb.role, alb.region.as_str()), (Role::Alb, "eu-west-1"));
        assert_eq!(cdn.names, vec!["hms.example.org", "www.hms.example.org"]);
        assert_eq!(
            alb.names,
            vec![
                "hms.example.org",
                "origin.hms.example.org",
                "www.hms.example.org"
            ]
        );
        assert_ne!(cdn.address, alb.address);
        assert_ne!(cdn.token, alb.token);
    }

    #[test]
    fn other_names_make_another_certificate_address() {
        let a = spec_in("us-east-1", "").expect("a");
        let b = spec_in(
            "us-east-1",
            "[dns]\nalternative_names = [\"www.hms.yourcompany.com\"]\n",
        )
        .expect("b");
        let c = spec_in("us-east-1", "[dns]\nkey_algorithm = \"EC_prime256v1\"\n").expect("c");
        let addr = |s: &Spec| s.certificates[0].address.to_string();
        assert_ne!(addr(&a), addr(&b));
        assert_ne!(addr(&a), addr(&c));
        assert_eq!(addr(&a), addr(&spec_in("us-east-1", "").expect("again")));
    }

    #[test]
    fn bad_inputs_name_the_key() {
        let cases = [
            ("[dns]\ndomain_name = \"hms_x.example.org\"", "dns.domain_name"),
            ("[dns]\ndomain_name = \"localhost\"", "not a valid DNS name"),
            ("[dns]\ndomain_name = \"*.hms.example.org\"", "the CDN serves the domain itself"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nzone = \"other.org\"", "outside the zone other.org"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nzone = \"example.org\"\ncreate_zone = true", "dns.create_zone"),
            ("[dns]\nkey_algorithm = \"RSA_4096\"", "dns.key_algorithm"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nalternative_names = [\"a.hms.example.org\", \"b.hms.example.org\", \"c.hms.example.org\", \"d.hms.example.org\", \"e.hms.example.org\", \"f.hms.example.org\", \"g.hms.example.org\", \"h.hms.example.org\", \"i.hms.example.org\", \"j.hms.example.org\", \"k.hms.example.org\"]", "at most 8"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nalternative_names = [\"www.other.org\"]", "dns.alternative_names[0]"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nalternative_names = [\"origin.hms.example.org\"]", "already"),
            ("[dns]\ndomain_name = \"hms.example.org\"\nalternative_names = [\"a.hms.example.org\", \"A.hms.example.org\"]", "twice"),
            ("[dns]\ncaa_issuers = [\"letsencrypt.org\"]", "does not allow ACM"),
            ("[dns]\nregion = \"x\"", "unknown field"),
        ];
        for (text, want) in cases {
            let e = err(text);
            assert!(e.contains(want), "{text}: {want:?} not in {e}");
        }
    }

    #[test]
    fn wildcards_and_zones() {
        let s = spec_in(
            "us-east-1",
            "[dns]\ndomain_name = \"example.org\"\nalternative_names = [\"*.example.org\"]\ncaa_issuers = []\n",
        )
        .expect("spec");
        assert_eq!(s.zone_name, "example.org");
        assert!(s.caa_issuers.is_empty());
        assert!(s.certificates[0]
            .names
            .contains(&"*.example.org".to_owned()));
        assert!(in_zone("*.a.example.org", "example.org"));
        assert!(!in_zone("example.org.evil", "example.org"));
        assert!(!in_zone("badexample.org", "example.org"));
        assert!(dns_name_problem("a..b", false).is_some());
        assert!(dns_name_problem("1.2.3.4", false).is_some());
        assert!(dns_name_problem("*.x.org", false).is_some());
        assert!(dns_name_problem("*.x.org", true).is_none());
    }
}

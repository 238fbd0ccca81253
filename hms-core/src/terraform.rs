//! Taking over a stack from Terraform (`hms-<tool> import --terraform-state FILE`).
//!
//! Reads a Terraform state (a `terraform.tfstate` of format version 4, or the JSON of
//! `terraform show -json`) into a flat list of [`TfResource`]s: managed resources only (data sources are
//! skipped), each with its full Terraform address (`module.vpc.aws_subnet.private[0]`) and its attribute
//! values. A tool maps the resources of its types to its own addresses ([`crate::contract::Tool::import`],
//! pure); the engine verifies each in AWS through the tool's `observe`, records them in state with the
//! Terraform address ([`IMPORTED`]), adds the `hms:*` tags, and prints the mapping and the plan `up` would
//! run. Attribute values never reach output: a state holds secrets (a database's `password`), so only ids,
//! names and the fields a mapping matches on are read.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::diff::FoundSet;
use crate::error::{Error, Result};
use crate::state::{Resources, State};

/// The attribute of a state record (and [`crate::diff::Found::info`]) that says the resource was taken
/// over from Terraform, with its Terraform address. A plan keeps such a resource's name where hms-infra
/// would derive another one that cannot change in place (see [`kept`]).
pub const IMPORTED: &str = "terraform";

/// One managed resource instance of a Terraform state.
#[derive(Debug, Clone, PartialEq)]
pub struct TfResource {
    /// Full address: `module.vpc.aws_subnet.private[0]`.
    pub address: String,
    /// Resource type: `aws_subnet`.
    pub kind: String,
    /// Attribute values (as the state holds them).
    pub values: Value,
}

impl TfResource {
    /// A string attribute (`id`, `cidr_block`); numbers are given as text.
    pub fn str(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// An attribute as it is.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key).filter(|v| !v.is_null())
    }

    /// A tag value (`tags.Name`).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.values.get("tags")?.get(key)?.as_str()
    }

    /// The resource's `id`.
    pub fn id(&self) -> Option<String> {
        self.str("id")
    }
}

/// A parsed Terraform state.
#[derive(Debug, Clone, Default)]
pub struct TfState {
    /// Where it came from, for messages (`terraform.tfstate`, `stdin`, `s3://…`).
    pub source: String,
    pub resources: Vec<TfResource>,
}

impl TfState {
    /// Parses a `terraform.tfstate` (format version 4) or the JSON of `terraform show -json`. Every
    /// failure is a usage error naming `source` and the fix.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let not_state = || {
            Error::usage(format!(
                "--terraform-state {source}: not a Terraform state; give a terraform.tfstate (`terraform state pull > terraform.tfstate`) or the output of `terraform show -json`"
            ))
        };
        let doc: Value = serde_json::from_str(text).map_err(|_| not_state())?;
        let obj = doc.as_object().ok_or_else(not_state)?;
        if obj.contains_key("planned_values") || obj.contains_key("resource_changes") {
            return Err(Error::usage(format!(
                "--terraform-state {source}: this is a plan (`terraform show -json PLANFILE`), not a state; give `terraform show -json` without a plan file, or the terraform.tfstate"
            )));
        }
        let mut resources = Vec::new();
        if let Some(version) = obj.get("version") {
            if version.as_u64() != Some(4) {
                return Err(Error::usage(format!(
                    "--terraform-state {source}: state format version {version}, but only version 4 (Terraform 0.12 and later) is read; upgrade the state with a current Terraform (`terraform state pull` after `terraform init`) or give `terraform show -json`"
                )));
            }
            for r in obj
                .get("resources")
                .and_then(Value::as_array)
                .ok_or_else(not_state)?
            {
                v4_resource(r, &mut resources).ok_or_else(not_state)?;
            }
        } else if obj.contains_key("format_version") {
            // `terraform show -json` of an empty state has no "values".
            if let Some(root) = obj.get("values").and_then(|v| v.get("root_module")) {
                show_module(root, &mut resources).ok_or_else(not_state)?;
            }
        } else {
            return Err(not_state());
        }
        Ok(TfState {
            source: source.to_owned(),
            resources,
        })
    }

    /// Refuses a state whose resources are in another region than this run's: the regions named by
    /// their ARNs and availability zones (global resources name none).
    pub fn check_region(&self, region: &str) -> Result<()> {
        let regions: BTreeSet<String> = self.resources.iter().filter_map(region_of).collect();
        if regions.is_empty() || regions.contains(region) {
            return Ok(());
        }
        let theirs: Vec<&str> = regions.iter().map(String::as_str).collect();
        Err(Error::usage(format!(
            "--terraform-state {}: its resources are in {}, but this run is for {region}; pass --region {} (or the config's aws.region) to import them",
            self.source,
            theirs.join(", "),
            theirs[0]
        )))
    }
}

/// The region a resource names: in its `arn`, or its availability zone without the letter.
fn region_of(r: &TfResource) -> Option<String> {
    if let Some(arn) = r.str("arn") {
        let region = arn.split(':').nth(3).unwrap_or_default();
        if !region.is_empty() {
            return Some(region.to_owned());
        }
    }
    let az = r.str("availability_zone")?;
    let trimmed = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
    (trimmed.len() < az.len()).then(|| trimmed.to_owned())
}

/// One resource of a version 4 state (`module`, `mode`, `type`, `name`, `instances[]`).
fn v4_resource(r: &Value, out: &mut Vec<TfResource>) -> Option<()> {
    let kind = r.get("type")?.as_str()?;
    let name = r.get("name")?.as_str()?;
    if r.get("mode").and_then(Value::as_str) != Some("managed") {
        return Some(());
    }
    let base = match r.get("module").and_then(Value::as_str) {
        Some(m) => format!("{m}.{kind}.{name}"),
        None => format!("{kind}.{name}"),
    };
    for instance in r.get("instances")?.as_array()? {
        let index = match instance.get("index_key") {
            Some(Value::Number(n)) => format!("[{n}]"),
            Some(Value::String(s)) => format!("[{}]", Value::from(s.as_str())),
            _ => String::new(),
        };
        out.push(TfResource {
            address: format!("{base}{index}"),
            kind: kind.to_owned(),
            values: instance.get("attributes")?.clone(),
        });
    }
    Some(())
}

/// The resources of a module of `terraform show -json`, with its child modules.
fn show_module(m: &Value, out: &mut Vec<TfResource>) -> Option<()> {
    for r in m
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Value::as_str) != Some("managed") {
            continue;
        }
        out.push(TfResource {
            address: r.get("address")?.as_str()?.to_owned(),
            kind: r.get("type")?.as_str()?.to_owned(),
            values: r
                .get("values")
                .cloned()
                .unwrap_or(Value::Object(Map::new())),
        });
    }
    for child in m
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        show_module(child, out)?;
    }
    Some(())
}

/// Which tools own a Terraform resource type (a type several tools use, like `aws_iam_role`, names them
/// all; each tool takes only its own by name or attributes).
pub const OWNERS: &[(&str, &[&str])] = &[
    ("aws_vpc", &["hms-vpc"]),
    ("aws_subnet", &["hms-vpc"]),
    ("aws_internet_gateway", &["hms-vpc"]),
    ("aws_eip", &["hms-vpc"]),
    ("aws_nat_gateway", &["hms-vpc"]),
    ("aws_route_table", &["hms-vpc"]),
    ("aws_route", &["hms-vpc"]),
    ("aws_route_table_association", &["hms-vpc"]),
    ("aws_vpc_endpoint", &["hms-vpc"]),
    ("aws_flow_log", &["hms-vpc"]),
    ("aws_network_acl", &["hms-vpc"]),
    ("aws_network_acl_rule", &["hms-vpc"]),
    ("aws_network_acl_association", &["hms-vpc"]),
    ("aws_default_security_group", &["hms-vpc"]),
    ("aws_security_group", &["hms-security"]),
    ("aws_security_group_rule", &["hms-security"]),
    ("aws_vpc_security_group_ingress_rule", &["hms-security"]),
    ("aws_vpc_security_group_egress_rule", &["hms-security"]),
    ("aws_iam_role", &["hms-security", "hms-vpc"]),
    ("aws_iam_role_policy", &["hms-security", "hms-vpc"]),
    ("aws_iam_role_policy_attachment", &["hms-security"]),
    ("aws_kms_key", &["hms-security"]),
    ("aws_kms_alias", &["hms-security"]),
    ("aws_route53_zone", &["hms-dns"]),
    ("aws_route53_record", &["hms-dns", "hms-edge"]),
    ("aws_acm_certificate", &["hms-dns"]),
    ("aws_acm_certificate_validation", &["hms-dns"]),
    ("aws_db_subnet_group", &["hms-db"]),
    ("aws_db_instance", &["hms-db"]),
    ("aws_db_parameter_group", &["hms-db"]),
    ("aws_elasticache_replication_group", &["hms-cache"]),
    ("aws_elasticache_subnet_group", &["hms-cache"]),
    ("aws_elasticache_parameter_group", &["hms-cache"]),
    ("aws_ecs_cluster", &["hms-ecs"]),
    ("aws_ecs_service", &["hms-ecs"]),
    ("aws_ecs_task_definition", &["hms-ecs"]),
    ("aws_lb", &["hms-ecs"]),
    ("aws_alb", &["hms-ecs"]),
    ("aws_lb_target_group", &["hms-ecs"]),
    ("aws_alb_target_group", &["hms-ecs"]),
    ("aws_lb_listener", &["hms-ecs"]),
    ("aws_alb_listener", &["hms-ecs"]),
    ("aws_lb_listener_rule", &["hms-ecs"]),
    ("aws_appautoscaling_target", &["hms-ecs"]),
    ("aws_appautoscaling_policy", &["hms-ecs"]),
    (
        "aws_cloudwatch_log_group",
        &["hms-ecs", "hms-vpc", "hms-cache", "hms-edge"],
    ),
    ("aws_cloudfront_distribution", &["hms-edge"]),
    ("aws_cloudfront_origin_access_control", &["hms-edge"]),
    ("aws_wafv2_web_acl", &["hms-edge"]),
    ("aws_s3_bucket", &["hms-backup", "hms-ecs", "hms-edge"]),
    ("aws_cloudwatch_metric_alarm", &["hms-observe"]),
    ("aws_sns_topic", &["hms-observe"]),
    ("aws_sns_topic_subscription", &["hms-observe"]),
    ("aws_cloudwatch_dashboard", &["hms-observe"]),
    ("aws_db_event_subscription", &["hms-observe"]),
    ("aws_xray_sampling_rule", &["hms-observe"]),
    ("aws_xray_group", &["hms-observe"]),
];

/// The tools that own resources of `kind` (the `aws_s3_bucket_*` sub-resources go with the bucket).
pub fn owners(kind: &str) -> &'static [&'static str] {
    let base = if kind.starts_with("aws_s3_bucket_") {
        "aws_s3_bucket"
    } else {
        kind
    };
    OWNERS
        .iter()
        .find(|(k, _)| *k == base)
        .map(|(_, tools)| *tools)
        .unwrap_or(&[])
}

/// A Terraform resource taken over at one of the tool's addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// Terraform's address.
    pub tf: String,
    /// The tool's address.
    pub address: String,
    /// The id state records for it (what the tool's observe looks it up by).
    pub id: String,
    /// Attributes the record needs beside the id (an ARN, a name), as the tool's state records them.
    pub attrs: Map<String, Value>,
}

/// A Terraform resource the tool recognises but folds into another address (a sub-resource of an S3
/// bucket, a policy attachment that is part of a role): nothing of its own to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Covered {
    pub tf: String,
    /// The tool's address that covers it.
    pub by: String,
}

/// What a tool makes of a Terraform state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    pub mapped: Vec<Mapped>,
    pub covered: Vec<Covered>,
    /// Resources of this tool's types it could not map, with why.
    pub unmapped: Vec<(String, String)>,
}

impl Mapping {
    /// Maps `tf` to `address` with the id state records.
    pub fn map(&mut self, tf: &TfResource, address: impl Into<String>, id: impl Into<String>) {
        self.mapped.push(Mapped {
            tf: tf.address.clone(),
            address: address.into(),
            id: id.into(),
            attrs: Map::new(),
        });
    }

    /// Maps `tf` with attributes for its record.
    pub fn map_with(
        &mut self,
        tf: &TfResource,
        address: impl Into<String>,
        id: impl Into<String>,
        attrs: &[(&str, Value)],
    ) {
        self.map(tf, address, id);
        if let Some(m) = self.mapped.last_mut() {
            m.attrs
                .extend(attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        }
    }

    /// `tf` is part of the resource at `by`.
    pub fn cover(&mut self, tf: &TfResource, by: impl Into<String>) {
        self.covered.push(Covered {
            tf: tf.address.clone(),
            by: by.into(),
        });
    }

    /// `tf` is of this tool's type but not taken over, because `why`.
    pub fn skip(&mut self, tf: &TfResource, why: impl Into<String>) {
        self.unmapped.push((tf.address.clone(), why.into()));
    }

    /// Whether `tf` was decided on (mapped, covered or skipped).
    pub fn decided(&self, tf: &str) -> bool {
        self.mapped.iter().any(|m| m.tf == tf)
            || self.covered.iter().any(|c| c.tf == tf)
            || self.unmapped.iter().any(|(a, _)| a == tf)
    }

    /// Refuses two Terraform resources at one address, or one id at two addresses.
    pub fn check(&self, source: &str) -> Result<()> {
        for (i, a) in self.mapped.iter().enumerate() {
            for b in &self.mapped[i + 1..] {
                if a.address == b.address {
                    return Err(Error::usage(format!(
                        "--terraform-state {source}: {} and {} would both be {}; `terraform state rm` the one that is not the stack's, or import from a state that holds one",
                        a.tf, b.tf, a.address
                    )));
                }
                if a.id == b.id {
                    return Err(Error::usage(format!(
                        "--terraform-state {source}: {} and {} are both {} ({} and {}); the state names one resource twice, `terraform state rm` one of them",
                        a.tf, b.tf, a.id, a.address, b.address
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The resources of `tf` this tool leaves alone, with why: another tool's type, or a type no tool takes.
pub fn left(tool: &str, tf: &TfState, mapping: &Mapping) -> Vec<(String, String)> {
    tf.resources
        .iter()
        .filter(|r| !mapping.decided(&r.address))
        .map(|r| {
            let owners = owners(&r.kind);
            let why = if owners.is_empty() {
                format!("{}: no hms-infra tool takes this type", r.kind)
            } else if owners.contains(&tool) {
                format!(
                    "{}: not one of {tool}'s (left to {})",
                    r.kind,
                    others(owners, tool)
                )
            } else {
                format!("{}: left to {}", r.kind, owners.join(" or "))
            };
            (r.address.clone(), why)
        })
        .collect()
}

fn others(owners: &[&str], tool: &str) -> String {
    let rest: Vec<&str> = owners.iter().copied().filter(|t| *t != tool).collect();
    if rest.is_empty() {
        String::from("none: remove it from the Terraform state by hand if it is not the stack's")
    } else {
        rest.join(" or ")
    }
}

/// The resources of `tf` of the given types.
pub fn of_kinds<'a>(tf: &'a TfState, kinds: &[&str]) -> Vec<&'a TfResource> {
    tf.resources
        .iter()
        .filter(|r| kinds.contains(&r.kind.as_str()))
        .collect()
}

/// Carries the [`IMPORTED`] marker of `old`'s records to `new`'s records of the same id (a replaced
/// resource has a new id and loses it).
pub fn carry_imported(old: &Resources, new: &mut Resources) {
    for (address, r) in new.iter_mut() {
        if let Some(o) = old.get(address) {
            if o.id == r.id {
                if let Some(v) = o.attrs.get(IMPORTED) {
                    r.attrs.insert(IMPORTED.to_owned(), v.clone());
                }
            }
        }
    }
}

/// Marks the found resources that `state` records as taken over from Terraform (by the same id), so that
/// plans see it ([`kept`]) and the records written from them keep it. The engine calls it after every
/// observe.
pub fn mark(state: &State, found: &mut FoundSet) {
    for (address, f) in found.iter_mut() {
        let Some(r) = state.resources.get(address) else {
            continue;
        };
        if r.id == f.id {
            if let Some(v) = r.attrs.get(IMPORTED) {
                f.info.insert(IMPORTED.to_owned(), v.clone());
            }
        }
    }
}

/// Whether the resource at `address` was taken over from Terraform (its found info carries the marker).
pub fn imported(found: &FoundSet, address: &str) -> bool {
    found
        .get(address)
        .is_some_and(|f| f.info.contains_key(IMPORTED))
}

/// The value of attribute `key` a plan wants for `address`: the found one when the resource was taken
/// over from Terraform (its name, which cannot change in place, is kept), else `derived`.
pub fn kept(found: &FoundSet, address: &str, key: &str, derived: impl Into<Value>) -> Value {
    match found.get(address) {
        Some(f) if f.info.contains_key(IMPORTED) => match f.attrs.get(key) {
            Some(v) => v.clone(),
            None => derived.into(),
        },
        _ => derived.into(),
    }
}

/// [`kept`] for a string attribute.
pub fn kept_str(found: &FoundSet, address: &str, key: &str, derived: &str) -> String {
    match kept(found, address, key, derived) {
        Value::String(s) => s,
        _ => derived.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = r#"{
      "version": 4, "terraform_version": "1.9.5", "serial": 3, "lineage": "x", "outputs": {},
      "resources": [
        {"module": "module.vpc", "mode": "managed", "type": "aws_subnet", "name": "private",
         "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
         "instances": [
           {"index_key": 0, "schema_version": 1, "attributes": {"id": "subnet-1", "availability_zone": "us-east-1a"}},
           {"index_key": 1, "schema_version": 1, "attributes": {"id": "subnet-2", "availability_zone": "us-east-1b"}}
         ]},
        {"mode": "data", "type": "aws_caller_identity", "name": "me", "provider": "p",
         "instances": [{"schema_version": 0, "attributes": {"id": "123"}}]},
        {"mode": "managed", "type": "aws_s3_bucket", "name": "b", "provider": "p",
         "instances": [{"index_key": "main", "schema_version": 0, "attributes": {"id": "bkt", "arn": "arn:aws:s3:::bkt"}}]}
      ]
    }"#;

    #[test]
    fn a_v4_state_gives_full_addresses_and_skips_data_sources() {
        let tf = TfState::parse(V4, "terraform.tfstate").expect("ok");
        let addrs: Vec<&str> = tf.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(
            addrs,
            [
                "module.vpc.aws_subnet.private[0]",
                "module.vpc.aws_subnet.private[1]",
                "aws_s3_bucket.b[\"main\"]"
            ]
        );
        assert_eq!(tf.resources[1].id().as_deref(), Some("subnet-2"));
        tf.check_region("us-east-1").expect("ok");
        let e = tf
            .check_region("eu-west-1")
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("in us-east-1, but this run is for eu-west-1"),
            "{e}"
        );
    }

    #[test]
    fn terraform_show_json_is_read_with_its_child_modules() {
        let show = r#"{"format_version": "1.0", "values": {"root_module": {
          "resources": [{"address": "aws_vpc.main", "mode": "managed", "type": "aws_vpc", "name": "main", "values": {"id": "vpc-1"}}],
          "child_modules": [{"address": "module.db", "resources": [
            {"address": "module.db.aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main", "values": {"identifier": "hms-db"}},
            {"address": "module.db.data.aws_iam_policy.x", "mode": "data", "type": "aws_iam_policy", "name": "x", "values": {}}
          ]}]}}}"#;
        let tf = TfState::parse(show, "stdin").expect("ok");
        let addrs: Vec<&str> = tf.resources.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(addrs, ["aws_vpc.main", "module.db.aws_db_instance.main"]);
        assert_eq!(tf.resources[1].str("identifier").as_deref(), Some("hms-db"));
    }

    #[test]
    fn what_is_not_version_4_state_is_refused_with_the_fix() {
        for (text, want) in [
            ("not json", "not a Terraform state"),
            (r#"{"resources": []}"#, "not a Terraform state"),
            (r#"{"version": 3, "modules": []}"#, "format version 3"),
            (r#"{"version": 4}"#, "not a Terraform state"),
        ] {
            let e = TfState::parse(text, "f.tfstate").expect_err("refused");
            assert!(matches!(e, Error::Usage(_)));
            let e = e.to_string();
            assert!(
                e.contains("--terraform-state f.tfstate") && e.contains(want),
                "{e}"
            );
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn resources_left_say_whose_they_are() {
        let tf = TfState::parse(V4, "s").expect("ok");
        let mut m = Mapping::default();
        m.map(
            &tf.resources[0],
            "vpc.subnet.private[us-east-1a]",
            "subnet-1",
        );
        let left = left("hms-vpc", &tf, &m);
        assert_eq!(left.len(), 2);
        assert!(left[0].1.contains("not one of hms-vpc's"), "{left:?}");
        assert!(
            left[1]
                .1
                .contains("left to hms-backup or hms-ecs or hms-edge"),
            "{left:?}"
        );
        let mut twice = m.clone();
        twice.map(
            &tf.resources[1],
            "vpc.subnet.private[us-east-1a]",
            "subnet-2",
        );
        assert!(twice.check("s").is_err());
        m.check("s").expect("ok");
    }
}

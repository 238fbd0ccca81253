//! The VPC's desired resources and the plan against what exists. Pure.

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use hms_core::policy::normalize;
use serde_json::{json, Value};

use crate::addr::{self, Tier};
use crate::observe::Observed;
use crate::spec::Spec;

/// The trust policy of the flow logs' delivery role.
pub fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole"
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

/// Name of the delivery role's inline policy.
pub const ROLE_POLICY_NAME: &str = "flow-logs-delivery";

/// Every resource the spec wants, with the attributes the plan compares.
pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out = Vec::new();
    out.push(
        Desired::new(addr::VPC)
            .attr("cidr_block", spec.cidr.to_string())
            .attr("enable_dns_support", true)
            .attr("enable_dns_hostnames", true)
            .tags(spec.tags(addr::VPC, &spec.name("vpc")))
            .replace_on(&["cidr_block"]),
    );
    out.push(
        Desired::new(addr::DEFAULT_SG)
            .attr("ingress_rules", 0)
            .attr("egress_rules", 0)
            .uses([addr::VPC]),
    );
    for az in &spec.azs {
        for (tier, cidr) in [(Tier::Public, az.public), (Tier::Private, az.private)] {
            let a = addr::subnet(tier, &az.name);
            out.push(
                Desired::new(&a)
                    .attr("cidr_block", cidr.to_string())
                    .attr("availability_zone", az.name.clone())
                    .attr("map_public_ip_on_launch", false)
                    .tags(spec.tags(&a, &spec.name(&format!("{}-{}", tier.as_str(), az.name))))
                    .replace_on(&["cidr_block", "availability_zone"])
                    .uses([addr::VPC]),
            );
        }
    }
    out.push(
        Desired::new(addr::IGW)
            .attr("attached_to", addr::VPC)
            .tags(spec.tags(addr::IGW, &spec.name("igw")))
            .uses([addr::VPC]),
    );
    for az in spec.nat_azs() {
        let eip = addr::eip(az);
        out.push(
            Desired::new(&eip)
                .attr("domain", "vpc")
                .tags(spec.tags(&eip, &spec.name(&format!("nat-eip-{az}")))),
        );
        let nat = addr::nat(az);
        let subnet = addr::subnet(Tier::Public, az);
        out.push(
            Desired::new(&nat)
                .attr("subnet", subnet.clone())
                .attr("eip", eip.clone())
                .attr("state", "available")
                .tags(spec.tags(&nat, &spec.name(&format!("nat-{az}"))))
                .replace_on(&["subnet", "eip"])
                .uses([subnet, eip, addr::IGW.to_owned()]),
        );
    }
    out.push(
        Desired::new(addr::RT_PUBLIC)
            .tags(spec.tags(addr::RT_PUBLIC, &spec.name("public")))
            .uses([addr::VPC]),
    );
    out.push(
        Desired::new(addr::ROUTE_PUBLIC)
            .attr("destination", "0.0.0.0/0")
            .attr("target", addr::IGW)
            .uses([addr::RT_PUBLIC, addr::IGW]),
    );
    for az in &spec.azs {
        let rt = addr::rt_private(&az.name);
        out.push(
            Desired::new(&rt)
                .tags(spec.tags(&rt, &spec.name(&format!("private-{}", az.name))))
                .uses([addr::VPC]),
        );
        if let Some(nat_az) = spec.nat_for(&az.name) {
            let nat = addr::nat(nat_az);
            out.push(
                Desired::new(addr::route_private(&az.name))
                    .attr("destination", "0.0.0.0/0")
                    .attr("target", nat.clone())
                    .uses([rt.clone(), nat]),
            );
        }
        for (tier, table) in [
            (Tier::Public, addr::RT_PUBLIC.to_owned()),
            (Tier::Private, rt.clone()),
        ] {
            let subnet = addr::subnet(tier, &az.name);
            out.push(
                Desired::new(addr::rta(tier, &az.name))
                    .attr("route_table", table.clone())
                    .attr("subnet", subnet.clone())
                    .replace_on(&["subnet"])
                    .uses([table, subnet]),
            );
        }
    }
    let mut tables: Vec<String> = spec.azs.iter().map(|a| addr::rt_private(&a.name)).collect();
    tables.sort();
    let mut deps = vec![addr::VPC.to_owned()];
    deps.extend(tables.iter().cloned());
    out.push(
        Desired::new(addr::ENDPOINT)
            .attr("service_name", format!("com.amazonaws.{}.s3", spec.region))
            .attr("route_tables", tables)
            .tags(spec.tags(addr::ENDPOINT, &spec.name("s3-endpoint")))
            .replace_on(&["service_name"])
            .uses(deps),
    );
    if let Some(fl) = &spec.flow_logs {
        out.push(
            Desired::new(addr::LOG_GROUP)
                .attr("name", fl.log_group.clone())
                .attr("retention_in_days", fl.retention_days)
                .tags(spec.tags(addr::LOG_GROUP, &fl.log_group))
                .replace_on(&["name"]),
        );
        out.push(
            Desired::new(addr::ROLE)
                .attr("name", fl.role_name.clone())
                .attr("assume_role_policy", normalize(&trust_policy()))
                .tags(spec.tags(addr::ROLE, &fl.role_name))
                .replace_on(&["name"]),
        );
        out.push(
            Desired::new(addr::ROLE_POLICY)
                .attr("document", normalize(&role_policy(spec, &fl.log_group)))
                .uses([addr::ROLE]),
        );
        out.push(
            Desired::new(addr::FLOW_LOG)
                .attr("resource", addr::VPC)
                .attr("traffic_type", "ALL")
                .attr("log_group", fl.log_group.clone())
                .attr("role", addr::ROLE)
                .tags(spec.tags(addr::FLOW_LOG, &spec.name("flow-log")))
                .replace_on(&["resource", "traffic_type", "log_group", "role"])
                .uses([addr::VPC, addr::LOG_GROUP, addr::ROLE, addr::ROLE_POLICY]),
        );
    }
    out
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    diff::diff(&desired(spec), &observed.found)
}

/// The plan that deletes everything hms-vpc owns.
pub fn plan_down(observed: &Observed) -> Plan {
    diff::delete_all(&observed.found, "down")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{decide, VpcConfig};
    use hms_core::config::Config;
    use hms_core::diff::{Found, FoundSet};
    use hms_core::document::Identity;
    use hms_core::plan::Action;
    use hms_core::tags::Tagger;

    fn spec(sets: &[&str]) -> Spec {
        let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
        let config = Config::load(&[], &sets).expect("config");
        let cfg: VpcConfig = config.section("vpc").expect("vpc");
        let tagger = Tagger::new(
            Identity {
                stack: "hms".into(),
                env: "production".into(),
                region: "us-east-1".into(),
            },
            "hms-vpc",
            Default::default(),
        );
        decide(&config, &cfg, &tagger).expect("spec")
    }

    /// What AWS would hold after applying `spec` exactly.
    fn converged(spec: &Spec) -> FoundSet {
        desired(spec)
            .into_iter()
            .map(|d| {
                let mut f = Found::new(format!("id-{}", d.address)).uses(d.depends_on.clone());
                f.attrs = d.attrs.clone();
                f.tags = d.tags.clone();
                (d.address, f)
            })
            .collect()
    }

    fn actions(plan: &Plan) -> Vec<(String, Action)> {
        plan.changes
            .iter()
            .map(|c| (c.address.clone(), c.action))
            .collect()
    }

    #[test]
    fn empty_account_creates_the_reference_vpc() {
        let s = spec(&[]);
        let p = plan(&s, &Observed::default());
        let s_ = p.summary();
        // vpc, default sg, 6 subnets, igw, eip, nat, 4 route tables, 4 routes, 6 associations, endpoint,
        // log group, role, role policy, flow log.
        assert_eq!(s_.create, 1 + 1 + 6 + 1 + 1 + 1 + 4 + 4 + 6 + 1 + 4);
        assert_eq!(s_.update + s_.replace + s_.delete, 0);
    }

    #[test]
    fn config_changes_plan_exactly_those_changes() {
        let base = spec(&[]);
        let found = converged(&base);
        let observed = Observed {
            found: found.clone(),
            ..Default::default()
        };
        assert!(plan(&base, &observed).is_empty());

        // A new tag: an update of every tagged resource, nothing else.
        let tagged = spec(&["vpc.tags.team=platform"]);
        let p = plan(&tagged, &observed);
        assert!(
            p.changes
                .iter()
                .all(|c| c.action == Action::Update && c.reason == "tags differ"),
            "{:?}",
            actions(&p)
        );

        // A fourth AZ: two subnets, a route table, its route and two associations; the endpoint gains a table.
        let four = spec(&[r#"vpc.azs=["us-east-1a","us-east-1b","us-east-1c","us-east-1d"]"#]);
        let p = plan(&four, &observed);
        let want: Vec<(String, Action)> = vec![
            ("vpc.subnet.public[us-east-1d]".into(), Action::Create),
            ("vpc.subnet.private[us-east-1d]".into(), Action::Create),
            ("vpc.route_table.private[us-east-1d]".into(), Action::Create),
            (
                "vpc.route.private_default[us-east-1d]".into(),
                Action::Create,
            ),
            ("vpc.rta.public[us-east-1d]".into(), Action::Create),
            ("vpc.rta.private[us-east-1d]".into(), Action::Create),
            ("vpc.endpoint.s3".into(), Action::Update),
        ];
        let mut got = actions(&p);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want);

        // Per-AZ NAT: two EIPs and NATs, two private routes re-pointed.
        let per_az = spec(&["vpc.one_nat_gateway_per_az=true"]);
        let p = plan(&per_az, &observed);
        let mut got = actions(&p);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("vpc.eip.nat[us-east-1b]".into(), Action::Create),
                ("vpc.eip.nat[us-east-1c]".into(), Action::Create),
                ("vpc.nat[us-east-1b]".into(), Action::Create),
                ("vpc.nat[us-east-1c]".into(), Action::Create),
                (
                    "vpc.route.private_default[us-east-1b]".into(),
                    Action::Update
                ),
                (
                    "vpc.route.private_default[us-east-1c]".into(),
                    Action::Update
                ),
            ]
        );
    }

    #[test]
    fn cidr_change_replaces_and_removed_az_deletes() {
        let base = spec(&[]);
        let observed = Observed {
            found: converged(&base),
            ..Default::default()
        };
        let moved = spec(&[r#"vpc.private_subnets=["10.0.11.0/24","10.0.2.0/24","10.0.3.0/24"]"#]);
        let p = plan(&moved, &observed);
        let mut got = actions(&p);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("vpc.rta.private[us-east-1a]".into(), Action::Replace),
                ("vpc.subnet.private[us-east-1a]".into(), Action::Replace),
            ]
        );
        assert_eq!(
            p.get("vpc.subnet.private[us-east-1a]")
                .map(|c| c.reason.as_str()),
            Some("cidr_block cannot change in place")
        );

        let two = spec(&[r#"vpc.azs=["us-east-1a","us-east-1b"]"#]);
        let p = plan(&two, &observed);
        assert!(p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .all(|c| c.address.contains("us-east-1c")));
        assert_eq!(p.summary().delete, 6, "{:?}", actions(&p));
    }
}

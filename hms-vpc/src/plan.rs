//! The VPC's desired resources and the plan against what exists. Pure.
//!
//! [`desired`] lists every resource the spec wants, kind by kind (network, gateways, routes, endpoint,
//! flow logs), with the attributes the plan compares, their tags and what each uses; references between
//! resources are addresses, so a plan can be made before any id exists. `down` plans through the
//! [`hms_core::contract::Tool`] default (every found resource, in reverse dependency order).

use hms_core::diff::{self, Desired};
use hms_core::plan::Plan;
use hms_core::policy::normalize;

use crate::addr::{Addr, Tier};
use crate::observe::Observed;
use crate::spec::{endpoint_policy, role_policy, trust_policy, FlowLogs, Spec};

/// Every resource the spec wants, with the attributes the plan compares.
/// `account`: the account the delivery role's trust names (observed; "(known after the first call)"
/// when it could not be).
pub fn desired(spec: &Spec, account: Option<&str>) -> Vec<Desired> {
    let mut out = network(spec);
    out.extend(gateways(spec));
    out.extend(routes(spec));
    out.push(endpoint(spec));
    out.extend(network_acls(spec));
    if let Some(fl) = &spec.flow_logs {
        out.extend(flow_logs(spec, fl, account.unwrap_or("(the account)")));
    }
    out
}

/// The VPC, its default security group (no rules) and the subnets.
fn network(spec: &Spec) -> Vec<Desired> {
    let mut out = vec![
        Desired::new(Addr::Vpc)
            .attr("cidr_block", spec.cidr.to_string())
            .attr("enable_dns_support", true)
            .attr("enable_dns_hostnames", true)
            .tags(spec.tags(&Addr::Vpc, &spec.name("vpc")))
            .replace_on(&["cidr_block"]),
        Desired::new(Addr::DefaultSg)
            .attr("ingress_rules", 0)
            .attr("egress_rules", 0)
            .tags(spec.tags(&Addr::DefaultSg, &spec.name("default")))
            .uses([Addr::Vpc]),
    ];
    for az in &spec.azs {
        for (tier, cidr) in [(Tier::Public, az.public), (Tier::Private, az.private)] {
            let a = Addr::subnet(tier, &az.name);
            let name = spec.name(&format!("{}-{}", tier.as_str(), az.name));
            out.push(
                Desired::new(&a)
                    .attr("cidr_block", cidr.to_string())
                    .attr("availability_zone", az.name.clone())
                    .attr("map_public_ip_on_launch", false)
                    .tags(spec.tags(&a, &name))
                    .replace_on(&["cidr_block", "availability_zone"])
                    .uses([Addr::Vpc]),
            );
        }
    }
    out
}

/// The internet gateway, and the NAT gateways with their Elastic IPs.
fn gateways(spec: &Spec) -> Vec<Desired> {
    let mut out = vec![Desired::new(Addr::Igw)
        .attr("attached_to", Addr::Vpc)
        .tags(spec.tags(&Addr::Igw, &spec.name("igw")))
        .uses([Addr::Vpc])];
    for az in spec.nat_azs() {
        let eip = Addr::eip(az);
        out.push(
            Desired::new(&eip)
                .attr("domain", "vpc")
                .tags(spec.tags(&eip, &spec.name(&format!("nat-eip-{az}")))),
        );
        let nat = Addr::nat(az);
        let subnet = Addr::subnet(Tier::Public, az);
        out.push(
            Desired::new(&nat)
                .attr("subnet", &subnet)
                .attr("eip", &eip)
                .attr("state", "available")
                .tags(spec.tags(&nat, &spec.name(&format!("nat-{az}"))))
                .replace_on(&["subnet", "eip"])
                .uses([subnet, eip, Addr::Igw]),
        );
    }
    out
}

/// The route tables, their default routes (public → IGW, private → the AZ's NAT) and associations.
fn routes(spec: &Spec) -> Vec<Desired> {
    let mut out = vec![
        Desired::new(Addr::RouteTablePublic)
            .tags(spec.tags(&Addr::RouteTablePublic, &spec.name("public")))
            .uses([Addr::Vpc]),
        Desired::new(Addr::RoutePublic)
            .attr("destination", "0.0.0.0/0")
            .attr("target", Addr::Igw)
            .uses([Addr::RouteTablePublic, Addr::Igw]),
    ];
    for az in &spec.azs {
        let rt = Addr::rt_private(&az.name);
        out.push(
            Desired::new(&rt)
                .tags(spec.tags(&rt, &spec.name(&format!("private-{}", az.name))))
                .uses([Addr::Vpc]),
        );
        if let Some(nat_az) = spec.nat_for(&az.name) {
            let nat = Addr::nat(nat_az);
            out.push(
                Desired::new(Addr::route_private(&az.name))
                    .attr("destination", "0.0.0.0/0")
                    .attr("target", &nat)
                    .uses([rt.clone(), nat]),
            );
        }
        for tier in [Tier::Public, Tier::Private] {
            let table = Addr::table_of(tier, &az.name);
            let subnet = Addr::subnet(tier, &az.name);
            out.push(
                Desired::new(Addr::rta(tier, &az.name))
                    .attr("route_table", &table)
                    .attr("subnet", &subnet)
                    .replace_on(&["subnet"])
                    .uses([table, subnet]),
            );
        }
    }
    out
}

/// The network ACLs of the public and the private subnets, and each subnet's association with its
/// tier's ACL (so the VPC's default ACL, which allows everything, holds no subnet). The rules are compared
/// as written (`100 allow tcp 443 0.0.0.0/0`), a rule added by hand is drift; the implicit final deny
/// (rule 32767) is AWS's and not listed.
fn network_acls(spec: &Spec) -> Vec<Desired> {
    let mut out = Vec::new();
    for tier in [Tier::Public, Tier::Private] {
        let acl = Addr::Nacl(tier);
        let rules = spec.acl_rules(tier);
        let written = |r: &[crate::spec::AclRule]| -> Vec<String> {
            r.iter().map(ToString::to_string).collect()
        };
        out.push(
            Desired::new(&acl)
                .attr("ingress", written(&rules.ingress))
                .attr("egress", written(&rules.egress))
                .tags(spec.tags(&acl, &spec.name(&format!("{}-acl", tier.as_str()))))
                .uses([Addr::Vpc]),
        );
        for az in &spec.azs {
            let subnet = Addr::subnet(tier, &az.name);
            out.push(
                Desired::new(Addr::nacl_assoc(tier, &az.name))
                    .attr("network_acl", &acl)
                    .attr("subnet", &subnet)
                    .replace_on(&["subnet"])
                    .uses([acl.clone(), subnet]),
            );
        }
    }
    out
}

/// The S3 gateway endpoint on every private route table.
fn endpoint(spec: &Spec) -> Desired {
    let mut tables: Vec<String> = spec
        .azs
        .iter()
        .map(|a| Addr::rt_private(&a.name).to_string())
        .collect();
    tables.sort();
    let mut deps = vec![Addr::Vpc.to_string()];
    deps.extend(tables.iter().cloned());
    Desired::new(Addr::Endpoint)
        .attr("service_name", spec.s3_service())
        .attr("route_tables", tables)
        .attr("policy", normalize(&endpoint_policy(spec)))
        .tags(spec.tags(&Addr::Endpoint, &spec.name("s3-endpoint")))
        .replace_on(&["service_name"])
        .uses(deps)
}

/// The flow logs' log group, delivery role and its policy, and the flow log.
fn flow_logs(spec: &Spec, fl: &FlowLogs, account: &str) -> Vec<Desired> {
    vec![
        Desired::new(Addr::LogGroup)
            .attr("name", fl.log_group.clone())
            .attr("retention_in_days", fl.retention_days)
            .tags(spec.tags(&Addr::LogGroup, &fl.log_group))
            .replace_on(&["name"]),
        Desired::new(Addr::Role)
            .attr("name", fl.role_name.clone())
            .attr(
                "assume_role_policy",
                normalize(&trust_policy(account, &spec.region)),
            )
            .tags(spec.tags(&Addr::Role, &fl.role_name))
            .replace_on(&["name"]),
        Desired::new(Addr::RolePolicy)
            .attr("document", normalize(&role_policy(spec, &fl.log_group)))
            .uses([Addr::Role]),
        Desired::new(Addr::FlowLog)
            .attr("resource", Addr::Vpc)
            .attr("traffic_type", "ALL")
            .attr("log_group", fl.log_group.clone())
            .attr("role", Addr::Role)
            .tags(spec.tags(&Addr::FlowLog, &spec.name("flow-log")))
            .replace_on(&["resource", "traffic_type", "log_group", "role"])
            .uses([Addr::Vpc, Addr::LogGroup, Addr::Role, Addr::RolePolicy]),
    ]
}

/// The plan that makes AWS match the spec.
pub fn plan(spec: &Spec, observed: &Observed) -> Plan {
    diff::diff(&desired(spec, observed.account.as_deref()), &observed.found)
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
        desired(spec, Some("123456789012"))
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
        // 2 network ACLs and 6 associations, log group, role, role policy, flow log.
        assert_eq!(s_.create, 1 + 1 + 6 + 1 + 1 + 1 + 4 + 4 + 6 + 1 + 2 + 6 + 4);
        assert_eq!(s_.update + s_.replace + s_.delete, 0);
    }

    #[test]
    fn config_changes_plan_exactly_those_changes() {
        let base = spec(&[]);
        let found = converged(&base);
        let observed = Observed {
            found: found.clone(),
            account: Some("123456789012".into()),
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
            ("vpc.nacl_assoc.public[us-east-1d]".into(), Action::Create),
            ("vpc.nacl_assoc.private[us-east-1d]".into(), Action::Create),
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
            account: Some("123456789012".into()),
            ..Default::default()
        };
        let moved = spec(&[r#"vpc.private_subnets=["10.0.11.0/24","10.0.2.0/24","10.0.3.0/24"]"#]);
        let p = plan(&moved, &observed);
        let mut got = actions(&p);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("vpc.nacl_assoc.private[us-east-1a]".into(), Action::Replace),
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
        assert_eq!(p.summary().delete, 8, "{:?}", actions(&p));
    }
}

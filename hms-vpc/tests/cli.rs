//! hms-vpc against the emulator: run the real binary, then assert on what the emulator holds.
//! Needs the emulator (`scripts/test.sh` starts it and sets HMS_TEST_ENDPOINT).

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use assert_cmd::Command;
use aws_sdk_ec2::types::Filter;
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

/// EC2 views of a test stack.
trait Vpc {
    fn st(&self) -> &Stack;

    fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&self.st().sdk)
    }

    fn mine(&self) -> Filter {
        Filter::builder()
            .name("tag:hms:stack")
            .values(&self.st().name)
            .build()
    }

    fn vpcs(&self) -> Vec<aws_sdk_ec2::types::Vpc> {
        self.st()
            .rt
            .block_on(self.ec2().describe_vpcs().filters(self.mine()).send())
            .expect("vpcs")
            .vpcs()
            .to_vec()
    }

    fn subnets(&self) -> Vec<aws_sdk_ec2::types::Subnet> {
        self.st()
            .rt
            .block_on(self.ec2().describe_subnets().filters(self.mine()).send())
            .expect("subnets")
            .subnets()
            .to_vec()
    }

    fn igws(&self) -> Vec<aws_sdk_ec2::types::InternetGateway> {
        self.st()
            .rt
            .block_on(
                self.ec2()
                    .describe_internet_gateways()
                    .filters(self.mine())
                    .send(),
            )
            .expect("igws")
            .internet_gateways()
            .to_vec()
    }

    /// Live NAT gateways of this stack (the emulator ignores tag filters here: filter by tags ourselves).
    fn nats(&self) -> Vec<aws_sdk_ec2::types::NatGateway> {
        let all = self
            .st()
            .rt
            .block_on(self.ec2().describe_nat_gateways().send())
            .expect("nats");
        all.nat_gateways()
            .iter()
            .filter(|n| {
                n.tags().iter().any(|t| {
                    t.key() == Some("hms:stack") && t.value() == Some(self.st().name.as_str())
                })
            })
            .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
            .cloned()
            .collect()
    }

    fn eips(&self) -> Vec<aws_sdk_ec2::types::Address> {
        self.st()
            .rt
            .block_on(self.ec2().describe_addresses().filters(self.mine()).send())
            .expect("eips")
            .addresses()
            .to_vec()
    }

    fn route_tables(&self) -> Vec<aws_sdk_ec2::types::RouteTable> {
        self.st()
            .rt
            .block_on(
                self.ec2()
                    .describe_route_tables()
                    .filters(self.mine())
                    .send(),
            )
            .expect("rts")
            .route_tables()
            .to_vec()
    }

    fn endpoints(&self) -> Vec<aws_sdk_ec2::types::VpcEndpoint> {
        self.st()
            .rt
            .block_on(
                self.ec2()
                    .describe_vpc_endpoints()
                    .filters(self.mine())
                    .send(),
            )
            .expect("endpoints")
            .vpc_endpoints()
            .iter()
            // Deleted endpoints stay listed for a while, in AWS as in the emulator.
            .filter(|e| {
                !matches!(
                    e.state()
                        .map(|x| x.as_str().to_ascii_lowercase())
                        .as_deref(),
                    Some("deleted" | "deleting")
                )
            })
            .cloned()
            .collect()
    }

    fn flow_logs(&self) -> Vec<aws_sdk_ec2::types::FlowLog> {
        self.st()
            .rt
            .block_on(self.ec2().describe_flow_logs().filter(self.mine()).send())
            .expect("flow logs")
            .flow_logs()
            .to_vec()
    }

    fn log_group(&self) -> Option<aws_sdk_cloudwatchlogs::types::LogGroup> {
        let name = format!("/aws/vpc/{}-vpc-flow-logs", self.st().name);
        let logs = aws_sdk_cloudwatchlogs::Client::new(&self.st().sdk);
        let out = self
            .st()
            .rt
            .block_on(
                logs.describe_log_groups()
                    .log_group_name_prefix(&name)
                    .send(),
            )
            .expect("log groups");
        out.log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name.as_str()))
            .cloned()
    }

    fn role_exists(&self) -> bool {
        let iam = aws_sdk_iam::Client::new(&self.st().sdk);
        self.st()
            .rt
            .block_on(
                iam.get_role()
                    .role_name(format!("{}-vpc-flow-logs", self.st().name))
                    .send(),
            )
            .is_ok()
    }

    /// Counts of every tagged resource type, for "nothing duplicated / nothing left" checks.
    fn counts(&self) -> [usize; 7] {
        [
            self.vpcs().len(),
            self.subnets().len(),
            self.igws().len(),
            self.nats().len(),
            self.eips().len(),
            self.route_tables().len(),
            self.endpoints().len(),
        ]
    }
}

impl Vpc for Stack {
    fn st(&self) -> &Stack {
        self
    }
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[test]
fn up_builds_the_reference_vpc_and_converges() {
    let s = Stack::new("hms-vpc", "ref");
    let (doc, _) = s.run(&["up"], 0);
    let out = &doc["outputs"]["vpc"];
    assert_eq!(doc["stack"], s.name.as_str());
    assert_eq!(run_counts(&doc), (38, 0, 0));

    let vpcs = s.vpcs();
    assert_eq!(vpcs.len(), 1);
    let vpc = &vpcs[0];
    let vpc_id = vpc.vpc_id().expect("id");
    assert_eq!(out["vpc_id"], vpc_id);
    assert_eq!(vpc.cidr_block(), Some("10.0.0.0/16"));
    assert_eq!(
        tag(vpc.tags(), "Name"),
        Some(format!("{}-vpc", s.name).as_str())
    );
    for attr in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let a =
            s.rt.block_on(
                s.ec2()
                    .describe_vpc_attribute()
                    .vpc_id(vpc_id)
                    .attribute(attr.clone())
                    .send(),
            )
            .expect("attr");
        let on = a
            .enable_dns_support()
            .or(a.enable_dns_hostnames())
            .and_then(|v| v.value());
        assert_eq!(on, Some(true), "{attr:?}");
    }

    // Six subnets with the reference CIDRs, in order of AZ, none auto-assigning public IPs.
    let subnets = s.subnets();
    assert_eq!(subnets.len(), 6);
    let mut got: Vec<(String, String, String)> = subnets
        .iter()
        .map(|x| {
            (
                tag(x.tags(), "hms:address").unwrap_or_default().to_owned(),
                x.cidr_block().unwrap_or_default().to_owned(),
                x.availability_zone().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want: Vec<(String, String, String)> = [
        ("private", "us-east-1a", "10.0.1.0/24"),
        ("private", "us-east-1b", "10.0.2.0/24"),
        ("private", "us-east-1c", "10.0.3.0/24"),
        ("public", "us-east-1a", "10.0.101.0/24"),
        ("public", "us-east-1b", "10.0.102.0/24"),
        ("public", "us-east-1c", "10.0.103.0/24"),
    ]
    .iter()
    .map(|(t, az, c)| {
        (
            format!("vpc.subnet.{t}[{az}]"),
            (*c).to_owned(),
            (*az).to_owned(),
        )
    })
    .collect();
    assert_eq!(got, want);
    assert!(subnets
        .iter()
        .all(|x| x.map_public_ip_on_launch() == Some(false) && x.vpc_id() == Some(vpc_id)));
    let by_addr = |a: &str| {
        subnets
            .iter()
            .find(|x| tag(x.tags(), "hms:address") == Some(a))
            .and_then(|x| x.subnet_id())
            .expect(a)
            .to_owned()
    };
    let public_a = by_addr("vpc.subnet.public[us-east-1a]");
    assert_eq!(
        out["private_subnet_ids"][0],
        by_addr("vpc.subnet.private[us-east-1a]").as_str()
    );
    assert_eq!(
        out["public_subnet_ids"][2],
        by_addr("vpc.subnet.public[us-east-1c]").as_str()
    );

    // One attached internet gateway; one NAT gateway with an EIP in the first public subnet.
    let igws = s.igws();
    assert_eq!(igws.len(), 1);
    assert_eq!(
        igws[0].attachments().first().and_then(|a| a.vpc_id()),
        Some(vpc_id)
    );
    let igw_id = igws[0].internet_gateway_id().expect("igw");
    let nats = s.nats();
    assert_eq!(nats.len(), 1);
    let nat = &nats[0];
    assert_eq!(nat.subnet_id(), Some(public_a.as_str()));
    let eips = s.eips();
    assert_eq!(eips.len(), 1);
    assert_eq!(
        nat.nat_gateway_addresses()
            .first()
            .and_then(|a| a.allocation_id()),
        eips[0].allocation_id()
    );
    assert_eq!(out["nat_public_ips"][0], eips[0].public_ip().expect("ip"));

    // Routes and associations: public → IGW for the public subnets, private → NAT for each private subnet.
    let rts = s.route_tables();
    assert_eq!(rts.len(), 4);
    for rt in &rts {
        let addr = tag(rt.tags(), "hms:address").expect("address");
        let default = rt
            .routes()
            .iter()
            .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
            .expect("default route");
        let assoc: Vec<&str> = rt
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id())
            .collect();
        if addr == "vpc.route_table.public" {
            assert_eq!(default.gateway_id(), Some(igw_id));
            assert_eq!(assoc.len(), 3, "{addr}");
            for az in ["a", "b", "c"] {
                assert!(
                    assoc.contains(&by_addr(&format!("vpc.subnet.public[us-east-1{az}]")).as_str())
                );
            }
        } else {
            let az = addr
                .trim_start_matches("vpc.route_table.private[")
                .trim_end_matches(']');
            assert_eq!(default.nat_gateway_id(), nat.nat_gateway_id(), "{addr}");
            assert_eq!(
                assoc,
                vec![by_addr(&format!("vpc.subnet.private[{az}]")).as_str()],
                "{addr}"
            );
        }
    }

    // The default security group has no rules left.
    let sgs =
        s.rt.block_on(
            s.ec2()
                .describe_security_groups()
                .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
                .filters(
                    Filter::builder()
                        .name("group-name")
                        .values("default")
                        .build(),
                )
                .send(),
        )
        .expect("sgs");
    let sg = sgs.security_groups().first().expect("default sg");
    assert!(sg.ip_permissions().is_empty() && sg.ip_permissions_egress().is_empty());

    // The S3 gateway endpoint on the three private route tables; an active flow log to its group.
    let eps = s.endpoints();
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].service_name(), Some("com.amazonaws.us-east-1.s3"));
    let mut ep_tables: Vec<&str> = eps[0]
        .route_table_ids()
        .iter()
        .map(String::as_str)
        .collect();
    ep_tables.sort();
    let mut private_tables: Vec<&str> = out["private_route_table_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    private_tables.sort();
    assert_eq!(ep_tables, private_tables);
    let fls = s.flow_logs();
    assert_eq!(fls.len(), 1);
    assert_eq!(fls[0].resource_id(), Some(vpc_id));
    assert_eq!(fls[0].flow_log_status(), Some("ACTIVE"));
    assert_eq!(out["flow_log_id"], fls[0].flow_log_id().expect("fl"));
    let group = s.log_group().expect("log group");
    assert_eq!(fls[0].log_group_name(), group.log_group_name());
    assert_eq!(
        group.retention_in_days(),
        Some(365),
        "production keeps a year"
    );
    assert!(s.role_exists());

    // A second up creates nothing; plan --detailed-exitcode says no changes.
    let (doc2, _) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc2), (0, 0, 0));
    assert_eq!(doc2["outputs"]["vpc"], *out);
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert!(err.contains("No changes"), "{err}");
    // `show` prints the same outputs from state.
    let (shown, _) = s.run(&["show"], 0);
    assert_eq!(shown["outputs"]["vpc"], *out);
}

#[test]
fn config_changes_plan_and_apply_exactly_those_changes() {
    let s = Stack::new("hms-vpc", "chg");
    s.run(&["up"], 0);

    // A new tag: updates in place, then converged.
    let (_, err) = s.run(
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "stack.tags.team=platform",
        ],
        2,
    );
    assert!(
        err.contains("0 to create") && err.contains("0 to delete"),
        "{err}"
    );
    let (doc, _) = s.run(&["up", "--set", "stack.tags.team=platform"], 0);
    assert_eq!(run_counts(&doc).0, 0);
    assert_eq!(tag(s.vpcs()[0].tags(), "team"), Some("platform"));
    assert!(s
        .subnets()
        .iter()
        .all(|x| tag(x.tags(), "team") == Some("platform")));
    s.run(
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "stack.tags.team=platform",
        ],
        0,
    );

    // A fourth AZ: exactly two subnets, a route table, its route, two route table and two network ACL
    // associations, and the endpoint update.
    let four = [
        "--set",
        r#"vpc.azs=["us-east-1a","us-east-1b","us-east-1c","us-east-1d"]"#,
        "--set",
        "stack.tags.team=platform",
    ];
    let (_, err) = s.run(
        &[&["plan", "--detailed-exitcode"][..], &four[..]].concat(),
        2,
    );
    assert!(
        err.contains("Plan: 8 to create, 1 to update, 0 to replace, 0 to delete."),
        "{err}"
    );
    let (doc, _) = s.run(&[&["up"][..], &four[..]].concat(), 0);
    assert_eq!(run_counts(&doc), (8, 1, 0));
    assert_eq!(s.subnets().len(), 8);
    assert_eq!(s.route_tables().len(), 5);
    assert_eq!(s.endpoints()[0].route_table_ids().len(), 4);
    assert_eq!(
        doc["outputs"]["vpc"]["private_subnet_ids"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );

    // Per-AZ NAT: three more EIPs and NATs, three private routes re-pointed.
    let per_az = [&four[..], &["--set", "vpc.one_nat_gateway_per_az=true"][..]].concat();
    let (doc, _) = s.run(&[&["up"][..], &per_az[..]].concat(), 0);
    assert_eq!(run_counts(&doc), (6, 3, 0));
    let nats = s.nats();
    assert_eq!(nats.len(), 4);
    for rt in s.route_tables() {
        let addr = tag(rt.tags(), "hms:address").expect("addr").to_owned();
        if let Some(az) = addr
            .strip_prefix("vpc.route_table.private[")
            .and_then(|x| x.strip_suffix(']'))
        {
            let nat = rt
                .routes()
                .iter()
                .find_map(|r| r.nat_gateway_id())
                .expect("nat route");
            let nat_az = nats
                .iter()
                .find(|n| n.nat_gateway_id() == Some(nat))
                .and_then(|n| tag(n.tags(), "hms:address"))
                .expect("nat address");
            assert_eq!(nat_az, format!("vpc.nat[{az}]"));
        }
    }
    s.run(
        &[&["plan", "--detailed-exitcode"][..], &per_az[..]].concat(),
        0,
    );

    // Removing the AZ again is destructive: refused without --allow-destroy, then applied with it.
    let three = [
        "--set",
        "vpc.one_nat_gateway_per_az=true",
        "--set",
        "stack.tags.team=platform",
    ];
    let (_, err) = s.run(&[&["up"][..], &three[..]].concat(), 1);
    assert!(
        err.contains("--allow-destroy") && err.contains("vpc.subnet.private[us-east-1d]"),
        "{err}"
    );
    assert_eq!(s.subnets().len(), 8, "refused up changed nothing");
    let (doc, _) = s.run(&[&["up", "--allow-destroy"][..], &three[..]].concat(), 0);
    assert_eq!(
        run_counts(&doc).2,
        10,
        "subnets, route table, route, route table and network ACL associations, EIP and NAT of us-east-1d"
    );
    assert_eq!(s.subnets().len(), 6);
    assert_eq!(s.nats().len(), 3);
    assert_eq!(s.eips().len(), 3);
}

#[test]
fn lost_state_is_adopted_by_tags() {
    let s = Stack::new("hms-vpc", "adopt");
    s.run(&["up"], 0);
    let before = s.counts();
    std::fs::remove_dir_all(s.state_dir()).expect("remove state");
    let (doc, _) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert_eq!(s.counts(), before);
    assert_eq!(before, [1, 6, 1, 1, 1, 4, 1]);
    // The state was rebuilt.
    let state: Value = serde_json::from_slice(
        &std::fs::read(
            s.state_dir()
                .join(format!("{}-production/hms-vpc.json", s.name)),
        )
        .expect("state"),
    )
    .expect("json");
    assert_eq!(state["resources"].as_object().map(|m| m.len()), Some(38));
}

#[test]
fn killed_run_resumes_without_duplicates() {
    let s = Stack::new("hms-vpc", "kill");
    let mut cmd = s.std_cmd(&["up"]);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    // Kill as soon as the VPC and a subnet exist: the run is mid-way.
    let mut seen = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("line");
        seen.push(line.clone());
        if line.contains("vpc.subnet.") && line.contains("created") {
            child.kill().expect("kill");
            break;
        }
    }
    let status = child.wait().expect("wait");
    assert!(
        !status.success() || seen.iter().any(|l| l.contains("Applied")),
        "{seen:?}"
    );
    let (doc, _) = s.run(&["up"], 0);
    let (created, _, _) = run_counts(&doc);
    assert!(
        created < 30,
        "the killed run's resources were adopted, not recreated (created {created})"
    );
    assert_eq!(s.counts(), [1, 6, 1, 1, 1, 4, 1]);
    s.run(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_held_lock_fails_fast_naming_the_holder() {
    let s = Stack::new("hms-vpc", "lock");
    let store = hms_core::state::StateStore::open(s.state_dir().to_str(), &s.name, "production")
        .expect("store");
    let held = s
        .block_on(store.lock("hms-vpc", "up", std::time::Duration::ZERO))
        .expect("lock");
    // Held and no --lock-timeout: it fails (a wait would hang here, the lock is never released).
    let (doc, err) = s.run(&["up"], 1);
    assert!(
        err.contains(&held.info.id) && err.contains("hms-vpc up") && err.contains("unlock"),
        "{err}"
    );
    assert_eq!(doc["runs"][0]["ok"], false);
    assert_eq!(s.counts(), [0; 7], "nothing was created while locked");
    drop(held);

    // Two real concurrent runs: at most one fails, on the lock, and nothing is duplicated.
    let spawn = || {
        let mut c = s.std_cmd(&["up"]);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for o in [&a, &b] {
        if !o.status.success() {
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(1));
            assert!(err.contains("state is locked by"), "{err}");
        }
    }
    assert!(a.status.success() || b.status.success());
    s.run(&["up"], 0);
    assert_eq!(s.counts(), [1, 6, 1, 1, 1, 4, 1]);
}

#[test]
fn down_removes_everything_and_is_idempotent() {
    let s = Stack::new("hms-vpc", "down");
    s.run(&["up"], 0);
    let (_, err) = s.run(&["down"], 1);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        s.counts(),
        [1, 6, 1, 1, 1, 4, 1],
        "refused down deleted nothing"
    );
    let (doc, _) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc).2, 38);
    assert!(doc["outputs"].get("vpc").is_none());
    assert_eq!(s.counts(), [0; 7]);
    assert!(s.flow_logs().is_empty());
    assert!(s.log_group().is_none());
    assert!(!s.role_exists());
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert!(err.contains("Nothing to delete"), "{err}");
}

#[test]
fn down_refuses_while_another_tool_uses_the_vpc() {
    let s = Stack::new("hms-vpc", "busy");
    let (doc, _) = s.run(&["up"], 0);
    let vpc = doc["outputs"]["vpc"]["vpc_id"]
        .as_str()
        .expect("vpc")
        .to_owned();
    let sg =
        s.rt.block_on(
            s.ec2()
                .create_security_group()
                .group_name("hms-alb")
                .description("another tool's group")
                .vpc_id(&vpc)
                .send(),
        )
        .expect("sg");
    let (_, err) = s.run(&["down", "--yes"], 1);
    assert!(
        err.contains(sg.group_id().expect("id")) && err.contains("still in use"),
        "{err}"
    );
    assert_eq!(s.counts(), [1, 6, 1, 1, 1, 4, 1]);
    s.rt.block_on(
        s.ec2()
            .delete_security_group()
            .group_id(sg.group_id().expect("id"))
            .send(),
    )
    .expect("delete sg");
    s.run(&["down", "--yes"], 0);
    assert_eq!(s.counts(), [0; 7]);
}

#[test]
fn plan_on_an_empty_account_lists_unknowns_and_creates_nothing() {
    let s = Stack::new("hms-vpc", "plan");
    let (doc, err) = s.run(&["plan", "--detailed-exitcode"], 2);
    assert!(err.contains("Plan: 38 to create"), "{err}");
    let unknown: Vec<&str> = doc["unknown"]
        .as_array()
        .expect("unknown")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        unknown.contains(&"outputs.vpc.vpc_id")
            && unknown.contains(&"outputs.vpc.private_subnet_ids"),
        "{unknown:?}"
    );
    assert!(doc["outputs"]["vpc"]["vpc_id"].is_null());
    assert_eq!(doc["outputs"]["vpc"]["cidr"], "10.0.0.0/16");
    assert_eq!(s.counts(), [0; 7]);
    // A plan's document cannot feed an `up` of a tool downstream (here: values of another section).
    let mut planned = doc.clone();
    planned["unknown"] = serde_json::json!(["outputs.security.alb_sg_id"]);
    let out = s
        .cmd_in(&["up"])
        .write_stdin(serde_json::to_vec(&planned).expect("json"))
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("outputs.security.alb_sg_id"), "{err}");
    assert_eq!(s.counts(), [0; 7]);
}

#[test]
fn bad_inputs_exit_64_naming_the_input_and_create_nothing() {
    let s = Stack::new("hms-vpc", "bad");
    let cases: &[(&[&str], &str)] = &[
        (&["--set", "vpc.cidr=10.0.0.0/33"], "vpc.cidr"),
        (&["--set", "vpc.cidr=not-a-cidr"], "vpc.cidr"),
        (&["--set", "vpc.cidr=10.0.0.0/12"], "/16 to /28"),
        (
            &[
                "--set",
                r#"vpc.public_subnets=["10.0.101.0/24","10.0.102.0/24","10.9.0.0/24"]"#,
            ],
            "vpc.public_subnets[2]",
        ),
        (
            &[
                "--set",
                r#"vpc.private_subnets=["10.0.1.0/24","10.0.1.128/25","10.0.3.0/24"]"#,
            ],
            "overlaps",
        ),
        (
            &[
                "--set",
                r#"vpc.private_subnets=["10.0.1.0/24","10.0.2.0/24"]"#,
            ],
            "2 subnets for 3 availability zones",
        ),
        (&["--set", r#"vpc.azs=["eu-west-1a"]"#], "vpc.azs[0]"),
        (
            &[
                "--set",
                "vpc.single_nat_gateway=true",
                "--set",
                "vpc.one_nat_gateway_per_az=true",
            ],
            "NAT modes",
        ),
        (
            &["--set", "vpc.nat_gateways=2"],
            "unknown field `nat_gateways`",
        ),
        (
            &["--set", "vpc.flow_log_retention_days=45"],
            "vpc.flow_log_retention_days",
        ),
        (&["--set", "vpcs.cidr=10.0.0.0/16"], "unknown table [vpcs]"),
        (&["--set", "vpc.cidr"], "KEY=VALUE"),
        (&["--config", "missing.toml"], "missing.toml"),
        (&["--env", "Prod_1"], "--env"),
        (
            &["--set", "db.password=s3cr3t-value"],
            "never read from config",
        ),
        (&["--frobnicate"], "--frobnicate"),
        (&["--set", "stack.tags.aws:team=x"], "stack.tags.aws:team"),
        (&["--stack", "a-stack-name-longer-than-20"], "--stack"),
        // A mistyped --set must not echo what may be a secret.
        (&["--set", "db.password:s3cr3t-value"], "KEY=VALUE"),
    ];
    for (args, want) in cases {
        let out = s
            .std_cmd(&[&["up"][..], args].concat())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {err}");
        assert!(
            err.contains(want),
            "{args:?}: stderr does not name {want:?}: {err}"
        );
        assert!(!err.contains("s3cr3t-value"), "a secret leaked: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
    }
    // Bad stdin documents.
    let stdin_cases: &[(&str, &str)] = &[
        ("{not json", "stdin: not a stack document"),
        (
            r#"{"hms":1,"stack":"other","env":"production","region":"us-east-1"}"#,
            "stack \"other\"",
        ),
        (
            &format!(
                r#"{{"hms":1,"stack":"{}","env":"staging","region":"us-east-1"}}"#,
                s.name
            ),
            "--env staging",
        ),
        (
            &format!(
                r#"{{"hms":1,"stack":"{}","env":"production","region":"eu-west-1"}}"#,
                s.name
            ),
            "--region eu-west-1",
        ),
    ];
    for (stdin, want) in stdin_cases {
        let out = s.cmd_in(&["up"]).write_stdin(*stdin).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{stdin}: {err}");
        assert!(err.contains(want), "{stdin}: {err}");
    }
    assert_eq!(s.counts(), [0; 7], "bad input created something");
    assert!(!s.state_dir().exists(), "bad input wrote state");

    // A config file that is not valid TOML: the line number, never the line (it may hold a secret).
    std::fs::write(
        s.dir.path().join("bad.toml"),
        "[db]\nmaster_password = \"s3cr3t-value\n",
    )
    .expect("write");
    let out = s
        .std_cmd(&["plan", "--config", "bad.toml"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(
        err.contains("bad.toml line 2") && !err.contains("s3cr3t"),
        "{err}"
    );
}

#[test]
fn state_of_another_region_is_refused() {
    let s = Stack::new("hms-vpc", "region");
    s.run(&["up"], 0);
    // Regression: a second region used to take over the first region's state.
    let (_, err) = s.run(&["up", "--region", "us-west-2"], 64);
    assert!(err.contains("recorded for region \"us-east-1\""), "{err}");
    s.run(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn a_failed_upstream_run_stops_without_aws_calls() {
    let s = Stack::new("hms-vpc", "up");
    let doc = format!(
        r#"{{"hms":1,"stack":"{}","env":"production","region":"us-east-1","outputs":{{}},
            "runs":[{{"tool":"hms-x","command":"up","ok":false,"error":"boom"}}]}}"#,
        s.name
    );
    // An unreachable endpoint proves that no AWS call is made.
    let out = s
        .cmd_in(&["up", "--endpoint-url", "http://127.0.0.1:9"])
        .write_stdin(doc)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("upstream hms-x up failed"), "{err}");
    let passed: Value = serde_json::from_slice(&out.stdout).expect("document passed on");
    assert_eq!(passed["runs"].as_array().map(Vec::len), Some(2));
    assert_eq!(passed["runs"][1]["ok"], false);
}

#[test]
fn version_and_help_exit_zero() {
    let out = Command::cargo_bin("hms-vpc")
        .expect("bin")
        .arg("--version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("hms-vpc "));
}

#[test]
fn two_environments_share_an_account_without_clashes() {
    let s = Stack::new("hms-vpc", "envs");
    let (prod, _) = s.run(&["up"], 0);
    let (staging, err) = s.run(&["up", "--env", "staging"], 0);
    assert!(!err.contains("error"), "{err}");
    assert_ne!(
        prod["outputs"]["vpc"]["vpc_id"],
        staging["outputs"]["vpc"]["vpc_id"]
    );
    assert_eq!(staging["env"], "staging");
    // Names carry the env outside production; both flow log roles exist side by side.
    let vpcs = s.vpcs();
    let mut names: Vec<&str> = vpcs.iter().filter_map(|v| tag(v.tags(), "Name")).collect();
    names.sort();
    let want = [format!("{}-staging-vpc", s.name), format!("{}-vpc", s.name)];
    assert_eq!(names, want.iter().map(String::as_str).collect::<Vec<_>>());
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    s.rt.block_on(
        iam.get_role()
            .role_name(format!("{}-staging-vpc-flow-logs", s.name))
            .send(),
    )
    .expect("staging role");
    assert!(s.role_exists());
    // Taking one down leaves the other whole.
    s.run(&["down", "--yes", "--env", "staging"], 0);
    assert_eq!(s.counts(), [1, 6, 1, 1, 1, 4, 1]);
    s.run(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn the_account_guard_refuses_another_account() {
    let s = Stack::new("hms-vpc", "acct");
    // The emulator's account is 123456789012.
    let (_, err) = s.run(
        &[
            "plan",
            "--set",
            r#"stack.allowed_account_ids=["111111111111"]"#,
        ],
        1,
    );
    assert!(
        err.contains("123456789012") && err.contains("allowed_account_ids"),
        "{err}"
    );
    s.run(
        &[
            "plan",
            "--set",
            r#"stack.allowed_account_ids=["123456789012"]"#,
        ],
        0,
    );
}

#[test]
fn resources_deleted_by_hand_are_recreated() {
    let s = Stack::new("hms-vpc", "gone");
    let (doc, _) = s.run(&["up"], 0);
    // Regression: looking up a state-recorded endpoint that no longer exists failed the whole plan.
    let ep = doc["outputs"]["vpc"]["s3_endpoint_id"]
        .as_str()
        .expect("endpoint")
        .to_owned();
    s.block_on(s.ec2().delete_vpc_endpoints().vpc_endpoint_ids(&ep).send())
        .expect("delete endpoint");
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 2);
    assert!(err.contains("+ create  vpc.endpoint.s3"), "{err}");
    let (doc, _) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0));
    assert_ne!(doc["outputs"]["vpc"]["s3_endpoint_id"], ep.as_str());
    assert_eq!(s.endpoints().len(), 1);
    s.run(&["plan", "--detailed-exitcode"], 0);
}

#[test]
fn stack_tags_converge_on_every_taggable_resource() {
    let s = Stack::new("hms-vpc", "tags");
    let (doc, _) = s.run(&["up"], 0);
    let out = doc["outputs"]["vpc"].clone();
    let vpc_id = out["vpc_id"].as_str().expect("vpc").to_owned();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&s.sdk);
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let group = format!("/aws/vpc/{}-vpc-flow-logs", s.name);
    let role = format!("{}-vpc-flow-logs", s.name);
    let updated = tag_cycle(&s, "hms-vpc", "", |owner| {
        // (resource, owner tag, whether its hms:address tag is still there)
        let mut seen: Vec<(String, Option<String>, bool)> = Vec::new();
        let mut ec2 = |what: String, tags: &[aws_sdk_ec2::types::Tag]| {
            seen.push((
                what,
                tag(tags, "owner").map(str::to_owned),
                tag(tags, "hms:address").is_some(),
            ));
        };
        for v in s.vpcs() {
            ec2(format!("vpc {:?}", v.vpc_id()), v.tags());
        }
        for x in s.subnets() {
            ec2(format!("subnet {:?}", x.subnet_id()), x.tags());
        }
        for g in s.igws() {
            ec2(format!("igw {:?}", g.internet_gateway_id()), g.tags());
        }
        for e in s.eips() {
            ec2(format!("eip {:?}", e.allocation_id()), e.tags());
        }
        for n in s.nats() {
            ec2(format!("nat {:?}", n.nat_gateway_id()), n.tags());
        }
        for r in s.route_tables() {
            ec2(format!("route table {:?}", r.route_table_id()), r.tags());
        }
        let acls = s
            .block_on(s.ec2().describe_network_acls().filters(s.mine()).send())
            .expect("network ACLs");
        for a in acls.network_acls() {
            ec2(format!("network ACL {:?}", a.network_acl_id()), a.tags());
        }
        let sgs = s
            .block_on(
                s.ec2()
                    .describe_security_groups()
                    .filters(Filter::builder().name("vpc-id").values(&vpc_id).build())
                    .filters(
                        Filter::builder()
                            .name("group-name")
                            .values("default")
                            .build(),
                    )
                    .send(),
            )
            .expect("default sg");
        for g in sgs.security_groups() {
            ec2(format!("default sg {:?}", g.group_id()), g.tags());
        }
        for e in s.endpoints() {
            ec2(format!("endpoint {:?}", e.vpc_endpoint_id()), e.tags());
        }
        for f in s.flow_logs() {
            ec2(format!("flow log {:?}", f.flow_log_id()), f.tags());
        }
        #[allow(deprecated)]
        let group_tags = s
            .block_on(logs.list_tags_log_group().log_group_name(&group).send())
            .expect("log group tags");
        let group_tags = group_tags.tags().cloned().unwrap_or_default();
        seen.push((
            group.clone(),
            group_tags.get("owner").cloned(),
            group_tags.contains_key("hms:address"),
        ));
        let got = s
            .block_on(iam.get_role().role_name(&role).send())
            .expect("role");
        let role_tags = got.role().map(|r| r.tags().to_vec()).unwrap_or_default();
        let role_tag = |k: &str| {
            role_tags
                .iter()
                .find(|t| t.key() == k)
                .map(|t| t.value().to_owned())
        };
        seen.push((
            role.clone(),
            role_tag("owner"),
            role_tag("hms:address").is_some(),
        ));

        assert_eq!(seen.len(), 21, "{seen:?}");
        for (what, got, hms) in &seen {
            assert_eq!(got.as_deref(), owner, "{what}");
            assert!(hms, "{what} keeps its hms:* tags");
        }
    });
    assert_eq!(
        updated, 21,
        "VPC, 6 subnets, IGW, EIP, NAT, 4 route tables, 2 network ACLs, default SG, endpoint, flow log, log group, role"
    );
    // Only retagged: the same resources, the same outputs.
    let (doc, _) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 0));
    assert_eq!(doc["outputs"]["vpc"], out);
    assert_eq!(s.counts(), [1, 6, 1, 1, 1, 4, 1]);
}

// Issue 17: the delivery role could be assumed for any account's flow logs (confused deputy).
#[test]
fn the_flow_log_role_trusts_only_this_accounts_flow_logs() {
    let s = Stack::new("hms-vpc", "trust");
    s.run(&["up"], 0);
    let iam = aws_sdk_iam::Client::new(&s.sdk);
    let role = s
        .block_on(
            iam.get_role()
                .role_name(format!("{}-vpc-flow-logs", s.name))
                .send(),
        )
        .expect("role");
    let text = role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .map(hms_core::policy::url_decode)
        .expect("trust policy");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let st = &doc["Statement"][0];
    // One value, as a string or a list of one (the normalized form).
    let one = |v: &Value| match v {
        Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_owned),
        other => other.as_str().map(str::to_owned),
    };
    assert_eq!(
        one(&st["Condition"]["StringEquals"]["aws:SourceAccount"]).as_deref(),
        Some("123456789012"),
        "{doc}"
    );
    assert_eq!(
        one(&st["Condition"]["ArnLike"]["aws:SourceArn"]).as_deref(),
        Some("arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"),
        "{doc}"
    );
    // Converged: the observed account makes the same document.
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert!(err.contains("No changes"), "{err}");
}

// Issue 17: the S3 gateway endpoint kept the default `Principal: *, Action: *` policy.
#[test]
fn the_s3_endpoint_reaches_only_the_stacks_buckets_and_ecr_layers() {
    let s = Stack::new("hms-vpc", "s3ep");
    s.run(
        &[
            "up",
            "--set",
            "vpc.s3_endpoint_buckets=[\"hospital-hms-state\"]",
        ],
        0,
    );
    let ep = s.endpoints().into_iter().next().expect("endpoint");
    let text = ep
        .policy_document()
        .map(hms_core::policy::url_decode)
        .expect("policy");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let statements = doc["Statement"].as_array().expect("statements");
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            Value::String(x) => vec![x.clone()],
            _ => vec![],
        }
    };
    let mut resources: Vec<String> = statements
        .iter()
        .flat_map(|st| list(&st["Resource"]))
        .collect();
    resources.sort();
    let mut want: Vec<String> = ["backups", "static", "logs"]
        .iter()
        .map(|k| format!("{}-{k}-production", s.name))
        .chain(["hospital-hms-state".to_owned()])
        .flat_map(|b| [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")])
        .chain(["arn:aws:s3:::prod-us-east-1-starport-layer-bucket/*".to_owned()])
        .collect();
    want.sort();
    assert_eq!(resources, want, "{doc}");
    assert!(
        statements
            .iter()
            .all(|st| !list(&st["Resource"]).contains(&"*".to_owned())),
        "{doc}"
    );
    let (_, err) = s.run(
        &[
            "plan",
            "--detailed-exitcode",
            "--set",
            "vpc.s3_endpoint_buckets=[\"hospital-hms-state\"]",
        ],
        0,
    );
    assert!(err.contains("No changes"), "{err}");
    // Dropping the extra bucket is an update of the policy, in place.
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 1, 0), "{err}");
    let (_, err) = s.run(&["down", "--yes"], 0);
    assert!(!err.contains("error"), "{err}");
}

// Issue 17: the default network ACL allowed everything from the internet, 22 and 3389 included.
#[test]
fn network_acls_deny_admin_ports_hold_every_subnet_and_a_hand_added_rule_is_drift() {
    use std::collections::BTreeSet;
    let s = Stack::new("hms-vpc", "nacl");
    s.run(&["up"], 0);
    let vpc = s.vpcs()[0].vpc_id().expect("vpc id").to_owned();
    let acls = || {
        s.rt.block_on(
            s.ec2()
                .describe_network_acls()
                .filters(Filter::builder().name("vpc-id").values(&vpc).build())
                .send(),
        )
        .expect("acls")
        .network_acls()
        .to_vec()
    };
    // (egress, number, action, protocol, ports, cidr) of each rule but AWS's final deny.
    type Rule = (bool, i32, String, String, Option<(i32, i32)>, String);
    let rules = |a: &aws_sdk_ec2::types::NetworkAcl| -> BTreeSet<Rule> {
        a.entries()
            .iter()
            .filter(|e| e.rule_number() != Some(32767))
            .map(|e| {
                (
                    e.egress().unwrap_or_default(),
                    e.rule_number().unwrap_or_default(),
                    e.rule_action()
                        .map(|r| r.as_str().to_owned())
                        .unwrap_or_default(),
                    e.protocol().unwrap_or_default().to_owned(),
                    e.port_range()
                        .map(|p| (p.from().unwrap_or_default(), p.to().unwrap_or_default())),
                    e.cidr_block().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let r =
        |egress: bool, n: i32, action: &str, proto: &str, ports: Option<(i32, i32)>, cidr: &str| {
            (
                egress,
                n,
                action.to_owned(),
                proto.to_owned(),
                ports,
                cidr.to_owned(),
            )
        };
    let any = "0.0.0.0/0";
    let vpc_cidr = "10.0.0.0/16";
    let eph = Some((1024, 65535));
    let admin = [
        r(false, 10, "deny", "6", Some((22, 22)), any),
        r(false, 20, "deny", "6", Some((3389, 3389)), any),
    ];
    let mut public: BTreeSet<Rule> = admin.iter().cloned().collect();
    public.extend([
        r(false, 100, "allow", "-1", None, vpc_cidr),
        r(false, 110, "allow", "6", Some((80, 80)), any),
        r(false, 120, "allow", "6", Some((443, 443)), any),
        r(false, 130, "allow", "6", eph, any),
        r(true, 100, "allow", "-1", None, vpc_cidr),
        r(true, 110, "allow", "6", eph, any),
        r(true, 120, "allow", "6", Some((443, 443)), any),
    ]);
    let mut private: BTreeSet<Rule> = admin.iter().cloned().collect();
    private.extend([
        r(false, 100, "allow", "-1", None, vpc_cidr),
        r(false, 110, "allow", "6", eph, any),
        r(true, 100, "allow", "-1", None, vpc_cidr),
        r(true, 110, "allow", "6", Some((443, 443)), any),
    ]);
    let subnets_of = |tier: &str| -> BTreeSet<String> {
        s.subnets()
            .iter()
            .filter(|x| tag(x.tags(), "Name").is_some_and(|n| n.contains(&format!("-{tier}-"))))
            .filter_map(|x| x.subnet_id().map(str::to_owned))
            .collect()
    };
    let named = |all: &[aws_sdk_ec2::types::NetworkAcl], tier: &str| {
        all.iter()
            .find(|a| tag(a.tags(), "hms:address") == Some(&format!("vpc.nacl.{tier}")))
            .cloned()
            .unwrap_or_else(|| panic!("no {tier} ACL"))
    };
    let all = acls();
    assert_eq!(all.len(), 3, "the default ACL and ours");
    for (tier, want) in [("public", &public), ("private", &private)] {
        let acl = named(&all, tier);
        assert_eq!(&rules(&acl), want, "{tier} ACL rules");
        let held: BTreeSet<String> = acl
            .associations()
            .iter()
            .filter_map(|a| a.subnet_id().map(str::to_owned))
            .collect();
        assert_eq!(
            held,
            subnets_of(tier),
            "{tier} ACL holds the {tier} subnets"
        );
        assert_eq!(held.len(), 3);
        assert_eq!(tag(acl.tags(), "hms:stack"), Some(s.name.as_str()));
    }
    let default = all
        .iter()
        .find(|a| a.is_default() == Some(true))
        .expect("default ACL");
    assert!(
        default.associations().is_empty(),
        "the default ACL holds no subnet"
    );
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert!(err.contains("No changes"), "{err}");

    // Drift: a rule added by hand (SSH from an office), a subnet moved back to the default ACL.
    let public_acl = named(&all, "public");
    let public_id = public_acl.network_acl_id().expect("id").to_owned();
    s.rt.block_on(
        s.ec2()
            .create_network_acl_entry()
            .network_acl_id(&public_id)
            .rule_number(5)
            .protocol("6")
            .rule_action(aws_sdk_ec2::types::RuleAction::Allow)
            .egress(false)
            .cidr_block("203.0.113.0/24")
            .port_range(
                aws_sdk_ec2::types::PortRange::builder()
                    .from(22)
                    .to(22)
                    .build(),
            )
            .send(),
    )
    .expect("hand-added rule");
    let moved = public_acl.associations()[0].clone();
    s.rt.block_on(
        s.ec2()
            .replace_network_acl_association()
            .association_id(moved.network_acl_association_id().expect("assoc"))
            .network_acl_id(default.network_acl_id().expect("default id"))
            .send(),
    )
    .expect("moved back by hand");
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 2);
    assert!(
        err.contains("vpc.nacl.public") && err.contains("5 allow tcp 22 203.0.113.0/24"),
        "the hand-added rule is shown: {err}"
    );
    assert!(err.contains("+ create  vpc.nacl_assoc.public["), "{err}");
    s.run(&["up"], 0);
    let all = acls();
    assert_eq!(
        rules(&named(&all, "public")),
        public,
        "the hand-added rule is gone"
    );
    assert_eq!(
        named(&all, "public").associations().len(),
        3,
        "the subnet is back"
    );
    s.run(&["plan", "--detailed-exitcode"], 0);
    let ids: Vec<String> = all
        .iter()
        .filter(|a| a.is_default() != Some(true))
        .filter_map(|a| a.network_acl_id().map(str::to_owned))
        .collect();
    s.run(&["down", "--yes"], 0);
    let left: Vec<String> =
        s.rt.block_on(s.ec2().describe_network_acls().send())
            .expect("acls after down")
            .network_acls()
            .iter()
            .filter_map(|a| a.network_acl_id().map(str::to_owned))
            .filter(|id| ids.contains(id))
            .collect();
    assert_eq!(ids.len(), 2);
    assert!(left.is_empty(), "down deletes both ACLs: {left:?}");
}

//! Taking over from Terraform: a stack built through the SDK exactly as the seed's Terraform modules
//! name and configure it (untagged, Terraform's names), its `terraform.tfstate` (format version 4) written
//! as Terraform writes it, then `import` tool by tool in pipeline order: every resource mapped, no replace
//! and no delete of what holds data or traffic, the stricter spec listed, `up` converging without
//! duplicating anything. And the bad inputs: exit 64, one line, no change.

use std::path::Path;

use hms_tests::Stack;
use serde_json::{json, Value};

/// The seed's six tools, in pipeline order.
const SIX: [&str; 6] = [
    "hms-vpc",
    "hms-security",
    "hms-db",
    "hms-ecs",
    "hms-backup",
    "hms-observe",
];

/// One resource of the Terraform state: (module, type, name, index, attributes).
struct Tf {
    module: &'static str,
    kind: &'static str,
    name: &'static str,
    index: Option<Value>,
    attrs: Value,
}

fn tf(module: &'static str, kind: &'static str, name: &'static str, attrs: Value) -> Tf {
    Tf {
        module,
        kind,
        name,
        index: None,
        attrs,
    }
}

fn tf_at(
    module: &'static str,
    kind: &'static str,
    name: &'static str,
    i: usize,
    attrs: Value,
) -> Tf {
    Tf {
        index: Some(json!(i)),
        ..tf(module, kind, name, attrs)
    }
}

/// A `terraform.tfstate` as Terraform 1.x writes it: one entry per resource block, its instances by
/// index, the module address on the entry.
fn tfstate(resources: &[Tf]) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    for r in resources {
        let instance = json!({
            "schema_version": 0,
            "attributes": r.attrs,
            "sensitive_attributes": [],
            "private": "bnVsbA==",
        });
        let mut instance = instance;
        if let Some(i) = &r.index {
            instance["index_key"] = i.clone();
        }
        let same = blocks.iter_mut().find(|b| {
            b["module"] == json!(format!("module.{}", r.module))
                && b["type"] == json!(r.kind)
                && b["name"] == json!(r.name)
        });
        match same {
            Some(b) => b["instances"]
                .as_array_mut()
                .expect("instances")
                .push(instance),
            None => blocks.push(json!({
                "module": format!("module.{}", r.module),
                "mode": "managed",
                "type": r.kind,
                "name": r.name,
                "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [instance],
            })),
        }
    }
    json!({
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 42,
        "lineage": "6f1c2a5e-8d3b-4f7a-9c0e-2b1d4e5f6a7b",
        "outputs": {},
        "resources": blocks,
        "check_results": null,
    })
}

/// The seed's stack, made through the SDK as its modules make it; returns the Terraform state.
#[allow(clippy::too_many_lines)]
fn build_seed(s: &Stack) -> Vec<Tf> {
    s.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
        let mut out = Vec::new();
        // module.vpc: the VPC, the reference subnets, one NAT gateway, two route tables.
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .expect("vpc")
            .vpc
            .expect("vpc");
        let vpc_id = vpc.vpc_id().expect("id").to_owned();
        ec2.create_tags()
            .resources(&vpc_id)
            .tags(aws_sdk_ec2::types::Tag::builder().key("Name").value("hms-vpc").build())
            .send()
            .await
            .expect("tag");
        out.push(tf(
            "vpc",
            "aws_vpc",
            "main",
            json!({"id": vpc_id, "arn": format!("arn:aws:ec2:us-east-1:123456789012:vpc/{vpc_id}"),
                   "cidr_block": "10.0.0.0/16", "enable_dns_hostnames": true, "tags": {"Name": "hms-vpc"}}),
        ));
        let mut private = Vec::new();
        let mut public = Vec::new();
        for (i, az) in ["us-east-1a", "us-east-1b", "us-east-1c"].iter().enumerate() {
            for (tier, cidr, list) in [
                ("private", format!("10.0.{}.0/24", i + 1), &mut private),
                ("public", format!("10.0.{}.0/24", i + 101), &mut public),
            ] {
                let sn = ec2
                    .create_subnet()
                    .vpc_id(&vpc_id)
                    .cidr_block(&cidr)
                    .availability_zone(*az)
                    .send()
                    .await
                    .expect("subnet")
                    .subnet
                    .expect("subnet");
                let id = sn.subnet_id().expect("id").to_owned();
                out.push(tf_at(
                    "vpc",
                    "aws_subnet",
                    if tier == "private" { "private" } else { "public" },
                    i,
                    json!({"id": id, "vpc_id": vpc_id, "cidr_block": cidr, "availability_zone": az,
                           "arn": format!("arn:aws:ec2:us-east-1:123456789012:subnet/{id}")}),
                ));
                list.push(id);
            }
        }
        let igw = ec2
            .create_internet_gateway()
            .send()
            .await
            .expect("igw")
            .internet_gateway
            .expect("igw");
        let igw_id = igw.internet_gateway_id().expect("id").to_owned();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&igw_id)
            .vpc_id(&vpc_id)
            .send()
            .await
            .expect("attach");
        out.push(tf("vpc", "aws_internet_gateway", "main", json!({"id": igw_id, "vpc_id": vpc_id})));
        let eip = ec2
            .allocate_address()
            .domain(aws_sdk_ec2::types::DomainType::Vpc)
            .send()
            .await
            .expect("eip");
        let alloc = eip.allocation_id().expect("alloc").to_owned();
        out.push(tf_at(
            "vpc",
            "aws_eip",
            "nat",
            0,
            json!({"id": alloc, "allocation_id": alloc, "domain": "vpc", "public_ip": eip.public_ip()}),
        ));
        let nat = ec2
            .create_nat_gateway()
            .subnet_id(&public[0])
            .allocation_id(&alloc)
            .send()
            .await
            .expect("nat")
            .nat_gateway
            .expect("nat");
        let nat_id = nat.nat_gateway_id().expect("id").to_owned();
        out.push(tf_at(
            "vpc",
            "aws_nat_gateway",
            "main",
            0,
            json!({"id": nat_id, "allocation_id": alloc, "subnet_id": public[0]}),
        ));
        for (name, subnets, route) in [
            ("public", &public, json!({"cidr_block": "0.0.0.0/0", "gateway_id": igw_id, "nat_gateway_id": ""})),
            ("private", &private, json!({"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": nat_id})),
        ] {
            let rt = ec2
                .create_route_table()
                .vpc_id(&vpc_id)
                .send()
                .await
                .expect("rt")
                .route_table
                .expect("rt");
            let rt_id = rt.route_table_id().expect("id").to_owned();
            let mut req = ec2
                .create_route()
                .route_table_id(&rt_id)
                .destination_cidr_block("0.0.0.0/0");
            req = if name == "public" {
                req.gateway_id(&igw_id)
            } else {
                req.nat_gateway_id(&nat_id)
            };
            req.send().await.expect("route");
            out.push(tf_at(
                "vpc",
                "aws_route_table",
                name,
                0,
                json!({"id": rt_id, "vpc_id": vpc_id, "route": [route]}),
            ));
            for (i, sn) in subnets.iter().enumerate() {
                let assoc = ec2
                    .associate_route_table()
                    .route_table_id(&rt_id)
                    .subnet_id(sn)
                    .send()
                    .await
                    .expect("assoc");
                out.push(tf_at(
                    "vpc",
                    "aws_route_table_association",
                    name,
                    i,
                    json!({"id": assoc.association_id(), "route_table_id": rt_id, "subnet_id": sn}),
                ));
            }
        }
        // module.security: name_prefix groups and the seed's rules; the execution role.
        let mut groups = std::collections::BTreeMap::new();
        for (name, prefix) in [("alb", "hms-alb-"), ("ecs", "hms-ecs-"), ("db", "hms-db-")] {
            let group_name = format!("{prefix}20261201093015123400000001");
            let g = ec2
                .create_security_group()
                .group_name(&group_name)
                .description("Managed by Terraform")
                .vpc_id(&vpc_id)
                .send()
                .await
                .expect("sg");
            let id = g.group_id().expect("id").to_owned();
            out.push(tf(
                "security",
                "aws_security_group",
                name,
                json!({"id": id, "name": group_name, "name_prefix": prefix, "vpc_id": vpc_id,
                       "description": "Managed by Terraform",
                       "arn": format!("arn:aws:ec2:us-east-1:123456789012:security-group/{id}")}),
            ));
            groups.insert(name, id);
        }
        let ingress = |group: &str, from: i32, to: i32, peer: Result<&str, &str>| {
            let perm = aws_sdk_ec2::types::IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(from)
                .to_port(to);
            let perm = match peer {
                Ok(cidr) => perm.ip_ranges(aws_sdk_ec2::types::IpRange::builder().cidr_ip(cidr).build()),
                Err(sg) => perm.user_id_group_pairs(
                    aws_sdk_ec2::types::UserIdGroupPair::builder().group_id(sg).build(),
                ),
            };
            ec2.authorize_security_group_ingress()
                .group_id(group)
                .ip_permissions(perm.build())
                .send()
        };
        ingress(&groups["alb"], 80, 80, Ok("0.0.0.0/0")).await.expect("rule");
        ingress(&groups["alb"], 443, 443, Ok("0.0.0.0/0")).await.expect("rule");
        ingress(&groups["ecs"], 0, 65535, Err(&groups["alb"])).await.expect("rule");
        ingress(&groups["db"], 5432, 5432, Err(&groups["ecs"])).await.expect("rule");
        for (name, group, from, to) in [
            ("alb_http", "alb", 80, 80),
            ("alb_https", "alb", 443, 443),
            ("ecs_from_alb", "ecs", 0, 65535),
            ("db_from_ecs", "db", 5432, 5432),
        ] {
            out.push(tf(
                "security",
                "aws_security_group_rule",
                name,
                json!({"id": format!("sgrule-{name}"), "type": "ingress", "security_group_id": groups[group],
                       "from_port": from, "to_port": to, "protocol": "tcp"}),
            ));
        }
        let iam = aws_sdk_iam::Client::new(&s.sdk);
        let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
        let role = iam
            .create_role()
            .role_name("hms-ecs-execution-role")
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .expect("role");
        let execution_arn = role.role().expect("role").arn().to_owned();
        let managed = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy";
        iam.attach_role_policy()
            .role_name("hms-ecs-execution-role")
            .policy_arn(managed)
            .send()
            .await
            .expect("attach");
        out.push(tf(
            "security",
            "aws_iam_role",
            "ecs_execution",
            json!({"id": "hms-ecs-execution-role", "name": "hms-ecs-execution-role", "arn": execution_arn}),
        ));
        out.push(tf(
            "security",
            "aws_iam_role_policy_attachment",
            "ecs_execution",
            json!({"id": "hms-ecs-execution-role-20261201093015", "role": "hms-ecs-execution-role", "policy_arn": managed}),
        ));
        // module.database: its subnet group and the instance, with a password.
        let rds = aws_sdk_rds::Client::new(&s.sdk);
        rds.create_db_subnet_group()
            .db_subnet_group_name("hms-db-subnet-group")
            .db_subnet_group_description("Managed by Terraform")
            .set_subnet_ids(Some(private.clone()))
            .send()
            .await
            .expect("subnet group");
        out.push(tf(
            "database",
            "aws_db_subnet_group",
            "main",
            json!({"id": "hms-db-subnet-group", "name": "hms-db-subnet-group",
                   "arn": "arn:aws:rds:us-east-1:123456789012:subgrp:hms-db-subnet-group"}),
        ));
        let db = rds
            .create_db_instance()
            .db_instance_identifier("hms-db")
            .engine("postgres")
            .engine_version("16.3")
            .db_instance_class("db.t3.medium")
            .allocated_storage(100)
            .storage_type("gp3")
            .storage_encrypted(true)
            .db_name("hms")
            .master_username("hms_prod")
            .master_user_password("seed-password-in-terraform-state")
            .db_subnet_group_name("hms-db-subnet-group")
            .vpc_security_group_ids(&groups["db"])
            .multi_az(true)
            .backup_retention_period(7)
            .send()
            .await
            .expect("db")
            .db_instance
            .expect("db");
        out.push(tf(
            "database",
            "aws_db_instance",
            "main",
            json!({"id": db.dbi_resource_id(), "identifier": "hms-db", "engine": "postgres",
                   "db_subnet_group_name": "hms-db-subnet-group", "username": "hms_prod",
                   "password": "seed-password-in-terraform-state", "storage_encrypted": true,
                   "arn": db.db_instance_arn()}),
        ));
        // module.ecs: the cluster, two services behind the load balancer.
        let ecs = aws_sdk_ecs::Client::new(&s.sdk);
        let cluster = ecs
            .create_cluster()
            .cluster_name("hms-cluster")
            .send()
            .await
            .expect("cluster")
            .cluster
            .expect("cluster");
        out.push(tf(
            "ecs",
            "aws_ecs_cluster",
            "main",
            json!({"id": cluster.cluster_arn(), "arn": cluster.cluster_arn(), "name": "hms-cluster"}),
        ));
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
        let lb = elb
            .create_load_balancer()
            .name("hms-alb")
            .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(public.clone()))
            .security_groups(&groups["alb"])
            .send()
            .await
            .expect("alb");
        let lb_arn = lb.load_balancers()[0].load_balancer_arn().expect("arn").to_owned();
        out.push(tf(
            "ecs",
            "aws_lb",
            "main",
            json!({"id": lb_arn, "arn": lb_arn, "name": "hms-alb", "internal": false}),
        ));
        let mut tgs = std::collections::BTreeMap::new();
        for (svc, port) in [("backend", 8000), ("frontend", 80)] {
            let name = format!("hms-{svc}-tg");
            let tg = elb
                .create_target_group()
                .name(&name)
                .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
                .port(port)
                .vpc_id(&vpc_id)
                .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
                .send()
                .await
                .expect("tg");
            let arn = tg.target_groups()[0].target_group_arn().expect("arn").to_owned();
            out.push(tf(
                "ecs",
                "aws_lb_target_group",
                if svc == "backend" { "backend" } else { "frontend" },
                json!({"id": arn, "arn": arn, "name": name, "port": port}),
            ));
            tgs.insert(svc, (arn, port));
        }
        let forward = |tg: &str| {
            aws_sdk_elasticloadbalancingv2::types::Action::builder()
                .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                .target_group_arn(tg)
                .build()
        };
        let listener = elb
            .create_listener()
            .load_balancer_arn(&lb_arn)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(&tgs["frontend"].0))
            .send()
            .await
            .expect("listener");
        let listener_arn = listener.listeners()[0].listener_arn().expect("arn").to_owned();
        out.push(tf(
            "ecs",
            "aws_lb_listener",
            "http",
            json!({"id": listener_arn, "arn": listener_arn, "load_balancer_arn": lb_arn, "port": 80, "protocol": "HTTP"}),
        ));
        for (svc, (tg, port)) in &tgs {
            let family = format!("hms-{svc}");
            let container = aws_sdk_ecs::types::ContainerDefinition::builder()
                .name(*svc)
                .image(format!("hms/{svc}:1.0"))
                .port_mappings(
                    aws_sdk_ecs::types::PortMapping::builder()
                        .container_port(*port)
                        .build(),
                )
                .build();
            let td = ecs
                .register_task_definition()
                .family(&family)
                .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
                .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
                .cpu("256")
                .memory("512")
                .execution_role_arn(&execution_arn)
                .container_definitions(container)
                .send()
                .await
                .expect("task definition")
                .task_definition
                .expect("td");
            let td_arn = td.task_definition_arn().expect("arn").to_owned();
            out.push(tf(
                "ecs",
                "aws_ecs_task_definition",
                if *svc == "backend" { "backend" } else { "frontend" },
                json!({"id": family, "arn": td_arn, "family": family, "revision": td.revision()}),
            ));
            let service = ecs
                .create_service()
                .cluster("hms-cluster")
                .service_name(&family)
                .task_definition(&td_arn)
                .desired_count(2)
                .launch_type(aws_sdk_ecs::types::LaunchType::Fargate)
                .load_balancers(
                    aws_sdk_ecs::types::LoadBalancer::builder()
                        .target_group_arn(tg)
                        .container_name(*svc)
                        .container_port(*port)
                        .build(),
                )
                .network_configuration(
                    aws_sdk_ecs::types::NetworkConfiguration::builder()
                        .awsvpc_configuration(
                            aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                                .set_subnets(Some(private.clone()))
                                .security_groups(&groups["ecs"])
                                .build()
                                .expect("awsvpc"),
                        )
                        .build(),
                )
                .send()
                .await
                .expect("service")
                .service
                .expect("service");
            out.push(tf(
                "ecs",
                "aws_ecs_service",
                if *svc == "backend" { "backend" } else { "frontend" },
                json!({"id": service.service_arn(), "name": family, "cluster": cluster.cluster_arn()}),
            ));
        }
        // The backup bucket: AES256 and the lifecycle.
        let s3 = aws_sdk_s3::Client::new(&s.sdk);
        s3.create_bucket()
            .bucket("hms-backups-production")
            .send()
            .await
            .expect("bucket");
        s3.put_bucket_encryption()
            .bucket("hms-backups-production")
            .server_side_encryption_configuration(
                aws_sdk_s3::types::ServerSideEncryptionConfiguration::builder()
                    .rules(
                        aws_sdk_s3::types::ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(
                                aws_sdk_s3::types::ServerSideEncryptionByDefault::builder()
                                    .sse_algorithm(aws_sdk_s3::types::ServerSideEncryption::Aes256)
                                    .build()
                                    .expect("sse"),
                            )
                            .build(),
                    )
                    .build()
                    .expect("sse"),
            )
            .send()
            .await
            .expect("encryption");
        s3.put_bucket_lifecycle_configuration()
            .bucket("hms-backups-production")
            .lifecycle_configuration(
                aws_sdk_s3::types::BucketLifecycleConfiguration::builder()
                    .rules(
                        aws_sdk_s3::types::LifecycleRule::builder()
                            .id("expire-old-backups")
                            .status(aws_sdk_s3::types::ExpirationStatus::Enabled)
                            .filter(aws_sdk_s3::types::LifecycleRuleFilter::builder().prefix("").build())
                            .expiration(aws_sdk_s3::types::LifecycleExpiration::builder().days(90).build())
                            .build()
                            .expect("rule"),
                    )
                    .build()
                    .expect("lifecycle"),
            )
            .send()
            .await
            .expect("lifecycle");
        out.push(tf(
            "backup",
            "aws_s3_bucket",
            "backups",
            json!({"id": "hms-backups-production", "bucket": "hms-backups-production",
                   "arn": "arn:aws:s3:::hms-backups-production"}),
        ));
        for sub in ["aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_lifecycle_configuration"] {
            out.push(tf(
                "backup",
                sub,
                "backups",
                json!({"id": "hms-backups-production", "bucket": "hms-backups-production"}),
            ));
        }
        // module.monitoring: the CPU alarm (no dimensions, no actions) and the sampling rule.
        let cw = aws_sdk_cloudwatch::Client::new(&s.sdk);
        cw.put_metric_alarm()
            .alarm_name("hms-cpu-utilization")
            .namespace("AWS/ECS")
            .metric_name("CPUUtilization")
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(300)
            .evaluation_periods(2)
            .threshold(80.0)
            .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("alarm");
        out.push(tf(
            "monitoring",
            "aws_cloudwatch_metric_alarm",
            "cpu",
            json!({"id": "hms-cpu-utilization", "alarm_name": "hms-cpu-utilization",
                   "arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:hms-cpu-utilization"}),
        ));
        let xray = aws_sdk_xray::Client::new(&s.sdk);
        xray.create_sampling_rule()
            .sampling_rule(
                aws_sdk_xray::types::SamplingRule::builder()
                    .rule_name("hms-sampling")
                    .priority(100)
                    .fixed_rate(0.05)
                    .reservoir_size(1)
                    .service_name("*")
                    .service_type("*")
                    .host("*")
                    .http_method("*")
                    .url_path("*")
                    .resource_arn("*")
                    .version(1)
                    .build()
                    .expect("rule"),
            )
            .send()
            .await
            .expect("sampling rule");
        out.push(tf(
            "monitoring",
            "aws_xray_sampling_rule",
            "main",
            json!({"id": "hms-sampling", "rule_name": "hms-sampling",
                   "arn": "arn:aws:xray:us-east-1:123456789012:sampling-rule/hms-sampling"}),
        ));
        out
    })
}

/// Resource counts by kind in the emulator, for "nothing duplicated".
fn counts(s: &Stack) -> Vec<(&'static str, usize)> {
    s.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
        let vpcs = ec2
            .describe_vpcs()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("cidr")
                    .values("10.0.0.0/16")
                    .build(),
            )
            .send()
            .await
            .expect("vpcs");
        let vpc_ids: Vec<String> = vpcs
            .vpcs()
            .iter()
            .filter(|v| v.is_default() != Some(true))
            .filter_map(|v| v.vpc_id().map(str::to_owned))
            .collect();
        let in_vpcs = aws_sdk_ec2::types::Filter::builder()
            .name("vpc-id")
            .set_values(Some(vpc_ids.clone()))
            .build();
        let subnets = ec2
            .describe_subnets()
            .filters(in_vpcs.clone())
            .send()
            .await
            .expect("subnets");
        let nats = ec2.describe_nat_gateways().send().await.expect("nats");
        let live_nats = nats
            .nat_gateways()
            .iter()
            .filter(|n| vpc_ids.iter().any(|v| Some(v.as_str()) == n.vpc_id()))
            .filter(|n| !matches!(n.state().map(|s| s.as_str()), Some("deleted" | "deleting")))
            .count();
        let rds = aws_sdk_rds::Client::new(&s.sdk);
        let dbs = rds.describe_db_instances().send().await.expect("dbs");
        let ecs = aws_sdk_ecs::Client::new(&s.sdk);
        let clusters = ecs.list_clusters().send().await.expect("clusters");
        let services = ecs
            .list_services()
            .cluster("hms-cluster")
            .send()
            .await
            .expect("services");
        let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
        let lbs = elb.describe_load_balancers().send().await.expect("lbs");
        let s3 = aws_sdk_s3::Client::new(&s.sdk);
        let buckets = s3.list_buckets().send().await.expect("buckets");
        let backups = buckets
            .buckets()
            .iter()
            .filter(|b| {
                b.name()
                    .is_some_and(|n| n.starts_with("hms-backups-production"))
            })
            .count();
        vec![
            ("vpc", vpc_ids.len()),
            ("subnet", subnets.subnets().len()),
            ("nat gateway", live_nats),
            ("db instance", dbs.db_instances().len()),
            ("ecs cluster", clusters.cluster_arns().len()),
            ("ecs service", services.service_arns().len()),
            ("load balancer", lbs.load_balancers().len()),
            ("backup bucket", backups),
        ]
    })
}

/// The seed stack's Terraform state as `--stack hms` (the seed's own names) on a stack of its own.
fn seed_stack() -> Stack {
    let mut s = Stack::new("hms-vpc", "import");
    s.name = "hms".into();
    s
}

fn write(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write");
}

fn plan_json(s: &Stack, tool: &str) -> Value {
    let out = s
        .std_cmd_of(tool, &["plan", "--json"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("plan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{tool} plan --json: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{tool} plan --json: {e}: {stderr}"))
}

#[test]
fn a_terraform_stack_is_taken_over_tool_by_tool_without_replacing_anything() {
    let s = seed_stack();
    let seed = build_seed(&s);
    let file = s.dir.path().join("terraform.tfstate");
    write(&file, &tfstate(&seed));
    let file = file.to_str().expect("path").to_owned();
    let before = counts(&s);
    assert_eq!(
        before,
        [
            ("vpc", 1),
            ("subnet", 6),
            ("nat gateway", 1),
            ("db instance", 1),
            ("ecs cluster", 1),
            ("ecs service", 2),
            ("load balancer", 1),
            ("backup bucket", 1)
        ]
    );
    // What must never be replaced or deleted by the first plan after import.
    let kept = [
        "vpc.vpc",
        "vpc.subnet.private[us-east-1a]",
        "vpc.subnet.public[us-east-1a]",
        "vpc.nat[us-east-1a]",
        "security.sg.alb",
        "security.sg.ecs",
        "security.sg.database",
        "security.iam.execution_role",
        "db.instance",
        "db.subnet_group",
        "ecs.cluster",
        "ecs.alb",
        "ecs.service[backend]",
        "ecs.service[frontend]",
        "ecs.target_group[backend]",
        "backup.bucket",
        "observe.alarm[backend.cpu]",
        "observe.xray.sampling_rule",
    ];
    // The state as the S3 backend keeps it, for two of the tools; hms-backup records only (--no-tag).
    s.block_on(async {
        let s3 = aws_sdk_s3::Client::new(&s.sdk);
        s3.create_bucket()
            .bucket("hms-terraform-state")
            .send()
            .await
            .expect("bucket");
        s3.put_object()
            .bucket("hms-terraform-state")
            .key("hms/production/terraform.tfstate")
            .body(std::fs::read(&file).expect("read").into())
            .send()
            .await
            .expect("put");
    });
    let from_s3 = "s3://hms-terraform-state/hms/production/terraform.tfstate";
    let mut imported = 0;
    for tool in SIX {
        let args: Vec<&str> = match tool {
            "hms-backup" => vec!["import", "--terraform-state", from_s3, "--no-tag"],
            "hms-observe" => vec!["import", "--terraform-state", from_s3],
            _ => vec!["import", "--terraform-state", &file],
        };
        let (doc, stderr) = s.run_of(tool, &args, "", 0);
        if tool == "hms-backup" {
            let tags = s.block_on(async {
                aws_sdk_s3::Client::new(&s.sdk)
                    .get_bucket_tagging()
                    .bucket("hms-backups-production")
                    .send()
                    .await
                    .map(|t| t.tag_set().len())
                    .unwrap_or(0)
            });
            assert_eq!(tags, 0, "--no-tag tagged the bucket: {stderr}");
        }
        let run = doc["runs"]
            .as_array()
            .and_then(|r| r.last())
            .expect("a run");
        assert_eq!(
            (&run["tool"], &run["command"], &run["ok"]),
            (&json!(tool), &json!("import"), &json!(true)),
            "{tool}: {stderr}"
        );
        assert!(
            !stderr.contains("seed-password"),
            "{tool}: the Terraform state's password reached stderr"
        );
        assert!(stderr.contains("terraform state rm"), "{tool}: {stderr}");
        let state = std::fs::read_to_string(
            s.state_dir()
                .join("hms-production")
                .join(format!("{tool}.json")),
        )
        .expect("state");
        assert!(
            !state.contains("seed-password"),
            "{tool}: password in state"
        );
        let state: Value = serde_json::from_str(&state).expect("state json");
        let marked = state["resources"]
            .as_object()
            .expect("resources")
            .values()
            .filter(|r| r["attrs"]["terraform"].is_string())
            .count();
        assert!(marked > 0, "{tool}: nothing recorded as imported: {state}");
        imported += marked;
        let plan = plan_json(&s, tool);
        for c in plan["changes"].as_array().expect("changes") {
            let address = c["address"].as_str().expect("address");
            let action = c["action"].as_str().expect("action");
            if kept.contains(&address) {
                assert!(
                    action == "update" || action == "no-op" || action == "no_op",
                    "{tool}: {address} would be {action} after import: {c}"
                );
            }
            assert_ne!(
                action, "replace",
                "{tool}: {address} replaced after import: {c}"
            );
        }
        // Then `up` converges.
        let (_, stderr) = s.run_of(tool, &["up", "--allow-destroy"], "", 0);
        let (_, again) = s.run_of(tool, &["plan", "--detailed-exitcode"], "", 0);
        assert!(
            !again.contains("will be"),
            "{tool} after up: {again}\n{stderr}"
        );
    }
    assert!(
        imported >= 25,
        "only {imported} resources recorded as imported"
    );
    // The stricter spec was applied to the imported resources themselves.
    s.block_on(async {
        let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
        let sgs = ec2
            .describe_security_groups()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("group-name")
                    .values("hms-ecs-20261201093015123400000001")
                    .build(),
            )
            .send()
            .await
            .expect("sg");
        let ecs = &sgs.security_groups()[0];
        let ports: Vec<(Option<i32>, Option<i32>)> = ecs
            .ip_permissions()
            .iter()
            .map(|p| (p.from_port(), p.to_port()))
            .collect();
        assert!(
            !ports.contains(&(Some(0), Some(65535))),
            "the 0-65535 ingress stayed: {ports:?}"
        );
        assert!(
            ecs.tags()
                .iter()
                .any(|t| t.key() == Some("hms:stack") && t.value() == Some("hms")),
            "imported group not tagged"
        );
        let rds = aws_sdk_rds::Client::new(&s.sdk);
        let db = rds
            .describe_db_instances()
            .db_instance_identifier("hms-db")
            .send()
            .await
            .expect("db");
        let db = &db.db_instances()[0];
        assert!(
            db.master_user_secret().is_some(),
            "the DB did not move to a managed master secret"
        );
        let cw = aws_sdk_cloudwatch::Client::new(&s.sdk);
        let alarms = cw
            .describe_alarms()
            .alarm_names("hms-cpu-utilization")
            .send()
            .await
            .expect("alarms");
        let alarm = &alarms.metric_alarms()[0];
        assert!(
            !alarm.dimensions().is_empty(),
            "the alarm got no dimensions"
        );
        assert!(
            !alarm.alarm_actions().is_empty(),
            "the alarm got no actions"
        );
    });
    assert_eq!(
        counts(&s),
        before,
        "resource counts changed: something was duplicated"
    );
    // Import again: the same mapping, nothing new.
    let (_, stderr) = s.run_of("hms-vpc", &["import", "--terraform-state", &file], "", 0);
    assert!(stderr.contains("vpc.vpc"), "{stderr}");
}

#[test]
fn import_refuses_a_state_that_already_records_other_resources_unless_merged() {
    let s = Stack::new("hms-backup", "impmerge");
    let aes = ["--set", "backup.encryption=aes256"];
    s.run(&["up", aes[0], aes[1]], 0);
    let dir = s.dir.path();
    let show = json!({"format_version": "1.0", "values": {"root_module": {"child_modules": [{
        "address": "module.backup",
        "resources": [{"address": "module.backup.aws_s3_bucket.other", "mode": "managed",
                       "type": "aws_s3_bucket", "name": "other",
                       "values": {"id": "someone-elses-bucket", "bucket": "someone-elses-bucket"}}]}]}}});
    let path = dir.join("show.json");
    write(&path, &show);
    let path = path.to_str().expect("path");
    let out = s
        .cmd(&["import", "--terraform-state", path, aes[0], aes[1]])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("already records") && stderr.contains("--merge"),
        "{stderr}"
    );
    // With --merge: nothing of hms-backup's in it, so nothing recorded; the other bucket is listed as left.
    let (_, stderr) = s.run(
        &[
            "import",
            "--terraform-state",
            path,
            "--merge",
            aes[0],
            aes[1],
        ],
        0,
    );
    assert!(
        stderr
            .contains("module.backup.aws_s3_bucket.other: aws_s3_bucket: not one of hms-backup's"),
        "{stderr}"
    );
    // `terraform show -json` on stdin.
    let out = s
        .std_cmd(&[
            "import",
            "--terraform-state",
            "-",
            "--merge",
            aes[0],
            aes[1],
        ])
        .stdin(std::fs::File::open(path).expect("open"))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_terraform_state_is_refused_with_one_line_and_no_change() {
    let s = Stack::new("hms-vpc", "impbad");
    let dir = s.dir.path();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "not-state.json",
            json!({"hello": "world"}).to_string(),
            "not a Terraform state",
        ),
        (
            "garbage.tfstate",
            String::from("{not json"),
            "not a Terraform state",
        ),
        (
            "v3.tfstate",
            json!({"version": 3, "modules": []}).to_string(),
            "format version 3",
        ),
        (
            "west.tfstate",
            tfstate(&[tf(
                "vpc",
                "aws_vpc",
                "main",
                json!({"id": "vpc-0123456789abcdef0", "cidr_block": "10.0.0.0/16",
                       "arn": "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0"}),
            )])
            .to_string(),
            "in eu-west-1, but this run is for us-east-1",
        ),
        (
            "gone.tfstate",
            tfstate(&[tf(
                "vpc",
                "aws_vpc",
                "main",
                json!({"id": "vpc-0123456789abcdef0", "cidr_block": "10.0.0.0/16",
                       "arn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"}),
            )])
            .to_string(),
            "no longer in AWS, or tagged as another stack's: module.vpc.aws_vpc.main (vpc-0123456789abcdef0)",
        ),
    ];
    for (name, text, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        let out = s
            .cmd(&["import", "--terraform-state", path.to_str().expect("path")])
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{name}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(errors.len(), 1, "{name}: one error line: {stderr}");
        assert!(errors[0].contains(want), "{name}: {stderr}");
        assert!(
            !s.state_dir()
                .join(format!("{}-production", s.name))
                .join("hms-vpc.json")
                .exists(),
            "{name}: a refused import wrote state"
        );
    }
}

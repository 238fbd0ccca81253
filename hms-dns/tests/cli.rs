//! hms-dns against the emulator (moto issues a DNS-validated certificate after MOTO_ACM_VALIDATION_WAIT
//! seconds, which the launcher sets to 3).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::Value;

fn acm(s: &Stack, region: &str) -> aws_sdk_acm::Client {
    let conf = aws_sdk_acm::config::Builder::from(&s.sdk)
        .region(aws_config::Region::new(region.to_owned()))
        .build();
    aws_sdk_acm::Client::from_conf(conf)
}

fn r53(s: &Stack) -> aws_sdk_route53::Client {
    aws_sdk_route53::Client::new(&s.sdk)
}

/// A domain no other test uses.
fn domain(s: &Stack) -> String {
    format!("{}.example.org", s.name)
}

fn write_config(s: &Stack, text: &str) {
    std::fs::write(s.dir.path().join("hms.toml"), text).expect("config");
}

/// The reference layout in eu-west-1: a created zone, the CDN's certificate in us-east-1 and the ALB's in
/// the stack's region.
fn created_zone_config(s: &Stack) -> String {
    format!(
        "[stack]\nregion = \"eu-west-1\"\n\n[dns]\ndomain_name = \"{}\"\ncreate_zone = true\n",
        domain(s)
    )
}

/// Ids of the public zones named `name`.
fn zones(s: &Stack, name: &str) -> Vec<String> {
    let out = s
        .block_on(r53(s).list_hosted_zones_by_name().dns_name(name).send())
        .expect("zones");
    out.hosted_zones()
        .iter()
        .filter(|z| z.name() == format!("{name}."))
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_owned())
        .collect()
}

/// Record sets of a zone: (name, type) → values.
fn records(s: &Stack, zone: &str) -> BTreeMap<(String, String), Vec<String>> {
    let out = s
        .block_on(
            r53(s)
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .send(),
        )
        .expect("records");
    out.resource_record_sets()
        .iter()
        .map(|r| {
            (
                (
                    r.name().trim_end_matches('.').to_owned(),
                    r.r#type().as_str().to_owned(),
                ),
                r.resource_records()
                    .iter()
                    .map(|v| v.value().to_owned())
                    .collect(),
            )
        })
        .collect()
}

/// ARNs of the certificates for `name` in `region`.
fn certs_for(s: &Stack, region: &str, name: &str) -> Vec<String> {
    let out = s
        .block_on(
            acm(s, region)
                .list_certificates()
                .includes(
                    aws_sdk_acm::types::Filters::builder()
                        .key_types(aws_sdk_acm::types::KeyAlgorithm::Rsa2048)
                        .key_types(aws_sdk_acm::types::KeyAlgorithm::from("EC_prime256v1"))
                        .build(),
                )
                .send(),
        )
        .expect("list");
    out.certificate_summary_list()
        .iter()
        .filter(|c| c.domain_name() == Some(name))
        .filter_map(|c| c.certificate_arn().map(str::to_owned))
        .collect()
}

fn describe(s: &Stack, arn: &str) -> aws_sdk_acm::types::CertificateDetail {
    let region = arn.split(':').nth(3).expect("region").to_owned();
    s.block_on(
        acm(s, &region)
            .describe_certificate()
            .certificate_arn(arn)
            .send(),
    )
    .expect("describe")
    .certificate()
    .cloned()
    .expect("certificate")
}

fn cert_tags(s: &Stack, arn: &str) -> BTreeMap<String, String> {
    let region = arn.split(':').nth(3).expect("region").to_owned();
    s.block_on(
        acm(s, &region)
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send(),
    )
    .expect("tags")
    .tags()
    .iter()
    .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned()))
    .collect()
}

fn zone_tags(s: &Stack, zone: &str) -> BTreeMap<String, String> {
    s.block_on(
        r53(s)
            .list_tags_for_resource()
            .resource_type(aws_sdk_route53::types::TagResourceType::Hostedzone)
            .resource_id(zone)
            .send(),
    )
    .expect("zone tags")
    .resource_tag_set()
    .map(|t| {
        t.tags()
            .iter()
            .map(|t| {
                (
                    t.key().unwrap_or_default().to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    })
    .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn names(d: &aws_sdk_acm::types::CertificateDetail) -> Vec<String> {
    let mut n: Vec<String> = d.subject_alternative_names().to_vec();
    n.sort();
    n
}

/// ACM's validation CNAMEs of a certificate: name → value (without trailing dots).
fn validation(d: &aws_sdk_acm::types::CertificateDetail) -> BTreeMap<String, String> {
    d.domain_validation_options()
        .iter()
        .filter_map(|v| v.resource_record())
        .map(|r| {
            (
                r.name().trim_end_matches('.').to_owned(),
                r.value().trim_end_matches('.').to_owned(),
            )
        })
        .collect()
}

fn state_file(s: &Stack) -> std::path::PathBuf {
    s.state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-dns.json")
}

#[test]
fn a_created_zone_gets_issued_certificates_caa_and_converges() {
    let s = Stack::new("hms-dns", "zone");
    write_config(&s, &created_zone_config(&s));
    let d = domain(&s);

    // On an empty account the plan pipeline works: what only `up` knows is null and listed as unknown.
    let (plan, err) = s.run(&["plan", "--detailed-exitcode"], 2);
    assert_eq!(run_counts(&plan), (4, 0, 0), "{err}");
    let out = &plan["outputs"]["dns"];
    assert_eq!(out["domain_name"], d.as_str());
    assert_eq!(out["zone_name"], d.as_str());
    for k in [
        "zone_id",
        "name_servers",
        "certificate_arn",
        "cdn_certificate_arn",
        "validation_status",
    ] {
        assert!(out[k].is_null(), "{k}: {out}");
        assert!(
            plan["unknown"]
                .as_array()
                .expect("unknown")
                .contains(&Value::from(format!("outputs.dns.{k}"))),
            "{k} not listed as unknown: {plan}"
        );
    }
    assert!(zones(&s, &d).is_empty(), "plan created nothing");

    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (4, 0, 0), "{err}");
    let out = doc["outputs"]["dns"].clone();
    let zone_ids = zones(&s, &d);
    assert_eq!(zone_ids.len(), 1, "one zone");
    let zone = &zone_ids[0];
    assert_eq!(out["zone_id"], zone.as_str());
    assert_eq!(out["zone_name"], d.as_str());
    assert_eq!(out["validation_status"], "ISSUED");
    let ns = out["name_servers"].as_array().expect("name servers");
    assert!(!ns.is_empty());
    let alb = out["certificate_arn"].as_str().expect("alb arn").to_owned();
    let cdn = out["cdn_certificate_arn"]
        .as_str()
        .expect("cdn arn")
        .to_owned();
    assert!(alb.starts_with("arn:aws:acm:eu-west-1:"), "{alb}");
    assert!(cdn.starts_with("arn:aws:acm:us-east-1:"), "{cdn}");

    let (alb_d, cdn_d) = (describe(&s, &alb), describe(&s, &cdn));
    for c in [&alb_d, &cdn_d] {
        assert_eq!(c.status().map(|x| x.as_str()), Some("ISSUED"));
        assert_eq!(c.domain_name(), Some(d.as_str()));
        assert_eq!(c.key_algorithm().map(|k| k.as_str()), Some("RSA_2048"));
    }
    assert_eq!(
        names(&alb_d),
        sorted(vec![d.clone(), format!("origin.{d}")])
    );
    assert_eq!(names(&cdn_d), vec![d.clone()]);

    // The zone holds the validation CNAME of every name (shared between the certificates) and the CAA.
    let recs = records(&s, zone);
    let mut wanted = validation(&alb_d);
    wanted.extend(validation(&cdn_d));
    assert_eq!(wanted.len(), 2, "{wanted:?}");
    for (name, value) in &wanted {
        let got = recs
            .get(&(name.clone(), "CNAME".to_owned()))
            .unwrap_or_else(|| panic!("no CNAME {name}: {recs:?}"));
        assert_eq!(got, &vec![format!("{value}.")]);
    }
    assert_eq!(
        recs.get(&(d.clone(), "CAA".to_owned())),
        Some(&vec!["0 issue \"amazon.com\"".to_owned()])
    );
    let cnames = recs.keys().filter(|(_, t)| t == "CNAME").count();
    assert_eq!(cnames, 2, "one record per distinct name: {recs:?}");

    for arn in [&alb, &cdn] {
        let t = cert_tags(&s, arn);
        assert_eq!(t.get("hms:stack"), Some(&s.name));
        assert_eq!(t.get("hms:tool").map(String::as_str), Some("hms-dns"));
        assert!(t["hms:address"].starts_with("dns.certificate."), "{t:?}");
    }
    let zt = zone_tags(&s, zone);
    assert_eq!(zt.get("hms:address").map(String::as_str), Some("dns.zone"));

    // Converged: a second up creates nothing; plan says so.
    let (again, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&again), (0, 0, 0), "{err}");
    assert_eq!(again["outputs"]["dns"], out);
    s.run(&["plan", "--detailed-exitcode"], 0);

    // Lost state: everything is found again by its tags (records by their content), nothing is made.
    std::fs::remove_file(state_file(&s)).expect("rm state");
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 0);
    assert!(err.contains("No changes"), "{err}");
    let (adopted, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&adopted), (0, 0, 0), "{err}");
    assert_eq!(adopted["outputs"]["dns"], out);
    assert_eq!(zones(&s, &d).len(), 1);
    assert_eq!(certs_for(&s, "eu-west-1", &d), vec![alb.clone()]);
    assert_eq!(certs_for(&s, "us-east-1", &d), vec![cdn.clone()]);

    // Down deletes the certificates, the records and the zone it made; nothing of the stack is left.
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 6), "{err}");
    assert!(zones(&s, &d).is_empty());
    assert!(certs_for(&s, "eu-west-1", &d).is_empty());
    assert!(certs_for(&s, "us-east-1", &d).is_empty());
    for region in ["us-east-1", "eu-west-1"] {
        let conf = aws_sdk_resourcegroupstagging::config::Builder::from(&s.sdk)
            .region(aws_config::Region::new(region))
            .build();
        let tagging = aws_sdk_resourcegroupstagging::Client::from_conf(conf);
        let left = s
            .block_on(
                tagging
                    .get_resources()
                    .tag_filters(
                        aws_sdk_resourcegroupstagging::types::TagFilter::builder()
                            .key("hms:stack")
                            .values(&s.name)
                            .build(),
                    )
                    .send(),
            )
            .expect("tagged");
        assert!(
            left.resource_tag_mapping_list().is_empty(),
            "{region}: {:?}",
            left.resource_tag_mapping_list()
        );
    }
    // Up again at once: the same idempotency tokens name the deleted certificates; new ones are made.
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (4, 0, 0), "{err}");
    assert_eq!(doc["outputs"]["dns"]["validation_status"], "ISSUED");
    assert_ne!(doc["outputs"]["dns"]["certificate_arn"], alb.as_str());
    s.run(&["down", "--yes"], 0);
}

#[test]
fn stack_tags_converge_on_certificates_and_the_zone() {
    let s = Stack::new("hms-dns", "tags");
    write_config(&s, &created_zone_config(&s));
    let (doc, _) = s.run(&["up"], 0);
    let out = &doc["outputs"]["dns"];
    let zone = out["zone_id"].as_str().expect("zone").to_owned();
    let arns: Vec<String> = ["certificate_arn", "cdn_certificate_arn"]
        .iter()
        .map(|k| out[k].as_str().expect("arn").to_owned())
        .collect();
    let updated = tag_cycle(&s, "hms-dns", "", |owner| {
        for arn in &arns {
            let t = cert_tags(&s, arn);
            assert_eq!(t.get("owner").map(String::as_str), owner, "{arn}");
            assert!(t.contains_key("hms:address"));
        }
        let t = zone_tags(&s, &zone);
        assert_eq!(t.get("owner").map(String::as_str), owner, "zone");
    });
    assert_eq!(updated, 3, "two certificates and the zone carry tags");
    s.run(&["down", "--yes"], 0);
}

fn upsert(name: &str, kind: RrType, ttl: i64, values: &[&str]) -> Change {
    Change::builder()
        .action(ChangeAction::Create)
        .resource_record_set(
            ResourceRecordSet::builder()
                .name(name)
                .r#type(kind)
                .ttl(ttl)
                .set_resource_records(Some(
                    values
                        .iter()
                        .map(|v| ResourceRecord::builder().value(*v).build().expect("rr"))
                        .collect(),
                ))
                .build()
                .expect("rrset"),
        )
        .build()
        .expect("change")
}

#[test]
fn an_existing_zone_gets_only_our_records_and_is_never_deleted() {
    let s = Stack::new("hms-dns", "exist");
    let parent = domain(&s);
    let d = format!("hms.{parent}");
    // The hospital's zone, made by hand, with records of its own.
    let zone = s
        .block_on(
            r53(&s)
                .create_hosted_zone()
                .name(&parent)
                .caller_reference(format!("by-hand-{}", s.name))
                .send(),
        )
        .expect("zone")
        .hosted_zone()
        .expect("zone")
        .id()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let batch = ChangeBatch::builder()
        .changes(upsert(
            &format!("www.{parent}"),
            RrType::A,
            300,
            &["192.0.2.10"],
        ))
        .changes(upsert(&parent, RrType::Txt, 300, &["\"v=spf1 -all\""]))
        .changes(upsert(
            &format!("mail.{parent}"),
            RrType::Cname,
            300,
            &["mx.example.net."],
        ))
        .build()
        .expect("batch");
    s.block_on(
        r53(&s)
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(batch)
            .send(),
    )
    .expect("records");
    let before = records(&s, &zone);
    write_config(&s, &format!("[dns]\ndomain_name = \"{d}\"\n"));

    let (doc, err) = s.run(&["up"], 0);
    // The zone is used, not made: the CAA record and the certificate (us-east-1: one for both).
    assert_eq!(run_counts(&doc), (2, 0, 0), "{err}");
    let out = &doc["outputs"]["dns"];
    assert_eq!(out["zone_id"], zone.as_str());
    assert_eq!(out["zone_name"], parent.as_str());
    assert!(out.get("name_servers").is_none(), "{out}");
    assert_eq!(out["certificate_arn"], out["cdn_certificate_arn"]);
    let arn = out["certificate_arn"].as_str().expect("arn").to_owned();
    let cert = describe(&s, &arn);
    assert_eq!(names(&cert), sorted(vec![d.clone(), format!("origin.{d}")]));
    let after = records(&s, &zone);
    for (k, v) in &before {
        assert_eq!(after.get(k), Some(v), "{k:?} untouched");
    }
    let added: Vec<&(String, String)> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert_eq!(added.len(), 3, "CAA and two validation CNAMEs: {added:?}");
    assert!(added.contains(&&(d.clone(), "CAA".to_owned())));
    s.run(&["plan", "--detailed-exitcode"], 0);

    // Down removes our records only, and never the zone.
    let (doc, err) = s.run(&["down", "--yes"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 4), "{err}");
    assert_eq!(zones(&s, &parent), vec![zone.clone()]);
    assert_eq!(records(&s, &zone), before);
    assert!(certs_for(&s, "us-east-1", &d).is_empty());
    assert!(doc["outputs"].get("dns").is_none());
}

#[test]
fn someone_elses_caa_is_never_overwritten() {
    let s = Stack::new("hms-dns", "caa");
    let parent = domain(&s);
    let d = format!("hms.{parent}");
    let zone = s
        .block_on(
            r53(&s)
                .create_hosted_zone()
                .name(&parent)
                .caller_reference(format!("by-hand-{}", s.name))
                .send(),
        )
        .expect("zone")
        .hosted_zone()
        .expect("zone")
        .id()
        .to_owned();
    let batch = ChangeBatch::builder()
        .changes(upsert(
            &d,
            RrType::Caa,
            300,
            &["0 issue \"letsencrypt.org\""],
        ))
        .build()
        .expect("batch");
    s.block_on(
        r53(&s)
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(batch)
            .send(),
    )
    .expect("caa");
    write_config(&s, &format!("[dns]\ndomain_name = \"{d}\"\n"));
    let (_, err) = s.run(&["up"], 1);
    assert!(
        err.contains("CAA record set that hms-dns did not write")
            && err.contains("letsencrypt.org"),
        "{err}"
    );
    assert!(
        certs_for(&s, "us-east-1", &d).is_empty(),
        "nothing requested"
    );
    // Without a CAA of ours the domain is served.
    let (doc, err) = s.run(&["up", "--set", "dns.caa_issuers=[]"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "{err}");
    s.run(&["down", "--yes", "--set", "dns.caa_issuers=[]"], 0);
    let z = zone.trim_start_matches("/hostedzone/");
    assert_eq!(
        records(&s, z).get(&(d.clone(), "CAA".to_owned())),
        Some(&vec!["0 issue \"letsencrypt.org\"".to_owned()])
    );
}

/// A load balancer with an HTTPS listener on `cert` (what hms-ecs makes), in us-east-1.
fn listener_on(s: &Stack, cert: &str) -> (String, String) {
    let ec2 = aws_sdk_ec2::Client::new(&s.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    let vpc = s
        .block_on(ec2.create_vpc().cidr_block("10.77.0.0/16").send())
        .expect("vpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let subnets: Vec<String> = ["a", "b"]
        .iter()
        .enumerate()
        .map(|(i, az)| {
            s.block_on(
                ec2.create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(format!("10.77.{}.0/24", i + 1))
                    .availability_zone(format!("us-east-1{az}"))
                    .send(),
            )
            .expect("subnet")
            .subnet()
            .and_then(|x| x.subnet_id())
            .expect("subnet id")
            .to_owned()
        })
        .collect();
    let lb = s
        .block_on(
            elb.create_load_balancer()
                .name(&s.name)
                .set_subnets(Some(subnets))
                .send(),
        )
        .expect("lb")
        .load_balancers()[0]
        .load_balancer_arn()
        .expect("lb arn")
        .to_owned();
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, ProtocolEnum,
    };
    let listener = s
        .block_on(
            elb.create_listener()
                .load_balancer_arn(&lb)
                .protocol(ProtocolEnum::Https)
                .port(443)
                .certificates(Certificate::builder().certificate_arn(cert).build())
                .default_actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::FixedResponse)
                        .fixed_response_config(
                            FixedResponseActionConfig::builder()
                                .status_code("200")
                                .build(),
                        )
                        .build(),
                )
                .send(),
        )
        .expect("listener")
        .listeners()[0]
        .listener_arn()
        .expect("listener arn")
        .to_owned();
    (lb, listener)
}

fn listener_cert(s: &Stack, listener: &str) -> Option<String> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    s.block_on(elb.describe_listeners().listener_arns(listener).send())
        .expect("describe listener")
        .listeners()[0]
        .certificates()
        .first()
        .and_then(|c| c.certificate_arn())
        .map(str::to_owned)
}

#[test]
fn a_new_name_makes_a_new_certificate_and_the_old_one_goes_once_unused() {
    let s = Stack::new("hms-dns", "cbd");
    let d = domain(&s);
    let base = format!("[dns]\ndomain_name = \"{d}\"\ncreate_zone = true\n");
    write_config(&s, &base);
    let (doc, _) = s.run(&["up"], 0);
    let old = doc["outputs"]["dns"]["certificate_arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let (lb, listener) = listener_on(&s, &old);

    // A second alternative name: one new certificate; the old one is in use, so it stays (and says so).
    write_config(
        &s,
        &format!("{base}alternative_names = [\"www.{d}\", \"*.{d}\"]\n"),
    );
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 0), "{err}");
    assert!(
        err.contains("still in use by") && err.contains(&lb),
        "the kept certificate is named with its user: {err}"
    );
    let new = doc["outputs"]["dns"]["certificate_arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(certs_for(&s, "us-east-1", &d).len(), 2, "old and new");
    let n = describe(&s, &new);
    assert_eq!(n.status().map(|x| x.as_str()), Some("ISSUED"));
    assert_eq!(names(&n), {
        let mut v = vec![
            d.clone(),
            format!("*.{d}"),
            format!("origin.{d}"),
            format!("www.{d}"),
        ];
        v.sort();
        v
    });
    // Nothing to do while the old certificate is in use.
    s.run(&["plan", "--detailed-exitcode"], 0);
    assert_eq!(listener_cert(&s, &listener).as_deref(), Some(old.as_str()));

    // hms-ecs moves the listener (in one call: never without a certificate); then the old one goes.
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&s.sdk);
    s.block_on(
        elb.modify_listener()
            .listener_arn(&listener)
            .certificates(
                aws_sdk_elasticloadbalancingv2::types::Certificate::builder()
                    .certificate_arn(&new)
                    .build(),
            )
            .send(),
    )
    .expect("switch");
    let (_, err) = s.run(&["plan", "--detailed-exitcode"], 2);
    assert!(err.contains("superseded by"), "{err}");
    // Routine: no --allow-destroy for a superseded certificate nothing uses.
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 0, 1), "{err}");
    assert_eq!(certs_for(&s, "us-east-1", &d), vec![new.clone()]);
    s.run(&["plan", "--detailed-exitcode"], 0);

    // Down refuses while the listener uses the certificate, naming the load balancer; nothing is deleted.
    let (_, err) = s.run(&["down", "--yes"], 1);
    assert!(
        err.contains("in use") && err.contains(&lb) && err.contains(&new),
        "{err}"
    );
    assert_eq!(certs_for(&s, "us-east-1", &d), vec![new.clone()]);
    assert_eq!(zones(&s, &d).len(), 1);
    s.block_on(elb.delete_listener().listener_arn(&listener).send())
        .expect("delete listener");
    s.block_on(elb.delete_load_balancer().load_balancer_arn(&lb).send())
        .expect("delete lb");
    let (doc, err) = s.run(&["down", "--yes"], 0);
    // The certificate, 3 CNAMEs (the wildcard's is its base name's), the CAA and the zone.
    assert_eq!(run_counts(&doc).2, 6, "{err}");
    assert!(certs_for(&s, "us-east-1", &d).is_empty());
    assert!(zones(&s, &d).is_empty());
}

#[test]
fn killed_while_waiting_for_validation_resumes_without_a_second_certificate() {
    let s = Stack::new("hms-dns", "kill");
    let d = domain(&s);
    write_config(
        &s,
        &format!("[dns]\ndomain_name = \"{d}\"\ncreate_zone = true\n"),
    );
    let mut child = s
        .std_cmd(&["up"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // Wait until the run is waiting for ACM: the certificate is requested and its CNAME written.
    let start = Instant::now();
    let mut waiting = false;
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(zone) = zones(&s, &d).first() {
            // One CNAME for the domain, one for origin.<domain>.
            if records(&s, zone)
                .keys()
                .filter(|(_, t)| t == "CNAME")
                .count()
                == 2
            {
                waiting = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(40));
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(waiting, "the run never reached the wait");
    assert!(status.code().is_none(), "killed, not finished: {status:?}");
    let certs = certs_for(&s, "us-east-1", &d);
    assert_eq!(certs.len(), 1);
    let pending = describe(&s, &certs[0])
        .status()
        .map(|x| x.as_str().to_owned());

    let (doc, err) = s.run(&["up"], 0);
    let (created, _, _) = run_counts(&doc);
    assert_eq!(created, 0, "nothing made twice: {err}");
    if pending.as_deref() == Some("PENDING_VALIDATION") {
        assert!(
            err.contains("update") && err.contains("status"),
            "the wait is resumed: {err}"
        );
    }
    assert_eq!(
        certs_for(&s, "us-east-1", &d),
        certs,
        "no second certificate"
    );
    assert_eq!(zones(&s, &d).len(), 1, "no second zone");
    assert_eq!(doc["outputs"]["dns"]["validation_status"], "ISSUED");
    assert_eq!(doc["outputs"]["dns"]["certificate_arn"], certs[0].as_str());
    s.run(&["plan", "--detailed-exitcode"], 0);
    s.run(&["down", "--yes"], 0);
}

#[test]
fn bad_input_exits_64_and_creates_nothing() {
    let s = Stack::new("hms-dns", "bad");
    let d = domain(&s);
    let many: Vec<String> = (0..11).map(|i| format!("\"n{i}.{d}\"")).collect();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![format!("dns.domain_name=\"bad_name.{d}\"")],
            "not a valid DNS name",
        ),
        (
            vec![format!("dns.domain_name=\"*.{d}\"")],
            "the CDN serves the domain itself",
        ),
        (
            vec![
                format!("dns.domain_name=\"{d}\""),
                "dns.zone=\"other.example.net\"".into(),
            ],
            "outside the zone",
        ),
        (
            vec![
                format!("dns.domain_name=\"hms.{d}\""),
                format!("dns.zone=\"{d}\""),
                "dns.create_zone=true".into(),
            ],
            "dns.create_zone",
        ),
        (
            vec![
                format!("dns.domain_name=\"{d}\""),
                "dns.key_algorithm=\"RSA_1024\"".into(),
            ],
            "dns.key_algorithm",
        ),
        (
            vec![
                format!("dns.domain_name=\"{d}\""),
                format!("dns.alternative_names=[{}]", many.join(",")),
            ],
            "dns.alternative_names",
        ),
        (
            vec![
                format!("dns.domain_name=\"{d}\""),
                "dns.caa_issuers=[\"letsencrypt.org\"]".into(),
            ],
            "does not allow ACM",
        ),
    ];
    for (sets, want) in &cases {
        let mut args = vec!["up".to_owned()];
        for x in sets {
            args.push("--set".into());
            args.push(x.clone());
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (doc, err) = s.run(&a, 64);
        assert_eq!(err.trim().lines().count(), 1, "{a:?}: one line:\n{err}");
        assert!(err.contains(want), "{a:?}: {want:?} not in {err}");
        assert_eq!(doc["runs"][0]["ok"], false);
    }
    // No zone found and none to create (known only after a look-up): both settings are named.
    let (doc, err) = s.run(
        &["up", "--set", &format!("dns.domain_name=\"hms.{d}\"")],
        64,
    );
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("no public hosted zone")
            && last.contains("dns.create_zone = true")
            && last.contains("dns.zone"),
        "{err}"
    );
    assert_eq!(doc["runs"][0]["ok"], false);
    assert!(zones(&s, &d).is_empty());
    assert!(zones(&s, &format!("hms.{d}")).is_empty());
    assert!(certs_for(&s, "us-east-1", &d).is_empty());
    assert!(certs_for(&s, "us-east-1", &format!("hms.{d}")).is_empty());
    assert!(!state_file(&s).exists());
}

#[test]
fn an_ec_key_is_selectable_and_changing_it_makes_a_new_certificate() {
    let s = Stack::new("hms-dns", "ec");
    let d = domain(&s);
    let base = format!("[dns]\ndomain_name = \"{d}\"\ncreate_zone = true\n");
    write_config(&s, &format!("{base}key_algorithm = \"EC_prime256v1\"\n"));
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(
        run_counts(&doc),
        (3, 0, 0),
        "zone, CAA, one certificate: {err}"
    );
    let ec = doc["outputs"]["dns"]["certificate_arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    let c = describe(&s, &ec);
    assert_eq!(c.key_algorithm().map(|k| k.as_str()), Some("EC_prime256v1"));
    // Found again (ListCertificates lists EC keys only when asked to).
    s.run(&["plan", "--detailed-exitcode"], 0);
    write_config(&s, &base);
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (1, 0, 1), "{err}");
    let rsa = doc["outputs"]["dns"]["certificate_arn"]
        .as_str()
        .expect("arn")
        .to_owned();
    assert_ne!(rsa, ec);
    assert_eq!(
        describe(&s, &rsa).key_algorithm().map(|k| k.as_str()),
        Some("RSA_2048")
    );
    assert_eq!(certs_for(&s, "us-east-1", &d), vec![rsa]);
    s.run(&["down", "--yes"], 0);
}

#[test]
fn a_timeout_names_the_record_to_check_and_the_next_up_resumes() {
    let s = Stack::new("hms-dns", "slow");
    let d = domain(&s);
    write_config(
        &s,
        &format!("[dns]\ndomain_name = \"{d}\"\ncreate_zone = true\n"),
    );
    let (doc, err) = s.run(&["up", "--timeout", "1s"], 1);
    assert_eq!(doc["runs"][0]["ok"], false);
    let certs = certs_for(&s, "us-east-1", &d);
    assert_eq!(certs.len(), 1);
    let wanted = validation(&describe(&s, &certs[0]));
    assert!(err.contains("timed out"), "{err}");
    for name in wanted.keys() {
        assert!(err.contains(name.as_str()), "{name} not named: {err}");
    }
    let (doc, err) = s.run(&["up"], 0);
    assert_eq!(run_counts(&doc), (0, 1, 0), "{err}");
    assert_eq!(certs_for(&s, "us-east-1", &d), certs);
    assert_eq!(doc["outputs"]["dns"]["validation_status"], "ISSUED");
    s.run(&["down", "--yes"], 0);
}

//! hms-edge against the emulator: the distribution and everything around it, read back through the SDK.
//! The upstream document (outputs.dns, outputs.ecs) is built here from real emulator resources: a hosted
//! zone, an ACM certificate in us-east-1 and the origin secret in Secrets Manager.

use hms_tests::{run_counts, tag_cycle, Stack};
use serde_json::{json, Value};

const SECRET: &str = "origin-secret-value-7f3a9c";

/// A certificate ARN in us-east-1 (CloudFront only reads its ARN; hms-dns's tests cover ACM).
const CERT: &str =
    "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555";

/// The zone, certificate and secret the upstream tools would have made; returns the stack document.
fn upstream(s: &Stack) -> String {
    let domain = format!("{}.example.org", s.name);
    let (zone, cert, secret) = s.block_on(async {
        let r53 = aws_sdk_route53::Client::new(&s.sdk);
        let zone = r53
            .create_hosted_zone()
            .name(format!("{domain}."))
            .caller_reference(format!("test-{}", s.name))
            .send()
            .await
            .expect("zone");
        let zone = zone
            .hosted_zone()
            .expect("zone")
            .id()
            .trim_start_matches("/hostedzone/")
            .to_owned();
        let sm = aws_sdk_secretsmanager::Client::new(&s.sdk);
        let secret = sm
            .create_secret()
            .name(format!("{}/production/edge/origin-verify", s.name))
            .secret_string(SECRET)
            .send()
            .await
            .expect("secret")
            .arn()
            .expect("arn")
            .to_owned();
        (zone, CERT.to_owned(), secret)
    });
    json!({
        "hms": 1, "stack": s.name, "env": "production", "region": "us-east-1",
        "outputs": {
            "dns": {"domain_name": domain, "zone_id": zone, "cdn_certificate_arn": cert},
            "ecs": {
                "alb_arn": format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{}-alb/0123456789abcdef", s.name),
                "alb_dns_name": format!("{}-alb-1.us-east-1.elb.amazonaws.com", s.name),
                "alb_zone_id": "Z35SXDOTRQ7X7K",
                "origin_verify_secret_arn": secret,
            }
        },
        "runs": []
    })
    .to_string()
}

fn edge(doc: &Value) -> &Value {
    &doc["outputs"]["edge"]
}

fn cf(s: &Stack) -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&s.sdk)
}

/// The distributions carrying this stack's comment.
fn distributions(s: &Stack) -> Vec<String> {
    s.block_on(async {
        let out = cf(s).list_distributions().send().await.expect("list");
        out.distribution_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default()
            .iter()
            .filter(|d| d.comment() == format!("hms-edge {}/production", s.name))
            .map(|d| d.id().to_owned())
            .collect()
    })
}

fn state_text(s: &Stack) -> String {
    let mut all = String::new();
    for entry in walk(&s.state_dir()) {
        all.push_str(&std::fs::read_to_string(entry).unwrap_or_default());
    }
    all
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn up_builds_the_edge_converges_updates_and_goes_down() {
    let s = Stack::new("hms-edge", "edge");
    let doc = upstream(&s);
    let (out, err) = s.run_of("hms-edge", &["up"], &doc, 0);
    let e = edge(&out);
    let id = e["distribution_id"].as_str().expect("id").to_owned();
    let domain = format!("{}.example.org", s.name);
    assert_eq!(e["url"], format!("https://{domain}/"));
    assert_eq!(e["static_bucket"], format!("{}-static-production", s.name));
    // The secret's value appears nowhere we write.
    assert!(!out.to_string().contains(SECRET) && !err.contains(SECRET));
    assert!(!state_text(&s).contains(SECRET), "state holds the secret");

    let (cfg, rhp_id, oac_id) = s.block_on(async {
        let got = cf(&s)
            .get_distribution_config()
            .id(&id)
            .send()
            .await
            .expect("get");
        let cfg = got.distribution_config().expect("config").clone();
        let rhp = cfg
            .default_cache_behavior()
            .and_then(|d| d.response_headers_policy_id())
            .unwrap_or_default()
            .to_owned();
        let oac = cf(&s)
            .list_origin_access_controls()
            .send()
            .await
            .expect("oacs")
            .origin_access_control_list()
            .map(|l| l.items().to_vec())
            .unwrap_or_default()
            .into_iter()
            .find(|o| o.name() == format!("{}-static-oac", s.name))
            .map(|o| o.id().to_owned())
            .expect("oac");
        (cfg, rhp, oac)
    });
    assert_eq!(
        cfg.aliases().expect("aliases").items(),
        std::slice::from_ref(&domain)
    );
    let viewer = cfg.viewer_certificate().expect("viewer");
    assert!(viewer
        .acm_certificate_arn()
        .is_some_and(|a| a.contains(":acm:us-east-1:")));
    assert_eq!(
        viewer.ssl_support_method().map(|m| m.as_str()),
        Some("sni-only")
    );
    assert_eq!(
        viewer.minimum_protocol_version().map(|m| m.as_str()),
        Some("TLSv1.2_2021")
    );
    let origins = cfg.origins().expect("origins").items();
    let alb = origins
        .iter()
        .find(|o| o.id() == "alb")
        .expect("alb origin");
    assert_eq!(alb.domain_name(), format!("origin.{domain}"));
    let custom = alb.custom_origin_config().expect("custom");
    assert_eq!(custom.origin_protocol_policy().as_str(), "https-only");
    let headers = alb.custom_headers().expect("headers").items();
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].header_name(), "X-Origin-Verify");
    let bucket = origins
        .iter()
        .find(|o| o.id() == "static")
        .expect("bucket origin");
    assert_eq!(bucket.origin_access_control_id(), Some(oac_id.as_str()));
    let default = cfg.default_cache_behavior().expect("default");
    assert_eq!(
        default.cache_policy_id(),
        Some("4135ea2d-6df8-44a3-9df3-4b5a84be39ad")
    );
    assert_eq!(
        default.origin_request_policy_id(),
        Some("b689b0a8-53d0-40ab-baf2-68738e2966ac")
    );
    assert_eq!(default.allowed_methods().expect("methods").items().len(), 7);
    let behaviors = cfg.cache_behaviors().expect("behaviours").items();
    assert_eq!(behaviors.len(), 1);
    assert_eq!(behaviors[0].path_pattern(), "/static/*");
    assert_eq!(
        behaviors[0].cache_policy_id(),
        Some("658327ea-f89d-4fab-a63d-7e88639e58f6")
    );
    assert_eq!(behaviors[0].target_origin_id(), "static");
    assert_eq!(cfg.web_acl_id(), e["web_acl_arn"].as_str());
    assert_eq!(cfg.is_ipv6_enabled(), Some(true));
    assert_eq!(cfg.http_version().map(|h| h.as_str()), Some("http2and3"));
    assert_eq!(
        cfg.price_class().map(|p| p.as_str()),
        Some("PriceClass_100")
    );

    // The response headers policy.
    let sec = s.block_on(async {
        cf(&s)
            .get_response_headers_policy()
            .id(&rhp_id)
            .send()
            .await
            .expect("rhp")
            .response_headers_policy()
            .and_then(|p| p.response_headers_policy_config())
            .and_then(|c| c.security_headers_config())
            .cloned()
            .expect("security headers")
    });
    let hsts = sec.strict_transport_security().expect("hsts");
    assert_eq!(hsts.access_control_max_age_sec(), 31_536_000);
    assert_eq!(hsts.include_subdomains(), Some(true));
    assert_eq!(
        sec.frame_options().map(|f| f.frame_option().as_str()),
        Some("DENY")
    );
    assert_eq!(
        sec.referrer_policy().map(|r| r.referrer_policy().as_str()),
        Some("strict-origin-when-cross-origin")
    );
    assert!(sec.content_type_options().is_some());
    assert!(sec.content_security_policy().is_none(), "no default CSP");

    // The bucket policy allows only this distribution.
    let policy: Value = s.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&s.sdk)
                .force_path_style(true)
                .build(),
        );
        let p = s3
            .get_bucket_policy()
            .bucket(format!("{}-static-production", s.name))
            .send()
            .await
            .expect("policy");
        serde_json::from_str(p.policy().expect("text")).expect("json")
    });
    let allow: Vec<&Value> = policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .filter(|st| st["Effect"] == "Allow")
        .collect();
    assert_eq!(allow.len(), 1);
    assert_eq!(allow[0]["Principal"]["Service"], "cloudfront.amazonaws.com");
    let arn = allow[0]["Condition"]["StringEquals"]["AWS:SourceArn"]
        .as_str()
        .expect("source arn");
    assert!(arn.ends_with(&format!("distribution/{id}")), "{arn}");

    // A and AAAA aliases to the distribution, origin.<domain> to the ALB.
    let zone = serde_json::from_str::<Value>(&doc).expect("doc")["outputs"]["dns"]["zone_id"]
        .as_str()
        .expect("zone")
        .to_owned();
    let sets = s.block_on(async {
        aws_sdk_route53::Client::new(&s.sdk)
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .send()
            .await
            .expect("records")
            .resource_record_sets()
            .to_vec()
    });
    let dn = e["distribution_domain_name"].as_str().expect("domain");
    for kind in ["A", "AAAA"] {
        let r = sets
            .iter()
            .find(|r| r.name() == format!("{domain}.") && r.r#type().as_str() == kind)
            .unwrap_or_else(|| panic!("{kind} record"));
        let t = r.alias_target().expect("alias");
        assert_eq!(t.dns_name().trim_end_matches('.'), dn);
        assert_eq!(t.hosted_zone_id(), "Z2FDTNDATAQYW2");
    }
    assert!(sets
        .iter()
        .any(|r| r.name() == format!("origin.{domain}.") && r.alias_target().is_some()));

    // The regional web ACL is associated with the ALB.
    let alb_arn = serde_json::from_str::<Value>(&doc).expect("doc")["outputs"]["ecs"]["alb_arn"]
        .as_str()
        .expect("alb")
        .to_owned();
    let acl = s.block_on(async {
        aws_sdk_wafv2::Client::new(&s.sdk)
            .get_web_acl_for_resource()
            .resource_arn(&alb_arn)
            .send()
            .await
            .expect("for resource")
            .web_acl()
            .map(|w| w.name().to_owned())
    });
    assert_eq!(acl, Some(format!("{}-alb-web-acl", s.name)));

    // Converged: a second up creates and updates nothing, plan is 0.
    let (again, _) = s.run_of("hms-edge", &["up"], &doc, 0);
    assert_eq!(run_counts(&again), (0, 0, 0));
    let (_, err) = s.run_of("hms-edge", &["plan", "--detailed-exitcode"], &doc, 0);
    assert!(!err.contains(SECRET));

    // A CSP change is one update of the policy, with If-Match (the emulator checks it).
    let csp = "edge.content_security_policy=\"default-src 'self'\"";
    let (p, _) = s.run_of(
        "hms-edge",
        &["plan", "--detailed-exitcode", "--set", csp],
        &doc,
        2,
    );
    assert_eq!(run_counts(&p), (0, 1, 0));
    let (u, _) = s.run_of("hms-edge", &["up", "--set", csp], &doc, 0);
    assert_eq!(run_counts(&u), (0, 1, 0));
    // A behaviour added is one update of the distribution.
    let paths = "edge.static_paths=[\"/static/*\", \"/assets/*\"]";
    let (u, _) = s.run_of("hms-edge", &["up", "--set", csp, "--set", paths], &doc, 0);
    assert_eq!(run_counts(&u), (0, 1, 0));
    let n = s.block_on(async {
        cf(&s)
            .get_distribution_config()
            .id(&id)
            .send()
            .await
            .expect("get")
            .distribution_config()
            .and_then(|c| c.cache_behaviors().map(|b| b.items().len()))
    });
    assert_eq!(n, Some(2));

    // Down: disabled, deleted, nothing left.
    let (_, err) = s.run_of("hms-edge", &["down", "--yes"], &doc, 0);
    assert!(err.contains("disabling"), "{err}");
    assert!(distributions(&s).is_empty());
    let (p, _) = s.run_of("hms-edge", &["plan"], &doc, 0);
    assert_eq!(run_counts(&p).0, 13, "everything would be created again");
}

#[test]
fn tags_converge() {
    let s = Stack::new("hms-edge", "edgetag");
    let doc = upstream(&s);
    let (out, _) = s.run_of("hms-edge", &["up"], &doc, 0);
    let arn = s.block_on(async {
        let id = edge(&out)["distribution_id"]
            .as_str()
            .expect("id")
            .to_owned();
        cf(&s)
            .get_distribution()
            .id(id)
            .send()
            .await
            .expect("get")
            .distribution()
            .map(|d| d.arn().to_owned())
            .expect("arn")
    });
    let updated = tag_cycle(&s, "hms-edge", &doc, |v| {
        let tags = s.block_on(async {
            cf(&s)
                .list_tags_for_resource()
                .resource(&arn)
                .send()
                .await
                .expect("tags")
                .tags()
                .map(|t| t.items().to_vec())
                .unwrap_or_default()
        });
        let owner = tags
            .iter()
            .find(|t| t.key() == "owner")
            .and_then(|t| t.value());
        assert_eq!(owner, v);
    });
    assert!(
        updated >= 4,
        "bucket, distribution, two web ACLs, log group: {updated}"
    );
    s.run_of("hms-edge", &["down", "--yes"], &doc, 0);
}

#[test]
fn lost_state_and_a_killed_run_adopt_instead_of_duplicating() {
    let s = Stack::new("hms-edge", "edgeadopt");
    let doc = upstream(&s);
    s.run_of("hms-edge", &["up"], &doc, 0);
    std::fs::remove_dir_all(s.state_dir()).expect("rm state");
    let (again, err) = s.run_of("hms-edge", &["up"], &doc, 0);
    assert_eq!(run_counts(&again), (0, 0, 0), "{err}");
    assert_eq!(distributions(&s).len(), 1);
    // A run killed between CreateDistribution and the state write: the distribution is in AWS, not in
    // state, and (unlike a lost state) its tags might be missing; the caller reference finds it.
    let state = s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-edge.json");
    let mut st: Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state")).expect("json");
    st["resources"]
        .as_object_mut()
        .expect("resources")
        .remove("edge.distribution");
    std::fs::write(&state, st.to_string()).expect("write");
    let (again, _) = s.run_of("hms-edge", &["up"], &doc, 0);
    assert_eq!(run_counts(&again).0, 0);
    assert_eq!(distributions(&s).len(), 1);
    s.run_of("hms-edge", &["down", "--yes"], &doc, 0);
}

#[test]
fn a_static_bucket_with_objects_is_kept_without_force_empty() {
    let s = Stack::new("hms-edge", "edgefull");
    let doc = upstream(&s);
    s.run_of("hms-edge", &["up"], &doc, 0);
    let bucket = format!("{}-static-production", s.name);
    s.block_on(async {
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&s.sdk)
                .force_path_style(true)
                .build(),
        );
        s3.put_object()
            .bucket(&bucket)
            .key("static/app.js")
            .body(b"x".to_vec().into())
            .send()
            .await
            .expect("put");
    });
    let (_, err) = s.run_of("hms-edge", &["down", "--yes"], &doc, 1);
    assert!(err.contains("--force-empty"), "{err}");
    assert_eq!(distributions(&s).len(), 1, "nothing was deleted");
    s.run_of("hms-edge", &["down", "--yes", "--force-empty"], &doc, 0);
    assert!(distributions(&s).is_empty());
}

#[test]
fn bad_input_is_64_on_one_line_and_creates_nothing() {
    let s = Stack::new("hms-edge", "edgebad");
    let doc = upstream(&s);
    let no_dns = {
        let mut d: Value = serde_json::from_str(&doc).expect("doc");
        d["outputs"].as_object_mut().expect("outputs").remove("dns");
        d.to_string()
    };
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["--set", "edge.static_paths=[\"static/*\"]"],
            doc.as_str(),
            "edge.static_paths[0]",
        ),
        (
            vec!["--set", "edge.price_class=PriceClass_50"],
            doc.as_str(),
            "edge.price_class",
        ),
        (
            vec!["--set", "edge.waf.rate_limit=5"],
            doc.as_str(),
            "edge.waf.rate_limit",
        ),
        (
            vec![
                "--set",
                "edge.content_security_policy=\"default-src 'self';\\nimg-src *\"",
            ],
            doc.as_str(),
            "edge.content_security_policy",
        ),
        (vec![], no_dns.as_str(), "outputs.dns"),
        (
            vec![
                "--set",
                "edge.waf.managed_rule_groups=[\"AWSManagedRulesMadeUp\"]",
            ],
            doc.as_str(),
            "edge.waf.managed_rule_groups[0]",
        ),
    ];
    for (extra, stdin, key) in cases {
        let mut args = vec!["up"];
        args.extend(extra.iter().copied());
        let (_, err) = s.run_of("hms-edge", &args, stdin, 64);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(err.contains(key), "{args:?}: {err}");
    }
    assert!(distributions(&s).is_empty());
    assert!(!s
        .state_dir()
        .join(format!("{}-production", s.name))
        .join("hms-edge.json")
        .exists());
}

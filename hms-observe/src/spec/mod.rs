//! The desired alarms, topic, dashboard and X-Ray resources, decided from config and the upstream outputs
//! of hms-ecs and hms-db. Pure.
//!
//! Only what the stack document holds is watched: without `outputs.ecs` there are no service or load
//! balancer alarms, without `outputs.db` no database alarms.

use std::collections::BTreeMap;

use hms_core::contract::{SpecInput, Upstream};
use hms_core::tags::Tagger;
use hms_core::{Error, Result};
use serde::Deserialize;
use serde_json::Value;

/// `[observe]` as written in config; defaults are the reference stack.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveConfig {
    /// Addresses that get every alarm and its recovery by email (each confirms once).
    pub alarm_emails: Option<Vec<String>>,
    /// Seconds per evaluation period (default 300).
    pub period_seconds: Option<i64>,
    /// Periods in a row over the threshold before an alarm fires (default 2).
    pub evaluation_periods: Option<i64>,
    /// ECS service CPU, percent (default 80).
    pub service_cpu_percent: Option<f64>,
    /// ECS service memory, percent (default 80).
    pub service_memory_percent: Option<f64>,
    /// Target 5xx responses per period on the load balancer (default 10).
    pub alb_5xx_count: Option<f64>,
    /// Average target response time, seconds (default 1.0).
    pub alb_response_time_seconds: Option<f64>,
    /// Database CPU, percent (default 80).
    pub db_cpu_percent: Option<f64>,
    /// Free storage below this percentage of the allocated storage (default 10).
    pub db_free_storage_percent: Option<f64>,
    /// Database connections (default 100).
    pub db_connections: Option<f64>,
    /// Build the CloudWatch dashboard (default true).
    pub dashboard: Option<bool>,
    /// The X-Ray sampling rule.
    pub sampling: Option<SamplingConfig>,
    /// The X-Ray group's filter expression (default: the stack's ECS services).
    pub xray_group_filter: Option<String>,
}

/// `[observe.sampling]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    pub priority: Option<i64>,
    pub reservoir_size: Option<i64>,
    pub fixed_rate: Option<f64>,
}

/// What a metric is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Greater,
    Less,
}

impl Comparison {
    /// CloudWatch's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Greater => "GreaterThanThreshold",
            Comparison::Less => "LessThanThreshold",
        }
    }
}

/// One alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// Address key: `backend.cpu`, `alb.5xx`, `db.free_storage`.
    pub key: String,
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    /// `Average`, `Sum`, `Minimum`, `Maximum`.
    pub statistic: String,
    /// Dimension name → value (`None` while the value is only planned upstream).
    pub dimensions: Vec<(String, Option<String>)>,
    pub comparison: Comparison,
    pub threshold: f64,
    pub period: i32,
    pub evaluation_periods: i32,
    /// `missing`, `notBreaching`, `breaching`.
    pub treat_missing_data: String,
    /// Who produces the dimension values (for "known after …").
    pub producer: &'static str,
}

/// One ECS service as hms-ecs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub key: String,
    pub name: String,
}

/// The X-Ray sampling rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub name: String,
    pub priority: i32,
    pub reservoir_size: i32,
    pub fixed_rate: f64,
}

/// The desired observability resources.
#[derive(Debug, Clone)]
pub struct Spec {
    pub topic_name: String,
    pub emails: Vec<String>,
    pub alarms: Vec<Alarm>,
    /// `None`: no dashboard.
    pub dashboard: Option<String>,
    pub cluster: Option<String>,
    pub services: Vec<Service>,
    /// `app/<name>/<id>` (`None`: no load balancer, or only planned — see `alb_planned`).
    pub alb: Option<String>,
    pub alb_planned: bool,
    /// The database identifier (`None` without one).
    pub db: Option<String>,
    pub db_planned: bool,
    pub sampling: Sampling,
    pub group_name: String,
    pub group_filter: String,
    pub region: String,
    pub tagger: Tagger,
}

impl Spec {
    /// Tags of a resource.
    pub fn tags(&self, address: &str, name: &str) -> BTreeMap<String, String> {
        self.tagger.tags(address, Some(name))
    }
}

/// X-Ray rule and group names are at most 32 characters: longer ones keep their start and get a short
/// hash, so they stay unique and stable.
pub fn xray_name(name: &str) -> String {
    if name.len() <= 32 {
        return name.to_owned();
    }
    // FNV-1a: stable across Rust versions, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{}-{h:08x}", &name[..23])
}

/// The `app/<name>/<id>` part of an ALB ARN, CloudWatch's `LoadBalancer` dimension.
pub fn alb_dimension(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":loadbalancer/")?;
    rest.starts_with("app/").then(|| rest.to_owned())
}

fn email_ok(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && !domain.contains('@')
}

/// Builds the spec.
pub fn build(input: &SpecInput<'_>) -> Result<Spec> {
    let config = input.config;
    let cfg: ObserveConfig = config.section("observe")?;
    let tagger = input.tagger;
    let id = &tagger.id;

    let mut emails = cfg.alarm_emails.clone().unwrap_or_default();
    for (i, e) in emails.iter().enumerate() {
        if !email_ok(e) {
            return Err(config.invalid(
                &format!("observe.alarm_emails[{i}]"),
                format!("{e:?} is not an email address like oncall@hospital.example"),
            ));
        }
    }
    emails.sort();
    emails.dedup();

    let period = cfg.period_seconds.unwrap_or(300);
    // The ECS, ALB and RDS metrics are per minute: shorter periods would make high-resolution alarms that
    // sit in INSUFFICIENT_DATA.
    if !(period >= 60 && period % 60 == 0 && period <= 86400) {
        return Err(config.invalid(
            "observe.period_seconds",
            format!(
                "{period}: a multiple of 60 from 60 to 86400 (the watched metrics are per minute)"
            ),
        ));
    }
    let evaluation_periods = cfg.evaluation_periods.unwrap_or(2);
    if !(1..=100).contains(&evaluation_periods) || evaluation_periods * period > 86400 {
        return Err(config.invalid(
            "observe.evaluation_periods",
            format!("{evaluation_periods}: 1 or more, and periods × period_seconds at most one day (86400 s)"),
        ));
    }
    let percent = |key: &str, v: Option<f64>, default: f64| -> Result<f64> {
        let x = v.unwrap_or(default);
        if !(x > 0.0 && x < 100.0) {
            return Err(config.invalid(
                &format!("observe.{key}"),
                format!("{x}: a percentage between 0 and 100"),
            ));
        }
        Ok(x)
    };
    let positive = |key: &str, v: Option<f64>, default: f64| -> Result<f64> {
        let x = v.unwrap_or(default);
        if !(x > 0.0 && x.is_finite()) {
            return Err(config.invalid(&format!("observe.{key}"), format!("{x}: a number above 0")));
        }
        Ok(x)
    };
    let cpu = percent("service_cpu_percent", cfg.service_cpu_percent, 80.0)?;
    let memory = percent("service_memory_percent", cfg.service_memory_percent, 80.0)?;
    let alb_5xx = positive("alb_5xx_count", cfg.alb_5xx_count, 10.0)?;
    let alb_rt = positive(
        "alb_response_time_seconds",
        cfg.alb_response_time_seconds,
        1.0,
    )?;
    let db_cpu = percent("db_cpu_percent", cfg.db_cpu_percent, 80.0)?;
    let db_free = percent("db_free_storage_percent", cfg.db_free_storage_percent, 10.0)?;
    let db_conns = positive("db_connections", cfg.db_connections, 100.0)?;

    let sc = cfg.sampling.clone().unwrap_or_default();
    let priority = sc.priority.unwrap_or(100);
    if !(1..=9999).contains(&priority) {
        return Err(config.invalid(
            "observe.sampling.priority",
            format!("{priority}: X-Ray takes 1 to 9999 (lower wins; the Default rule is 10000)"),
        ));
    }
    let reservoir = sc.reservoir_size.unwrap_or(1);
    if !(0..=1_000_000).contains(&reservoir) {
        return Err(config.invalid(
            "observe.sampling.reservoir_size",
            format!("{reservoir}: traces per second, 0 or more"),
        ));
    }
    let rate = sc.fixed_rate.unwrap_or(0.05);
    if !(0.0..=1.0).contains(&rate) {
        return Err(config.invalid(
            "observe.sampling.fixed_rate",
            format!("{rate}: a fraction from 0 to 1 (0.05 = 5 %)"),
        ));
    }

    let base = Alarm {
        key: String::new(),
        name: String::new(),
        description: String::new(),
        namespace: String::new(),
        metric: String::new(),
        statistic: "Average".into(),
        dimensions: vec![],
        comparison: Comparison::Greater,
        threshold: 0.0,
        period: period as i32,
        evaluation_periods: evaluation_periods as i32,
        treat_missing_data: "missing".into(),
        producer: "hms-ecs",
    };
    let mut alarms = Vec::new();

    // ECS: the cluster and its services, when hms-ecs is part of the stack.
    let mut cluster = None;
    let mut services = Vec::new();
    let mut alb = None;
    let mut alb_planned = false;
    match input.optional("ecs") {
        Upstream::Absent => {}
        Upstream::Unknown => {
            return Err(Error::usage(
                "stdin: outputs.ecs is planned but holds nothing to watch; run 'hms-ecs plan | hms-observe plan'",
            ))
        }
        Upstream::Known(_) => {
            let name = input
                .upstream("ecs.cluster_name", "hms-ecs")?
                .and_then(Value::as_str)
                .ok_or_else(|| Error::usage("stdin: outputs.ecs.cluster_name is missing; run 'hms-ecs up | hms-observe up'"))?
                .to_owned();
            let svc = input.doc.output("ecs.services").and_then(Value::as_object);
            for (key, v) in svc.into_iter().flatten() {
                let n = v.get("name").and_then(Value::as_str).ok_or_else(|| {
                    Error::usage(format!(
                        "stdin: outputs.ecs.services.{key}.name is missing; run 'hms-ecs up | hms-observe up'"
                    ))
                })?;
                services.push(Service {
                    key: key.clone(),
                    name: n.to_owned(),
                });
            }
            services.sort_by(|a, b| a.key.cmp(&b.key));
            for s in &services {
                let dims = vec![
                    ("ClusterName".to_owned(), Some(name.clone())),
                    ("ServiceName".to_owned(), Some(s.name.clone())),
                ];
                // The reference design names the backend's CPU alarm `hms-cpu-utilization`.
                let cpu_name = if s.key == "backend" {
                    tagger.name("cpu-utilization")
                } else {
                    tagger.name(&format!("{}-cpu-utilization", s.key))
                };
                alarms.push(Alarm {
                    key: format!("{}.cpu", s.key),
                    name: cpu_name,
                    description: format!(
                        "ECS service {} CPU above {cpu} % for {evaluation_periods} × {period} s",
                        s.name
                    ),
                    namespace: "AWS/ECS".into(),
                    metric: "CPUUtilization".into(),
                    dimensions: dims.clone(),
                    threshold: cpu,
                    ..base.clone()
                });
                alarms.push(Alarm {
                    key: format!("{}.memory", s.key),
                    name: tagger.name(&format!("{}-memory-utilization", s.key)),
                    description: format!(
                        "ECS service {} memory above {memory} % for {evaluation_periods} × {period} s",
                        s.name
                    ),
                    namespace: "AWS/ECS".into(),
                    metric: "MemoryUtilization".into(),
                    dimensions: dims,
                    threshold: memory,
                    ..base.clone()
                });
            }
            match input.optional("ecs.alb_arn") {
                Upstream::Absent => {}
                Upstream::Unknown => alb_planned = true,
                Upstream::Known(v) => {
                    let arn = v.as_str().unwrap_or_default();
                    alb = Some(alb_dimension(arn).ok_or_else(|| {
                        Error::usage(format!(
                            "stdin: outputs.ecs.alb_arn = {v}: not an application load balancer ARN; run 'hms-ecs up | hms-observe up'"
                        ))
                    })?);
                }
            }
            if alb.is_some() || alb_planned {
                let dims = vec![("LoadBalancer".to_owned(), alb.clone())];
                alarms.push(Alarm {
                    key: "alb.5xx".into(),
                    name: tagger.name("alb-5xx"),
                    description: format!(
                        "more than {alb_5xx} target 5xx responses per {period} s on the load balancer"
                    ),
                    namespace: "AWS/ApplicationELB".into(),
                    metric: "HTTPCode_Target_5XX_Count".into(),
                    statistic: "Sum".into(),
                    dimensions: dims.clone(),
                    threshold: alb_5xx,
                    // No requests, no errors.
                    treat_missing_data: "notBreaching".into(),
                    ..base.clone()
                });
                alarms.push(Alarm {
                    key: "alb.response_time".into(),
                    name: tagger.name("alb-response-time"),
                    description: format!(
                        "average target response time above {alb_rt} s for {evaluation_periods} × {period} s"
                    ),
                    namespace: "AWS/ApplicationELB".into(),
                    metric: "TargetResponseTime".into(),
                    dimensions: dims,
                    threshold: alb_rt,
                    treat_missing_data: "notBreaching".into(),
                    ..base.clone()
                });
            }
            cluster = Some(name);
        }
    }

    // The database, when hms-db is part of the stack.
    let mut db = None;
    let mut db_planned = false;
    match input.optional("db") {
        Upstream::Absent => {}
        Upstream::Unknown => db_planned = true,
        Upstream::Known(_) => match input.optional("db.instance_id") {
            Upstream::Known(v) => db = v.as_str().map(str::to_owned),
            Upstream::Unknown => db_planned = true,
            Upstream::Absent => {}
        },
    }
    if db.is_some() || db_planned {
        let storage = match input.optional("db.allocated_storage") {
            Upstream::Known(v) => v.as_f64().filter(|s| *s > 0.0).ok_or_else(|| {
                Error::usage(format!(
                    "stdin: outputs.db.allocated_storage = {v}: not a size in GiB; run 'hms-db up | hms-observe {}'",
                    input.command
                ))
            })?,
            // `down` deletes what exists; it needs no upstream value.
            _ if input.is_down() => 100.0,
            _ => {
                return Err(Error::usage(format!(
                    "needs outputs.db.allocated_storage (the free-storage alarm is a share of it) — run 'hms-db up | hms-observe {}'",
                    input.command
                )))
            }
        };
        let dims = vec![("DBInstanceIdentifier".to_owned(), db.clone())];
        let db_base = Alarm {
            producer: "hms-db",
            namespace: "AWS/RDS".into(),
            dimensions: dims,
            ..base.clone()
        };
        let free_bytes = (storage * 1024.0 * 1024.0 * 1024.0 * db_free / 100.0).round();
        alarms.push(Alarm {
            key: "db.cpu".into(),
            name: tagger.name("db-cpu-utilization"),
            description: format!(
                "database CPU above {db_cpu} % for {evaluation_periods} × {period} s"
            ),
            metric: "CPUUtilization".into(),
            threshold: db_cpu,
            ..db_base.clone()
        });
        alarms.push(Alarm {
            key: "db.free_storage".into(),
            name: tagger.name("db-free-storage"),
            description: format!(
                "database free storage below {db_free} % of {storage} GiB ({free_bytes} bytes)"
            ),
            metric: "FreeStorageSpace".into(),
            statistic: "Minimum".into(),
            comparison: Comparison::Less,
            threshold: free_bytes,
            ..db_base.clone()
        });
        alarms.push(Alarm {
            key: "db.connections".into(),
            name: tagger.name("db-connections"),
            description: format!(
                "more than {db_conns} database connections for {evaluation_periods} × {period} s"
            ),
            metric: "DatabaseConnections".into(),
            statistic: "Maximum".into(),
            threshold: db_conns,
            ..db_base
        });
    }

    let group_filter = match &cfg.xray_group_filter {
        Some(f) => {
            if f.trim().is_empty() || f.len() > 2000 {
                return Err(config.invalid(
                    "observe.xray_group_filter",
                    "an X-Ray filter expression of 1 to 2000 characters, like service(\"hms-backend\")",
                ));
            }
            f.clone()
        }
        None if !services.is_empty() => services
            .iter()
            .map(|s| format!("service(\"{}\")", s.name))
            .collect::<Vec<_>>()
            .join(" OR "),
        None => format!("annotation.hms_stack = \"{}\"", id.stack),
    };
    let stack_env = format!("{}-{}", id.stack, id.env);
    Ok(Spec {
        topic_name: format!("{stack_env}-alarms"),
        emails,
        alarms,
        dashboard: cfg.dashboard.unwrap_or(true).then(|| stack_env.clone()),
        cluster,
        services,
        alb,
        alb_planned,
        db,
        db_planned,
        sampling: Sampling {
            name: xray_name(&tagger.name("sampling")),
            priority: priority as i32,
            reservoir_size: reservoir as i32,
            fixed_rate: rate,
        },
        group_name: xray_name(&stack_env),
        group_filter,
        region: id.region.clone(),
        tagger: tagger.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_xray_names_stay_within_32_and_stable() {
        assert_eq!(xray_name("hms-sampling"), "hms-sampling");
        let long = "averyveryverylongstack-staging-sampling";
        let a = xray_name(long);
        assert_eq!(a.len(), 32);
        assert_eq!(a, xray_name(long));
        assert_ne!(a, xray_name("averyveryverylongstack-stagin2-sampling"));
    }

    #[test]
    fn alb_dimension_from_arn() {
        assert_eq!(
            alb_dimension(
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/hms-alb/50dc6c495c0c9188"
            )
            .as_deref(),
            Some("app/hms-alb/50dc6c495c0c9188")
        );
        assert_eq!(alb_dimension("arn:aws:s3:::x"), None);
    }

    #[test]
    fn emails() {
        assert!(email_ok("oncall@hospital.example"));
        for bad in [
            "oncall",
            "a@b",
            "@x.org",
            "a@.org",
            "a b@x.org",
            "a@x.org,b@y.org",
        ] {
            assert!(!email_ok(bad), "{bad}");
        }
    }
}

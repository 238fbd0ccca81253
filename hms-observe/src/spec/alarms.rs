//! The alarms: thresholds from config, and one set of alarms per watched resource — each ECS service's CPU
//! (`hms-cpu-utilization` for the backend) and memory, the load balancer's target 5xx count and response
//! time, the database's CPU, free storage and connections.

use hms_core::config::Config;
use hms_core::tags::Tagger;
use hms_core::Result;

use super::upstream::{Cache, Certificate, Db, Dim, Service, Watched};
use super::ObserveConfig;

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

/// The thresholds and evaluation, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub period: i64,
    pub evaluation_periods: i64,
    pub cpu: f64,
    pub memory: f64,
    pub alb_5xx: f64,
    pub alb_response_time: f64,
    pub db_cpu: f64,
    pub db_free_percent: f64,
    pub db_connections: f64,
    pub cache_cpu: f64,
    pub cache_memory: f64,
    pub cache_evictions: f64,
    pub cache_connections: f64,
    pub cache_lag: f64,
    pub certificate_days: f64,
}

impl Limits {
    /// From `[observe]`, with the reference stack's defaults.
    pub fn from_config(config: &Config, cfg: &ObserveConfig) -> Result<Self> {
        let period = cfg.period_seconds.unwrap_or(300);
        // The ECS, ALB and RDS metrics are per minute: shorter periods would make high-resolution alarms
        // that sit in INSUFFICIENT_DATA.
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
                return Err(
                    config.invalid(&format!("observe.{key}"), format!("{x}: a number above 0"))
                );
            }
            Ok(x)
        };
        Ok(Limits {
            period,
            evaluation_periods,
            cpu: percent("service_cpu_percent", cfg.service_cpu_percent, 80.0)?,
            memory: percent("service_memory_percent", cfg.service_memory_percent, 80.0)?,
            alb_5xx: positive("alb_5xx_count", cfg.alb_5xx_count, 10.0)?,
            alb_response_time: positive(
                "alb_response_time_seconds",
                cfg.alb_response_time_seconds,
                1.0,
            )?,
            db_cpu: percent("db_cpu_percent", cfg.db_cpu_percent, 80.0)?,
            db_free_percent: percent("db_free_storage_percent", cfg.db_free_storage_percent, 10.0)?,
            db_connections: positive("db_connections", cfg.db_connections, 100.0)?,
            cache_cpu: percent("cache_cpu_percent", cfg.cache_cpu_percent, 75.0)?,
            cache_memory: percent("cache_memory_percent", cfg.cache_memory_percent, 80.0)?,
            cache_evictions: positive("cache_evictions", cfg.cache_evictions, 100.0)?,
            cache_connections: positive("cache_connections", cfg.cache_connections, 5000.0)?,
            cache_lag: positive(
                "cache_replication_lag_seconds",
                cfg.cache_replication_lag_seconds,
                30.0,
            )?,
            certificate_days: certificate_days(config, cfg.certificate_expiry_days)?,
        })
    }

    /// "for 2 × 300 s".
    fn sustained(&self) -> String {
        format!("for {} × {} s", self.evaluation_periods, self.period)
    }

    /// What every alarm shares.
    fn base(&self) -> Alarm {
        Alarm {
            key: String::new(),
            name: String::new(),
            description: String::new(),
            namespace: String::new(),
            metric: String::new(),
            statistic: "Average".into(),
            dimensions: vec![],
            comparison: Comparison::Greater,
            threshold: 0.0,
            period: self.period as i32,
            evaluation_periods: self.evaluation_periods as i32,
            treat_missing_data: "missing".into(),
            producer: "hms-ecs",
        }
    }
}

/// Days before expiry: ACM renews a DNS-validated certificate 60 days ahead, so an alarm between 1 and
/// 59 days means its renewal is stuck.
fn certificate_days(config: &Config, v: Option<f64>) -> Result<f64> {
    let days = v.unwrap_or(30.0);
    if !(1.0..60.0).contains(&days) || days.fract() != 0.0 {
        return Err(config.invalid(
            "observe.certificate_expiry_days",
            format!("{days}: whole days from 1 to 59 (ACM renews 60 days before expiry; an alarm after that means renewal is stuck)"),
        ));
    }
    Ok(days)
}

/// Every alarm on what is watched: the services', the load balancer's, the database's, the cache's and
/// the certificates'; with what the operator should know of those not made.
pub fn alarms(tagger: &Tagger, l: &Limits, w: &Watched) -> (Vec<Alarm>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    if let Some(cluster) = &w.cluster {
        for s in &w.services {
            out.extend(service(tagger, l, cluster, s));
        }
    }
    if let Some(lb) = &w.alb {
        out.extend(alb(tagger, l, lb));
    }
    if let Some(db) = &w.db {
        out.extend(database(tagger, l, db));
    }
    match &w.cache {
        Some(Cache::Members(members)) => {
            for (i, m) in members.iter().enumerate() {
                out.extend(cache_member(l, m, i > 0));
            }
        }
        Some(Cache::Planned) => notes.push(String::from(
            "the cache alarms (one set per member cache cluster) are planned once 'hms-cache up' reports outputs.cache.member_clusters",
        )),
        None => {}
    }
    for c in &w.certificates {
        if c.region == tagger.id.region {
            out.push(certificate(tagger, l, c));
        } else {
            notes.push(format!(
                "no DaysToExpiry alarm on the {} certificate: ACM publishes it in {}, and hms-observe alarms in {} only; watch it there or run the stack in {}",
                c.key, c.region, tagger.id.region, c.region
            ));
        }
    }
    (out, notes)
}

/// A member cache cluster's alarms; `replica` adds the replication lag (a primary has none).
fn cache_member(l: &Limits, member: &str, replica: bool) -> Vec<Alarm> {
    let base = Alarm {
        producer: "hms-cache",
        namespace: "AWS/ElastiCache".into(),
        dimensions: vec![("CacheClusterId".to_owned(), Some(member.to_owned()))],
        ..l.base()
    };
    let key = |k: &str| format!("cache.{member}.{k}");
    let name = |k: &str| format!("{member}-{k}");
    let mut out = vec![
        Alarm {
            key: key("cpu"),
            name: name("engine-cpu"),
            description: format!(
                "cache {member} engine CPU above {} % {}",
                l.cache_cpu,
                l.sustained()
            ),
            metric: "EngineCPUUtilization".into(),
            threshold: l.cache_cpu,
            ..base.clone()
        },
        Alarm {
            key: key("memory"),
            name: name("memory"),
            description: format!(
                "cache {member} memory above {} % of maxmemory {}",
                l.cache_memory,
                l.sustained()
            ),
            metric: "DatabaseMemoryUsagePercentage".into(),
            statistic: "Maximum".into(),
            threshold: l.cache_memory,
            ..base.clone()
        },
        Alarm {
            key: key("evictions"),
            name: name("evictions"),
            description: format!(
                "cache {member} evicted more than {} keys per {} s",
                l.cache_evictions, l.period
            ),
            metric: "Evictions".into(),
            statistic: "Sum".into(),
            threshold: l.cache_evictions,
            treat_missing_data: "notBreaching".into(),
            ..base.clone()
        },
        Alarm {
            key: key("connections"),
            name: name("connections"),
            description: format!(
                "more than {} client connections to cache {member} {}",
                l.cache_connections,
                l.sustained()
            ),
            metric: "CurrConnections".into(),
            statistic: "Maximum".into(),
            threshold: l.cache_connections,
            ..base.clone()
        },
    ];
    if replica {
        out.push(Alarm {
            key: key("replication_lag"),
            name: name("replication-lag"),
            description: format!(
                "cache replica {member} more than {} s behind the primary {}",
                l.cache_lag,
                l.sustained()
            ),
            metric: "ReplicationLag".into(),
            statistic: "Maximum".into(),
            threshold: l.cache_lag,
            // After a failover this member may be the primary, which reports no lag.
            treat_missing_data: "notBreaching".into(),
            ..base
        });
    }
    out
}

/// A certificate's days to expiry, read once a day (ACM publishes it daily).
fn certificate(tagger: &Tagger, l: &Limits, c: &Certificate) -> Alarm {
    // Daily, whatever the other alarms' period: one day, one evaluation.
    Alarm {
        key: format!("certificate.{}", c.key),
        name: tagger.name(&format!("{}-certificate-expiry", c.key)),
        description: format!(
            "the {} certificate expires in fewer than {} days: its ACM renewal is stuck (check its validation record)",
            c.key, l.certificate_days
        ),
        producer: "hms-dns",
        namespace: "AWS/CertificateManager".into(),
        metric: "DaysToExpiry".into(),
        statistic: "Minimum".into(),
        dimensions: vec![("CertificateArn".to_owned(), c.arn.known())],
        comparison: Comparison::Less,
        threshold: l.certificate_days,
        period: 86400,
        evaluation_periods: 1,
        treat_missing_data: "missing".into(),
    }
}

fn service(tagger: &Tagger, l: &Limits, cluster: &str, s: &Service) -> [Alarm; 2] {
    let dims = vec![
        ("ClusterName".to_owned(), Some(cluster.to_owned())),
        ("ServiceName".to_owned(), Some(s.name.clone())),
    ];
    // The reference design names the backend's CPU alarm `hms-cpu-utilization`.
    let cpu_name = if s.key == "backend" {
        tagger.name("cpu-utilization")
    } else {
        tagger.name(&format!("{}-cpu-utilization", s.key))
    };
    let base = l.base();
    [
        Alarm {
            key: format!("{}.cpu", s.key),
            name: cpu_name,
            description: format!(
                "ECS service {} CPU above {} % {}",
                s.name,
                l.cpu,
                l.sustained()
            ),
            namespace: "AWS/ECS".into(),
            metric: "CPUUtilization".into(),
            dimensions: dims.clone(),
            threshold: l.cpu,
            ..base.clone()
        },
        Alarm {
            key: format!("{}.memory", s.key),
            name: tagger.name(&format!("{}-memory-utilization", s.key)),
            description: format!(
                "ECS service {} memory above {} % {}",
                s.name,
                l.memory,
                l.sustained()
            ),
            namespace: "AWS/ECS".into(),
            metric: "MemoryUtilization".into(),
            dimensions: dims,
            threshold: l.memory,
            ..base
        },
    ]
}

fn alb(tagger: &Tagger, l: &Limits, lb: &Dim) -> [Alarm; 2] {
    let dims = vec![("LoadBalancer".to_owned(), lb.known())];
    let base = Alarm {
        namespace: "AWS/ApplicationELB".into(),
        dimensions: dims,
        // No requests, no errors.
        treat_missing_data: "notBreaching".into(),
        ..l.base()
    };
    [
        Alarm {
            key: "alb.5xx".into(),
            name: tagger.name("alb-5xx"),
            description: format!(
                "more than {} target 5xx responses per {} s on the load balancer",
                l.alb_5xx, l.period
            ),
            metric: "HTTPCode_Target_5XX_Count".into(),
            statistic: "Sum".into(),
            threshold: l.alb_5xx,
            ..base.clone()
        },
        Alarm {
            key: "alb.response_time".into(),
            name: tagger.name("alb-response-time"),
            description: format!(
                "average target response time above {} s {}",
                l.alb_response_time,
                l.sustained()
            ),
            metric: "TargetResponseTime".into(),
            threshold: l.alb_response_time,
            ..base
        },
    ]
}

fn database(tagger: &Tagger, l: &Limits, db: &Db) -> [Alarm; 3] {
    let base = Alarm {
        producer: "hms-db",
        namespace: "AWS/RDS".into(),
        dimensions: vec![("DBInstanceIdentifier".to_owned(), db.id.known())],
        ..l.base()
    };
    let storage = db.storage_gib;
    let free_bytes = (storage * 1024.0 * 1024.0 * 1024.0 * l.db_free_percent / 100.0).round();
    [
        Alarm {
            key: "db.cpu".into(),
            name: tagger.name("db-cpu-utilization"),
            description: format!("database CPU above {} % {}", l.db_cpu, l.sustained()),
            metric: "CPUUtilization".into(),
            threshold: l.db_cpu,
            ..base.clone()
        },
        Alarm {
            key: "db.free_storage".into(),
            name: tagger.name("db-free-storage"),
            description: format!(
                "database free storage below {} % of {storage} GiB ({free_bytes} bytes)",
                l.db_free_percent
            ),
            metric: "FreeStorageSpace".into(),
            statistic: "Minimum".into(),
            comparison: Comparison::Less,
            threshold: free_bytes,
            ..base.clone()
        },
        Alarm {
            key: "db.connections".into(),
            name: tagger.name("db-connections"),
            description: format!(
                "more than {} database connections {}",
                l.db_connections,
                l.sustained()
            ),
            metric: "DatabaseConnections".into(),
            statistic: "Maximum".into(),
            threshold: l.db_connections,
            ..base
        },
    ]
}

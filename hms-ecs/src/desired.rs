//! Decided shapes that `plan` compares and `observe` reads back in the same form: a task definition's
//! canonical content and its hash (what a service runs), a scaling policy's configuration, the scalable
//! target's resource id. Pure; imported by both, so that neither imports the other.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::spec::{Service, Spec};

/// A value known only after an upstream tool's `up`, as the plan shows it.
pub fn unknown(v: &Option<String>, producer: &str) -> String {
    v.clone()
        .unwrap_or_else(|| format!("(known after {producer} up)"))
}

/// A container's environment and its secrets (name → the `valueFrom` reference), known or as the plan
/// shows them: the service's own variables, the database's for the backend (hms-db) and the cache's
/// (hms-cache, when the stack has it). Passwords and tokens are references to their secrets, never values.
pub fn container_env(
    spec: &Spec,
    s: &Service,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut env = s.environment.clone();
    let mut secrets = BTreeMap::new();
    if s.database {
        match &spec.database {
            Some(db) => {
                env.insert("DB_HOST".into(), db.host.clone());
                env.insert("DB_PORT".into(), db.port.clone());
                env.insert("DB_NAME".into(), db.name.clone());
                env.insert("DB_USER".into(), db.user.clone());
                // The managed secret's password field; ECS resolves it at task start.
                secrets.insert(
                    "DB_PASSWORD".into(),
                    format!("{}:password::", db.secret_arn),
                );
            }
            None => {
                env.insert("DB_HOST".into(), "(known after hms-db up)".into());
            }
        }
    }
    if let (true, Some(cache)) = (s.cache, &spec.cache) {
        env.insert("REDIS_HOST".into(), unknown(&cache.host, "hms-cache"));
        env.insert("REDIS_PORT".into(), unknown(&cache.port, "hms-cache"));
        env.insert("REDIS_TLS".into(), cache.tls.to_string());
        // The AUTH secret's string is the bare token: the whole secret is the value.
        // Pinned to its current version (`ARN:json-key:stage:version`, key and stage empty): a rotated
        // token changes the task definition, and the services roll onto it.
        let reference = match (&cache.secret_arn, &cache.secret_version) {
            (Some(arn), Some(version)) => format!("{arn}:::{version}"),
            (arn, _) => unknown(arn, "hms-cache"),
        };
        secrets.insert("REDIS_AUTH".into(), reference);
    }
    (env, secrets)
}

/// The task definition a service should run, in the canonical form that is compared and hashed.
pub fn task_content(spec: &Spec, s: &Service) -> Value {
    let (env, secrets) = container_env(spec, s);
    json!({
        "family": s.name,
        "cpu": s.cpu.to_string(),
        "memory": s.memory.to_string(),
        "network_mode": "awsvpc",
        "requires": "FARGATE",
        "execution_role": unknown(&spec.execution_role_arn, "hms-security"),
        "task_role": unknown(&s.task_role_arn, "hms-security"),
        "container": {
            "name": s.key,
            "image": s.image,
            "port": s.port,
            "environment": env,
            "secrets": secrets,
            "log_group": s.log_group,
            "region": spec.region,
            "log_mode": LOG_MODE,
            "log_buffer": LOG_BUFFER,
            "health_check": s.container_health_check,
            "read_only_root": s.read_only_root,
            "scratch": s.read_only_root.then_some(SCRATCH_PATH),
        }
    })
}

/// The awslogs driver does not block the application when CloudWatch Logs is slow: lines wait in a
/// bounded buffer (and the oldest are dropped past it) instead.
pub const LOG_MODE: &str = "non-blocking";
/// The awslogs buffer in non-blocking mode.
pub const LOG_BUFFER: &str = "25m";
/// Where a read-only container gets its writable scratch volume.
pub const SCRATCH_PATH: &str = "/tmp";
/// The task's scratch volume (Fargate ephemeral storage).
pub const SCRATCH_VOLUME: &str = "scratch";

/// A short, stable hash of a task definition's content (what a service runs).
pub fn content_hash(v: &Value) -> String {
    let text = hms_core::policy::normalize(v).to_string();
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("{h:016x}")
}

/// The metric of a target-tracking policy on average CPU.
pub const CPU_METRIC: &str = "ECSServiceAverageCPUUtilization";
/// The metric of a target-tracking policy on average memory.
pub const MEMORY_METRIC: &str = "ECSServiceAverageMemoryUtilization";

/// A target-tracking policy's configuration in the compared form.
pub fn policy_config(metric: &str, target: f64, scale_in: i32, scale_out: i32) -> Value {
    json!({"metric": metric, "target": target, "scale_in_cooldown": scale_in, "scale_out_cooldown": scale_out})
}

/// The Application Auto Scaling resource id of a service: `service/<cluster>/<service>`.
pub fn scaling_resource(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The origin-verify secret's values as observe read them, hashed ([`crate::secret::short_hash`]): the
/// current one, and the previous one while a rotation is under way. Never the values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginHashes {
    pub current: Option<String>,
    pub previous: Option<String>,
}

/// Shown for the secret's value before the secret exists (apply reads the value it made).
pub const NEW_SECRET: &str = "(known after the secret is made)";

/// A listener rule's header condition in the compared form: `null` without `ecs.origin_verify`, else the
/// header's name and the sorted hashes of the values it accepts.
pub fn header_condition(spec: &Spec, origin: &OriginHashes) -> Value {
    if spec.origin_secret.is_none() {
        return Value::Null;
    }
    let mut values: Vec<String> = match &origin.current {
        None => vec![NEW_SECRET.to_owned()],
        Some(c) => std::iter::once(c.clone())
            .chain(origin.previous.clone())
            .collect(),
    };
    values.sort();
    values.dedup();
    json!({"name": crate::secret::HEADER, "values_sha256": values})
}

/// A service's listener rule as (priority, path pattern): its own path, or with `ecs.origin_verify` the
/// default service's catch-all at the lowest priority; `None` when it has no rule (the listener's
/// default action forwards to it).
pub fn rule_route(spec: &Spec, s: &Service) -> Option<(i32, String)> {
    match &s.path {
        Some(p) => Some((s.priority, p.clone())),
        None if spec.origin_secret.is_some() => Some((
            crate::spec::DEFAULT_RULE_PRIORITY,
            crate::spec::DEFAULT_RULE_PATH.to_owned(),
        )),
        None => None,
    }
}

/// The prefix of the load balancer's access logs in the log bucket.
pub const ALB_LOG_PREFIX: &str = "alb";

/// The prefix under which S3 server access logs of the stack's buckets go (hms-backup writes
/// `s3/<bucket>/`).
pub const S3_LOG_PREFIX: &str = "s3";

/// The Elastic Load Balancing account that delivers access logs in `region`, for the regions that have
/// one (those opened before August 2022); the newer regions deliver as the service principal
/// `logdelivery.elasticloadbalancing.amazonaws.com`.
pub fn elb_log_account(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-1" => "127311923021",
        "us-east-2" => "033677994240",
        "us-west-1" => "027434742980",
        "us-west-2" => "797873946194",
        "af-south-1" => "098369216593",
        "ap-east-1" => "754344448648",
        "ap-southeast-3" => "589379963580",
        "ap-south-1" => "718504428378",
        "ap-northeast-3" => "383597477331",
        "ap-northeast-2" => "600734575887",
        "ap-southeast-1" => "114774131450",
        "ap-southeast-2" => "783225319266",
        "ap-northeast-1" => "582318560864",
        "ca-central-1" => "985666609251",
        "eu-central-1" => "054676820928",
        "eu-west-1" => "156460612806",
        "eu-west-2" => "652711504416",
        "eu-south-1" => "635631232127",
        "eu-west-3" => "009996457667",
        "eu-north-1" => "897822967062",
        "me-south-1" => "076674570225",
        "sa-east-1" => "507241528517",
        "us-gov-west-1" => "048591011584",
        "us-gov-east-1" => "190560391635",
        _ => return None,
    })
}

/// The log bucket's policy: the load balancer's log delivery may write under `alb/AWSLogs/<account>/`,
/// S3's server access logging of this account's buckets under `s3/`, and nothing reaches it without TLS.
pub fn log_bucket_policy(spec: &Spec) -> Value {
    let b = &spec.log_bucket;
    let account = unknown(&spec.account, "hms-security");
    let elb = match elb_log_account(&spec.region) {
        Some(id) => json!({"AWS": format!("arn:aws:iam::{id}:root")}),
        None => json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "LoadBalancerAccessLogs",
                "Effect": "Allow",
                "Principal": elb,
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{b}/{ALB_LOG_PREFIX}/AWSLogs/{account}/*"),
            },
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{b}/{S3_LOG_PREFIX}/*"),
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    })
}

/// The log bucket's lifecycle in the compared form (observe reads it back the same way): log objects
/// and their earlier versions expire after `ecs.log_bucket_days`, unfinished uploads after 7 days.
pub fn log_bucket_lifecycle(days: i32) -> Value {
    json!([{
        "id": "expire-logs",
        "enabled": true,
        "expiration_days": days,
        "noncurrent_days": days,
        "abort_multipart_days": 7,
    }])
}

/// The load balancer's access-log attributes in the compared form.
pub fn access_logs(spec: &Spec) -> Value {
    if spec.access_logs {
        json!({"enabled": true, "bucket": spec.log_bucket, "prefix": ALB_LOG_PREFIX})
    } else {
        json!({"enabled": false})
    }
}

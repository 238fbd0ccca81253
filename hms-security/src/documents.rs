//! The policy documents hms-security writes: the ECS trust policy, the roles' inline policies and the key
//! policies. Pure. A document that names a resource made in the same run holds the placeholder
//! [`Addr::arn_ref`] until its ARN is known; [`render`] fills in the ARNs known so far (the plan, from what
//! was found; apply, from what was recorded).

use serde_json::{json, Value};

use crate::addr::{arn_ref_target, Addr};
use crate::spec::Spec;

/// Replaces `${address.arn}` placeholders with the ARNs `arn` knows.
pub fn render(doc: &Value, arn: &dyn Fn(&str) -> Option<String>) -> Value {
    match doc {
        Value::String(s) => match arn_ref_target(s) {
            Some(address) => arn(address).map(Value::from).unwrap_or_else(|| doc.clone()),
            None => doc.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, arn)).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), render(v, arn))).collect())
        }
        other => other.clone(),
    }
}

/// Trust policy for ECS tasks, limited to this account.
pub fn ecs_trust(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "ecs-tasks.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
}

/// Trust policy for RDS enhanced monitoring, limited to this account (confused-deputy protection).
pub fn monitoring_trust(account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
}

/// Trust policy for S3 replication of the backup bucket: S3 of this account, for that bucket only.
pub fn replication_trust(spec: &Spec, account: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": format!("arn:aws:s3:::{}", spec.backup_bucket)}
            }
        }]
    })
}

/// The replication role's inline policy: read the backup bucket's configuration and object versions,
/// write replicas into the replica bucket, decrypt with the backups key and encrypt with the replica key
/// (each through S3 of its region only).
pub fn replication_policy(spec: &Spec, replica_region: &str) -> Value {
    let source = format!("arn:aws:s3:::{}", spec.backup_bucket);
    let replica = format!("arn:aws:s3:::{}", spec.replica_bucket());
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheBackupBucket",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source
            },
            {
                "Sid": "ReadBackupVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                    "s3:GetObjectRetention",
                    "s3:GetObjectLegalHold"
                ],
                "Resource": format!("{source}/*")
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                "Resource": format!("{replica}/*")
            },
            {
                "Sid": "DecryptBackups",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": Addr::key("backups").arn_ref(),
                "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{}.amazonaws.com", spec.region)}}
            },
            {
                "Sid": "EncryptReplicas",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": Addr::key(crate::spec::REPLICA_KEY).arn_ref(),
                "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{replica_region}.amazonaws.com")}}
            }
        ]
    })
}

/// The execution role's inline policy: this stack's RDS-managed master secret, decrypt with its keys.
pub fn execution_policy(spec: &Spec, account: &str) -> Value {
    let db_arn = format!(
        "arn:aws:rds:{}:{account}:db:{}",
        spec.region, spec.db_instance_id
    );
    let mut keys = vec![Addr::key("rds").arn_ref(), Addr::key("logs").arn_ref()];
    let mut statements = vec![json!({
        "Sid": "ReadThisStacksDatabaseSecret",
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
        "Resource": format!("arn:aws:secretsmanager:{}:{account}:secret:rds!db-*", spec.region),
        "Condition": {"StringEquals": {"secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": db_arn}}
    })];
    if spec.cache {
        // The tasks get REDIS_AUTH as a secret reference: the execution role reads that one secret.
        statements.push(json!({
            "Sid": "ReadThisStacksCacheAuthSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": spec.cache_secret_arn(account)
        }));
        keys.push(Addr::key(crate::spec::CACHE_KEY).arn_ref());
    }
    statements.push(json!({
        "Sid": "DecryptWithThisStacksKeys",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": keys
    }));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A task role's inline policy: X-Ray for every service, the backup prefix for those allowed.
pub fn task_policy(spec: &Spec, backup_write: bool) -> Value {
    let mut statements = vec![json!({
        "Sid": "XRay",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"],
        "Resource": "*"
    })];
    if backup_write {
        statements.push(json!({
            "Sid": "WriteBackups",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": format!("arn:aws:s3:::{}/{}*", spec.backup_bucket, spec.backup_prefix)
        }));
        statements.push(json!({
            "Sid": "EncryptBackups",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Encrypt"],
            "Resource": Addr::key("backups").arn_ref()
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// A key policy: the account administers the key; the `logs` key also lets CloudWatch Logs use it for
/// this account's log groups; the `cache` key lets this account's principals use it through ElastiCache
/// (at-rest encryption of the replication group) and Secrets Manager (the AUTH secret) only; the `alarms`
/// key lets CloudWatch alarms and RDS events publish to the encrypted alarm topic, for this account only.
pub fn key_policy(spec: &Spec, name: &str, account: &str) -> Value {
    let mut statements = vec![json!({
        "Sid": "AccountAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "kms:*",
        "Resource": "*"
    })];
    if name == "logs" {
        statements.push(json!({
            "Sid": "CloudWatchLogsUse",
            "Effect": "Allow",
            "Principal": {"Service": format!("logs.{}.amazonaws.com", spec.region)},
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!("arn:aws:logs:{}:{account}:log-group:*", spec.region)}}
        }));
    }
    if name == crate::spec::CACHE_KEY {
        statements.push(json!({
            "Sid": "UseThroughElastiCacheAndSecretsManager",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": account,
                    "kms:ViaService": [
                        format!("elasticache.{}.amazonaws.com", spec.region),
                        format!("secretsmanager.{}.amazonaws.com", spec.region)
                    ]
                }
            }
        }));
    }
    if name == crate::spec::ALARMS_KEY {
        statements.push(json!({
            "Sid": "AlarmTopicPublishers",
            "Effect": "Allow",
            // CloudWatch alarms, RDS events and the backup bucket's deletion notices (S3).
            "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.rds.amazonaws.com", "s3.amazonaws.com"]},
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }));
    }
    json!({"Version": "2012-10-17", "Id": format!("{}-{name}", spec.tagger.name("key")), "Statement": statements})
}

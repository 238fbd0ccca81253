//! What hms-ecs reads from the upstream tools' outputs: the VPC's subnets, the security groups, roles
//! and logs key, each service's task role, and the database the backend is told of.

use hms_core::contract::{CommandKind, Upstream as Optional};
use hms_core::{Error, Result};
use serde_json::Value;

use super::{Cache, Database, EcsConfig, Input, Service};

/// What hms-ecs reads from the upstream tools' outputs.
pub(super) struct Upstream {
    pub(super) vpc_id: Option<String>,
    pub(super) public_subnets: Option<Vec<String>>,
    pub(super) private_subnets: Option<Vec<String>>,
    /// hms-vpc's `private_egress` is not known yet: the private subnets have no route out (the NAT
    /// gateway is still pending, in an overlapped pipeline's early document).
    pub(super) egress_pending: bool,
    pub(super) alb_sg: Option<String>,
    pub(super) ecs_sg: Option<String>,
    pub(super) execution_role_arn: Option<String>,
    pub(super) logs_key_arn: Option<String>,
    pub(super) database: Option<Database>,
    pub(super) certificate_arn: Option<String>,
    pub(super) certificate_note: Option<String>,
    pub(super) cache: Option<Cache>,
}

impl Upstream {
    /// Reads the upstream outputs, and each service's task role. `plan` and `up` need them (a missing one
    /// is a usage error naming it); other commands (`down`) take what the document has.
    pub(super) fn read(
        input: &Input<'_>,
        cfg: &EcsConfig,
        services: &mut [Service],
    ) -> Result<Self> {
        let needs = matches!(input.command, CommandKind::Plan | CommandKind::Up);
        let text = |path: &str, producer: &str| upstream_text(input, needs, path, producer);
        let list = |path: &str, producer: &str| -> Result<Option<Vec<String>>> {
            let v = if needs {
                input.upstream(path, producer)?
            } else {
                input.doc.output(path)
            };
            Ok(v.and_then(Value::as_array).map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            }))
        };
        let up = Upstream {
            vpc_id: text("vpc.vpc_id", "hms-vpc")?,
            public_subnets: list("vpc.public_subnet_ids", "hms-vpc")?,
            private_subnets: list("vpc.private_subnet_ids", "hms-vpc")?,
            egress_pending: input.optional("vpc.private_egress") == Optional::Unknown,
            alb_sg: text("security.alb_sg_id", "hms-security")?,
            ecs_sg: text("security.ecs_sg_id", "hms-security")?,
            execution_role_arn: text("security.ecs_execution_role_arn", "hms-security")?,
            logs_key_arn: text("security.kms_key_arns.logs", "hms-security")?,
            database: None,
            certificate_arn: None,
            certificate_note: None,
            cache: None,
        };
        for s in services.iter_mut() {
            s.task_role_arn = if needs {
                task_role(input, &s.key)?
            } else {
                None
            };
        }
        let database = if needs && services.iter().any(|s| s.database) {
            database(input, needs)?
        } else {
            None
        };
        let (certificate_arn, certificate_note) = certificate(input, cfg, needs)?;
        let cache = if needs && services.iter().any(|s| s.cache) {
            cache(input)?
        } else {
            None
        };
        Ok(Upstream {
            database,
            certificate_arn,
            certificate_note,
            cache,
            ..up
        })
    }
}

/// The HTTPS listener's certificate: `ecs.certificate_arn` when set (it wins, and the plan says so when
/// the stack also has hms-dns), else hms-dns's regional certificate when the stack has hms-dns, else
/// none (HTTP only, as without either).
fn certificate(
    input: &Input<'_>,
    cfg: &EcsConfig,
    needs: bool,
) -> Result<(Option<String>, Option<String>)> {
    let has_dns = input.optional("dns") != Optional::Absent;
    if let Some(own) = &cfg.certificate_arn {
        let note = has_dns.then(|| {
            format!("ecs.certificate_arn is set: the HTTPS listener uses {own}, not hms-dns's certificate (outputs.dns.certificate_arn); remove the key to use hms-dns's")
        });
        return Ok((Some(own.clone()), note));
    }
    if !has_dns {
        return Ok((None, None));
    }
    match upstream_text(input, needs, "dns.certificate_arn", "hms-dns")? {
        Some(arn) => Ok((Some(arn), None)),
        None if input.command == CommandKind::Up => Err(Error::usage(
            "needs outputs.dns.certificate_arn, known only after 'hms-dns up': run 'hms-dns up' before 'hms-ecs up'",
        )),
        None if needs => Ok((Some(String::from("(known after hms-dns up)")), None)),
        None => Ok((None, None)),
    }
}

/// The cache the backend is told of, when the stack has hms-cache (`outputs.cache`).
fn cache(input: &Input<'_>) -> Result<Option<Cache>> {
    if input.optional("cache") == Optional::Absent {
        return Ok(None);
    }
    let text = |path: &str| upstream_text(input, true, path, "hms-cache");
    let port = input
        .upstream("cache.port", "hms-cache")?
        .map(|v| v.to_string().trim_matches('"').to_owned());
    let cache = Cache {
        host: text("cache.primary_endpoint")?,
        port,
        tls: input
            .optional("cache.tls")
            .known()
            .and_then(Value::as_bool)
            .unwrap_or(true),
        secret_arn: text("cache.auth_secret_arn")?,
        secret_version: input
            .optional("cache.auth_secret_version")
            .known()
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let known = cache.host.is_some() && cache.port.is_some() && cache.secret_arn.is_some();
    if input.command == CommandKind::Up && !known {
        return Err(Error::usage(
            "needs outputs.cache.primary_endpoint, port and auth_secret_arn, known only after 'hms-cache up': run 'hms-cache up' before 'hms-ecs up'",
        ));
    }
    Ok(Some(cache))
}

fn upstream_text(
    input: &Input<'_>,
    needs: bool,
    path: &str,
    producer: &str,
) -> Result<Option<String>> {
    if !needs {
        return Ok(input
            .doc
            .output(path)
            .and_then(Value::as_str)
            .map(str::to_owned));
    }
    match input.upstream(path, producer)? {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(|s| Some(s.to_owned()))
            .ok_or_else(|| Error::usage(format!("stdin: outputs.{path} is not a string"))),
    }
}

/// A service's task role, made by hms-security for each service in `[ecs.services]`.
fn task_role(input: &Input<'_>, key: &str) -> Result<Option<String>> {
    match input.upstream(&format!("security.task_role_arns.{key}"), "hms-security") {
        Ok(v) => Ok(v.and_then(Value::as_str).map(str::to_owned)),
        Err(_) => Err(Error::usage(format!(
            "needs outputs.security.task_role_arns.{key} — hms-security makes one task role per service in [ecs.services]; run 'hms-security up' with the same config first"
        ))),
    }
}

/// The database the backend is told of; `None` while any part is only planned.
fn database(input: &Input<'_>, needs: bool) -> Result<Option<Database>> {
    let text = |path: &str| upstream_text(input, needs, path, "hms-db");
    let host = text("db.endpoint")?;
    let port = input
        .upstream("db.port", "hms-db")?
        .map(|v| v.to_string().trim_matches('"').to_owned());
    let name = text("db.db_name")?;
    let user = text("db.username")?;
    let secret = text("db.master_user_secret_arn")?;
    Ok(match (host, port, name, user, secret) {
        (Some(host), Some(port), Some(name), Some(user), Some(secret_arn)) => Some(Database {
            host,
            port,
            name,
            user,
            secret_arn,
        }),
        _ => None,
    })
}

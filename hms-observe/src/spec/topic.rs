//! The alarm topic's KMS key and its email subscriptions.

use hms_core::config::Config;
use hms_core::contract::{SpecInput, Upstream};
use hms_core::{Error, Result};

use super::Dim;
use crate::addr;

/// The topic's key, `outputs.security.kms_key_arns.alarms`: `None` in a stack without hms-security,
/// planned while hms-security is; required once hms-security is in the stack (`down` needs none).
pub fn key(input: &SpecInput<'_>) -> Result<Option<Dim>> {
    if input.is_down() || input.optional("security") == Upstream::Absent {
        return Ok(None);
    }
    let path = "security.kms_key_arns.alarms";
    Ok(Some(match input.upstream(path, "hms-security")? {
        None => Dim::Planned,
        Some(v) => Dim::Known(
            v.as_str()
                .filter(|s| s.starts_with("arn:"))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "stdin: outputs.{path} = {v}: not a KMS key ARN; run 'hms-security up | hms-observe {}'",
                        input.command
                    ))
                })?
                .to_owned(),
        ),
    }))
}

/// The configured `observe.alarm_emails`, checked, sorted and without repeats.
pub fn emails(config: &Config, list: Option<&[String]>) -> Result<Vec<String>> {
    let mut emails = list.map(<[String]>::to_vec).unwrap_or_default();
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
    Ok(emails)
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
        // The address is the key of its subscription's address.
        && addr::key_ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        assert!(email_ok("oncall@hospital.example"));
        for bad in [
            "oncall",
            "a@b",
            "@x.org",
            "a@.org",
            "a b@x.org",
            "a@x.org,b@y.org",
            "a[1]@x.org",
        ] {
            assert!(!email_ok(bad), "{bad}");
        }
    }
}

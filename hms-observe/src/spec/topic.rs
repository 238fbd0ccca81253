//! The alarm topic's email subscriptions.

use hms_core::config::Config;
use hms_core::Result;

use crate::addr;

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

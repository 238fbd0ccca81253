//! AWS SDK configuration: region, profile, endpoint and retries from one place, plus the account guard.

use std::time::Duration;

use aws_config::meta::region::ProvideRegion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

pub use aws_config::SdkConfig;

use crate::cli::AwsArgs;
use crate::error::{Error, Result};

/// Attempts per call when neither `--max-attempts` nor `[aws] max_attempts` says otherwise: with the
/// standard mode's backoff (jittered, capped at 20 s) that rides out a minute or two of throttling and
/// 5xx answers. Creates are retried too: every tool adopts what an earlier attempt made.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// Whether `s` reads as an AWS region name: `us-east-1`, `eu-central-2`, `ap-southeast-5`,
/// `us-gov-west-1` (two letters, one or two words, a number).
pub fn region_name_ok(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase());
    match parts.as_slice() {
        [area, middle @ .., number] => {
            area.len() == 2
                && word(area)
                && (1..=2).contains(&middle.len())
                && middle.iter().all(word)
                && (1..=2).contains(&number.len())
                && number.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

/// Resolves the region without touching the network: flag, `[stack] region`, `AWS_REGION` /
/// `AWS_DEFAULT_REGION`, the profile's `region`, then `us-east-1` (the reference stack's region).
pub async fn resolve_region(args: &AwsArgs, configured: Option<&str>) -> String {
    if let Some(r) = args.region.as_deref().or(configured) {
        return r.to_owned();
    }
    for var in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
        if let Ok(r) = std::env::var(var) {
            if !r.is_empty() {
                return r;
            }
        }
    }
    let mut provider = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(p) = &args.profile {
        provider = provider.profile_name(p);
    }
    match provider.build().region().await {
        Some(r) => r.to_string(),
        None => String::from("us-east-1"),
    }
}

/// The profile and endpoint of this run, for the hints of connection and credential errors.
static CONNECTION: std::sync::OnceLock<(Option<String>, Option<String>)> =
    std::sync::OnceLock::new();

/// (profile, endpoint) as this run resolved them: `--profile` else `AWS_PROFILE`; `--endpoint-url` else
/// `AWS_ENDPOINT_URL`.
pub fn connection() -> (Option<String>, Option<String>) {
    CONNECTION
        .get()
        .cloned()
        .unwrap_or_else(|| from_env(&AwsArgs::default()))
}

fn from_env(args: &AwsArgs) -> (Option<String>, Option<String>) {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    (
        args.profile.clone().or_else(|| var("AWS_PROFILE")),
        args.endpoint_url
            .clone()
            .or_else(|| var("AWS_ENDPOINT_URL")),
    )
}

/// Builds the SDK config every client of a run shares. Makes no AWS call; credentials resolve on first use.
pub async fn sdk_config(args: &AwsArgs, region: &str, max_attempts: Option<u32>) -> SdkConfig {
    let attempts = args
        .max_attempts
        .or(max_attempts)
        .unwrap_or(DEFAULT_MAX_ATTEMPTS)
        .max(1);
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .retry_config(
            // Standard mode: exponential backoff with full jitter (200 ms doubling, capped at 20 s) and the
            // SDK's retry quota (a retry storm against a failing service drains it and stops retrying).
            // Not adaptive: its client-side rate limiter starts from the rate a CLI has measured so far
            // (near zero in its first seconds), so one throttling answer held every later call of the run
            // at 0.5 requests a second and a retry at 5 tokens (about 10 s each); the fault trials of
            // tests/tests/reliability.rs measure the difference.
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    let _ = CONNECTION.set(from_env(args));
    if let Some(p) = &args.profile {
        // As the AWS CLI: a profile named on the command line wins over credentials in the environment
        // (the default chain would take AWS_ACCESS_KEY_ID first).
        loader = loader.profile_name(p).credentials_provider(
            aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(p)
                .build(),
        );
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Resolves the credentials once before the first AWS call, so that a missing profile, no credentials at
/// all or credentials that have expired give one error that says what to do (the SDK would otherwise
/// fail every concurrent call of a round with its own copy). A missing `--profile` is bad input (exit 64).
pub async fn check_credentials(sdk: &SdkConfig) -> Result<()> {
    use aws_credential_types::provider::ProvideCredentials;
    let Some(provider) = sdk.credentials_provider() else {
        return Ok(());
    };
    let (profile, _) = connection();
    let login = match profile.as_deref() {
        Some(p) => format!("aws sso login --profile {p} (or aws configure --profile {p})"),
        None => {
            String::from("aws configure, or aws sso login --profile NAME and pass --profile NAME")
        }
    };
    let creds = match provider.provide_credentials().await {
        Ok(c) => c,
        Err(e) => {
            let text = crate::error::causes_of(&e);
            let lower = text.to_ascii_lowercase();
            if let Some(p) = profile.as_deref() {
                if lower.contains("profile")
                    && (lower.contains("not defined")
                        || lower.contains("could not find")
                        || lower.contains("no profile"))
                {
                    return Err(Error::usage(format!(
                        "--profile {p}: no such profile in ~/.aws/config or ~/.aws/credentials; create it with aws configure --profile {p} (or aws configure sso), or name another"
                    )));
                }
            }
            let cause = if matches!(
                e,
                aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_)
            ) {
                String::from("none in the environment, the profile files, web identity, ECS or instance metadata")
            } else {
                text.lines()
                    .next()
                    .unwrap_or_default()
                    .trim_end_matches(':')
                    .to_owned()
            };
            return Err(Error::Refused(format!(
                "no usable AWS credentials ({cause}); {login}"
            )));
        }
    };
    if let Some(expiry) = creds.expiry() {
        if expiry <= std::time::SystemTime::now() {
            return Err(Error::Refused(format!(
                "the AWS credentials{} expired at {}; {login}",
                profile
                    .as_deref()
                    .map(|p| format!(" of profile {p}"))
                    .unwrap_or_default(),
                humantime::format_rfc3339_seconds(expiry)
            )));
        }
    }
    Ok(())
}

/// Checks once per run that the credentials belong to an allowed account; returns the account id.
/// Makes no call when no account list is configured.
pub async fn check_account(sdk: &SdkConfig, allowed: &[String]) -> Result<Option<String>> {
    if allowed.is_empty() {
        return Ok(None);
    }
    let sts = aws_sdk_sts::Client::new(sdk);
    let me = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| Error::aws("caller identity", "sts:GetCallerIdentity", e))?;
    let account = me.account().unwrap_or_default().to_owned();
    if !allowed.iter().any(|a| a == &account) {
        return Err(Error::WrongAccount {
            account,
            allowed: allowed.to_vec(),
        });
    }
    Ok(Some(account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-5",
            "us-gov-west-1",
            "il-central-1",
        ] {
            assert!(region_name_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "useast1",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "u-east-1",
            "us--1",
            "us-east-100",
        ] {
            assert!(!region_name_ok(bad), "{bad}");
        }
    }
}

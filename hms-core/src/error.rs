//! Errors shared by every tool, and the exit code each one maps to.
//!
//! Exit codes (DESIGN.md): 0 success, 1 failure, 2 only from `plan --detailed-exitcode`, 64 usage or input
//! error. A variant exists for each failure a user can act on; its message names the input or the resource.

use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Exit code for a successful run.
pub const EXIT_OK: i32 = 0;
/// Exit code for any failure that is not the user's input.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code of `plan --detailed-exitcode` when changes are pending.
pub const EXIT_CHANGES: i32 = 2;
/// Exit code for bad flags, config, stdin or an invalid spec (BSD `EX_USAGE`).
pub const EXIT_USAGE: i32 = 64;

/// Everything that can stop a tool.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Occurs when a flag, a config value, the stdin document or the resulting spec is invalid. The message
    /// names the input and the fix. Always raised before any AWS call.
    #[error("{0}")]
    Usage(String),

    /// Occurs when an AWS call fails; keeps the resource, the operation and AWS's error code.
    #[error("{resource}: {operation} failed: {code}: {message}")]
    Aws {
        resource: String,
        operation: String,
        code: String,
        message: String,
    },

    /// Occurs when a wait (NAT gateway available, instance deleted, …) runs past its limit.
    #[error("{resource}: timed out after {} waiting until {what}; state is saved, run again to resume waiting", humantime::format_duration(*.after))]
    Timeout {
        resource: String,
        what: String,
        after: Duration,
    },

    /// Occurs in an overlapped pipeline's early pass ([`crate::overlap`]) when a resource is not ready yet
    /// and its wait is left for a later pass: not a failure (state records the resource; the later pass
    /// resumes the wait), but what depends on it is not attempted in this pass.
    #[error("{resource}: not {what} yet; waited for in a later pass")]
    Deferred { resource: String, what: String },

    /// Occurs when another run holds the lock of this (stack, env, tool).
    #[error(
        "state is locked by {holder}; wait for it to finish, or if it died: {tool} unlock {id}"
    )]
    Locked {
        tool: String,
        id: String,
        holder: String,
    },

    /// Occurs when the stdin document says an upstream tool failed; no AWS call is made.
    #[error("upstream {tool} {command} failed; not running (fix {tool} first)")]
    UpstreamFailed { tool: String, command: String },

    /// Occurs when the run would do something dangerous that needs an explicit flag or a confirmation.
    #[error("{0}")]
    Refused(String),

    /// Occurs when reading or writing the state store fails.
    #[error("state {path}: {message}")]
    State { path: String, message: String },

    /// Occurs when the caller's AWS account is not in `[stack] allowed_account_ids`.
    #[error("AWS account {account} is not in [stack] allowed_account_ids {allowed:?}; check --profile / credentials")]
    WrongAccount {
        account: String,
        allowed: Vec<String>,
    },

    /// Occurs when some steps of an apply failed (each reported as it happened); the others were applied
    /// and recorded.
    #[error("{failed} of {total} changes failed (reported above); everything else was applied and recorded — fix the cause and run again")]
    Partial { total: usize, failed: usize },

    /// Occurs on an invariant the tool itself broke (a bug); the message says which.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }

    /// Builds a usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }

    /// Wraps an AWS SDK error with the resource and operation it was about.
    pub fn aws<E>(resource: impl Into<String>, operation: impl Into<String>, err: E) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        let (code, message) = match (code, message) {
            (Some(c), Some(m)) => (c, m),
            (Some(c), None) => (c, String::from("(no message)")),
            // Transport failures and unparsable answers have no AWS error code: the chain of causes, each
            // as it displays itself (never a Debug dump of the response).
            (None, _) => (String::from("RequestFailed"), causes(&err)),
        };
        let message = match connection_hint(&code, &message) {
            Some(hint) => format!("{message}\n  {hint}"),
            None => message,
        };
        Error::Aws {
            resource: resource.into(),
            operation: operation.into(),
            code,
            message,
        }
    }

    /// Puts `address` in front of the resource an AWS error names (`ecs.alb arn:…`).
    pub fn at(self, address: &str) -> Self {
        match self {
            Error::Aws {
                resource,
                operation,
                code,
                message,
            } if !resource.starts_with(address) => Error::Aws {
                resource: format!("{address} {resource}"),
                operation,
                code,
                message,
            },
            other => other,
        }
    }

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What to do about a credential or connection failure, naming the profile and the endpoint this run
/// uses (see [`crate::aws::connection`]).
fn connection_hint(code: &str, message: &str) -> Option<String> {
    let (profile, endpoint) = crate::aws::connection();
    let m = message.to_ascii_lowercase();
    let login = match profile.as_deref() {
        Some(p) => format!("aws sso login --profile {p} (or aws configure --profile {p})"),
        None => {
            String::from("aws configure, or aws sso login --profile NAME and pass --profile NAME")
        }
    };
    if m.contains("profile")
        && (m.contains("not defined") || m.contains("could not find") || m.contains("not found"))
    {
        let p = profile.unwrap_or_else(|| String::from("default"));
        return Some(format!(
            "hint: profile {p} is not in ~/.aws/config or ~/.aws/credentials: aws configure --profile {p} (or aws configure sso), or pass another --profile"
        ));
    }
    if code.contains("Expired") || m.contains("expired") {
        return Some(format!("hint: the credentials have expired: {login}"));
    }
    if m.contains("credential") && code == "RequestFailed" {
        return Some(format!("hint: no usable AWS credentials: {login}"));
    }
    if matches!(
        code,
        "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "AuthFailure"
    ) {
        return Some(format!(
            "hint: AWS does not accept these credentials: {login}"
        ));
    }
    if code == "RequestFailed"
        && (m.contains("connect") || m.contains("dns error") || m.contains("timed out"))
    {
        return Some(match endpoint {
            Some(e) => format!("hint: cannot reach {e} (--endpoint-url / AWS_ENDPOINT_URL); is it running?"),
            None => String::from("hint: cannot reach AWS: check the network, a proxy (HTTPS_PROXY) or --endpoint-url"),
        });
    }
    None
}

/// `dispatch failure: io error: tcp connect error: Connection refused (os error 111)`: every cause of
/// `err` once, outermost first.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    causes_of(err)
}

/// [`causes`], for any error.
pub(crate) fn causes_of(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whether an AWS error code means the resource is not there, in any service's spelling
/// (`InvalidVpcID.NotFound`, `DBInstanceNotFound`, `ResourceNotFoundException`, `NoSuchEntity`).
pub fn is_gone(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.contains("NotFound") || c == "NoSuchEntity")
}

/// The result of a delete call: a resource already gone counts as deleted (deletes are idempotent).
pub fn deleted<T, E>(
    result: std::result::Result<T, E>,
    resource: &str,
    operation: &str,
) -> Result<()>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_gone(e.code()) => Ok(()),
        Err(e) => Err(Error::aws(resource, operation, e)),
    }
}

/// The AWS error code of an SDK error, if it has one.
pub fn code_of<E: ProvideErrorMetadata>(err: &E) -> Option<&str> {
    err.code()
}

/// Result with the shared error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("dispatch failure")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn causes_are_displayed_once_each_and_never_debugged() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
        let text = causes(&e);
        assert_eq!(text, "dispatch failure: Connection refused (os error 111)");
        assert!(!text.contains("Outer") && !text.contains("Custom {"));
    }
}

//! The CDN's origin-verify secret: a random header value that CloudFront (hms-edge) sends to the load
//! balancer and the listener rules require (with `ecs.origin_verify`). Its value goes from the OS's random
//! source to Secrets Manager, and from there only to ELBv2 rule conditions; plans, state and output hold
//! only [`short_hash`]es of it.
//!
//! The secret's string is the bare header value (what hms-edge reads at `AWSCURRENT`). A rotation
//! (`rotate-origin-secret`) is under way while a version carries the `AWSPREVIOUS` label: the rules then
//! accept that value too, until `rotate-origin-secret --finish` takes the label off. The rotation state is
//! the secret's own staging labels, so it survives a lost state file and is the same for every reader.

use std::io::Read;

use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use hms_core::error::{code_of, is_gone};
use hms_core::{Error, Result};

use crate::Clients;

/// The header CloudFront sends and the rules require.
pub const HEADER: &str = "X-Origin-Verify";

/// The label of the version the rules accept next to the current one while a rotation is under way.
pub const PREVIOUS: &str = "AWSPREVIOUS";
/// The label of the value in use.
pub const CURRENT: &str = "AWSCURRENT";
/// The label of a new value staged by `rotate-origin-secret` before it becomes current.
pub const PENDING: &str = "AWSPENDING";

/// Characters of a value: letters and digits, safe in every header.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated value (an ALB header condition value holds at most 128 characters).
pub const LEN: usize = 64;

/// A header value. Its `Debug` shows no value; it is never printed, recorded or put in a document.
pub struct Value(String);

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Value(<redacted>)")
    }
}

impl Value {
    /// A new random value of [`LEN`] letters and digits, from `/dev/urandom`.
    pub fn generate() -> Result<Self> {
        let mut f = std::fs::File::open("/dev/urandom").map_err(random_error)?;
        Self::from_random(&mut f)
    }

    /// A value drawn from `source` (unbiased: bytes that do not map evenly onto the alphabet are skipped).
    fn from_random(source: &mut impl Read) -> Result<Self> {
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        let mut out = String::with_capacity(LEN);
        let mut buf = [0u8; 96];
        while out.len() < LEN {
            source.read_exact(&mut buf).map_err(random_error)?;
            for b in buf {
                if b < limit && out.len() < LEN {
                    out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
                }
            }
        }
        Ok(Value(out))
    }

    /// The value, only to hand it to AWS.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Its [`short_hash`].
    pub fn hash(&self) -> String {
        short_hash(&self.0)
    }
}

fn random_error(e: std::io::Error) -> Error {
    Error::Internal(format!(
        "cannot read random bytes from /dev/urandom for the origin-verify secret: {e}"
    ))
}

/// The first 16 hex digits of sha256(`text`): enough to see a change, nothing to learn the value from
/// (the same hash hms-edge shows).
pub fn short_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The secret as described (tags, labels, deletion), by name or ARN; `None` when it does not exist.
pub async fn describe(c: &Clients, id: &str) -> Result<Option<DescribeSecretOutput>> {
    match c.secrets.describe_secret().secret_id(id).send().await {
        Ok(o) => Ok(Some(o)),
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", crate::addr::Addr::OriginSecret),
            "secretsmanager:DescribeSecret",
            e,
        )),
    }
}

/// The id of the version that carries `label`, as described.
pub fn version_with(d: &DescribeSecretOutput, label: &str) -> Option<String> {
    d.version_ids_to_stages().and_then(|m| {
        m.iter()
            .find(|(_, stages)| stages.iter().any(|s| s == label))
            .map(|(v, _)| v.clone())
    })
}

/// The value at a staging label and its version id; `None` when no version has the label.
pub async fn staged(c: &Clients, id: &str, label: &str) -> Result<Option<(Value, String)>> {
    match c
        .secrets
        .get_secret_value()
        .secret_id(id)
        .version_stage(label)
        .send()
        .await
    {
        Ok(o) => {
            let version = o.version_id().unwrap_or_default().to_owned();
            Ok(o.secret_string().map(|s| (Value(s.to_owned()), version)))
        }
        Err(e) if is_gone(code_of(&e)) => Ok(None),
        Err(e) => Err(Error::aws(
            format!("{} {id}", crate::addr::Addr::OriginSecret),
            "secretsmanager:GetSecretValue",
            e,
        )),
    }
}

/// The values the rules accept: the current one, and the previous one while a rotation is under way.
pub async fn accepted(c: &Clients, id: &str) -> Result<Vec<Value>> {
    let d = describe(c, id).await?;
    let current = staged(c, id, CURRENT)
        .await?
        .map(|(v, _)| v)
        .ok_or_else(|| {
            Error::Refused(format!(
                "the origin-verify secret {id} holds no current value; run 'hms-ecs up' to make it"
            ))
        })?;
    let mut out = vec![current];
    if d.as_ref().and_then(|d| version_with(d, PREVIOUS)).is_some() {
        if let Some((v, _)) = staged(c, id, PREVIOUS).await? {
            out.push(v);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_long_random_redacted_and_hashed() {
        let a = Value::generate().expect("value");
        let b = Value::generate().expect("value");
        assert_eq!(a.expose().len(), LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Value(<redacted>)");
        assert_eq!(a.hash().len(), 16);
        assert!(!a.expose().contains(&a.hash()));
        // sha256("abc") = ba7816bf8f01cfea…
        assert_eq!(short_hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn skewed_bytes_are_skipped() {
        let mut bytes = std::iter::repeat_n(255u8, 96)
            .chain(std::iter::repeat_n(1u8, 96))
            .collect::<Vec<_>>();
        bytes.extend(std::iter::repeat_n(1u8, 96));
        let v = Value::from_random(&mut bytes.as_slice()).expect("value");
        assert_eq!(v.expose(), "B".repeat(LEN));
    }
}

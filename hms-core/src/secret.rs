//! Secrets a tool generates (hms-cache's AUTH token, hms-ecs's origin header value): random from the
//! operating system, held only to hand them to AWS. A [`Secret`]'s `Debug` shows no value; it is never
//! printed, recorded or put in a document. Plans and state show a [`short_hash`] of it at most.

use std::io::Read;

use crate::error::{Error, Result};

/// Characters of a generated secret: letters and digits, safe in every shell, header, URL and
/// environment variable (and within what ElastiCache AUTH and ALB header conditions accept).
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated secret (ElastiCache AUTH takes 16 to 128, an ALB header condition up to 128).
pub const LEN: usize = 64;

/// A secret value.
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// A new random secret of [`LEN`] letters and digits, from `/dev/urandom`.
    pub fn generate() -> Result<Self> {
        let mut f = std::fs::File::open("/dev/urandom").map_err(random_error)?;
        Self::from_random(&mut f)
    }

    /// A secret drawn from `source` (unbiased: bytes that do not map evenly onto the alphabet are
    /// skipped).
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
        Ok(Secret(out))
    }

    /// A secret read back from Secrets Manager.
    pub fn from_secret(value: String) -> Self {
        Secret(value)
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

/// The first 16 hex digits of sha256(`text`): enough to see a change, nothing to learn the value from.
pub fn short_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn random_error(e: std::io::Error) -> Error {
    Error::Internal(format!(
        "cannot read random bytes from /dev/urandom for a generated secret: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_redacted_and_hashed() {
        let a = Secret::generate().expect("secret");
        let b = Secret::generate().expect("secret");
        assert_eq!(a.expose().len(), LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Secret(<redacted>)");
        assert_eq!(a.hash().len(), 16);
        assert!(!a.expose().contains(&a.hash()));
        // sha256("abc") = ba7816bf8f01cfea…
        assert_eq!(short_hash("abc"), "ba7816bf8f01cfea");
    }

    #[test]
    fn skewed_bytes_are_skipped() {
        // 255 is above the last whole multiple of 62: never used.
        let mut bytes = std::iter::repeat_n(255u8, 96)
            .chain(std::iter::repeat_n(1u8, 96))
            .collect::<Vec<_>>();
        bytes.extend(std::iter::repeat_n(1u8, 96));
        let s = Secret::from_random(&mut bytes.as_slice()).expect("secret");
        assert_eq!(s.expose(), "B".repeat(LEN));
    }
}

//! The AUTH token: random from the operating system, held only to hand it to Secrets Manager and
//! ElastiCache. Its `Debug` shows no value, and it is never printed, recorded or put in a document.

use std::io::Read;

use hms_core::{Error, Result};

/// Characters of a token: ElastiCache accepts printable ASCII except `@`, `"` and `/`; letters and
/// digits alone keep it safe in every shell, URL and environment variable.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated token (ElastiCache allows 16 to 128).
pub const LEN: usize = 64;

/// An AUTH token.
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A new random token of [`LEN`] letters and digits, from `/dev/urandom`.
    pub fn generate() -> Result<Self> {
        let mut f = std::fs::File::open("/dev/urandom").map_err(random_error)?;
        Self::from_random(&mut f)
    }

    /// A token drawn from `source` (unbiased: bytes that do not map evenly onto the alphabet are skipped).
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
        Ok(Token(out))
    }

    /// A token read back from the secret.
    pub fn from_secret(value: String) -> Self {
        Token(value)
    }

    /// The value, only to hand it to AWS.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn random_error(e: std::io::Error) -> Error {
    Error::Internal(format!(
        "cannot read random bytes from /dev/urandom for the AUTH token: {e}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_redacted() {
        let a = Token::generate().expect("token");
        let b = Token::generate().expect("token");
        assert_eq!(a.expose().len(), LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), b.expose());
        assert_eq!(format!("{a:?}"), "Token(<redacted>)");
    }

    #[test]
    fn skewed_bytes_are_skipped() {
        // 255 is above the last whole multiple of 62: never used.
        let mut bytes = std::iter::repeat_n(255u8, 96)
            .chain(std::iter::repeat_n(1u8, 96))
            .collect::<Vec<_>>();
        bytes.extend(std::iter::repeat_n(1u8, 96));
        let t = Token::from_random(&mut bytes.as_slice()).expect("token");
        assert_eq!(t.expose(), "B".repeat(LEN));
    }
}

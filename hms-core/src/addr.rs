//! Helpers for the tools' typed addresses.
//!
//! Each tool has an `addr.rs` with one enum variant per resource kind, a `Display` that writes the logical
//! address (`ecs.service[backend]`) and a parser ([`Address::parse`]) that reads it back; `observe`, `plan`
//! and `apply` match on the variant and never take an address string apart themselves. Addresses are
//! strings in plans and state (they are the public names of resources: `state list`, `state mv`).

use std::fmt::Display;

/// A tool's typed address.
pub trait Address: Display + Sized {
    /// Reads an address written by `Display`; `None` for an address of another kind or tool.
    fn parse(address: &str) -> Option<Self>;
}

/// The key of a keyed address: `keyed("ecs.service[backend]", "ecs.service")` is `Some("backend")`.
pub fn keyed<'a>(address: &'a str, kind: &str) -> Option<&'a str> {
    let key = address
        .strip_prefix(kind)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    (!key.is_empty() && !key.contains(['[', ']'])).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            keyed("ecs.service[backend]", "ecs.service"),
            Some("backend")
        );
        assert_eq!(keyed("ecs.service[]", "ecs.service"), None);
        assert_eq!(keyed("ecs.services[x]", "ecs.service"), None);
        assert_eq!(keyed("ecs.service", "ecs.service"), None);
        assert_eq!(keyed("ecs.service[a][b]", "ecs.service"), None);
    }
}

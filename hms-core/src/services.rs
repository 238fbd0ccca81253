//! The ECS services of the stack, as far as tools other than hms-ecs need them (names and ports): read
//! from `[ecs.services.<name>]`, on top of the reference services `backend` and `frontend`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Config;
use crate::error::Result;

/// What other tools need to know of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBasics {
    /// Config key, `backend`.
    pub key: String,
    /// Container port.
    pub port: u16,
}

#[derive(Debug, Default, Deserialize)]
struct EcsPart {
    #[serde(default)]
    services: BTreeMap<String, ServicePart>,
}

// Lenient on purpose: hms-ecs validates the whole table; other tools read only these fields.
#[derive(Debug, Default, Deserialize)]
struct ServicePart {
    port: Option<i64>,
    enabled: Option<bool>,
}

/// The reference services and their ports.
pub const DEFAULTS: &[(&str, u16)] = &[("backend", 8000), ("frontend", 80)];

/// The enabled services by key, with their ports; invalid ports are usage errors naming the key.
pub fn services(config: &Config) -> Result<BTreeMap<String, ServiceBasics>> {
    let part: EcsPart = config.section("ecs")?;
    let mut out: BTreeMap<String, ServiceBasics> = DEFAULTS
        .iter()
        .map(|(k, p)| {
            (
                (*k).to_owned(),
                ServiceBasics {
                    key: (*k).to_owned(),
                    port: *p,
                },
            )
        })
        .collect();
    for (key, s) in part.services {
        let valid_name = !key.is_empty()
            && key.len() <= 32
            && key.starts_with(|c: char| c.is_ascii_lowercase())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(config.invalid(
                &format!("ecs.services.{key}"),
                "a service name is 1-32 lowercase letters, digits and '-', starting with a letter",
            ));
        }
        if s.enabled == Some(false) {
            out.remove(&key);
            continue;
        }
        let default = DEFAULTS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, p)| i64::from(*p));
        let Some(port) = s.port.or(default) else {
            return Err(config.invalid(
                &format!("ecs.services.{key}.port"),
                "is required for a new service (1-65535)",
            ));
        };
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| {
                config.invalid(
                    &format!("ecs.services.{key}.port"),
                    format!("{port} is not a port; use 1-65535"),
                )
            })?;
        out.insert(key.clone(), ServiceBasics { key, port });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_errors() {
        let c = Config::load(&[], &[]).expect("config");
        let s = services(&c).expect("services");
        assert_eq!(
            s.values().map(|x| x.port).collect::<Vec<_>>(),
            vec![8000, 80]
        );
        let c = Config::load(
            &[],
            &[
                "ecs.services.worker.port=9000".into(),
                "ecs.services.frontend.enabled=false".into(),
            ],
        )
        .expect("config");
        let s = services(&c).expect("services");
        assert_eq!(
            s.keys().cloned().collect::<Vec<_>>(),
            vec!["backend", "worker"]
        );
        let c = Config::load(&[], &["ecs.services.api.port=70000".into()]).expect("config");
        assert!(services(&c)
            .expect_err("port")
            .to_string()
            .contains("ecs.services.api.port"));
        let c = Config::load(&[], &["ecs.services.Bad_Name.port=1".into()]).expect("config");
        assert_eq!(services(&c).expect_err("name").exit_code(), 64);
        let c = Config::load(&[], &["ecs.services.worker.image=x".into()]).expect("config");
        assert!(services(&c)
            .expect_err("no port")
            .to_string()
            .contains("required"));
    }
}

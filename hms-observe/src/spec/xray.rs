//! The X-Ray sampling rule and group.

use hms_core::config::Config;
use hms_core::tags::Tagger;
use hms_core::Result;

use super::upstream::Service;
use super::SamplingConfig;

/// The X-Ray sampling rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    pub name: String,
    pub priority: i32,
    pub reservoir_size: i32,
    pub fixed_rate: f64,
}

/// The sampling rule from `[observe.sampling]`: 5 % with a reservoir of 1 at priority 100 by default.
pub fn sampling(config: &Config, sc: Option<&SamplingConfig>, tagger: &Tagger) -> Result<Sampling> {
    let sc = sc.cloned().unwrap_or_default();
    let priority = sc.priority.unwrap_or(100);
    if !(1..=9999).contains(&priority) {
        return Err(config.invalid(
            "observe.sampling.priority",
            format!("{priority}: X-Ray takes 1 to 9999 (lower wins; the Default rule is 10000)"),
        ));
    }
    let reservoir = sc.reservoir_size.unwrap_or(1);
    if !(0..=1_000_000).contains(&reservoir) {
        return Err(config.invalid(
            "observe.sampling.reservoir_size",
            format!("{reservoir}: traces per second, 0 or more"),
        ));
    }
    let rate = sc.fixed_rate.unwrap_or(0.05);
    if !(0.0..=1.0).contains(&rate) {
        return Err(config.invalid(
            "observe.sampling.fixed_rate",
            format!("{rate}: a fraction from 0 to 1 (0.05 = 5 %)"),
        ));
    }
    Ok(Sampling {
        name: xray_name(&tagger.name("sampling")),
        priority: priority as i32,
        reservoir_size: reservoir as i32,
        fixed_rate: rate,
    })
}

/// The group's filter expression: the configured one, else the stack's ECS services, else the stack's
/// annotation.
pub fn group_filter(
    config: &Config,
    configured: Option<&str>,
    services: &[Service],
    stack: &str,
) -> Result<String> {
    Ok(match configured {
        Some(f) => {
            if f.trim().is_empty() || f.len() > 2000 {
                return Err(config.invalid(
                    "observe.xray_group_filter",
                    "an X-Ray filter expression of 1 to 2000 characters, like service(\"hms-backend\")",
                ));
            }
            f.to_owned()
        }
        None if !services.is_empty() => services
            .iter()
            .map(|s| format!("service(\"{}\")", s.name))
            .collect::<Vec<_>>()
            .join(" OR "),
        None => format!("annotation.hms_stack = \"{stack}\""),
    })
}

/// X-Ray rule and group names are at most 32 characters: longer ones keep their start and get a short
/// hash, so they stay unique and stable.
pub fn xray_name(name: &str) -> String {
    if name.len() <= 32 {
        return name.to_owned();
    }
    // FNV-1a: stable across Rust versions, unlike the std hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{}-{h:08x}", &name[..23])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_xray_names_stay_within_32_and_stable() {
        assert_eq!(xray_name("hms-sampling"), "hms-sampling");
        let long = "averyveryverylongstack-staging-sampling";
        let a = xray_name(long);
        assert_eq!(a.len(), 32);
        assert_eq!(a, xray_name(long));
        assert_ne!(a, xray_name("averyveryverylongstack-stagin2-sampling"));
    }
}

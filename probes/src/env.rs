//! Configuration from an environment map, one way for every service: tests pass a map and never
//! touch the process environment; a bad value is named in a [`ConfigError`]; the shutdown grace
//! period has one name for all services ([`SHUTDOWN_GRACE_VAR`]).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A variable is missing or cannot be used. The message names the variable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl ConfigError {
    /// `name` holds a value that cannot be used, for `reason`.
    pub fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { name, reason: reason.into() }
    }
}

/// How long live calls may go on after SIGTERM, in seconds (decimals allowed: `0.5`): the one
/// name every service reads.
pub const SHUTDOWN_GRACE_VAR: &str = "SHUTDOWN_GRACE_S";

/// Earlier names of [`SHUTDOWN_GRACE_VAR`], still read (with a warning) and their unit in ms.
pub const OLD_SHUTDOWN_GRACE_VARS: [(&str, u64); 2] = [("DRAIN_GRACE_MS", 1), ("DRAIN_S", 1000)];

/// A read-only view of an environment map.
#[derive(Clone, Copy, Debug)]
pub struct Env<'a>(pub &'a HashMap<String, String>);

impl<'a> Env<'a> {
    /// The trimmed value of `name`, `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.0.get(name).map(|value| value.trim()).filter(|value| !value.is_empty())
    }

    /// The value of `name`, or an error naming it.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).map(str::to_owned).ok_or(ConfigError::Missing(name))
    }

    /// `name` parsed as `T`, `default` when unset.
    pub fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.parse_opt(name).map(|value| value.unwrap_or(default))
    }

    /// `name` parsed as `T`, `None` when unset.
    pub fn parse_opt<T: FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|error: T::Err| ConfigError::invalid(name, format!("{value:?}: {error}"))),
        }
    }

    /// `name` as a boolean (`true/false`, `1/0`, `yes/no`, `on/off`), `default` when unset.
    pub fn boolean(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes" | "on") => Ok(true),
            Some("false" | "0" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::invalid(name, format!("{other:?} is not a boolean"))),
        }
    }

    /// `name` in seconds (decimals allowed: `0.5`), 0 to 86400; `default` when unset.
    pub fn seconds(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.parse_opt::<f64>(name)? {
            None => Ok(default),
            Some(seconds) => Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|duration| duration.as_secs() <= 24 * 3600)
                .ok_or_else(|| ConfigError::invalid(name, format!("{seconds} is not 0 to 86400 seconds"))),
        }
    }

    /// The shutdown grace period: [`SHUTDOWN_GRACE_VAR`] (seconds), else one of its earlier names
    /// ([`OLD_SHUTDOWN_GRACE_VARS`], read with a warning), else `default`.
    pub fn shutdown_grace(&self, default: Duration) -> Result<Duration, ConfigError> {
        if self.get(SHUTDOWN_GRACE_VAR).is_some() {
            return self.seconds(SHUTDOWN_GRACE_VAR, default);
        }
        for (old_name, unit_ms) in OLD_SHUTDOWN_GRACE_VARS {
            if let Some(value) = self.parse_opt::<u64>(old_name)? {
                tracing::warn!(
                    variable = old_name,
                    instead = SHUTDOWN_GRACE_VAR,
                    "deprecated variable name, still read"
                );
                return Ok(Duration::from_millis(value.saturating_mul(unit_ms)));
            }
        }
        Ok(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_and_names_bad_values() {
        let vars = map(&[("PORT", " 8080 "), ("BLANK", "  "), ("FLAG", "off"), ("BAD", "lots")]);
        let env = Env(&vars);
        assert_eq!(env.parse("PORT", 1u16), Ok(8080));
        assert_eq!(env.parse("UNSET", 7u16), Ok(7));
        assert_eq!(env.required("BLANK"), Err(ConfigError::Missing("BLANK")));
        assert_eq!(env.boolean("FLAG", true), Ok(false));
        assert!(matches!(env.parse("BAD", 1u32), Err(ConfigError::Invalid { name: "BAD", .. })));
        assert!(matches!(env.boolean("BAD", true), Err(ConfigError::Invalid { name: "BAD", .. })));
        assert_eq!(ConfigError::Missing("X").to_string(), "X is required");
    }

    #[test]
    fn one_grace_period_name_and_the_old_ones() {
        let default = Duration::from_secs(30);
        assert_eq!(Env(&map(&[])).shutdown_grace(default), Ok(default));
        assert_eq!(Env(&map(&[("SHUTDOWN_GRACE_S", "5")])).shutdown_grace(default), Ok(Duration::from_secs(5)));
        assert_eq!(Env(&map(&[("DRAIN_GRACE_MS", "500")])).shutdown_grace(default), Ok(Duration::from_millis(500)));
        assert_eq!(Env(&map(&[("DRAIN_S", "2")])).shutdown_grace(default), Ok(Duration::from_secs(2)));
        let both = map(&[("SHUTDOWN_GRACE_S", "1"), ("DRAIN_S", "9")]);
        assert_eq!(Env(&both).shutdown_grace(default), Ok(Duration::from_secs(1)));
        assert_eq!(Env(&map(&[("SHUTDOWN_GRACE_S", "0.5")])).shutdown_grace(default), Ok(Duration::from_millis(500)));
        assert!(Env(&map(&[("DRAIN_S", "x")])).shutdown_grace(default).is_err());
        assert!(Env(&map(&[("SHUTDOWN_GRACE_S", "-1")])).shutdown_grace(default).is_err());
        assert!(Env(&map(&[("SHUTDOWN_GRACE_S", "NaN")])).shutdown_grace(default).is_err());
        assert_eq!(Env(&map(&[("T_S", "2.5")])).seconds("T_S", default), Ok(Duration::from_millis(2500)));
        assert_eq!(Env(&map(&[])).seconds("T_S", default), Ok(default));
        assert!(Env(&map(&[("T_S", "1e9")])).seconds("T_S", default).is_err());
    }
}

//! Lifetimes of codes, tokens, pending logins and registrations, bounded at
//! start-up.

use std::time::Duration;

use crate::error::ConfigError;

/// Whole seconds in `1..=max`, or an error naming `field`.
pub(crate) fn secs(field: &'static str, d: Duration, max: u64) -> Result<i64, ConfigError> {
    let s = d.as_secs();
    if s == 0 || s > max {
        return Err(ConfigError::new(
            field,
            format!("must be between 1 second and {max} seconds; got {s}"),
        ));
    }
    Ok(s as i64)
}

/// The configured lifetimes, before validation.
#[derive(Debug, Clone)]
pub(crate) struct LifetimeInput {
    pub(crate) access_token: Duration,
    pub(crate) refresh_token: Duration,
    pub(crate) code: Duration,
    pub(crate) login: Duration,
    pub(crate) registered_client: Option<Duration>,
}

impl Default for LifetimeInput {
    fn default() -> Self {
        Self {
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(30 * 24 * 3600),
            code: Duration::from_secs(300),
            login: Duration::from_secs(600),
            registered_client: None,
        }
    }
}

/// Validated lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    pub(crate) access_token: i64,
    pub(crate) refresh_token: i64,
    pub(crate) code: i64,
    pub(crate) login: i64,
    pub(crate) registered_client: Option<i64>,
}

impl LifetimeInput {
    pub(crate) fn validate(&self) -> Result<Lifetimes, ConfigError> {
        Ok(Lifetimes {
            access_token: secs("access_token_ttl", self.access_token, 24 * 3600)?,
            refresh_token: secs("refresh_token_ttl", self.refresh_token, 365 * 24 * 3600)?,
            code: secs("code_ttl", self.code, 600)?,
            login: secs("login_ttl", self.login, 3600)?,
            registered_client: self
                .registered_client
                .map(|d| secs("registered_client_ttl", d, 10 * 365 * 24 * 3600))
                .transpose()?,
        })
    }
}

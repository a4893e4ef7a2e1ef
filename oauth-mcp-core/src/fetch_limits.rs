//! The limits of a fetch the server makes for a stranger (a Client ID
//! Metadata Document, a client's `jwks_uri`), shared by every configuration
//! that triggers one and validated the same way at start-up.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::error::ConfigError;

/// The longest fetch timeout that may be configured.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// The limits of one guarded fetch.
#[derive(Debug, Clone)]
pub(crate) struct FetchLimits {
    /// Development only: allow `http://` on loopback and loopback addresses.
    pub(crate) allow_loopback_http: bool,
    /// The largest body accepted.
    pub(crate) max_bytes: usize,
    /// The total time the fetch may take (DNS included).
    pub(crate) timeout: Duration,
}

impl FetchLimits {
    /// `https` only, `max_bytes`, 5 s.
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            allow_loopback_http: false,
            max_bytes,
            timeout: Duration::from_secs(5),
        }
    }

    /// Checks the size and the timeout; the error names `field`, the value
    /// and what is allowed (`typical` says how large such a document is).
    pub(crate) fn validate(
        &self,
        field: &'static str,
        sizes: RangeInclusive<usize>,
        typical: &str,
    ) -> Result<(), ConfigError> {
        if !sizes.contains(&self.max_bytes) {
            return Err(ConfigError::new(
                field,
                format!(
                    "max_bytes is {}; use {} to {} ({typical})",
                    self.max_bytes,
                    sizes.start(),
                    sizes.end()
                ),
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::new(
                field,
                format!(
                    "timeout is {:?}; use more than zero and at most {MAX_TIMEOUT:?} (a slow host holds the request that triggered the fetch open)",
                    self.timeout
                ),
            ));
        }
        Ok(())
    }
}

/// Checks that each named cache lifetime (seconds) is at least one second.
pub(crate) fn at_least_one_second(
    field: &'static str,
    lifetimes: &[(&str, i64)],
) -> Result<(), ConfigError> {
    match lifetimes.iter().find(|(_, secs)| *secs < 1) {
        Some((name, secs)) => Err(ConfigError::new(
            field,
            format!("{name} is {secs} s; use at least 1 s"),
        )),
        None => Ok(()),
    }
}

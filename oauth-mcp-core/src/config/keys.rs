//! Signing keys kept in the store: how their private parts are protected
//! and when they rotate. Checked once, at start-up, against the
//! access-token lifetime.

use std::time::Duration;

use std::sync::Arc;

use super::{ServerConfig, ServerConfigBuilder};
use crate::crypto::KeyEncryptionKey;
use crate::error::ConfigError;
use crate::token::KeySet;
use crate::token::rotation::KeySchedule;

const DAY: u64 = 24 * 3600;

/// When the store's signing keys rotate, and how quickly every replica
/// follows a change made by another. The defaults suit resource servers
/// that cache a JWKS for up to a day.
///
/// ```
/// use std::time::Duration;
/// use oauth_mcp_core::config::{KeyRotation, ServerConfig};
///
/// let cfg = ServerConfig::builder("https://mcp.example.com")
///     .key_rotation(
///         KeyRotation::default()
///             .every(Duration::from_secs(7 * 24 * 3600))
///             .publish_lead(Duration::from_secs(12 * 3600)),
///     )
///     .build()
///     .unwrap();
/// // The JWKS may be cached half the publish lead, at most an hour.
/// assert_eq!(cfg.key_schedule().jwks_max_age(), 3600);
/// ```
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRotation {
    period: Option<Duration>,
    publish_lead: Duration,
    leeway: Duration,
    max_jwks_cache: Duration,
    refresh_interval: Duration,
}

impl Default for KeyRotation {
    /// Rotate every 30 days, publish successors a day ahead, keep retired
    /// keys for the access-token lifetime plus 5 minutes, let the JWKS be
    /// cached up to an hour, re-read the store's key set every 30 seconds.
    fn default() -> Self {
        Self {
            period: Some(Duration::from_secs(30 * DAY)),
            publish_lead: Duration::from_secs(DAY),
            leeway: Duration::from_secs(300),
            max_jwks_cache: Duration::from_secs(3600),
            refresh_interval: Duration::from_secs(30),
        }
    }
}

impl KeyRotation {
    /// How long a key signs before its successor takes over.
    pub fn every(mut self, period: Duration) -> Self {
        self.period = Some(period);
        self
    }

    /// No scheduled rotation: a key signs until an operator rotates it
    /// (`oauth-mcp keys rotate`, or [`crate::token::KeyRing::rotate`]).
    pub fn never(mut self) -> Self {
        self.period = None;
        self
    }

    /// How long a successor is in the JWKS before it signs: longer than any
    /// resource server caches the JWKS without refetching on an unknown `kid`.
    pub fn publish_lead(mut self, lead: Duration) -> Self {
        self.publish_lead = lead;
        self
    }

    /// How long a retired key stays in the JWKS after the last token it
    /// signed expired (clock skew, validators' leeway, slow replicas).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Upper bound of the JWKS response's `Cache-Control: max-age`.
    pub fn max_jwks_cache(mut self, max: Duration) -> Self {
        self.max_jwks_cache = max;
        self
    }

    /// How often a server re-reads the store's key set (and makes the
    /// scheduled steps that are due), so every replica follows a key
    /// another replica or an operator published, activated or retired.
    pub fn refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = every;
        self
    }

    /// The lifecycle schedule for tokens living `access_token_ttl`
    /// seconds, and the refresh interval in seconds; the error names the
    /// setting and the fix.
    pub(crate) fn validate(
        &self,
        access_token_ttl: i64,
    ) -> Result<(KeySchedule, i64), ConfigError> {
        let ttl = Duration::from_secs(u64::try_from(access_token_ttl).unwrap_or(0));
        let mut schedule = KeySchedule::new(ttl)
            .publish_lead(self.publish_lead)
            .leeway(self.leeway)
            .max_jwks_cache(self.max_jwks_cache);
        schedule = match self.period {
            Some(p) => schedule.rotation_period(p),
            None => schedule.without_scheduled_rotation(),
        };
        let schedule = schedule.validate()?;
        let refresh = i64::try_from(self.refresh_interval.as_secs()).unwrap_or(i64::MAX);
        let field = "key_rotation.refresh_interval";
        if refresh < 1 {
            return Err(ConfigError::new(field, "must be at least one second"));
        }
        // A successor one replica published reaches another replica's JWKS
        // within the refresh interval, and a resource server's cache within
        // max-age more: both must pass before the successor signs.
        let lead = schedule.publish_lead_secs();
        if refresh.saturating_add(schedule.jwks_max_age()) >= lead {
            return Err(ConfigError::new(
                field,
                format!(
                    "{refresh} s plus the JWKS max-age ({} s) is not shorter than the publish lead ({lead} s): a resource server could miss a successor; refresh more often or publish earlier",
                    schedule.jwks_max_age()
                ),
            ));
        }
        // A replica that has not yet seen a retirement signs with the old
        // key for up to the refresh interval: the leeway must cover it.
        let leeway = schedule.retire_grace().saturating_sub(access_token_ttl);
        if refresh > leeway {
            return Err(ConfigError::new(
                field,
                format!(
                    "{refresh} s is longer than the leeway ({leeway} s): a token signed by a replica that has not yet seen a retirement could outlive its key; refresh more often or raise the leeway"
                ),
            ));
        }
        Ok((schedule, refresh))
    }
}

/// How private keys kept in the store are protected, as configured.
#[derive(Debug, Clone, Default)]
pub(crate) enum KeyProtectionChoice {
    /// Nothing said: a store that persists keys refuses to start.
    #[default]
    Unset,
    /// Sealed with the operator's key-encryption key.
    Sealed(KeyEncryptionKey),
    /// In the clear (`dangerously_store_signing_keys_unencrypted`).
    DangerouslyUnencrypted,
}

impl ServerConfigBuilder {
    /// Seal the private signing keys kept in the store with this
    /// key-encryption key (AES-256-GCM). Every replica sharing the store
    /// needs the same one; keep it secret and apart from the store (a
    /// secret manager, an environment variable, a file only the server
    /// reads). Without it the keys in the store cannot be opened.
    pub fn key_encryption_key(mut self, kek: KeyEncryptionKey) -> Self {
        self.key_protection = KeyProtectionChoice::Sealed(kek);
        self
    }

    /// Keep the private signing keys in the store unencrypted: anyone who
    /// can read the store (its files, backups, replicas) can then sign
    /// tokens every resource server accepts. Only for throw-away setups.
    pub fn dangerously_store_signing_keys_unencrypted(mut self) -> Self {
        self.key_protection = KeyProtectionChoice::DangerouslyUnencrypted;
        self
    }

    /// When the store's signing keys rotate (default
    /// [`KeyRotation::default`]: every 30 days, successors published a day
    /// ahead).
    pub fn key_rotation(mut self, rotation: KeyRotation) -> Self {
        self.key_rotation = rotation;
        self
    }
}

impl ServerConfig {
    /// The operator's signing keys ([`ServerConfigBuilder::signing_keys`]),
    /// if given; otherwise the keys live in the store (see
    /// [`crate::AuthServer::start`]).
    pub fn operator_keys(&self) -> Option<&Arc<KeySet>> {
        self.operator_keys.then_some(&self.keys)
    }

    /// The lifecycle schedule of the store's signing keys (also what the
    /// JWKS `Cache-Control` is derived from).
    pub fn key_schedule(&self) -> &KeySchedule {
        &self.key_schedule
    }
}

//! The user's upstream tokens, kept sealed in the store so that tools can
//! call the provider's API on the user's behalf ([`UpstreamTokenVault`]).
//!
//! They are sealed with the operator's key-encryption key (AES-256-GCM, see
//! [`crate::crypto`]) and bound to their owner: a sealed record copied to
//! another user or provider does not open. They never reach an MCP client
//! and are never accepted at the MCP endpoint; a tool asks for them by the
//! subject of the request's own (validated) token.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::error::UpstreamError;
use super::{UpstreamProvider, UpstreamTokens};
use crate::clock::SharedClock;
use crate::crypto::{CryptoError, KeyEncryptionKey};
use crate::error::StoreError;
use crate::events::AuditEvent;
use crate::secret::Secret;
use crate::store::{Store, UpstreamTokenRecord};

/// An access token this close to its expiry (seconds) is refreshed first.
const REFRESH_MARGIN: i64 = 60;

/// Why the vault cannot hand out a token.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenVaultError {
    /// Nothing stored for this user (never signed in since tokens were kept,
    /// or the tokens were deleted).
    #[error("no upstream tokens are stored for `{subject}`; the user must sign in again")]
    NotStored {
        /// The local subject.
        subject: String,
    },
    /// The access token expired and there is no refresh token.
    #[error(
        "the upstream access token of `{subject}` expired and the provider gave no refresh token; the user must sign in again"
    )]
    Expired {
        /// The local subject.
        subject: String,
    },
    /// The provider refused the refresh, or could not be reached.
    #[error("refreshing the upstream tokens failed: {0}")]
    Refresh(#[source] UpstreamError),
    /// The sealed record cannot be opened (another key-encryption key, or
    /// altered).
    #[error("the stored upstream tokens cannot be opened: {0}")]
    Sealed(#[source] CryptoError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sealed plaintext.
#[derive(Serialize, Deserialize)]
struct Plain {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
    scope: Option<String>,
}

/// Sealed upstream tokens per user, refreshed when they expire. Cheap to
/// clone. Get it from [`AuthServer::upstream_tokens`](crate::AuthServer::upstream_tokens).
///
/// ```no_run
/// # async fn tool(server: &oauth_mcp_core::AuthServer, who: &oauth_mcp_core::AuthContext)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// // Inside a tool: `who` is the request's validated identity.
/// if let Some(vault) = server.upstream_tokens() {
///     let token = vault.access_token(&who.subject).await?;
///     // call the provider's API with `Authorization: Bearer {token.secret()}`
/// #   let _ = token;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UpstreamTokenVault {
    kek: KeyEncryptionKey,
    store: Arc<dyn Store>,
    provider: Arc<dyn UpstreamProvider>,
    clock: SharedClock,
}

impl std::fmt::Debug for UpstreamTokenVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTokenVault")
            .field("kek", &self.kek)
            .field("provider", &self.provider.id())
            .finish_non_exhaustive()
    }
}

impl UpstreamTokenVault {
    pub(crate) fn new(
        kek: KeyEncryptionKey,
        store: Arc<dyn Store>,
        provider: Arc<dyn UpstreamProvider>,
        clock: SharedClock,
    ) -> Self {
        Self {
            kek,
            store,
            provider,
            clock,
        }
    }

    fn aad(&self, subject: &str) -> Vec<u8> {
        format!(
            "oauth-mcp upstream tokens v1\0{}\0{subject}",
            self.provider.id()
        )
        .into_bytes()
    }

    fn seal(
        &self,
        subject: &str,
        t: &UpstreamTokens,
        version: u64,
    ) -> Result<UpstreamTokenRecord, TokenVaultError> {
        let plain = Plain {
            access_token: t.access_token.secret().to_owned(),
            refresh_token: t.refresh_token.as_ref().map(|r| r.secret().to_owned()),
            expires_at: t.expires_at,
            scope: t.scope.clone(),
        };
        let json = serde_json::to_vec(&plain)
            .map_err(|e| StoreError::Other(format!("cannot encode upstream tokens: {e}")))?;
        let sealed = self
            .kek
            .seal(&self.aad(subject), &json)
            .map_err(TokenVaultError::Sealed)?;
        Ok(UpstreamTokenRecord {
            subject: subject.to_owned(),
            provider: self.provider.id().to_owned(),
            sealed,
            access_expires_at: t.expires_at,
            // With a refresh token the record stays useful: its lifetime is
            // unknown (providers rarely say), so it is kept until replaced.
            expires_at: if t.refresh_token.is_some() {
                None
            } else {
                t.expires_at
            },
            version,
            updated_at: self.clock.now(),
        })
    }

    fn open(&self, r: &UpstreamTokenRecord) -> Result<UpstreamTokens, TokenVaultError> {
        let json = self
            .kek
            .open(&self.aad(&r.subject), &r.sealed)
            .map_err(TokenVaultError::Sealed)?;
        let p: Plain = serde_json::from_slice(&json)
            .map_err(|e| StoreError::Other(format!("stored upstream tokens are malformed: {e}")))?;
        Ok(UpstreamTokens {
            access_token: Secret::new(p.access_token),
            refresh_token: p.refresh_token.map(Secret::new),
            expires_at: p.expires_at,
            scope: p.scope,
        })
    }

    /// Stores `tokens` for `subject` (after a login), replacing any.
    pub async fn save(
        &self,
        subject: &str,
        tokens: &UpstreamTokens,
    ) -> Result<(), TokenVaultError> {
        let version = self
            .store
            .get_upstream_tokens(subject, self.provider.id())
            .await?
            .map_or(0, |r| r.version + 1);
        let record = self.seal(subject, tokens, version)?;
        self.store.put_upstream_tokens(record).await?;
        AuditEvent::UpstreamTokens {
            provider: self.provider.id(),
            subject,
            outcome: "saved",
            reason: None,
        }
        .emit();
        Ok(())
    }

    /// The user's current tokens, refreshed first if the access token has
    /// expired (or is about to). Across replicas sharing a store, a refresh
    /// is written only if nobody else's refresh got there first; the loser
    /// uses the winner's tokens.
    pub async fn tokens(&self, subject: &str) -> Result<UpstreamTokens, TokenVaultError> {
        let provider = self.provider.id();
        let record = self
            .store
            .get_upstream_tokens(subject, provider)
            .await?
            .ok_or_else(|| TokenVaultError::NotStored {
                subject: subject.to_owned(),
            })?;
        let current = self.open(&record)?;
        let now = self.clock.now();
        if current.expires_at.is_none_or(|e| e > now + REFRESH_MARGIN) {
            return Ok(current);
        }
        let Some(refresh) = &current.refresh_token else {
            return Err(TokenVaultError::Expired {
                subject: subject.to_owned(),
            });
        };
        let fresh = match self.provider.refresh(refresh).await {
            Ok(t) => t,
            Err(e) => {
                // Perhaps another replica refreshed (and the provider
                // rotated the refresh token) in the meantime.
                if let Some(newer) = self.newer_than(subject, record.version, now).await? {
                    return Ok(newer);
                }
                AuditEvent::UpstreamTokens {
                    provider,
                    subject,
                    outcome: "refresh_failed",
                    reason: Some(&e.to_string()),
                }
                .emit();
                return Err(TokenVaultError::Refresh(e));
            }
        };
        let next = self.seal(subject, &fresh, record.version + 1)?;
        if self
            .store
            .replace_upstream_tokens(next, record.version)
            .await?
        {
            AuditEvent::UpstreamTokens {
                provider,
                subject,
                outcome: "refreshed",
                reason: None,
            }
            .emit();
            return Ok(fresh);
        }
        // Another writer won: its tokens are as fresh as ours.
        Ok(self
            .newer_than(subject, record.version, now)
            .await?
            .unwrap_or(fresh))
    }

    /// The user's current upstream access token (see [`Self::tokens`]).
    pub async fn access_token(&self, subject: &str) -> Result<Secret, TokenVaultError> {
        Ok(self.tokens(subject).await?.access_token)
    }

    /// Forgets the user's upstream tokens (e.g. when they sign out).
    pub async fn forget(&self, subject: &str) -> Result<bool, TokenVaultError> {
        Ok(self
            .store
            .delete_upstream_tokens(subject, self.provider.id())
            .await?)
    }

    async fn newer_than(
        &self,
        subject: &str,
        version: u64,
        now: i64,
    ) -> Result<Option<UpstreamTokens>, TokenVaultError> {
        match self
            .store
            .get_upstream_tokens(subject, self.provider.id())
            .await?
        {
            Some(r) if r.version > version => {
                let t = self.open(&r)?;
                Ok(t.expires_at.is_none_or(|e| e > now).then_some(t))
            }
            _ => Ok(None),
        }
    }
}

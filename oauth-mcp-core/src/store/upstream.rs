//! Storage for logins through an upstream identity provider (GitHub, Google,
//! any OpenID provider): the authorization in flight at the provider, the
//! consent a user gave a client, the browser sessions that remember who gave
//! it, and the user's upstream tokens (sealed).
//!
//! The records carry no provider logic; the flow in `oauth_mcp_core::upstream`
//! (feature `upstream`) decides what goes in them. As elsewhere, every
//! operation that must be atomic is one method: an in-flight authorization
//! is taken once ([`UpstreamStore::take_upstream_flow`]), and stored upstream
//! tokens are replaced with a version check
//! ([`UpstreamStore::replace_upstream_tokens`]) so that two replicas refreshing
//! them at once cannot both win.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::MemoryStore;
use crate::error::StoreError;
use crate::scope::ScopeSet;

/// An authorization sent to the upstream provider and not yet returned:
/// created when the browser is redirected upstream, taken (once) when it
/// comes back to the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamFlow {
    /// base64url(SHA-256(`state`)): the key. The `state` itself travels only
    /// in the browser's URLs.
    pub state_hash: String,
    /// Which provider the browser was sent to (its id, e.g. `github` or an
    /// issuer URL): a callback can only complete a flow of that provider.
    pub provider: String,
    /// The PKCE code verifier for the upstream code exchange. It is needed in
    /// clear to redeem the code, so it is stored as is; it lives only until
    /// the flow is taken or expires.
    pub pkce_verifier: String,
    /// The OpenID `nonce` the ID token must carry (`None` for plain OAuth
    /// providers such as GitHub).
    pub nonce: Option<String>,
    /// The id hash of our own pending `/authorize` request that the upstream
    /// login completes.
    pub pending_id_hash: String,
    /// base64url(SHA-256(browser-binding cookie value)): the callback must
    /// come from the browser that started the flow.
    pub browser_hash: String,
    /// True if the person approved the consent page in this flow (before
    /// being sent upstream); false if the page was skipped because this
    /// browser's session remembered the consent, which the callback then
    /// checks against the user the provider signed in.
    pub consented: bool,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time after which the flow is void.
    pub expires_at: i64,
}

/// A user's consent to a client, remembered so that the consent page is not
/// shown again for the same client and no wider scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RememberedConsent {
    /// The local subject (the user).
    pub subject: String,
    /// The client consented to.
    pub client_id: String,
    /// The scopes consented to; a request for more asks again.
    pub scope: ScopeSet,
    /// Unix time given.
    pub granted_at: i64,
    /// Unix time after which the consent is forgotten.
    pub expires_at: i64,
}

/// A browser that completed an upstream login: who signed in there, so that
/// a remembered consent can skip the consent page (never the upstream
/// login itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSession {
    /// base64url(SHA-256(session cookie value)).
    pub id_hash: String,
    /// The local subject signed in.
    pub subject: String,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time after which the session is void.
    pub expires_at: i64,
}

/// A user's tokens at the upstream provider, sealed (encrypted and
/// authenticated) by the caller: the store never sees them in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokenRecord {
    /// The local subject the tokens belong to.
    pub subject: String,
    /// The provider that issued them (its id).
    pub provider: String,
    /// The sealed tokens (an AEAD ciphertext, e.g. from
    /// [`KeyEncryptionKey::seal`](crate::crypto::KeyEncryptionKey::seal)).
    pub sealed: Vec<u8>,
    /// Unix time the upstream access token expires, if the provider said.
    pub access_expires_at: Option<i64>,
    /// Unix time after which the record is useless (the refresh token's
    /// expiry, or the access token's when there is no refresh token); `None`
    /// if unknown. [`Cleanup::purge_expired`](super::Cleanup::purge_expired)
    /// removes records past it.
    pub expires_at: Option<i64>,
    /// Incremented on every replacement (see
    /// [`UpstreamStore::replace_upstream_tokens`]).
    pub version: u64,
    /// Unix time last written.
    pub updated_at: i64,
}

/// Storage for the upstream leg of a login.
#[async_trait]
pub trait UpstreamStore: Send + Sync {
    /// Stores a new in-flight authorization; [`StoreError::Duplicate`] if
    /// one with the same state hash exists.
    async fn insert_upstream_flow(&self, flow: UpstreamFlow) -> Result<(), StoreError>;

    /// Removes and returns the flow with this state hash, if it has not
    /// expired at `now`, atomically: of any number of concurrent calls, at
    /// most one gets it. An expired flow is removed and not returned.
    async fn take_upstream_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamFlow>, StoreError>;

    /// Stores a consent, replacing the one for the same subject and client.
    async fn put_consent(&self, consent: RememberedConsent) -> Result<(), StoreError>;

    /// The consent `subject` gave `client_id`, unless it expired at `now`.
    async fn get_consent(
        &self,
        subject: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<RememberedConsent>, StoreError>;

    /// Forgets a consent; false if there was none.
    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StoreError>;

    /// The stored upstream tokens of `subject` at `provider`.
    async fn get_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<Option<UpstreamTokenRecord>, StoreError>;

    /// Stores upstream tokens (after a login), replacing any for the same
    /// subject and provider whatever their version.
    async fn put_upstream_tokens(&self, record: UpstreamTokenRecord) -> Result<(), StoreError>;

    /// Replaces the stored tokens only if their version is still
    /// `expected_version` (compare-and-swap, after a refresh); returns false,
    /// writing nothing, if another writer got there first or the record is
    /// gone.
    async fn replace_upstream_tokens(
        &self,
        record: UpstreamTokenRecord,
        expected_version: u64,
    ) -> Result<bool, StoreError>;

    /// Deletes the upstream tokens of `subject` at `provider`; false if none.
    async fn delete_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<bool, StoreError>;

    /// Stores a browser session.
    async fn insert_browser_session(&self, session: BrowserSession) -> Result<(), StoreError>;

    /// The browser session with this id hash, unless it expired at `now`.
    async fn get_browser_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<BrowserSession>, StoreError>;

    /// Ends a browser session; false if there was none.
    async fn delete_browser_session(&self, id_hash: &str) -> Result<bool, StoreError>;
}

/// The most in-flight upstream authorizations (and browser sessions)
/// [`MemoryStore`] keeps: each is created by a browser, so their number is
/// bounded.
pub const MEMORY_MAX_UPSTREAM_FLOWS: usize = 100_000;

/// The in-memory upstream records of [`MemoryStore`].
#[derive(Debug, Default)]
pub(crate) struct MemoryUpstream {
    inner: Mutex<UpstreamInner>,
}

#[derive(Debug, Default)]
struct UpstreamInner {
    flows: HashMap<String, UpstreamFlow>,
    /// (subject, client id) -> consent
    consents: HashMap<(String, String), RememberedConsent>,
    /// (subject, provider) -> tokens
    tokens: HashMap<(String, String), UpstreamTokenRecord>,
    sessions: HashMap<String, BrowserSession>,
}

impl UpstreamInner {
    fn len(&self) -> usize {
        self.flows.len() + self.consents.len() + self.tokens.len() + self.sessions.len()
    }

    fn purge(&mut self, now: i64) -> u64 {
        let before = self.len();
        self.flows.retain(|_, f| f.expires_at > now);
        self.consents.retain(|_, c| c.expires_at > now);
        self.tokens
            .retain(|_, t| t.expires_at.is_none_or(|e| e > now));
        self.sessions.retain(|_, s| s.expires_at > now);
        (before - self.len()) as u64
    }
}

impl MemoryUpstream {
    /// Removes everything expired at `now` (for `Cleanup::purge_expired`).
    pub(super) fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        Ok(self.lock()?.purge(now))
    }

    fn lock(&self) -> Result<MutexGuard<'_, UpstreamInner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Other("memory store lock poisoned".into()))
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl UpstreamStore for MemoryStore {
    async fn insert_upstream_flow(&self, flow: UpstreamFlow) -> Result<(), StoreError> {
        let mut g = self.upstream.lock()?;
        if g.flows.contains_key(&flow.state_hash) {
            return Err(StoreError::Duplicate("upstream flow".into()));
        }
        if g.flows.len() >= MEMORY_MAX_UPSTREAM_FLOWS {
            g.purge(flow.created_at);
            if g.flows.len() >= MEMORY_MAX_UPSTREAM_FLOWS {
                return Err(StoreError::Unavailable(format!(
                    "{MEMORY_MAX_UPSTREAM_FLOWS} upstream sign-ins are already in progress"
                )));
            }
        }
        g.flows.insert(flow.state_hash.clone(), flow);
        Ok(())
    }

    async fn take_upstream_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .flows
            .remove(state_hash)
            .filter(|f| f.expires_at > now))
    }

    async fn put_consent(&self, consent: RememberedConsent) -> Result<(), StoreError> {
        self.upstream
            .lock()?
            .consents
            .insert(key(&consent.subject, &consent.client_id), consent);
        Ok(())
    }

    async fn get_consent(
        &self,
        subject: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<RememberedConsent>, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .consents
            .get(&key(subject, client_id))
            .filter(|c| c.expires_at > now)
            .cloned())
    }

    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .consents
            .remove(&key(subject, client_id))
            .is_some())
    }

    async fn get_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<Option<UpstreamTokenRecord>, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .tokens
            .get(&key(subject, provider))
            .cloned())
    }

    async fn put_upstream_tokens(&self, record: UpstreamTokenRecord) -> Result<(), StoreError> {
        self.upstream
            .lock()?
            .tokens
            .insert(key(&record.subject, &record.provider), record);
        Ok(())
    }

    async fn replace_upstream_tokens(
        &self,
        record: UpstreamTokenRecord,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let mut g = self.upstream.lock()?;
        match g.tokens.get_mut(&key(&record.subject, &record.provider)) {
            Some(current) if current.version == expected_version => {
                *current = record;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .tokens
            .remove(&key(subject, provider))
            .is_some())
    }

    async fn insert_browser_session(&self, session: BrowserSession) -> Result<(), StoreError> {
        let mut g = self.upstream.lock()?;
        if g.sessions.len() >= MEMORY_MAX_UPSTREAM_FLOWS {
            g.purge(session.created_at);
            if g.sessions.len() >= MEMORY_MAX_UPSTREAM_FLOWS {
                return Err(StoreError::Unavailable(format!(
                    "{MEMORY_MAX_UPSTREAM_FLOWS} browser sessions are already open"
                )));
            }
        }
        if g.sessions.contains_key(&session.id_hash) {
            return Err(StoreError::Duplicate("browser session".into()));
        }
        g.sessions.insert(session.id_hash.clone(), session);
        Ok(())
    }

    async fn get_browser_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<BrowserSession>, StoreError> {
        Ok(self
            .upstream
            .lock()?
            .sessions
            .get(id_hash)
            .filter(|s| s.expires_at > now)
            .cloned())
    }

    async fn delete_browser_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        Ok(self.upstream.lock()?.sessions.remove(id_hash).is_some())
    }
}

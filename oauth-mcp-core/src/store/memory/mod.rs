//! The in-memory store: every trait, one mutex, no await while it is held.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;

mod pending;
mod tokens;

use pending::PendingRequests;

/// Rate-limit buckets the memory store keeps at most; past that, stale ones
/// are dropped first and, if all are live, new buckets are refused.
const MAX_RATE_BUCKETS: usize = 200_000;

#[derive(Debug, Default)]
struct Inner {
    clients: HashMap<String, Client>,
    pending: PendingRequests,
    /// pending id hash -> login attempts used
    login_attempts: HashMap<String, u32>,
    /// grant id -> Unix time of revocation
    revoked_at: HashMap<String, i64>,
    /// rate-limit bucket -> theoretical arrival time (ms)
    rate_cells: HashMap<String, i64>,
    /// code hash -> (code, spent)
    codes: HashMap<String, (AuthorizationCode, bool)>,
    grants: HashMap<String, Grant>,
    /// Ids revoked before their grant was stored: never storable.
    tombstones: std::collections::HashSet<String>,
    refresh: HashMap<String, RefreshToken>,
    users: HashMap<String, User>,
    /// single-use marker -> expires_at
    replay: HashMap<String, i64>,
    /// The last revocations, `(sequence, grant id)`, oldest first (at most
    /// `REVOCATION_LOG`), for [`TokenStore::revocations_since`].
    revocation_log: std::collections::VecDeque<(i64, String)>,
    /// The sequence number of the last revocation.
    revocation_seq: i64,
}

impl Inner {
    /// Stores a grant and its refresh token, as [`TokenStore::insert_grant`] says.
    fn store_grant(
        &mut self,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<(), StoreError> {
        if self.grants.contains_key(&grant.grant_id) {
            return Err(StoreError::Duplicate("grant".into()));
        }
        let mut grant = grant;
        if self.tombstones.remove(&grant.grant_id) {
            // Revoked before it was stored: stored revoked, without tokens.
            grant.revoked = true;
        } else if let Some(r) = refresh {
            self.refresh.insert(r.token_hash.clone(), r);
        }
        self.grants.insert(grant.grant_id.clone(), grant);
        Ok(())
    }

    /// Spends a code into its grant, as [`AuthorizationStore::redeem_code`] says.
    fn redeem(
        &mut self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<CodeRedemption, StoreError> {
        let code = match self.codes.get(code_hash) {
            None => return Ok(CodeRedemption::NotFound),
            Some((code, true)) => {
                return Ok(CodeRedemption::Replayed {
                    grant_id: code.grant_id.clone(),
                });
            }
            Some((code, false)) => code.clone(),
        };
        self.store_grant(grant, refresh)?;
        if let Some((_, spent)) = self.codes.get_mut(code_hash) {
            *spent = true;
        }
        Ok(CodeRedemption::Redeemed(code))
    }
}

impl Inner {
    /// A client's first token: only the flag and the expiry change, so an
    /// edit of the client made since the engine read it is kept.
    fn record_first_token(&mut self, first: &FirstToken) {
        if let Some(c) = self.clients.get_mut(&first.client_id)
            && c.awaiting_first_token
        {
            c.awaiting_first_token = false;
            c.expires_at = first.expires_at;
        }
    }
}

/// An in-memory implementation of every storage trait, for a single process.
/// State is lost on restart; use `oauth-mcp-sqlx` to persist it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// The signing keys (their own lock; see `store::keys`).
    pub(super) keys: super::keys::MemoryKeys,
    /// The upstream-login records (see [`super::upstream`]).
    pub(super) upstream: super::upstream::MemoryUpstream,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Other("memory store lock poisoned".into()))
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: Client) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.clients.contains_key(&client.client_id) {
            return Err(StoreError::Duplicate(client.client_id));
        }
        g.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        Ok(self.lock()?.clients.get(client_id).cloned())
    }

    async fn update_client(&self, client: Client) -> Result<bool, StoreError> {
        let mut g = self.lock()?;
        match g.clients.get_mut(&client.client_id) {
            Some(c) => {
                *c = client;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let mut v: Vec<Client> = self.lock()?.clients.values().cloned().collect();
        v.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.client_id.cmp(&b.client_id))
        });
        Ok(v)
    }
}

#[async_trait]
impl AuthorizationStore for MemoryStore {
    async fn insert_pending(&self, pending: PendingAuthorization) -> Result<(), StoreError> {
        self.lock()?.pending.insert(pending);
        Ok(())
    }

    async fn insert_pending_within(
        &self,
        pending: PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<PendingInsert, StoreError> {
        let mut g = self.lock()?;
        let (total, of_client) = g.pending.live_counts(now, &pending.client_id);
        if of_client >= caps.per_client {
            return Ok(PendingInsert::ClientFull);
        }
        if total >= usize::try_from(caps.total).unwrap_or(usize::MAX) {
            return Ok(PendingInsert::TotalFull);
        }
        g.pending.insert(pending);
        Ok(PendingInsert::Stored)
    }

    async fn get_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        Ok(self
            .lock()?
            .pending
            .get(id_hash)
            .filter(|p| p.expires_at > now)
            .cloned())
    }

    async fn take_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut g = self.lock()?;
        g.login_attempts.remove(id_hash);
        Ok(g.pending.remove(id_hash).filter(|p| p.expires_at > now))
    }

    async fn insert_code(&self, code: AuthorizationCode) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Duplicate("authorization code".into()));
        }
        g.codes.insert(code.code_hash.clone(), (code, false));
        Ok(())
    }

    async fn get_code(&self, code_hash: &str) -> Result<Option<StoredCode>, StoreError> {
        Ok(self
            .lock()?
            .codes
            .get(code_hash)
            .map(|(code, spent)| StoredCode {
                code: code.clone(),
                spent: *spent,
            }))
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<CodeRedemption, StoreError> {
        self.lock()?.redeem(code_hash, grant, refresh)
    }

    async fn redeem_code_with_first_token(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
        first_token: Option<FirstToken>,
    ) -> Result<(CodeRedemption, bool), StoreError> {
        // Under the one lock, and only the flag and the expiry change: an
        // edit of the client made since the engine read it is kept.
        let mut g = self.lock()?;
        let out = g.redeem(code_hash, grant, refresh)?;
        if let (CodeRedemption::Redeemed(_), Some(first)) = (&out, first_token) {
            g.record_first_token(&first);
        }
        Ok((out, true))
    }

    async fn exchange_code(
        &self,
        code_hash: &str,
        exchange: &CodeExchange,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let mut g = self.lock()?;
        let (grant, refresh) = match g.codes.get(code_hash) {
            Some((code, false)) if exchange.matches(code) => exchange.grant_for(code),
            _ => return Ok(None),
        };
        let CodeRedemption::Redeemed(code) = g.redeem(code_hash, grant, refresh)? else {
            return Ok(None);
        };
        if let Some(first) = &exchange.first_token {
            g.record_first_token(first);
        }
        Ok(Some(code))
    }

    async fn consume_login_attempt(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<LoginAttempt, StoreError> {
        let mut g = self.lock()?;
        if g.pending.get(id_hash).is_none_or(|p| p.expires_at <= now) {
            return Ok(LoginAttempt::Unknown);
        }
        let used = g.login_attempts.get(id_hash).copied().unwrap_or(0);
        if used >= max_attempts {
            g.pending.remove(id_hash);
            g.login_attempts.remove(id_hash);
            return Ok(LoginAttempt::Exhausted);
        }
        g.login_attempts.insert(id_hash.to_owned(), used + 1);
        Ok(LoginAttempt::Granted {
            remaining: max_attempts - used - 1,
        })
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(self.lock()?.users.get(username).cloned())
    }

    async fn put_user(&self, user: User) -> Result<(), StoreError> {
        self.lock()?.users.insert(user.username.clone(), user);
        Ok(())
    }
}

/// The most single-use markers ([`ReplayStore`]) the memory store keeps.
const MAX_REPLAY_MARKERS: usize = 100_000;

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let mut g = self.lock()?;
        if g.replay.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        // Bounded without waiting for the periodic purge: expired markers
        // go first; if the table is still full of live ones (someone is
        // minting valid assertions with fresh `jti`s as fast as they can),
        // new ones are refused until markers expire (at most the assertion
        // lifetime, 10 minutes by default) rather than growing memory.
        if g.replay.len() >= MAX_REPLAY_MARKERS {
            g.replay.retain(|_, until| *until > now);
            if g.replay.len() >= MAX_REPLAY_MARKERS {
                return Err(StoreError::Unavailable(format!(
                    "the in-memory store holds {MAX_REPLAY_MARKERS} unexpired client-assertion markers; new ones are refused until some expire"
                )));
            }
        }
        g.replay.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}

#[async_trait]
impl Cleanup for MemoryStore {
    async fn purge(&self, now: i64, retention: &Retention) -> Result<PurgeReport, StoreError> {
        let mut g = self.lock()?;
        let g = &mut *g;
        let mut report = PurgeReport::default();
        let count = |before: usize, after: usize| (before - after) as u64;

        report.pending = g.pending.remove_expired(now) as u64;
        let pending = &g.pending;
        g.login_attempts.retain(|id, _| pending.contains(id));

        let n = g.codes.len();
        g.codes.retain(|_, (c, _)| c.expires_at > now);
        report.codes = count(n, g.codes.len());

        let n = g.replay.len();
        g.replay.retain(|_, until| *until > now);
        report.replay_markers = count(n, g.replay.len());

        let n = g.refresh.len();
        let retired_before = now.saturating_sub(retention.retired_refresh_tokens);
        let grants = &g.grants;
        g.refresh.retain(|_, r| {
            let current = grants.get(&r.grant_id).map_or(0, |g| g.refresh_generation);
            let retired = r.generation.saturating_add(1) < current && r.issued_at <= retired_before;
            r.expires_at > now && !retired
        });
        report.refresh_tokens = count(n, g.refresh.len());

        let n = g.grants.len();
        let revoked_before = now.saturating_sub(retention.revoked_grants);
        let idle_before = now.saturating_sub(retention.idle_grants);
        let with_refresh: std::collections::HashSet<&str> =
            g.refresh.values().map(|r| r.grant_id.as_str()).collect();
        // A grant stored already revoked has no revocation time yet: it
        // starts its retention now.
        for (id, grant) in &g.grants {
            if grant.revoked && !g.revoked_at.contains_key(id) {
                g.revoked_at.insert(id.clone(), now);
            }
        }
        let revoked_at = &g.revoked_at;
        g.grants.retain(|id, grant| {
            if grant.revoked {
                revoked_at.get(id).is_none_or(|at| *at > revoked_before)
            } else {
                with_refresh.contains(id.as_str()) || grant.created_at > idle_before
            }
        });
        let t = g.tombstones.len();
        let revoked_at = &g.revoked_at;
        g.tombstones
            .retain(|id| revoked_at.get(id).is_none_or(|at| *at > revoked_before));
        report.grants = count(n + t, g.grants.len() + g.tombstones.len());
        let (grants, tombstones) = (&g.grants, &g.tombstones);
        g.revoked_at
            .retain(|id, _| grants.contains_key(id) || tombstones.contains(id));

        let n = g.clients.len();
        g.clients
            .retain(|_, c| c.expires_at.is_none_or(|e| e > now));
        report.clients = count(n, g.clients.len());

        let n = g.rate_cells.len();
        let now_ms = now.saturating_mul(1000);
        g.rate_cells.retain(|_, tat| *tat > now_ms);
        report.rate_limits = count(n, g.rate_cells.len());
        report.upstream = self.upstream.purge_expired(now)?;
        Ok(report)
    }
}

#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn rate_limit_hit(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        let mut g = self.lock()?;
        let tat = g.rate_cells.get(bucket).copied();
        if tat.is_none() && g.rate_cells.len() >= MAX_RATE_BUCKETS {
            g.rate_cells.retain(|_, tat| *tat > now_ms);
            if g.rate_cells.len() >= MAX_RATE_BUCKETS {
                return Ok(RateDecision::Limited {
                    retry_after_ms: 1000,
                });
            }
        }
        Ok(match gcra_step(tat, now_ms, rule) {
            Ok(next) => {
                g.rate_cells.insert(bucket.to_owned(), next);
                RateDecision::Allowed
            }
            Err(retry_after_ms) => RateDecision::Limited { retry_after_ms },
        })
    }

    async fn rate_limit_peek(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        let tat = self.lock()?.rate_cells.get(bucket).copied();
        Ok(gcra_peek(tat, now_ms, rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Live single-use markers are bounded: when the table is full of
    /// unexpired ones, a new one is refused as "unavailable" (503 at the
    /// endpoints) instead of growing memory; expired ones make room again.
    #[tokio::test]
    async fn replay_markers_are_bounded() {
        let store = MemoryStore::new();
        for i in 0..MAX_REPLAY_MARKERS {
            assert!(store.consume_once(&format!("k{i}"), 100, 0).await.unwrap());
        }
        assert!(matches!(
            store.consume_once("one-more", 100, 0).await,
            Err(StoreError::Unavailable(_))
        ));
        // A replay of a remembered marker is still told apart.
        assert!(!store.consume_once("k7", 100, 0).await.unwrap());
        // Once they expire, new markers fit again.
        assert!(store.consume_once("one-more", 200, 100).await.unwrap());
        assert_eq!(store.lock().unwrap().replay.len(), 1);
    }
}

//! The in-memory store: every trait, one mutex, no await while it is held.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use super::*;

#[derive(Debug, Default)]
struct Inner {
    clients: HashMap<String, Client>,
    pending: HashMap<String, PendingAuthorization>,
    /// code hash -> (code, spent)
    codes: HashMap<String, (AuthorizationCode, bool)>,
    grants: HashMap<String, Grant>,
    /// Ids revoked before their grant was stored: never storable.
    tombstones: std::collections::HashSet<String>,
    refresh: HashMap<String, RefreshToken>,
    users: HashMap<String, User>,
    /// single-use marker -> expires_at
    replay: HashMap<String, i64>,
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
        self.lock()?
            .pending
            .insert(pending.id_hash.clone(), pending);
        Ok(())
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
        Ok(self
            .lock()?
            .pending
            .remove(id_hash)
            .filter(|p| p.expires_at > now))
    }

    async fn insert_code(&self, code: AuthorizationCode) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Duplicate("authorization code".into()));
        }
        g.codes.insert(code.code_hash.clone(), (code, false));
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str) -> Result<CodeRedemption, StoreError> {
        let mut g = self.lock()?;
        Ok(match g.codes.get_mut(code_hash) {
            None => CodeRedemption::NotFound,
            Some((code, spent)) if *spent => CodeRedemption::Replayed {
                grant_id: code.grant_id.clone(),
            },
            Some((code, spent)) => {
                *spent = true;
                CodeRedemption::Redeemed(code.clone())
            }
        })
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn insert_grant(
        &self,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<(), StoreError> {
        let mut g = self.lock()?;
        if g.grants.contains_key(&grant.grant_id) || g.tombstones.contains(&grant.grant_id) {
            return Err(StoreError::Duplicate("grant".into()));
        }
        if let Some(r) = refresh {
            g.refresh.insert(r.token_hash.clone(), r);
        }
        g.grants.insert(grant.grant_id.clone(), grant);
        Ok(())
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>, StoreError> {
        Ok(self.lock()?.grants.get(grant_id).cloned())
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError> {
        let mut g = self.lock()?;
        let found = match g.grants.get_mut(grant_id) {
            Some(grant) => {
                grant.revoked = true;
                true
            }
            None => {
                // A code replayed while its first redemption is still storing
                // the grant: leave a tombstone so that insert fails.
                g.tombstones.insert(grant_id.to_owned());
                false
            }
        };
        g.refresh.retain(|_, r| r.grant_id != grant_id);
        Ok(found)
    }

    async fn get_refresh(&self, token_hash: &str) -> Result<Option<RefreshToken>, StoreError> {
        Ok(self.lock()?.refresh.get(token_hash).cloned())
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> Result<RotateOutcome, StoreError> {
        let mut g = self.lock()?;
        let Some(presented) = g.refresh.get(presented_hash).cloned() else {
            return Ok(RotateOutcome::Invalid);
        };
        if presented.expires_at <= now {
            return Ok(RotateOutcome::Invalid);
        }
        let Some(grant) = g.grants.get_mut(&presented.grant_id) else {
            return Ok(RotateOutcome::Invalid);
        };
        if grant.revoked {
            return Ok(RotateOutcome::Invalid);
        }
        let generation = match decide_rotation(presented.generation, grant.refresh_generation) {
            RotationDecision::Advance => grant.refresh_generation + 1,
            RotationDecision::Sibling => grant.refresh_generation,
            RotationDecision::Reuse => {
                grant.revoked = true;
                let grant_id = grant.grant_id.clone();
                g.refresh.retain(|_, r| r.grant_id != grant_id);
                return Ok(RotateOutcome::Reused { grant_id });
            }
        };
        grant.refresh_generation = generation;
        let grant = grant.clone();
        // Retired tokens stay (until they expire) so that their reuse is
        // recognised as theft rather than as an unknown token.
        g.refresh.insert(
            new_hash.to_owned(),
            RefreshToken {
                token_hash: new_hash.to_owned(),
                grant_id: grant.grant_id.clone(),
                generation,
                issued_at: now,
                expires_at: new_expires_at,
            },
        );
        Ok(RotateOutcome::Rotated(grant))
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

#[async_trait]
impl ReplayStore for MemoryStore {
    async fn consume_once(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let mut g = self.lock()?;
        if g.replay.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        // Bounded without waiting for the periodic purge.
        if g.replay.len() >= 100_000 {
            g.replay.retain(|_, until| *until > now);
        }
        g.replay.insert(key.to_owned(), expires_at);
        Ok(true)
    }
}

#[async_trait]
impl Cleanup for MemoryStore {
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        let mut g = self.lock()?;
        let before = g.pending.len() + g.codes.len() + g.refresh.len() + g.replay.len();
        g.pending.retain(|_, p| p.expires_at > now);
        g.codes.retain(|_, (c, _)| c.expires_at > now);
        g.refresh.retain(|_, r| r.expires_at > now);
        g.replay.retain(|_, until| *until > now);
        let after = g.pending.len() + g.codes.len() + g.refresh.len() + g.replay.len();
        drop(g);
        Ok((before - after) as u64 + self.upstream.purge_expired(now)?)
    }
}

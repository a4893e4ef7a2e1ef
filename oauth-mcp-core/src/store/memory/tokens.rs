//! The memory store's grants, refresh-token rotation and revocation feed
//! ([`TokenStore`]).

use async_trait::async_trait;

use super::{Inner, MemoryStore};
use crate::clock::{Clock, SystemClock};
use crate::store::*;

/// A rotation's arguments (see [`TokenStore::rotate_refresh`]).
struct Rotation<'a> {
    presented_hash: &'a str,
    new_hash: &'a str,
    now: i64,
    new_expires_at: i64,
}

impl Inner {
    /// [`TokenStore::rotate_refresh`]; with `only`, as
    /// [`TokenStore::refresh_for`]: a grant the request does not match, or
    /// a reuse, is [`RotateOutcome::Invalid`] with nothing changed (the
    /// caller revokes a reuse through `rotate_refresh`).
    fn rotate(&mut self, r: &Rotation<'_>, only: Option<&RefreshExchange>) -> RotateOutcome {
        let Some(presented) = self.refresh.get(r.presented_hash).cloned() else {
            return RotateOutcome::Invalid;
        };
        if presented.expires_at <= r.now {
            return RotateOutcome::Invalid;
        }
        let Some(grant) = self.grants.get_mut(&presented.grant_id) else {
            return RotateOutcome::Invalid;
        };
        if grant.revoked || only.is_some_and(|x| !x.matches(grant)) {
            return RotateOutcome::Invalid;
        }
        let generation = match decide_rotation(presented.generation, grant.refresh_generation) {
            RotationDecision::Advance => grant.refresh_generation + 1,
            RotationDecision::Sibling => grant.refresh_generation,
            RotationDecision::Reuse if only.is_some() => return RotateOutcome::Invalid,
            RotationDecision::Reuse => {
                grant.revoked = true;
                let grant_id = grant.grant_id.clone();
                self.after_revocation(&grant_id, r.now);
                return RotateOutcome::Reused { grant_id };
            }
        };
        grant.refresh_generation = generation;
        let grant = grant.clone();
        // Retired tokens stay (until they expire) so that their reuse is
        // recognised as theft rather than as an unknown token.
        self.refresh.insert(
            r.new_hash.to_owned(),
            RefreshToken {
                token_hash: r.new_hash.to_owned(),
                grant_id: grant.grant_id.clone(),
                generation,
                issued_at: r.now,
                expires_at: r.new_expires_at,
            },
        );
        RotateOutcome::Rotated(grant)
    }
}

/// Revocations the memory store remembers for its feed; a reader further
/// behind is told to drop its whole cache.
const REVOCATION_LOG: usize = 4096;

impl Inner {
    /// What follows a grant's revocation (its `revoked` flag or tombstone
    /// is the caller's): its revocation time (the first one stays), its
    /// refresh tokens dropped, the revocation logged for the feed.
    fn after_revocation(&mut self, grant_id: &str, at: i64) {
        self.revoked_at.entry(grant_id.to_owned()).or_insert(at);
        self.refresh.retain(|_, t| t.grant_id != grant_id);
        self.revocation_seq += 1;
        if self.revocation_log.len() >= REVOCATION_LOG {
            self.revocation_log.pop_front();
        }
        self.revocation_log
            .push_back((self.revocation_seq, grant_id.to_owned()));
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn insert_grant(
        &self,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<(), StoreError> {
        self.lock()?.store_grant(grant, refresh)
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
                // the grant: leave a tombstone, so that the grant is stored
                // revoked (see `insert_grant`).
                g.tombstones.insert(grant_id.to_owned());
                false
            }
        };
        g.after_revocation(grant_id, SystemClock.now());
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
        let rotation = Rotation {
            presented_hash,
            new_hash,
            now,
            new_expires_at,
        };
        Ok(self.lock()?.rotate(&rotation, None))
    }

    async fn refresh_for(
        &self,
        presented_hash: &str,
        exchange: &RefreshExchange,
    ) -> Result<Option<Grant>, StoreError> {
        let rotation = Rotation {
            presented_hash,
            new_hash: &exchange.new_hash,
            now: exchange.now,
            new_expires_at: exchange.new_expires_at,
        };
        Ok(match self.lock()?.rotate(&rotation, Some(exchange)) {
            RotateOutcome::Rotated(grant) => Some(grant),
            RotateOutcome::Reused { .. } | RotateOutcome::Invalid => None,
        })
    }

    async fn revocations_since(
        &self,
        after: Option<RevocationCursor>,
    ) -> Result<Option<RevocationFeed>, StoreError> {
        let g = self.lock()?;
        let next = RevocationCursor {
            seq: g.revocation_seq,
            at_ms: 0,
        };
        let Some(after) = after else {
            return Ok(Some(RevocationFeed {
                revoked: Vec::new(),
                next,
                complete: true,
            }));
        };
        let oldest = g.revocation_log.front().map_or(next.seq + 1, |(s, _)| *s);
        Ok(Some(RevocationFeed {
            revoked: g
                .revocation_log
                .iter()
                .filter(|(s, _)| *s > after.seq)
                .cloned()
                .collect(),
            next,
            // Everything after `after.seq` is still in the log.
            complete: after.seq + 1 >= oldest,
        }))
    }
}

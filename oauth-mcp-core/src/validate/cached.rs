//! How the validators use the validated-token cache
//! ([`crate::token_cache`]): what an entry holds, and — for tokens whose
//! grant the store can revoke — how a cached token learns of a revocation
//! without a store round trip per request.
//!
//! Revocation reaches a cache two ways:
//!
//! - **At once, on the instance that revoked**: the [`AuthServer`](crate::AuthServer)
//!   tells its [`RevocationHub`], which drops the grant's tokens from every
//!   cache of its local validators.
//! - **Within [`MAX_STALENESS`] (1 s), on every instance sharing the store**:
//!   the store's revocation feed ([`TokenStore::revocations_since`]) is read
//!   at most every [`POLL_INTERVAL`] (500 ms) while requests come in, and a
//!   cached token is served only while the last successful read *started*
//!   less than 1 s ago. Past that, requests wait for a fresh read; if the
//!   store cannot be read, tokens are validated in full (and the store's
//!   answer decides, as without a cache). A store without a feed makes every
//!   cached token ask [`TokenStore::get_grant`], as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::AuthContext;
use crate::clock::Monotonic;
use crate::store::{RevocationCursor, TokenStore};
use crate::token_cache::{Ticket, TokenCache, TokenCacheConfig};

/// How often a busy resource server reads the store's revocation feed.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The longest a revocation made on another instance goes unseen: a cached
/// token is served only while the last successful read of the revocation
/// feed started less than this long ago.
pub const MAX_STALENESS: Duration = Duration::from_secs(1);

/// How long applied revocations are remembered, to skip the ones a store
/// sends again (stores whose sequence may commit out of order re-send the
/// last few seconds).
const APPLIED_MEMORY: Duration = Duration::from_secs(30);

/// A cache of validated tokens: the identity each stands for (its grant is
/// kept by the cache, for revocation).
pub(crate) type ContextCache = TokenCache<AuthContext>;

/// A new cache with `config`'s limits.
pub(crate) fn new_cache(config: &TokenCacheConfig) -> Arc<ContextCache> {
    Arc::new(TokenCache::new(config))
}

/// Caches `ctx` for `token`, validated at `now` after `ticket` was taken.
pub(crate) fn remember(
    cache: &ContextCache,
    token: &str,
    ctx: &AuthContext,
    grant_id: Option<&str>,
    now: i64,
    ticket: Ticket,
) {
    let bytes = std::mem::size_of::<super::Identity>()
        + ctx.subject.len()
        + ctx.client_id.len()
        + ctx.audience.len()
        + ctx.issuer.len()
        + ctx.token_id.as_ref().map_or(0, |t| t.len())
        + ctx.scopes.iter().map(|s| s.len() + 32).sum::<usize>();
    cache.insert(
        token,
        ctx.clone(),
        grant_id,
        ctx.expires_at,
        now,
        bytes,
        ticket,
    );
}

/// The caches of one authorization server's local validators, told at once
/// when that server revokes a grant.
#[derive(Default)]
pub(crate) struct RevocationHub {
    caches: Mutex<Vec<Weak<ContextCache>>>,
}

impl RevocationHub {
    /// Tells `cache` of this server's revocations from now on.
    pub(crate) fn register(&self, cache: &Arc<ContextCache>) {
        if let Ok(mut caches) = self.caches.lock() {
            caches.retain(|w| w.strong_count() > 0);
            caches.push(Arc::downgrade(cache));
        }
    }

    /// Drops the cached tokens of `grant_id` everywhere, at once.
    pub(crate) fn revoked(&self, grant_id: &str) {
        let caches: Vec<Arc<ContextCache>> = match self.caches.lock() {
            Ok(c) => c.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => return,
        };
        for c in caches {
            c.invalidate_grant(grant_id);
        }
    }
}

/// What a cached token needs before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HitPolicy {
    /// Serve it.
    Serve,
    /// Ask the store whether its grant was revoked (no feed).
    AskStore,
    /// Do not use the cache now (the feed could not be read).
    Bypass,
}

struct FeedState {
    cursor: Option<RevocationCursor>,
    applied: HashMap<i64, Instant>,
}

/// Keeps a cache in step with the store's revocation feed.
pub(crate) struct RevocationSync {
    store: Arc<dyn TokenStore>,
    /// Read on every cached hit, so the cheap coarse clock.
    clock: Monotonic,
    /// How much shorter than the truth an age read on `clock` may be.
    lag: Duration,
    /// `clock`'s reading at the start of the last successful read, plus one
    /// (0: never read).
    synced: AtomicU64,
    /// False once the store said it keeps no feed.
    has_feed: AtomicBool,
    state: tokio::sync::Mutex<FeedState>,
}

impl RevocationSync {
    pub(crate) fn new(store: Arc<dyn TokenStore>) -> Self {
        let clock = Monotonic::new();
        Self {
            store,
            clock,
            lag: clock.lag(),
            synced: AtomicU64::new(0),
            has_feed: AtomicBool::new(true),
            state: tokio::sync::Mutex::new(FeedState {
                cursor: None,
                applied: HashMap::new(),
            }),
        }
    }

    fn elapsed_nanos(&self) -> u64 {
        self.clock.nanos().min(u64::MAX - 1)
    }

    /// Time since the last successful read started, if any: at most what
    /// it truly is plus the clock's lag, so that `a < limit` proves the
    /// true age is under `limit`.
    fn age(&self) -> Option<Duration> {
        match self.synced.load(Ordering::Acquire) {
            0 => None,
            s => Some(
                Duration::from_nanos(self.elapsed_nanos().saturating_sub(s - 1))
                    .saturating_add(self.lag),
            ),
        }
    }

    /// What a cached token needs now; reads the feed first when it is due
    /// (waiting for it once the last read is older than [`MAX_STALENESS`]).
    pub(crate) async fn hit_policy(&self, cache: &ContextCache) -> HitPolicy {
        if self.serve_without_waiting() {
            return HitPolicy::Serve;
        }
        if !self.has_feed.load(Ordering::Relaxed) {
            return HitPolicy::AskStore;
        }
        match self.age() {
            Some(a) if a < MAX_STALENESS => {
                // Due: one request reads it, the others go on meanwhile.
                if let Ok(mut state) = self.state.try_lock() {
                    self.read_feed(&mut state, cache).await;
                }
                self.policy_now()
            }
            _ => {
                let mut state = self.state.lock().await;
                if self.age().is_none_or(|a| a >= POLL_INTERVAL) {
                    self.read_feed(&mut state, cache).await;
                }
                drop(state);
                self.policy_now()
            }
        }
    }

    /// True if the feed was read recently enough that a hit is served
    /// without anything else ([`HitPolicy::Serve`]); false when
    /// [`hit_policy`](Self::hit_policy) has to be awaited.
    pub(crate) fn serve_without_waiting(&self) -> bool {
        self.has_feed.load(Ordering::Relaxed) && self.age().is_some_and(|a| a < POLL_INTERVAL)
    }

    fn policy_now(&self) -> HitPolicy {
        if !self.has_feed.load(Ordering::Relaxed) {
            HitPolicy::AskStore
        } else if self.age().is_some_and(|a| a < MAX_STALENESS) {
            HitPolicy::Serve
        } else {
            HitPolicy::Bypass
        }
    }

    async fn read_feed(&self, state: &mut FeedState, cache: &ContextCache) {
        let started = self.elapsed_nanos();
        match self.store.revocations_since(state.cursor).await {
            Ok(None) => self.has_feed.store(false, Ordering::Relaxed),
            Ok(Some(feed)) => {
                let now = Instant::now();
                if state.cursor.is_none() || !feed.complete {
                    // Entries cached before the first read (or past what
                    // the store still knows) may predate a revocation.
                    cache.invalidate_all();
                    state.applied.clear();
                }
                state
                    .applied
                    .retain(|_, at| now.duration_since(*at) < APPLIED_MEMORY);
                let fresh: Vec<&str> = feed
                    .revoked
                    .iter()
                    .filter(|(seq, _)| state.applied.insert(*seq, now).is_none())
                    .map(|(_, g)| g.as_str())
                    .collect();
                cache.invalidate_grants(&fresh);
                state.cursor = Some(feed.next);
                self.synced.store(started + 1, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(target: "oauth_mcp::store", reason = %e,
                    "cannot read the store's revocation feed; validating tokens in full until it answers");
            }
        }
    }
}

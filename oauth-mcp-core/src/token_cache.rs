//! A cache of validated access tokens, so that a resource server checks a
//! token's signature (or asks the introspection endpoint, or the store) once
//! and then answers the same token from memory.
//!
//! - **Exact.** The lookup hashes the token's length and its last 32 bytes
//!   (a JWT's signature, an opaque token's random tail) with a fast keyed
//!   hash (foldhash, seeded at random per process), and a hit compares the
//!   whole token: a hash collision is a miss, never someone else's identity.
//!   Only validated tokens are stored, so nobody can fill a bucket with
//!   tokens chosen to collide.
//! - **Bounded.** At most `max_entries` entries and about `max_bytes` of
//!   memory (each entry is weighed by its token and value size, and never
//!   less than `max_bytes / max_entries`); tokens longer than
//!   `max_token_len` are not cached at all. Eviction is quick_cache's
//!   S3-FIFO (sharded, a hit takes a shard's read lock). moka was measured
//!   first: its sync cache's hit cost about 3× quick_cache's in the `bearer`
//!   bench (`token_cache_parts`), most of a 250 ns budget.
//! - **Never stale past its bounds.** An entry is served only while `now`
//!   (the caller's clock) is before both the token's `exp` and
//!   insertion + `ttl`; an entry found stale is removed, the others age out
//!   under the memory bound.
//! - **Revocable.** [`TokenCache::invalidate_grant`] drops every cached
//!   token of a grant at once; [`TokenCache::invalidate_all`] drops all.
//!   Each invalidation advances a revocation sequence. A validation that was
//!   already running when a revocation happened must not cache its result:
//!   take a [`Ticket`] before validating and pass it to
//!   [`TokenCache::insert`], which refuses (or undoes) the insert when the
//!   sequence moved.
//!
//! ```
//! use oauth_mcp_core::token_cache::{TokenCache, TokenCacheConfig};
//!
//! let cache: TokenCache<&'static str> = TokenCache::new(&TokenCacheConfig::default());
//! let now = 1_700_000_000;
//! let ticket = cache.ticket();
//! // ... validate "tok" fully, learn its grant and exp ...
//! cache.insert("tok", "alice", Some("grant-1"), now + 3600, now, 64, ticket);
//! assert_eq!(cache.get("tok", now + 1), Some("alice"));
//! cache.invalidate_grant("grant-1");
//! assert_eq!(cache.get("tok", now + 1), None);
//! ```

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{Equivalent, OptionsBuilder, Weighter};

/// Limits of a [`TokenCache`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenCacheConfig {
    /// Most entries held (default 10,000).
    pub max_entries: u64,
    /// About the most memory held by entries, in bytes (default 16 MiB).
    pub max_bytes: u64,
    /// Longest an entry is served after it was validated (default 5 min),
    /// whatever the token's `exp`.
    pub ttl: Duration,
    /// Longer tokens are validated every time, never cached (default 8 KiB).
    pub max_token_len: usize,
}

impl Default for TokenCacheConfig {
    fn default() -> Self {
        Self {
            max_entries: 10_000,
            max_bytes: 16 * 1024 * 1024,
            ttl: Duration::from_secs(300),
            max_token_len: 8 * 1024,
        }
    }
}

impl TokenCacheConfig {
    /// Sets [`Self::max_entries`].
    pub fn with_max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets [`Self::max_bytes`].
    pub fn with_max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }

    /// Sets [`Self::ttl`].
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets [`Self::max_token_len`].
    pub fn with_max_token_len(mut self, n: usize) -> Self {
        self.max_token_len = n;
        self
    }
}

/// The revocation sequence as seen before a validation started; see
/// [`TokenCache::ticket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

struct Entry<V> {
    value: V,
    grant_id: Option<Box<str>>,
    /// Unix seconds: min(exp, validated + ttl). Served only while now < this.
    valid_until: i64,
    weight: u64,
}

#[derive(Clone)]
struct ByWeight;

/// How many trailing bytes of a token its hash reads.
const HASHED_TAIL: usize = 32;

/// A cached token; hashed by [`hash_token`], so that a lookup by [`Lookup`]
/// agrees.
#[derive(PartialEq, Eq)]
struct Key(Box<str>);

/// A token looked up by its bytes (borrowed, hashed as its [`Key`] would
/// be). Bytes, so that a request's token needs no UTF-8 check before the
/// lookup: only validated tokens are cached, so a hit is one.
struct Lookup<'a>(&'a [u8]);

/// The length and the last [`HASHED_TAIL`] bytes: hashing all of a 500-byte
/// JWT was most of a hit's cost.
fn hash_token<H: Hasher>(b: &[u8], state: &mut H) {
    state.write_usize(b.len());
    state.write(&b[b.len().saturating_sub(HASHED_TAIL)..]);
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0.as_bytes(), state);
    }
}

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.0 == key.0.as_bytes()
    }
}

impl<V> Weighter<Key, Arc<Entry<V>>> for ByWeight {
    fn weight(&self, _key: &Key, value: &Arc<Entry<V>>) -> u64 {
        value.weight
    }
}

type Seed = foldhash::fast::RandomState;
type Inner<V> = Cache<Key, Arc<Entry<V>>, ByWeight, Seed, DefaultLifecycle<Key, Arc<Entry<V>>>>;

/// A bounded, revocable cache from access token to what validating it
/// produced (`V`, typically an `Arc` of the identity so that a hit is cheap
/// to clone).
pub struct TokenCache<V> {
    cache: Inner<V>,
    seq: AtomicU64,
    ttl_secs: i64,
    max_token_len: usize,
    min_weight: u64,
}

impl<V: Clone + Send + Sync + 'static> std::fmt::Debug for TokenCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.cache.len())
            .field("bytes", &self.cache.weight())
            .field("revocation_seq", &self.revocation_seq())
            .finish_non_exhaustive()
    }
}

/// What an entry costs besides its token and value.
const ENTRY_OVERHEAD: usize = 160;

impl<V: Clone + Send + Sync + 'static> TokenCache<V> {
    /// An empty cache with `config`'s limits (each at least 1).
    pub fn new(config: &TokenCacheConfig) -> Self {
        let max_entries = config.max_entries.max(1);
        let max_bytes = config.max_bytes.max(1);
        // Every entry weighs at least max_bytes / max_entries, so the weight
        // bound (max_bytes) also bounds the count (max_entries).
        let min_weight = (max_bytes / max_entries).max(1);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(usize::try_from(max_entries).unwrap_or(usize::MAX))
            .weight_capacity(max_bytes)
            .build();
        let cache = match options {
            Ok(o) => Cache::with_options(o, ByWeight, Seed::default(), DefaultLifecycle::default()),
            // Both values are set and positive, so this does not happen; if
            // quick_cache ever refuses them, a small cache is still correct.
            Err(_) => Cache::with(
                1024,
                1024 * 1024,
                ByWeight,
                Seed::default(),
                DefaultLifecycle::default(),
            ),
        };
        Self {
            cache,
            seq: AtomicU64::new(0),
            ttl_secs: i64::try_from(config.ttl.as_secs()).unwrap_or(i64::MAX),
            max_token_len: config.max_token_len,
            min_weight,
        }
    }

    /// The cached value for `token`, if it was validated, is still within
    /// its `exp` and the TTL at `now` (Unix seconds), and was not revoked.
    /// `token` may be the bytes a request carried, not yet checked to be
    /// UTF-8 (`&str`, `String` and `[u8]` all do).
    pub fn get<T: AsRef<[u8]> + ?Sized>(&self, token: &T, now: i64) -> Option<V> {
        self.entry(token.as_ref(), now).map(|e| e.value.clone())
    }

    /// Like [`get`](Self::get), with the grant the token was cached under.
    pub fn get_with_grant<T: AsRef<[u8]> + ?Sized>(
        &self,
        token: &T,
        now: i64,
    ) -> Option<(V, Option<String>)> {
        self.entry(token.as_ref(), now)
            .map(|e| (e.value.clone(), e.grant_id.as_deref().map(str::to_owned)))
    }

    /// The entry for `token` if it may be served at `now`; a stale one is
    /// removed.
    fn entry(&self, token: &[u8], now: i64) -> Option<Arc<Entry<V>>> {
        let e = self.cache.get(&Lookup(token))?;
        if now < e.valid_until {
            Some(e)
        } else {
            self.cache.remove_if(&Lookup(token), |v| Arc::ptr_eq(v, &e));
            None
        }
    }

    /// Take before validating a token whose result you will [`insert`](Self::insert).
    pub fn ticket(&self) -> Ticket {
        Ticket(self.seq.load(Ordering::SeqCst))
    }

    /// The revocation sequence: advanced by every invalidation.
    pub fn revocation_seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    /// Caches `value` for `token`, which the caller validated at `now`
    /// (Unix seconds) after taking `ticket`; `grant_id` is the grant it
    /// belongs to (for [`invalidate_grant`](Self::invalidate_grant)),
    /// `expires_at` its `exp`, and `value_bytes` about what `value` holds in
    /// memory. Nothing is cached when the token is too long, already
    /// expired, or a revocation happened since `ticket`.
    #[allow(clippy::too_many_arguments)]
    pub fn insert(
        &self,
        token: &str,
        value: V,
        grant_id: Option<&str>,
        expires_at: i64,
        now: i64,
        value_bytes: usize,
        ticket: Ticket,
    ) {
        if token.len() > self.max_token_len {
            return;
        }
        let valid_until = expires_at.min(now.saturating_add(self.ttl_secs));
        if valid_until <= now || self.ticket() != ticket {
            return;
        }
        let bytes = token.len() + value_bytes + grant_id.map_or(0, str::len) + ENTRY_OVERHEAD;
        let weight = u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .max(self.min_weight);
        let key = Key(token.into());
        let entry = Arc::new(Entry {
            value,
            grant_id: grant_id.map(Into::into),
            valid_until,
            weight,
        });
        self.cache.insert(key, entry.clone());
        // A revocation that raced with this insert may have scanned the
        // cache before the entry was there: undo it.
        if self.ticket() != ticket {
            self.cache
                .remove_if(&Lookup(token.as_bytes()), |v| Arc::ptr_eq(v, &entry));
        }
    }

    /// Drops every cached token of grant `grant_id`, at once.
    pub fn invalidate_grant(&self, grant_id: &str) {
        self.invalidate_grants(&[grant_id]);
    }

    /// Drops every cached token of these grants (one pass over the cache).
    pub fn invalidate_grants(&self, grant_ids: &[&str]) {
        if grant_ids.is_empty() {
            return;
        }
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.cache.retain(|_, e| {
            !e.grant_id
                .as_deref()
                .is_some_and(|g| grant_ids.contains(&g))
        });
    }

    /// Drops everything (e.g. when revocations may have been missed).
    pub fn invalidate_all(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
    }

    /// Entries held.
    pub fn entry_count(&self) -> u64 {
        u64::try_from(self.cache.len()).unwrap_or(u64::MAX)
    }

    /// Weighed bytes held.
    pub fn weighted_size(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn cache(cfg: &TokenCacheConfig) -> TokenCache<u32> {
        TokenCache::new(cfg)
    }

    fn put(c: &TokenCache<u32>, token: &str, v: u32, gid: Option<&str>, exp: i64) {
        c.insert(token, v, gid, exp, NOW, 8, c.ticket());
    }

    #[test]
    fn hit_needs_the_whole_token() {
        let c = cache(&TokenCacheConfig::default());
        let t = "eyJ.header.payload.signature";
        put(&c, t, 1, None, NOW + 60);
        assert_eq!(c.get(t, NOW), Some(1));
        assert_eq!(c.get("eyJ.header.payload.signaturX", NOW), None);
        assert_eq!(c.get(&t[..t.len() - 1], NOW), None);
        assert_eq!(c.get("", NOW), None);
    }

    #[test]
    fn tokens_that_share_the_hashed_tail_are_told_apart() {
        // Same length, same last 32 bytes: the same hash, different tokens.
        let tail = "x".repeat(HASHED_TAIL + 8);
        let (a, b, never) = (format!("a{tail}"), format!("b{tail}"), format!("c{tail}"));
        let c = cache(&TokenCacheConfig::default());
        put(&c, &a, 1, None, NOW + 60);
        put(&c, &b, 2, None, NOW + 60);
        assert_eq!(c.get(&a, NOW), Some(1));
        assert_eq!(c.get(&b, NOW), Some(2));
        assert_eq!(c.get(&never, NOW), None);
    }

    #[test]
    fn never_served_at_or_after_exp() {
        let c = cache(&TokenCacheConfig::default());
        put(&c, "a", 1, None, NOW + 10);
        assert_eq!(c.get("a", NOW + 9), Some(1));
        assert_eq!(c.get("a", NOW + 10), None);
        assert_eq!(c.get("a", NOW + 11), None);
        // Already expired: not cached at all.
        put(&c, "b", 2, None, NOW);
        assert_eq!(c.get("b", NOW - 1), None);
    }

    #[test]
    fn never_served_past_the_ttl() {
        let c = cache(&TokenCacheConfig::default().with_ttl(Duration::from_secs(30)));
        put(&c, "a", 1, None, NOW + 3600);
        assert_eq!(c.get("a", NOW + 29), Some(1));
        assert_eq!(c.get("a", NOW + 30), None);
        // A zero TTL caches nothing.
        let c = cache(&TokenCacheConfig::default().with_ttl(Duration::ZERO));
        put(&c, "a", 1, None, NOW + 3600);
        assert_eq!(c.get("a", NOW), None);
    }

    #[test]
    fn invalidating_a_grant_drops_only_its_tokens() {
        let c = cache(&TokenCacheConfig::default());
        put(&c, "a1", 1, Some("ga"), NOW + 60);
        put(&c, "a2", 2, Some("ga"), NOW + 60);
        put(&c, "b1", 3, Some("gb"), NOW + 60);
        put(&c, "n1", 4, None, NOW + 60);
        let seq = c.revocation_seq();
        c.invalidate_grant("ga");
        assert_eq!(c.revocation_seq(), seq + 1);
        assert_eq!(c.get("a1", NOW), None);
        assert_eq!(c.get("a2", NOW), None);
        assert_eq!(c.get("b1", NOW), Some(3));
        assert_eq!(c.get("n1", NOW), Some(4));
        c.invalidate_grants(&["gb", "gx"]);
        assert_eq!(c.get("b1", NOW), None);
        assert_eq!(c.get("n1", NOW), Some(4));
        c.invalidate_all();
        assert_eq!(c.get("n1", NOW), None);
    }

    #[test]
    fn a_validation_that_raced_a_revocation_is_not_cached() {
        let c = cache(&TokenCacheConfig::default());
        let ticket = c.ticket();
        // The grant is revoked while the token is being validated.
        c.invalidate_grant("g");
        c.insert("t", 1, Some("g"), NOW + 60, NOW, 8, ticket);
        assert_eq!(c.get("t", NOW), None);
        // Any revocation counts, even of another grant: better a miss than stale.
        let ticket = c.ticket();
        c.invalidate_all();
        c.insert("u", 1, Some("h"), NOW + 60, NOW, 8, ticket);
        assert_eq!(c.get("u", NOW), None);
        // With a fresh ticket it is cached.
        put(&c, "u", 1, Some("h"), NOW + 60);
        assert_eq!(c.get("u", NOW), Some(1));
    }

    #[test]
    fn bounded_in_entries() {
        let c = cache(&TokenCacheConfig::default().with_max_entries(100));
        for i in 0..1_000u32 {
            put(&c, &format!("token-{i}"), i, None, NOW + 60);
        }
        assert!(c.entry_count() <= 100, "{} entries", c.entry_count());
        assert!(c.entry_count() > 0);
    }

    #[test]
    fn bounded_in_bytes() {
        let cfg = TokenCacheConfig::default()
            .with_max_entries(1_000_000)
            .with_max_bytes(64 * 1024);
        let c = cache(&cfg);
        let long = "x".repeat(4000);
        for i in 0..200u32 {
            c.insert(
                &format!("{long}{i}"),
                i,
                None,
                NOW + 60,
                NOW,
                4000,
                c.ticket(),
            );
        }
        assert!(
            c.weighted_size() <= 64 * 1024,
            "{} bytes",
            c.weighted_size()
        );
        assert!(
            c.entry_count() <= 64 * 1024 / 8000 + 1,
            "{}",
            c.entry_count()
        );
    }

    #[test]
    fn overlong_tokens_are_not_cached() {
        let c = cache(&TokenCacheConfig::default().with_max_token_len(16));
        put(&c, &"y".repeat(17), 1, None, NOW + 60);
        assert_eq!(c.get(&"y".repeat(17), NOW), None);
        put(&c, &"y".repeat(16), 2, None, NOW + 60);
        assert_eq!(c.get(&"y".repeat(16), NOW), Some(2));
    }

    #[test]
    fn concurrent_revocation_never_leaves_a_stale_entry() {
        // Inserters race a revoker: each takes a ticket, "validates" (yields),
        // then inserts, with the revocation sequence its ticket saw as value.
        // Once all have stopped, no entry from before the last revocation
        // may be served.
        let c = Arc::new(cache(&TokenCacheConfig::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let inserters: Vec<_> = (0..3)
            .map(|n| {
                let c = c.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut i = 0u32;
                    while !stop.load(Ordering::SeqCst) && i < 1_000_000 {
                        let ticket = c.ticket();
                        let seen = u32::try_from(ticket.0).unwrap_or(u32::MAX);
                        std::thread::yield_now();
                        c.insert(
                            &format!("t{n}-{}", i % 32),
                            seen,
                            Some("g"),
                            NOW + 60,
                            NOW,
                            8,
                            ticket,
                        );
                        i += 1;
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            c.invalidate_grant("g");
            std::thread::yield_now();
        }
        stop.store(true, Ordering::SeqCst);
        for t in inserters {
            t.join().ok();
        }
        let last = u32::try_from(c.revocation_seq()).unwrap_or(u32::MAX);
        assert_eq!(last, 200);
        for n in 0..3 {
            for i in 0..32 {
                if let Some(seen) = c.get(&format!("t{n}-{i}"), NOW) {
                    assert_eq!(
                        seen, last,
                        "an entry validated before revocation {last} survived it"
                    );
                }
            }
        }
    }
}

//! In-process buckets: one `governor` keyed limiter per rule, bounded in the
//! number of keys it tracks.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::store::GcraRule;

/// The time rate limits are measured in. [`RateClock::system`] in
/// production; [`RateClock::manual`] in tests, moved by
/// [`RateClock::advance`].
#[derive(Debug, Clone)]
pub struct RateClock(ClockInner);

#[derive(Debug, Clone)]
enum ClockInner {
    /// Monotonic for in-process buckets, wall-clock milliseconds for buckets
    /// in a store shared with other processes.
    System { start: Instant },
    /// Unix milliseconds, moved by hand.
    Manual(Arc<AtomicI64>),
}

impl RateClock {
    /// The system's clocks.
    pub fn system() -> Self {
        Self(ClockInner::System {
            start: Instant::now(),
        })
    }

    /// A clock standing at `unix_ms` until advanced (clones move together).
    pub fn manual(unix_ms: i64) -> Self {
        Self(ClockInner::Manual(Arc::new(AtomicI64::new(unix_ms))))
    }

    /// Moves a manual clock forward; no effect on the system clock.
    pub fn advance(&self, by: Duration) {
        if let ClockInner::Manual(ms) = &self.0 {
            let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
            ms.fetch_add(by, Ordering::SeqCst);
        }
    }

    /// Unix time in milliseconds (what buckets in a shared store use).
    pub fn unix_ms(&self) -> i64 {
        match &self.0 {
            ClockInner::System { .. } => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            ClockInner::Manual(ms) => ms.load(Ordering::SeqCst),
        }
    }
}

impl governor::clock::Clock for RateClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        match &self.0 {
            ClockInner::System { start } => {
                Nanos::new(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
            }
            ClockInner::Manual(ms) => Nanos::new(
                u64::try_from(ms.load(Ordering::SeqCst))
                    .unwrap_or(0)
                    .saturating_mul(1_000_000),
            ),
        }
    }
}

/// What a bucket is keyed by. Client ids are kept as their SHA-256, so a
/// key's size does not depend on what a stranger sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum BucketKey {
    Addr(IpAddr),
    Client([u8; 32]),
    /// Every new key once a limiter tracks its maximum.
    Overflow,
}

// One short lock per request on a limited endpoint: a plain map is enough
// (no `dashmap` in the tree).
type Keyed = RateLimiter<BucketKey, HashMapStateStore<BucketKey>, RateClock, NoOpMiddleware<Nanos>>;

/// One rule's buckets.
pub(crate) struct LocalBuckets {
    limiter: Keyed,
    clock: RateClock,
    max_keys: usize,
    /// When stale keys were last swept (clock milliseconds).
    last_sweep_ms: AtomicI64,
}

impl std::fmt::Debug for LocalBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBuckets")
            .field("keys", &self.limiter.len())
            .field("max_keys", &self.max_keys)
            .finish()
    }
}

/// Sweeps stale keys at most this often when over the key limit.
const SWEEP_EVERY_MS: i64 = 1000;

impl LocalBuckets {
    pub(crate) fn new(rule: GcraRule, clock: RateClock, max_keys: usize) -> Self {
        let interval = Duration::from_millis(u64::try_from(rule.interval_ms.max(1)).unwrap_or(1));
        let burst =
            std::num::NonZeroU32::new(rule.burst.max(1)).unwrap_or(std::num::NonZeroU32::MIN);
        // `with_period` fails only for a zero period, excluded above.
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::hashmap_with_clock(quota, clock.clone()),
            clock,
            max_keys: max_keys.max(1),
            last_sweep_ms: AtomicI64::new(i64::MIN),
        }
    }

    /// Counts one request for `key`: `Ok` if allowed, else how long to wait.
    pub(crate) fn hit(&self, key: BucketKey) -> Result<(), Duration> {
        let key = if self.limiter.len() >= self.max_keys && !self.sweep() {
            BucketKey::Overflow
        } else {
            key
        };
        self.limiter
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(governor::clock::Clock::now(&self.clock)))
    }

    /// Drops keys whose buckets are full again; true if that made room.
    /// Runs at most once per [`SWEEP_EVERY_MS`].
    fn sweep(&self) -> bool {
        let now = self.clock.unix_ms();
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= SWEEP_EVERY_MS
            && self
                .last_sweep_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.len() < self.max_keys
    }

    /// Keys tracked now.
    pub(crate) fn len(&self) -> usize {
        self.limiter.len()
    }
}

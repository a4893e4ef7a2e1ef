//! Rate-limit counters kept in the store, so that limits hold across every
//! replica sharing it.
//!
//! The algorithm is GCRA (the generic cell rate algorithm, the one `governor`
//! runs in process): each bucket keeps one number, its *theoretical arrival
//! time* (TAT). [`gcra_step`] is the rule; every store applies it atomically
//! (the in-memory store under its lock, SQL stores in one conditional
//! upsert), and the conformance kit checks them against it.

use async_trait::async_trait;

use crate::error::StoreError;

/// One rate-limit rule, in milliseconds: a bucket refills one cell every
/// `interval_ms` and holds at most `burst` cells. "`burst` requests at once,
/// then one every `interval_ms`."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GcraRule {
    /// Milliseconds between two cells (the sustained rate's period). At least 1.
    pub interval_ms: i64,
    /// Cells a full bucket holds (the burst). At least 1.
    pub burst: u32,
}

impl GcraRule {
    /// `count` requests per `period`, all of which may come at once.
    pub fn per_period(count: u32, period: std::time::Duration) -> Self {
        let count = count.max(1);
        let ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
        Self {
            interval_ms: (ms / i64::from(count)).max(1),
            burst: count,
        }
    }

    /// How far the TAT may run ahead of now: `interval_ms * (burst - 1)`
    /// (as in `governor`).
    pub fn tolerance_ms(&self) -> i64 {
        self.interval()
            .saturating_mul(i64::from(self.burst.max(1) - 1))
    }

    fn interval(&self) -> i64 {
        self.interval_ms.max(1)
    }
}

/// What a rate-limit check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the limit (and, for a hit, counted).
    Allowed,
    /// Over the limit: nothing was counted; retry after this many milliseconds.
    Limited {
        /// Milliseconds until one request would be allowed again (at least 1).
        retry_after_ms: i64,
    },
}

impl RateDecision {
    /// True if allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }
}

/// The GCRA rule every store applies: given the bucket's stored TAT (`None`
/// if it has none, or it was purged), either the new TAT to store (`Ok`) or
/// how many milliseconds to wait (`Err`). A request is allowed when the TAT
/// runs at most [`GcraRule::tolerance_ms`] ahead of `now_ms`; then the TAT
/// becomes `max(tat, now) + interval`.
///
/// ```
/// use oauth_mcp_core::store::{GcraRule, gcra_step};
/// let rule = GcraRule { interval_ms: 1000, burst: 2 };
/// let t1 = gcra_step(None, 0, rule).unwrap();       // 1st: allowed
/// let t2 = gcra_step(Some(t1), 0, rule).unwrap();   // 2nd: allowed (burst 2)
/// assert_eq!(gcra_step(Some(t2), 0, rule), Err(1000)); // 3rd: wait 1 s
/// assert!(gcra_step(Some(t2), 1000, rule).is_ok());     // a cell has refilled
/// ```
pub fn gcra_step(tat: Option<i64>, now_ms: i64, rule: GcraRule) -> Result<i64, i64> {
    let tat = tat.unwrap_or(now_ms);
    let allowed_from = tat.saturating_sub(rule.tolerance_ms());
    if now_ms < allowed_from {
        return Err((allowed_from - now_ms).max(1));
    }
    Ok(tat.max(now_ms).saturating_add(rule.interval()))
}

/// [`gcra_step`] without storing anything: would a request be allowed now?
pub fn gcra_peek(tat: Option<i64>, now_ms: i64, rule: GcraRule) -> RateDecision {
    match gcra_step(tat, now_ms, rule) {
        Ok(_) => RateDecision::Allowed,
        Err(retry_after_ms) => RateDecision::Limited { retry_after_ms },
    }
}

/// Rate-limit buckets shared by every process using the store.
///
/// Bucket names are chosen by the library (an endpoint, a key kind and an
/// address or a hash); at most 200 bytes. A bucket whose TAT lies in the past
/// is indistinguishable from an absent one, so [`super::Cleanup::purge`]
/// deletes it.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Applies [`gcra_step`] to `bucket` atomically: of concurrent hits on a
    /// bucket with one cell left, exactly one is allowed.
    async fn rate_limit_hit(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError>;

    /// Whether a hit would be allowed now, without counting one
    /// ([`gcra_peek`]).
    async fn rate_limit_peek(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_matches_governor_semantics() {
        // 3 per second: a burst of 3, then one every 333 ms.
        let rule = GcraRule::per_period(3, std::time::Duration::from_secs(1));
        assert_eq!(rule.interval_ms, 333);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra_step(tat, 10_000, rule).unwrap());
        }
        let wait = gcra_step(tat, 10_000, rule).unwrap_err();
        assert_eq!(wait, 333);
        assert!(gcra_step(tat, 10_000 + wait - 1, rule).is_err());
        assert!(gcra_step(tat, 10_000 + wait, rule).is_ok());
        // An old TAT counts as a full bucket.
        assert_eq!(gcra_step(Some(0), 10_000, rule), Ok(10_333));
        assert_eq!(
            gcra_peek(tat, 10_000, rule),
            RateDecision::Limited {
                retry_after_ms: 333
            }
        );
        assert_eq!(gcra_peek(None, 10_000, rule), RateDecision::Allowed);
    }

    #[test]
    fn degenerate_rules_do_not_overflow() {
        let rule = GcraRule {
            interval_ms: 0,
            burst: 0,
        };
        assert!(gcra_step(None, i64::MAX - 1, rule).is_ok());
        let huge = GcraRule::per_period(2, std::time::Duration::MAX);
        assert_eq!(huge.tolerance_ms(), i64::MAX / 2);
        assert!(gcra_step(Some(i64::MAX), 0, huge).is_err());
        assert!(gcra_step(Some(0), 0, huge).is_ok());
    }
}

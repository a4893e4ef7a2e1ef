//! Time, injectable so that expiry is testable without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A source of the current time in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now(&self) -> i64;
}

/// The system clock. On Linux and Android it reads the coarse real-time
/// clock (`CLOCK_REALTIME_COARSE`: the time at the last timer tick, at most
/// a few milliseconds behind, and about a third of the cost of the precise
/// one, which matters on the path of every cached token); whole seconds need
/// no more.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn now(&self) -> i64 {
        rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn now(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A cheap monotonic clock in nanoseconds, for intervals that tolerate a
/// reading up to [`Monotonic::lag`] old: on Linux and Android the coarse
/// clock (`CLOCK_MONOTONIC_COARSE`), elsewhere [`std::time::Instant`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Monotonic {
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    base: std::time::Instant,
}

impl Monotonic {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            base: std::time::Instant::now(),
        }
    }

    /// Nanoseconds since an arbitrary start.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn nanos(&self) -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
        let secs = u64::try_from(t.tv_sec).unwrap_or(0);
        let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(nanos)
    }

    /// Nanoseconds since an arbitrary start.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// How far behind the precise clock a reading may be (the coarse
    /// clock's tick, 1-10 ms; zero for `Instant`). An interval measured with
    /// two readings is short of the true one by less than this.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn lag(&self) -> std::time::Duration {
        let r = rustix::time::clock_getres(rustix::time::ClockId::MonotonicCoarse);
        let nanos = u64::try_from(r.tv_nsec).unwrap_or(0);
        let secs = u64::try_from(r.tv_sec).unwrap_or(0);
        std::time::Duration::from_secs(secs) + std::time::Duration::from_nanos(nanos)
    }

    /// How far behind the precise clock a reading may be (zero here).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn lag(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A clock that starts at the system time and moves only when told: for
/// tests of expiry.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock reading the current system time.
    pub fn new() -> Self {
        Self(Arc::new(AtomicI64::new(SystemClock.now())))
    }

    /// Moves the clock forward by `secs` seconds (every clone moves with it).
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn system_clock_agrees_with_the_precise_clock() {
        let secs = |t: SystemTime| {
            t.duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        let before = secs(SystemTime::now());
        let now = SystemClock.now();
        let after = secs(SystemTime::now());
        // The coarse clock may trail by a tick: at most a second boundary.
        assert!(
            now >= before - 1 && now <= after,
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn monotonic_moves_forward_and_names_its_lag() {
        let m = Monotonic::new();
        let lag = m.lag();
        assert!(lag <= Duration::from_millis(100), "{lag:?}");
        let a = m.nanos();
        std::thread::sleep(Duration::from_millis(30));
        let b = m.nanos();
        let measured = Duration::from_nanos(b - a);
        // Short of the true interval by less than the lag, never longer
        // than it by more than the lag.
        assert!(
            measured + lag >= Duration::from_millis(30),
            "{measured:?} + {lag:?}"
        );
        assert!(measured < Duration::from_secs(5), "{measured:?}");
    }
}

//! PostgreSQL connections for the operations of the login and token flow
//! (one statement each), kept between uses without sqlx's release check.
//!
//! sqlx's pool pings every connection it gets back (a `Sync` and its
//! `ReadyForQuery`: one more round trip after every statement run on the
//! pool), to catch connections left half-way by a cancelled query. Here a
//! connection is kept only when its statement completed (sqlx has then read
//! everything up to `ReadyForQuery`, or will before the next statement);
//! one dropped mid-statement or after an error goes back to sqlx's pool,
//! which checks it as before. A connection idle for
//! [`PING_WHEN_IDLE_FOR`](crate::PING_WHEN_IDLE_FOR) or longer is handed
//! back to sqlx too, so the pool's own check (a ping before reuse) still
//! covers a connection a restart or a proxy may have cut: at the next
//! acquire, or by the trimming task ([`HotPool::spawn_trimmer`]) when no
//! request comes, so that sqlx's `idle_timeout` and `max_lifetime` apply
//! to a quiet server's connections as to any other.
//!
//! The connections stay checked out of sqlx's pool, so its limit holds for
//! both. At most `max_connections - 1` are held here (in use or idle): the
//! other operations (keys, purging, transactions) always have one left.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::PING_WHEN_IDLE_FOR;

/// A kept connection and when it was kept.
type Idle = (PoolConnection<Postgres>, Instant);

/// The kept connections of one store (shared by its clones).
#[derive(Debug)]
pub(crate) struct HotPool {
    pool: PgPool,
    permits: Semaphore,
    /// Idle connections with the time they were kept; `None` once closed.
    idle: Mutex<Option<Vec<Idle>>>,
    acquire_timeout: Duration,
}

/// A connection in use; [`HotConn::keep`] puts it back after a completed
/// statement, dropping it hands it back to sqlx's pool.
pub(crate) struct HotConn<'a> {
    hot: &'a HotPool,
    conn: PoolConnection<Postgres>,
    _permit: SemaphorePermit<'a>,
}

impl HotPool {
    /// `None` when the pool is too small to keep a connection aside.
    pub(crate) fn new(pool: &PgPool) -> Option<Self> {
        let options = pool.options();
        let max = options.get_max_connections();
        if max < 2 {
            return None;
        }
        Some(Self {
            pool: pool.clone(),
            permits: Semaphore::new(usize::try_from(max - 1).unwrap_or(1)),
            idle: Mutex::new(Some(Vec::new())),
            acquire_timeout: options.get_acquire_timeout(),
        })
    }

    /// A connection: a kept one used less than [`PING_WHEN_IDLE_FOR`] ago,
    /// else one from sqlx's pool. Waits at most the pool's acquire timeout.
    pub(crate) async fn acquire(&self) -> Result<HotConn<'_>, sqlx::Error> {
        let started = Instant::now();
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let (fresh, stale) = self.take_idle();
        // Handed back to sqlx (after the lock is released), which pings
        // them before their next use.
        drop(stale);
        let conn = match fresh {
            Some(conn) => conn,
            None => {
                let left = self.acquire_timeout.saturating_sub(started.elapsed());
                tokio::time::timeout(left, self.pool.acquire())
                    .await
                    .map_err(|_| sqlx::Error::PoolTimedOut)??
            }
        };
        Ok(HotConn {
            hot: self,
            conn,
            _permit: permit,
        })
    }

    /// The most recently kept connection if it is fresh, and every idle one
    /// too old to use unchecked.
    fn take_idle(
        &self,
    ) -> (
        Option<PoolConnection<Postgres>>,
        Vec<PoolConnection<Postgres>>,
    ) {
        let mut guard = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(idle) = guard.as_mut() else {
            return (None, Vec::new());
        };
        let stale = Self::split_stale(idle, Instant::now());
        (idle.pop().map(|(c, _)| c), stale)
    }

    /// Removes and returns the idle connections kept
    /// [`PING_WHEN_IDLE_FOR`] or longer before `now`.
    fn split_stale(idle: &mut Vec<Idle>, now: Instant) -> Vec<PoolConnection<Postgres>> {
        // Kept in order: those idle too long all sit at the front.
        let n = idle
            .iter()
            .take_while(|(_, since)| now.saturating_duration_since(*since) >= PING_WHEN_IDLE_FOR)
            .count();
        idle.drain(..n).map(|(c, _)| c).collect()
    }

    /// Hands the connections idle [`PING_WHEN_IDLE_FOR`] or longer back to
    /// sqlx's pool. False once the pool is closed (nothing is kept then).
    fn trim(&self) -> bool {
        let stale = {
            let mut guard = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            match guard.as_mut() {
                Some(idle) => Self::split_stale(idle, Instant::now()),
                None => return false,
            }
        };
        // Dropped after the lock is released: sqlx takes them back.
        drop(stale);
        true
    }

    /// On the current tokio runtime (the one the pool was connected on,
    /// whose I/O its connections use), a task that calls
    /// [`trim`](Self::trim) every [`PING_WHEN_IDLE_FOR`]: without it a
    /// connection kept when requests stopped would stay checked out of
    /// sqlx's pool until the next request. A connection goes back within
    /// two such periods of its last use. The task holds the pool weakly
    /// and ends once every store sharing it is dropped or closed.
    pub(crate) fn spawn_trimmer(hot: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak: Weak<Self> = Arc::downgrade(hot);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(PING_WHEN_IDLE_FOR);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hot) = weak.upgrade() else { return };
                if !hot.trim() {
                    return;
                }
            }
        });
    }

    /// Hands every idle connection back to sqlx's pool and keeps none from
    /// now on (before [`PgPool::close`], which waits for them).
    pub(crate) fn close(&self) {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(idle);
    }
}

impl HotConn<'_> {
    /// Keeps the connection for the next operation: call only after a
    /// statement completed.
    pub(crate) fn keep(self) {
        let HotConn { hot, conn, _permit } = self;
        let mut guard = hot.idle.lock().unwrap_or_else(PoisonError::into_inner);
        match guard.as_mut() {
            Some(idle) => idle.push((conn, Instant::now())),
            // Closed: back to sqlx's pool (after the lock is released).
            None => {
                drop(guard);
                drop(conn);
            }
        }
    }
}

impl Deref for HotConn<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl DerefMut for HotConn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

//! Storing a pending authorization request within its caps
//! ([`AuthorizationStore::insert_pending_within`]), and the count of the
//! store's live requests that the insert reuses.
//!
//! A client's live requests are counted by the insert statement itself: at
//! most `per_client` of them (1,000 by default), through the
//! `(client_id, expires_at)` index. The store's total is not counted on
//! every insert. Counting up to `total` live requests (10,000 by default)
//! walks that many index entries: about a millisecond of database CPU per
//! `GET /authorize` once the store is full, which is exactly when a flood
//! is sending them. Instead a store ([`PendingTally`], shared by its
//! clones) counts at most once per clock second, the `now` the engine
//! passes, and until that second ends keeps the count current with its own
//! inserts and takes. While the count says the store is full, new requests
//! are refused without a statement.
//!
//! What that costs in exactness is bounded by time:
//!
//! - requests that expire during the second still count until it ends;
//! - a store shared by several processes sees the other processes' inserts
//!   at the next second's count, so together they can overshoot the cap by
//!   what the others store within one second (each process's `/authorize`
//!   is rate limited), and the next count refuses them all.
//!
//! [`AuthorizationStore::insert_pending_within`]: oauth_mcp_core::store::AuthorizationStore::insert_pending_within

use std::sync::{Mutex, PoisonError};

use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{PendingAuthorization, PendingCaps, PendingInsert};

use crate::durability::async_commit;
use crate::error::map;
use crate::store::{bind_pending, on_conn, pending_cols, pg_conn};
use crate::{Backend, SqlStore};

/// The store's live pending requests, as last counted and kept current
/// since (see the module docs). Shared by a store's clones.
#[derive(Debug, Default)]
pub(crate) struct PendingTally(Mutex<Option<Tally>>);

/// One count: in clock second `second`, at most `limit` counted, `live` now.
#[derive(Debug, Clone, Copy)]
struct Tally {
    second: i64,
    limit: u32,
    live: u32,
}

impl PendingTally {
    fn with<R>(&self, f: impl FnOnce(&mut Option<Tally>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The live count to use at `now` for a total cap of `limit`: `None`
    /// when it must be counted again (a new second, or another cap).
    fn fresh(&self, now: i64, limit: u32) -> Option<u32> {
        self.with(|t| match *t {
            Some(t) if t.second == now && t.limit == limit => Some(t.live),
            _ => None,
        })
    }

    /// A count at `now`, up to `limit`, that found `live` (before the
    /// request it came with was stored).
    fn counted(&self, now: i64, limit: u32, live: u32) {
        self.with(|t| {
            *t = Some(Tally {
                second: now,
                limit,
                live,
            })
        });
    }

    /// One request more (stored at `now`) or one less (taken or discarded
    /// at `now`): kept only within the count's second.
    fn adjust(&self, now: i64, more: bool) {
        self.with(|t| {
            if let Some(t) = t.as_mut().filter(|t| t.second == now) {
                t.live = if more {
                    t.live.saturating_add(1)
                } else {
                    t.live.saturating_sub(1)
                };
            }
        });
    }
}

/// The insert: the request's columns are `$1`…`$11`, `$12` is now and
/// `$13` the per-client cap. A client's count stops at its cap (the
/// decision is the same) and walks its index in order: an index-only scan,
/// which marks the entries of requests taken since the last vacuum dead as
/// it passes them, so later counts skip them instead of fetching their rows
/// again. On PostgreSQL it commits without waiting for the disk (in-flight
/// login state, see `durability`).
macro_rules! insert_within_client_cap {
    ($from:literal $(, $and:expr)*) => {
        concat!(
            "INSERT INTO oauth_pending (",
            pending_cols!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 ",
            $from,
            " WHERE (SELECT COUNT(*) FROM (SELECT 1 FROM oauth_pending WHERE client_id = $2 \
             AND expires_at > $12 ORDER BY expires_at LIMIT $13) c) < $13"
            $(, " AND ", $and)*
        )
    };
}

/// The store's live requests at `$12`, counted up to `$14` (in order, as a
/// client's are).
macro_rules! live_total {
    () => {
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM oauth_pending WHERE expires_at > $12 \
         ORDER BY expires_at LIMIT $14) l"
    };
}

/// The insert when the total was counted this second.
const INSERT_SQLITE: &str = insert_within_client_cap!("");
const INSERT_PG: &str = insert_within_client_cap!("", async_commit!());

/// PostgreSQL, at a new second: the total's count and the insert in one
/// statement (one snapshot, one round trip); it answers the count and
/// whether the request was stored.
const COUNT_AND_INSERT_PG: &str = concat!(
    "WITH t AS (",
    live_total!(),
    "), i AS (",
    insert_within_client_cap!("FROM t", "t.n < $14", async_commit!()),
    " RETURNING 1) SELECT t.n, EXISTS (SELECT 1 FROM i) FROM t"
);

/// SQLite, at a new second: the count before the insert (SQLite has no
/// data-modifying CTE; a local file has no round trip to save). `$12` and
/// `$14` as in [`live_total!`], renumbered.
const COUNT_SQLITE: &str = "SELECT COUNT(*) FROM (SELECT 1 FROM oauth_pending \
     WHERE expires_at > $1 ORDER BY expires_at LIMIT $2) l";

impl SqlStore {
    /// [`AuthorizationStore::insert_pending_within`](oauth_mcp_core::store::AuthorizationStore::insert_pending_within)
    /// (see the module docs).
    pub(crate) async fn insert_pending_capped(
        &self,
        p: &PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<PendingInsert, StoreError> {
        let (total, stored) = match self.pending_tally.fresh(now, caps.total) {
            Some(live) if live >= caps.total => return Ok(PendingInsert::TotalFull),
            Some(live) => (live, self.insert_pending_sql(p, caps, now).await?),
            None => {
                let (counted, stored) = self.count_and_insert_pending(p, caps, now).await?;
                let live = u32::try_from(counted).unwrap_or(u32::MAX);
                self.pending_tally.counted(now, caps.total, live);
                (live, stored)
            }
        };
        if stored {
            self.pending_tally.adjust(now, true);
            Ok(PendingInsert::Stored)
        } else if total >= caps.total {
            Ok(PendingInsert::TotalFull)
        } else {
            Ok(PendingInsert::ClientFull)
        }
    }

    /// A pending request stored without the caps at `now`.
    pub(crate) fn pending_added(&self, now: i64) {
        self.pending_tally.adjust(now, true);
    }

    /// A pending request taken or discarded at `now`.
    pub(crate) fn pending_left(&self, now: i64) {
        self.pending_tally.adjust(now, false);
    }

    /// The store's live requests (up to the cap) and whether `p` was
    /// stored: one statement on PostgreSQL, two on SQLite.
    async fn count_and_insert_pending(
        &self,
        p: &PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<(i64, bool), StoreError> {
        let total = i64::from(caps.total);
        match &self.backend {
            Backend::Postgres(pool) => {
                let scope = p.scope.to_string();
                pg_conn!(self, pool, |c| bind_pending!(
                    sqlx::query_as(COUNT_AND_INSERT_PG),
                    p,
                    scope
                )
                .bind(now)
                .bind(i64::from(caps.per_client))
                .bind(total)
                .fetch_one(c)
                .await)
                .map_err(map)
            }
            Backend::Sqlite(pool) => {
                let counted: i64 = sqlx::query_scalar(COUNT_SQLITE)
                    .bind(now)
                    .bind(total)
                    .fetch_one(pool)
                    .await
                    .map_err(map)?;
                let stored = counted < total && self.insert_pending_sql(p, caps, now).await?;
                Ok((counted, stored))
            }
        }
    }

    /// The insert within the client's cap (the total checked by the
    /// caller); true if stored.
    async fn insert_pending_sql(
        &self,
        p: &PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<bool, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite(_) => INSERT_SQLITE,
            Backend::Postgres(_) => INSERT_PG,
        };
        let scope = p.scope.to_string();
        on_conn!(self, |c| bind_pending!(sqlx::query(sql), p, scope)
            .bind(now)
            .bind(i64::from(caps.per_client))
            .execute(c)
            .await
            .map(|r| r.rows_affected() == 1))
        .map_err(map)
    }
}

//! The abuse limits on both databases: rate-limit buckets (one conditional
//! upsert per hit), login attempts per pending request (one conditional
//! update), and purging.

use async_trait::async_trait;
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::store::{
    Cleanup, GcraRule, GuardedLoginAttempt, LoginAttempt, PendingAuthorization, PurgeReport,
    RateDecision, RateLimitStore, Retention, gcra_peek,
};

use crate::durability::async_commit;
use crate::error::map;
use crate::rows::PendingRow;
use crate::store::{on_conn, on_pool, pending_cols};
use crate::{Backend, SqlStore};

/// Rule parameters are clamped to this (about 30 years in milliseconds) so
/// that `tat + interval` cannot overflow a BIGINT.
const MAX_RULE_MS: i64 = 1_000_000_000_000;

/// One hit: a new bucket starts at `now + interval`; an existing one
/// advances to `max(tat, now) + interval` only if its TAT runs at most the
/// tolerance ahead of now (GCRA, as `gcra_step`). A row comes back only if
/// the hit was allowed.
const HIT_SQLITE: &str = "INSERT INTO oauth_rate_limits (bucket, tat) VALUES ($1, $2 + $3) \
    ON CONFLICT (bucket) DO UPDATE SET tat = MAX(oauth_rate_limits.tat, $2) + $3 \
    WHERE oauth_rate_limits.tat - $4 <= $2 RETURNING tat";
/// On PostgreSQL a hit commits without waiting for the disk (see
/// `durability`).
const HIT_POSTGRES: &str = concat!(
    "INSERT INTO oauth_rate_limits (bucket, tat) SELECT $1, $2 + $3 WHERE ",
    async_commit!(),
    " ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(oauth_rate_limits.tat, $2) + $3 \
     WHERE oauth_rate_limits.tat - $4 <= $2 RETURNING tat"
);
const SELECT_TAT: &str = "SELECT tat FROM oauth_rate_limits WHERE bucket = $1";

impl SqlStore {
    async fn bucket_tat(&self, bucket: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = on_conn!(self, |pool| sqlx::query_as(SELECT_TAT)
            .bind(bucket)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        Ok(row.map(|(t,)| t))
    }
}

fn clamp(rule: GcraRule) -> GcraRule {
    let interval_ms = rule.interval_ms.clamp(1, MAX_RULE_MS);
    let max_burst = u32::try_from(MAX_RULE_MS / interval_ms).unwrap_or(u32::MAX);
    GcraRule {
        interval_ms,
        burst: rule.burst.clamp(1, max_burst.max(1)),
    }
}

#[async_trait]
impl RateLimitStore for SqlStore {
    async fn rate_limit_hit(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        let rule = clamp(rule);
        let sql = match self.backend {
            Backend::Sqlite(_) => HIT_SQLITE,
            Backend::Postgres(_) => HIT_POSTGRES,
        };
        let allowed: Option<(i64,)> = on_conn!(self, |pool| sqlx::query_as(sql)
            .bind(bucket)
            .bind(now_ms)
            .bind(rule.interval_ms)
            .bind(rule.tolerance_ms())
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        if allowed.is_some() {
            return Ok(RateDecision::Allowed);
        }
        // Refused: read how long to wait (the bucket may have moved on in
        // the meantime; it was full a moment ago, so wait at least 1 ms).
        Ok(
            match gcra_peek(self.bucket_tat(bucket).await?, now_ms, rule) {
                RateDecision::Allowed => RateDecision::Limited { retry_after_ms: 1 },
                limited => limited,
            },
        )
    }

    async fn rate_limit_peek(
        &self,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<RateDecision, StoreError> {
        Ok(gcra_peek(
            self.bucket_tat(bucket).await?,
            now_ms,
            clamp(rule),
        ))
    }
}

impl SqlStore {
    /// [`AuthorizationStore::consume_login_attempt`]: the statement of
    /// [`consume_login_attempt_reading_sql`](Self::consume_login_attempt_reading_sql),
    /// whose request is not needed here.
    ///
    /// [`AuthorizationStore::consume_login_attempt`]: oauth_mcp_core::store::AuthorizationStore::consume_login_attempt
    pub(crate) async fn consume_login_attempt_sql(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<LoginAttempt, StoreError> {
        self.consume_login_attempt_reading_sql(id_hash, max_attempts, now)
            .await
            .map(|(attempt, _)| attempt)
    }

    /// [`AuthorizationStore::consume_login_attempt_reading`]: one
    /// conditional `UPDATE … RETURNING` counts the attempt and returns the
    /// request; of concurrent callers on the last attempt exactly one gets
    /// the row back.
    ///
    /// [`AuthorizationStore::consume_login_attempt_reading`]: oauth_mcp_core::store::AuthorizationStore::consume_login_attempt_reading
    pub(crate) async fn consume_login_attempt_reading_sql(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<(LoginAttempt, Option<PendingAuthorization>), StoreError> {
        match self
            .count_login_attempt(id_hash, max_attempts, now, None)
            .await?
        {
            GuardedLoginAttempt::Counted(attempt, pending) => Ok((attempt, pending)),
            // Only a guarded count backs off.
            GuardedLoginAttempt::BackingOff { .. } => Ok((LoginAttempt::Unknown, None)),
        }
    }

    /// [`AuthorizationStore::consume_login_attempt_unless_backing_off`]:
    /// the same `UPDATE`, also conditional on the username's bucket not
    /// backing off (the rule of [`gcra_peek`], as `rate_limit_peek` applies
    /// it); when nothing was counted, a second statement tells a backoff
    /// from a used-up or unknown request.
    ///
    /// [`AuthorizationStore::consume_login_attempt_unless_backing_off`]: oauth_mcp_core::store::AuthorizationStore::consume_login_attempt_unless_backing_off
    pub(crate) async fn consume_login_attempt_unless_backing_off_sql(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<GuardedLoginAttempt, StoreError> {
        self.count_login_attempt(
            id_hash,
            max_attempts,
            now,
            Some((bucket, clamp(rule), now_ms)),
        )
        .await
    }

    /// Counts an attempt and reads the request in one conditional
    /// `UPDATE … RETURNING` (with `guard`, only while the bucket allows a
    /// request at `now_ms`); of concurrent callers on the last attempt
    /// exactly one gets the row back.
    async fn count_login_attempt(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
        guard: Option<(&str, GcraRule, i64)>,
    ) -> Result<GuardedLoginAttempt, StoreError> {
        // A bucket refuses while its TAT runs more than the tolerance
        // ahead of now (`gcra_step`); an absent one never does. On
        // PostgreSQL the count commits without waiting for the disk (see
        // `durability`).
        macro_rules! count {
            ($($and:expr),*) => {
                concat!(
                    "UPDATE oauth_pending SET login_attempts = login_attempts + 1 \
                     WHERE id_hash = $1 AND expires_at > $2 AND login_attempts < $3",
                    $(" AND ", $and,)*
                    " RETURNING login_attempts, ",
                    pending_cols!()
                )
            };
        }
        macro_rules! unless_backing_off {
            () => {
                "NOT EXISTS (SELECT 1 FROM oauth_rate_limits WHERE bucket = $4 AND tat - $5 > $6)"
            };
        }
        let pg = matches!(self.backend, Backend::Postgres(_));
        let sql = match (guard.is_some(), pg) {
            (false, false) => count!(),
            (false, true) => count!(async_commit!()),
            (true, false) => count!(unless_backing_off!()),
            (true, true) => count!(unless_backing_off!(), async_commit!()),
        };
        #[derive(sqlx::FromRow)]
        struct Counted {
            login_attempts: i32,
            #[sqlx(flatten)]
            pending: PendingRow,
        }
        let max = i32::try_from(max_attempts).unwrap_or(i32::MAX);
        let counted: Option<Counted> = match guard {
            None => on_conn!(self, |pool| sqlx::query_as(sql)
                .bind(id_hash)
                .bind(now)
                .bind(max)
                .fetch_optional(pool)
                .await),
            Some((bucket, rule, now_ms)) => {
                on_conn!(self, |pool| sqlx::query_as(sql)
                    .bind(id_hash)
                    .bind(now)
                    .bind(max)
                    .bind(bucket)
                    .bind(rule.tolerance_ms())
                    .bind(now_ms)
                    .fetch_optional(pool)
                    .await)
            }
        }
        .map_err(map)?;
        if let Some(c) = counted {
            return Ok(GuardedLoginAttempt::Counted(
                granted(max, c.login_attempts),
                Some(c.pending.into_pending()?),
            ));
        }
        if let Some((bucket, rule, now_ms)) = guard
            && let RateDecision::Limited { retry_after_ms } =
                gcra_peek(self.bucket_tat(bucket).await?, now_ms, rule)
        {
            return Ok(GuardedLoginAttempt::BackingOff { retry_after_ms });
        }
        Ok(GuardedLoginAttempt::Counted(
            self.discard_exhausted(id_hash, max, now).await?,
            None,
        ))
    }

    /// No attempt could be counted: discards the request if its attempts
    /// are used up ([`LoginAttempt::Exhausted`]), else it is unknown.
    async fn discard_exhausted(
        &self,
        id_hash: &str,
        max: i32,
        now: i64,
    ) -> Result<LoginAttempt, StoreError> {
        const DISCARD: &str = "DELETE FROM oauth_pending \
            WHERE id_hash = $1 AND expires_at > $2 AND login_attempts >= $3";
        let discarded = on_conn!(self, |pool| sqlx::query(DISCARD)
            .bind(id_hash)
            .bind(now)
            .bind(max)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(if discarded > 0 {
            self.pending_left(now);
            LoginAttempt::Exhausted
        } else {
            LoginAttempt::Unknown
        })
    }
}

fn granted(max: i32, used: i32) -> LoginAttempt {
    let remaining = max.saturating_sub(used).max(0);
    LoginAttempt::Granted {
        remaining: u32::try_from(remaining).unwrap_or(0),
    }
}

#[async_trait]
impl Cleanup for SqlStore {
    async fn purge(&self, now: i64, retention: &Retention) -> Result<PurgeReport, StoreError> {
        // Spent codes go with the rest once expired: a replay after that is
        // refused as an unknown (or expired) code anyway.
        const PENDING: &str = "DELETE FROM oauth_pending WHERE expires_at <= $1";
        const CODES: &str = "DELETE FROM oauth_codes WHERE expires_at <= $1";
        const REPLAY: &str = "DELETE FROM oauth_replay WHERE expires_at <= $1";
        // Expired tokens, and tokens two or more generations behind their
        // grant issued before the retired-token cutoff ($2).
        const REFRESH: &str = "DELETE FROM oauth_refresh_tokens WHERE expires_at <= $1 \
            OR (issued_at <= $2 AND generation + 1 < (SELECT g.refresh_generation \
                FROM oauth_grants g WHERE g.grant_id = oauth_refresh_tokens.grant_id))";
        // A grant stored already revoked starts its retention now.
        const STAMP_REVOKED: &str =
            "UPDATE oauth_grants SET revoked_at = $1 WHERE revoked AND revoked_at IS NULL";
        const REVOKED: &str = "DELETE FROM oauth_grants WHERE revoked AND revoked_at <= $1";
        const IDLE: &str = "DELETE FROM oauth_grants WHERE NOT revoked AND created_at <= $1 \
            AND NOT EXISTS (SELECT 1 FROM oauth_refresh_tokens r \
                WHERE r.grant_id = oauth_grants.grant_id)";
        const CLIENTS: &str =
            "DELETE FROM oauth_clients WHERE expires_at IS NOT NULL AND expires_at <= $1";
        const BUCKETS: &str = "DELETE FROM oauth_rate_limits WHERE tat <= $1";

        async fn run(
            store: &SqlStore,
            sql: &'static str,
            a: i64,
            b: Option<i64>,
        ) -> Result<u64, StoreError> {
            on_pool!(store, |pool| {
                let mut q = sqlx::query(sql).bind(a);
                if let Some(b) = b {
                    q = q.bind(b);
                }
                q.execute(pool).await.map(|d| d.rows_affected())
            })
            .map_err(map)
        }

        let retired_before = now.saturating_sub(retention.retired_refresh_tokens);
        let revoked_before = now.saturating_sub(retention.revoked_grants);
        let idle_before = now.saturating_sub(retention.idle_grants);
        let mut r = PurgeReport {
            pending: run(self, PENDING, now, None).await?,
            codes: run(self, CODES, now, None).await?,
            replay_markers: run(self, REPLAY, now, None).await?,
            refresh_tokens: run(self, REFRESH, now, Some(retired_before)).await?,
            ..PurgeReport::default()
        };
        run(self, STAMP_REVOKED, now, None).await?;
        r.grants = run(self, REVOKED, revoked_before, None).await?
            + run(self, IDLE, idle_before, None).await?;
        r.clients = run(self, CLIENTS, now, None).await?;
        r.rate_limits = run(self, BUCKETS, now.saturating_mul(1000), None).await?;
        run(
            self,
            crate::revocations::PURGE,
            now.saturating_mul(1000)
                .saturating_sub(crate::revocations::RETENTION_MS),
            None,
        )
        .await?;
        for sql in crate::upstream::UPSTREAM_PURGE {
            r.upstream += run(self, sql, now, None).await?;
        }
        Ok(r)
    }
}

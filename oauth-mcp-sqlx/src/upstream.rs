//! [`UpstreamStore`] on both databases (migration `0005_upstream.sql`):
//! in-flight upstream authorizations taken with one `DELETE … RETURNING`,
//! consents and sealed upstream tokens upserted with `ON CONFLICT`, the
//! tokens' compare-and-swap as one conditional `UPDATE`, browser sessions by
//! hash. Their expired rows go with [`crate::SqlStore`]'s `purge_expired`
//! ([`UPSTREAM_PURGE`]).

use async_trait::async_trait;
use oauth_mcp_core::error::StoreError;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::store::{
    BrowserSession, RememberedConsent, UpstreamFlow, UpstreamStore, UpstreamTokenRecord,
};

use crate::durability::async_commit;
use crate::error::map;
use crate::rows::generation_to_db;
use crate::{Backend, SqlStore};

macro_rules! flow_cols {
    () => {
        "state_hash, provider, pkce_verifier, nonce, pending_id_hash, browser_hash, consented, \
         created_at, expires_at"
    };
}
macro_rules! token_cols {
    () => {
        "subject, provider, sealed, access_expires_at, expires_at, version, updated_at"
    };
}

#[derive(Debug, sqlx::FromRow)]
struct FlowRow {
    state_hash: String,
    provider: String,
    pkce_verifier: String,
    nonce: Option<String>,
    pending_id_hash: String,
    browser_hash: String,
    consented: bool,
    created_at: i64,
    expires_at: i64,
}

impl From<FlowRow> for UpstreamFlow {
    fn from(r: FlowRow) -> Self {
        UpstreamFlow {
            state_hash: r.state_hash,
            provider: r.provider,
            pkce_verifier: r.pkce_verifier,
            nonce: r.nonce,
            pending_id_hash: r.pending_id_hash,
            browser_hash: r.browser_hash,
            consented: r.consented,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(Debug, sqlx::FromRow)]
struct ConsentRow {
    subject: String,
    client_id: String,
    scope: String,
    granted_at: i64,
    expires_at: i64,
}

impl TryFrom<ConsentRow> for RememberedConsent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(RememberedConsent {
            scope: ScopeSet::parse(&r.scope).map_err(|e| {
                StoreError::Other(format!("stored consent scope is malformed: {e}"))
            })?,
            subject: r.subject,
            client_id: r.client_id,
            granted_at: r.granted_at,
            expires_at: r.expires_at,
        })
    }
}

#[derive(Debug, sqlx::FromRow)]
struct SessionRow {
    id_hash: String,
    subject: String,
    created_at: i64,
    expires_at: i64,
}

/// The statements `purge_expired` runs for the upstream-login tables (each
/// binds `now` as `$1`).
pub(crate) const UPSTREAM_PURGE: [&str; 4] = [
    "DELETE FROM oauth_upstream_flows WHERE expires_at <= $1",
    "DELETE FROM oauth_consents WHERE expires_at <= $1",
    "DELETE FROM oauth_browser_sessions WHERE expires_at <= $1",
    "DELETE FROM oauth_upstream_tokens WHERE expires_at <= $1",
];

#[derive(Debug, sqlx::FromRow)]
struct TokensRow {
    subject: String,
    provider: String,
    sealed: Vec<u8>,
    access_expires_at: Option<i64>,
    expires_at: Option<i64>,
    version: i64,
    updated_at: i64,
}

impl TryFrom<TokensRow> for UpstreamTokenRecord {
    type Error = StoreError;
    fn try_from(r: TokensRow) -> Result<Self, StoreError> {
        Ok(UpstreamTokenRecord {
            version: u64::try_from(r.version).map_err(|_| {
                StoreError::Other(format!(
                    "stored upstream token version {} is negative",
                    r.version
                ))
            })?,
            subject: r.subject,
            provider: r.provider,
            sealed: r.sealed,
            access_expires_at: r.access_expires_at,
            expires_at: r.expires_at,
            updated_at: r.updated_at,
        })
    }
}

#[async_trait]
impl UpstreamStore for SqlStore {
    async fn insert_upstream_flow(&self, f: UpstreamFlow) -> Result<(), StoreError> {
        // On PostgreSQL it commits without waiting for the disk (in-flight
        // login state, see `durability`).
        macro_rules! insert {
            ($($and:expr)?) => {
                concat!(
                    "INSERT INTO oauth_upstream_flows (",
                    flow_cols!(),
                    ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9"
                    $(, " WHERE ", $and)?
                )
            };
        }
        let sql = match self.backend {
            Backend::Sqlite(_) => insert!(),
            Backend::Postgres(_) => insert!(async_commit!()),
        };
        on_conn!(self, |pool| sqlx::query(sql)
            .bind(&f.state_hash)
            .bind(&f.provider)
            .bind(&f.pkce_verifier)
            .bind(&f.nonce)
            .bind(&f.pending_id_hash)
            .bind(&f.browser_hash)
            .bind(f.consented)
            .bind(f.created_at)
            .bind(f.expires_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("upstream flow".into()),
            other => other,
        })
    }

    async fn take_upstream_flow(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<UpstreamFlow>, StoreError> {
        // One statement: of concurrent callers exactly one deletes the row
        // and gets it back. An expired flow is deleted too, and refused.
        const SQL: &str = concat!(
            "DELETE FROM oauth_upstream_flows WHERE state_hash = $1 RETURNING ",
            flow_cols!()
        );
        let row: Option<FlowRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(state_hash)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        Ok(row.map(UpstreamFlow::from).filter(|f| f.expires_at > now))
    }

    async fn put_consent(&self, c: RememberedConsent) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO oauth_consents \
            (subject, client_id, scope, granted_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
            ON CONFLICT (subject, client_id) DO UPDATE SET scope = excluded.scope, \
            granted_at = excluded.granted_at, expires_at = excluded.expires_at";
        let scope = c.scope.to_string();
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&c.subject)
            .bind(&c.client_id)
            .bind(&scope)
            .bind(c.granted_at)
            .bind(c.expires_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(map)
    }

    async fn get_consent(
        &self,
        subject: &str,
        client_id: &str,
        now: i64,
    ) -> Result<Option<RememberedConsent>, StoreError> {
        const SQL: &str = "SELECT subject, client_id, scope, granted_at, expires_at \
            FROM oauth_consents WHERE subject = $1 AND client_id = $2 AND expires_at > $3";
        let row: Option<ConsentRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(subject)
            .bind(client_id)
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(RememberedConsent::try_from).transpose()
    }

    async fn revoke_consent(&self, subject: &str, client_id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM oauth_consents WHERE subject = $1 AND client_id = $2";
        let n = on_conn!(self, |pool| sqlx::query(SQL)
            .bind(subject)
            .bind(client_id)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(n > 0)
    }

    async fn get_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<Option<UpstreamTokenRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT ",
            token_cols!(),
            " FROM oauth_upstream_tokens WHERE subject = $1 AND provider = $2"
        );
        let row: Option<TokensRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(subject)
            .bind(provider)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        row.map(UpstreamTokenRecord::try_from).transpose()
    }

    async fn put_upstream_tokens(&self, t: UpstreamTokenRecord) -> Result<(), StoreError> {
        const SQL: &str = concat!(
            "INSERT INTO oauth_upstream_tokens (",
            token_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (subject, provider) DO UPDATE SET sealed = excluded.sealed, \
             access_expires_at = excluded.access_expires_at, expires_at = excluded.expires_at, \
             version = excluded.version, updated_at = excluded.updated_at"
        );
        let version = generation_to_db(t.version)?;
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&t.subject)
            .bind(&t.provider)
            .bind(&t.sealed)
            .bind(t.access_expires_at)
            .bind(t.expires_at)
            .bind(version)
            .bind(t.updated_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(map)
    }

    async fn replace_upstream_tokens(
        &self,
        t: UpstreamTokenRecord,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        // The version check and the write are one statement: of concurrent
        // writers holding the same version, exactly one matches the row.
        const SQL: &str = "UPDATE oauth_upstream_tokens SET sealed = $3, access_expires_at = $4, \
            expires_at = $5, version = $6, updated_at = $7 \
            WHERE subject = $1 AND provider = $2 AND version = $8";
        let version = generation_to_db(t.version)?;
        let expected = generation_to_db(expected_version)?;
        let n = on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&t.subject)
            .bind(&t.provider)
            .bind(&t.sealed)
            .bind(t.access_expires_at)
            .bind(t.expires_at)
            .bind(version)
            .bind(t.updated_at)
            .bind(expected)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(n > 0)
    }

    async fn delete_upstream_tokens(
        &self,
        subject: &str,
        provider: &str,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM oauth_upstream_tokens WHERE subject = $1 AND provider = $2";
        let n = on_conn!(self, |pool| sqlx::query(SQL)
            .bind(subject)
            .bind(provider)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(n > 0)
    }

    async fn insert_browser_session(&self, b: BrowserSession) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO oauth_browser_sessions (id_hash, subject, created_at, \
            expires_at) VALUES ($1, $2, $3, $4)";
        on_conn!(self, |pool| sqlx::query(SQL)
            .bind(&b.id_hash)
            .bind(&b.subject)
            .bind(b.created_at)
            .bind(b.expires_at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(|e| match map(e) {
            StoreError::Duplicate(_) => StoreError::Duplicate("browser session".into()),
            other => other,
        })
    }

    async fn get_browser_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<BrowserSession>, StoreError> {
        const SQL: &str = "SELECT id_hash, subject, created_at, expires_at \
            FROM oauth_browser_sessions WHERE id_hash = $1 AND expires_at > $2";
        let row: Option<SessionRow> = on_conn!(self, |pool| sqlx::query_as(SQL)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await)
        .map_err(map)?;
        Ok(row.map(|r| BrowserSession {
            id_hash: r.id_hash,
            subject: r.subject,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }))
    }

    async fn delete_browser_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        const SQL: &str = "DELETE FROM oauth_browser_sessions WHERE id_hash = $1";
        let n = on_conn!(self, |pool| sqlx::query(SQL)
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|d| d.rows_affected()))
        .map_err(map)?;
        Ok(n > 0)
    }
}

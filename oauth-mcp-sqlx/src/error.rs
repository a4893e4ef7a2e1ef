//! The one mapping from sqlx errors to [`StoreError`].

use oauth_mcp_core::error::StoreError;
use sqlx::migrate::MigrateError;

/// Maps a sqlx error: unique violations are [`StoreError::Duplicate`];
/// anything that means "the database cannot be reached right now" (I/O,
/// TLS, pool timeout or closed, a crashed SQLite worker, PostgreSQL
/// connection/shutdown/resource errors, SQLite busy/locked) is
/// [`StoreError::Unavailable`]; the rest is [`StoreError::Other`].
pub(crate) fn map(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                StoreError::Duplicate(db.message().to_owned())
            } else if transient_database_error(db.as_ref()) {
                StoreError::Unavailable(format!("database: {db}"))
            } else {
                StoreError::Other(format!("database: {db}"))
            }
        }
        e @ (sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed) => StoreError::Unavailable(e.to_string()),
        e => StoreError::Other(e.to_string()),
    }
}

/// Maps a migration failure; a database error inside it maps like [`map`].
pub(crate) fn map_migrate(e: MigrateError) -> StoreError {
    match e {
        MigrateError::Execute(e) => map(e),
        MigrateError::ExecuteMigration(e, version) => match map(e) {
            StoreError::Unavailable(m) => StoreError::Unavailable(m),
            other => StoreError::Other(format!("migration {version} failed: {other}")),
        },
        other => StoreError::Other(format!("migration failed: {other}")),
    }
}

fn transient_database_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // SQLSTATE classes: 08 connection exception, 53 insufficient
        // resources, 57 operator intervention (admin shutdown, crash
        // shutdown, cannot connect now), 40 transaction rollback
        // (serialization failure, deadlock: retryable).
        return ["08", "53", "57", "40"].iter().any(|c| code.starts_with(c));
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Primary result codes: 5 BUSY, 6 LOCKED, 10 IOERR, 13 FULL,
        // 14 CANTOPEN.
        return code
            .parse::<i32>()
            .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14));
    }
    false
}

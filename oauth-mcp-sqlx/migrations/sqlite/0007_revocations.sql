-- oauth-mcp storage, SQLite: the revocation feed (see the PostgreSQL
-- migration of the same number). SQLite commits one writer at a time, so
-- sequence numbers commit in order; `at_ms` is kept for the same reader.
CREATE TABLE oauth_revocations (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    grant_id TEXT    NOT NULL,
    at_ms    INTEGER NOT NULL
        DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
CREATE INDEX oauth_revocations_at ON oauth_revocations (at_ms);

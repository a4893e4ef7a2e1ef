-- oauth-mcp storage, SQLite: abuse limits.
-- Login attempts per pending request (at most a configured number).
ALTER TABLE oauth_pending ADD COLUMN login_attempts INTEGER NOT NULL DEFAULT 0;

-- When a grant was revoked: it (or its tombstone) is purged once the access
-- tokens it issued have expired. Grants revoked before this migration start
-- their retention now.
ALTER TABLE oauth_grants ADD COLUMN revoked_at BIGINT;
UPDATE oauth_grants SET revoked_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE revoked;
CREATE INDEX oauth_grants_revoked_at ON oauth_grants (revoked_at);
CREATE INDEX oauth_grants_created ON oauth_grants (created_at);
CREATE INDEX oauth_clients_expires ON oauth_clients (expires_at);

-- Rate-limit buckets shared by every process on this database (GCRA: one
-- theoretical arrival time per bucket, in Unix milliseconds).
CREATE TABLE oauth_rate_limits (
    bucket TEXT   NOT NULL PRIMARY KEY,
    tat    BIGINT NOT NULL
);
CREATE INDEX oauth_rate_limits_tat ON oauth_rate_limits (tat);

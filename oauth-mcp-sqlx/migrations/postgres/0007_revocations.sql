-- oauth-mcp storage, PostgreSQL: the revocation feed. Every revocation of a
-- grant (revoke_grant, a refresh token's reuse) adds a row in its own
-- transaction; resource servers sharing the database read the rows after
-- the last sequence number they saw (TokenStore::revocations_since) to drop
-- cached tokens of revoked grants. A sequence number can commit after a
-- higher one, so readers also re-read the last few seconds by `at_ms`, the
-- database's own clock (milliseconds) when the row was written.
CREATE TABLE oauth_revocations (
    seq      BIGSERIAL PRIMARY KEY,
    grant_id TEXT   NOT NULL,
    at_ms    BIGINT NOT NULL
        DEFAULT CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000) AS BIGINT)
);
CREATE INDEX oauth_revocations_at ON oauth_revocations (at_ms);

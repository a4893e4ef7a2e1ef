-- oauth-mcp storage, PostgreSQL: single-use markers (ReplayStore). The marker is
-- a hash of a client id and a client-assertion jti, kept until it
-- expires; a marker at or past expires_at no longer counts.
CREATE TABLE oauth_replay (
    marker     TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_replay_expires ON oauth_replay (expires_at);

-- oauth-mcp storage, PostgreSQL. Secrets, codes, refresh tokens and login
-- request ids are stored only as hashes. JSON columns are TEXT (the store is the only reader).

CREATE TABLE oauth_clients (
    client_id            TEXT    NOT NULL PRIMARY KEY,
    secret_hash          TEXT,
    redirect_uris        TEXT    NOT NULL, -- JSON array of strings
    auth_method          TEXT    NOT NULL, -- none | client_secret_basic | client_secret_post
    auth_method_explicit BOOLEAN NOT NULL,
    client_name          TEXT,
    scope                TEXT,             -- space-separated, NULL if none registered
    grant_types          TEXT    NOT NULL, -- JSON array of strings
    trusted              BOOLEAN NOT NULL,
    active               BOOLEAN NOT NULL,
    created_at           BIGINT  NOT NULL,
    expires_at           BIGINT,
    metadata             TEXT    NOT NULL  -- JSON object
);
CREATE INDEX oauth_clients_created ON oauth_clients (created_at, client_id);

CREATE TABLE oauth_pending (
    id_hash               TEXT    NOT NULL PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_explicit BOOLEAN NOT NULL,
    state                 TEXT,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL, -- S256 | plain
    scope                 TEXT    NOT NULL,
    resource              TEXT    NOT NULL,
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL
);
CREATE INDEX oauth_pending_expires ON oauth_pending (expires_at);

CREATE TABLE oauth_codes (
    code_hash             TEXT    NOT NULL PRIMARY KEY,
    grant_id              TEXT    NOT NULL,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    redirect_uri_explicit BOOLEAN NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    resource              TEXT    NOT NULL,
    subject               TEXT    NOT NULL,
    issued_at             BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL,
    spent                 BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_grants (
    grant_id           TEXT    NOT NULL PRIMARY KEY,
    client_id          TEXT    NOT NULL,
    subject            TEXT    NOT NULL,
    scope              TEXT    NOT NULL,
    resource           TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    refresh_generation BIGINT  NOT NULL,
    revoked            BOOLEAN NOT NULL
);

CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    grant_id   TEXT   NOT NULL REFERENCES oauth_grants (grant_id) ON DELETE CASCADE,
    generation BIGINT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_refresh_tokens_grant ON oauth_refresh_tokens (grant_id);
CREATE INDEX oauth_refresh_tokens_expires ON oauth_refresh_tokens (expires_at);

CREATE TABLE oauth_users (
    username      TEXT NOT NULL PRIMARY KEY,
    subject       TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

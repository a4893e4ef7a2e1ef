-- oauth-mcp storage, SQLite: logins through an upstream identity provider.
-- State values and session ids are stored only as hashes; upstream tokens only sealed by the
-- server (the database never sees them in clear).

-- An authorization in flight at the upstream provider; taken once, at the callback.
CREATE TABLE oauth_upstream_flows (
    state_hash      TEXT    NOT NULL PRIMARY KEY,
    provider        TEXT    NOT NULL,
    pkce_verifier   TEXT    NOT NULL,
    nonce           TEXT,
    pending_id_hash TEXT    NOT NULL,
    browser_hash    TEXT    NOT NULL,
    consented       BOOLEAN NOT NULL, -- consent given in this flow (else remembered)
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);
CREATE INDEX oauth_upstream_flows_expires ON oauth_upstream_flows (expires_at);

-- A user's consent to a client.
CREATE TABLE oauth_consents (
    subject    TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL, -- space-separated
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (subject, client_id)
);
CREATE INDEX oauth_consents_expires ON oauth_consents (expires_at);

-- A browser that completed an upstream login (session cookie by hash).
CREATE TABLE oauth_browser_sessions (
    id_hash    TEXT   NOT NULL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_browser_sessions_expires ON oauth_browser_sessions (expires_at);

-- A user's tokens at the upstream provider, sealed.
CREATE TABLE oauth_upstream_tokens (
    subject           TEXT   NOT NULL,
    provider          TEXT   NOT NULL,
    sealed            BLOB   NOT NULL, -- AEAD ciphertext
    access_expires_at BIGINT,
    expires_at        BIGINT, -- NULL: unknown, kept until deleted
    version           BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (subject, provider)
);
CREATE INDEX oauth_upstream_tokens_expires ON oauth_upstream_tokens (expires_at);

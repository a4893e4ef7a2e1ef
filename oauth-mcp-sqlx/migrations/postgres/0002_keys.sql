-- Signing keys (oauth-mcp-core's KeyStore), shared by every server that
-- uses this database. Every write compares and bumps the key set's
-- version in one transaction, so of concurrent writers exactly one wins.

CREATE TABLE oauth_key_set (
    id      SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1), -- one key set
    version BIGINT   NOT NULL
);
INSERT INTO oauth_key_set (id, version) VALUES (1, 0);

CREATE TABLE oauth_signing_keys (
    kid          TEXT   NOT NULL PRIMARY KEY, -- RFC 7638 thumbprint
    algorithm    TEXT   NOT NULL,             -- ES256 | EdDSA
    public_jwk   TEXT   NOT NULL,             -- JSON, as published in the JWKS
    protection   TEXT   NOT NULL,             -- aes-256-gcm (sealed with the operator's key-encryption key) | none
    private_key  BYTEA  NOT NULL,             -- sealed (or clear) PKCS#8 DER
    created_at   BIGINT NOT NULL,
    published_at BIGINT NOT NULL,
    activated_at BIGINT,
    retired_at   BIGINT,
    remove_after BIGINT
);

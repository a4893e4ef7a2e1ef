-- oauth-mcp storage, PostgreSQL: bounded pending requests, unused registrations.
-- Pending authorization requests are capped per client: count them by client.
CREATE INDEX oauth_pending_client ON oauth_pending (client_id, expires_at);

-- A dynamically registered client that has not completed a token request
-- yet: its expires_at is the unused-registration expiry until its first token.
ALTER TABLE oauth_clients ADD COLUMN awaiting_first_token BOOLEAN NOT NULL DEFAULT FALSE;

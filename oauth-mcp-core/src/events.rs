//! The audit log: every event the library emits, with its name, level and
//! fields, in one place. Events go to `tracing` under the target
//! [`TARGET`]; secrets (codes, tokens, grant ids) are never logged, only an
//! 8-character hash prefix ([`crate::secret::log_tag`]), and that reduction
//! happens here, so no call site can forget it.

use crate::error::ErrorCode;
use crate::secret::log_tag;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "oauth_mcp::audit";

/// One audit event. Construct it and call [`AuditEvent::emit`]. Fields that
/// hold secrets take the raw value and log only its hash prefix.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub enum AuditEvent<'a> {
    /// `token.issued` (INFO): the token endpoint answered 200.
    TokenIssued {
        /// `grant_type` as sent.
        grant_type: &'a str,
        /// `client_id` from the body, if any.
        client_id: Option<&'a str>,
        /// Granted scopes.
        scopes: &'a str,
    },
    /// `token.refused` (WARN): the token endpoint refused a request.
    TokenRefused {
        /// `grant_type` as sent.
        grant_type: &'a str,
        /// `client_id` from the body, if any.
        client_id: Option<&'a str>,
        /// The RFC 6749 error.
        error: ErrorCode,
        /// Why.
        reason: &'a str,
    },
    /// `token.code_replayed` (WARN): a spent code came back; its grant is revoked.
    CodeReplayed {
        /// The client presenting it.
        client_id: &'a str,
        /// The code (logged as a hash prefix).
        code: &'a str,
        /// True if a grant was revoked.
        grant_revoked: bool,
    },
    /// `token.refresh_reused` (WARN): a rotated-out refresh token came back.
    RefreshReused {
        /// The client presenting it.
        client_id: &'a str,
        /// The revoked grant (logged as a hash prefix).
        grant_id: &'a str,
        /// The refresh token (logged as a hash prefix).
        refresh_token: &'a str,
    },
    /// `token.minted` (DEBUG): an access token was signed (`token.issued`,
    /// at INFO, already records each successful token request).
    TokenMinted {
        /// The client.
        client_id: &'a str,
        /// The user.
        subject: &'a str,
        /// The token's audience.
        audience: &'a str,
        /// Its scopes.
        scopes: &'a str,
        /// Its `jti` (logged as a hash prefix).
        jti: &'a str,
        /// Its expiry (Unix seconds).
        expires_at: i64,
    },
    /// `token.introspected` (INFO): an RFC 7662 answer said active.
    TokenIntrospected {
        /// The introspecting client.
        client_id: &'a str,
        /// The token's subject.
        subject: &'a str,
        /// The token's audience.
        audience: &'a str,
    },
    /// `token.revoked` (INFO): an RFC 7009 request revoked a grant.
    TokenRevoked {
        /// The client.
        client_id: &'a str,
        /// The grant (logged as a hash prefix).
        grant_id: &'a str,
    },
    /// `register.ok` (INFO): a client registered (RFC 7591).
    Registered {
        /// The new client id.
        client_id: &'a str,
        /// Its redirect URIs.
        redirect_uris: &'a [String],
        /// Its token endpoint auth method.
        auth_method: &'a str,
        /// Its name, if any.
        client_name: Option<&'a str>,
    },
    /// `register.refused` (WARN): a registration was refused.
    RegisterRefused {
        /// The redirect URIs asked for.
        redirect_uris: &'a [String],
        /// The name asked for.
        client_name: Option<&'a str>,
        /// The RFC 7591 error.
        error: ErrorCode,
        /// Why.
        reason: &'a str,
    },
    /// `register.adjusted` (INFO): a registration asked for grant or response
    /// types this server does not implement; they were dropped and the
    /// client registered with the rest (RFC 7591 §3.2.1).
    RegisterAdjusted {
        /// The name asked for.
        client_name: Option<&'a str>,
        /// Grant types set aside.
        dropped_grant_types: &'a [String],
        /// Response types set aside.
        dropped_response_types: &'a [String],
        /// The grant types registered.
        registered_grant_types: &'a [String],
    },
    /// `client_auth.refused` (WARN): client authentication failed at the
    /// token, revocation or introspection endpoint.
    ClientAuthRefused {
        /// `token`, `revoke` or `introspect`.
        endpoint: &'a str,
        /// The client, if one was named.
        client_id: Option<&'a str>,
        /// The method attempted (`none`, `client_secret_basic`,
        /// `client_secret_post`, `private_key_jwt`).
        method: &'a str,
        /// A short, stable reason (`bad_signature`, `replayed_jti`,
        /// `wrong_secret`, `method_not_registered`, …).
        reason_code: &'a str,
        /// The RFC 6749 error answered.
        error: ErrorCode,
        /// Why, in words (the `error_description` sent to the client).
        reason: &'a str,
    },
    /// `client_auth.assertion_accepted` (INFO): a `private_key_jwt` client
    /// assertion verified and its `jti` was consumed.
    ClientAssertionAccepted {
        /// The client.
        client_id: &'a str,
        /// The JOSE algorithm.
        algorithm: &'a str,
        /// The key id, if the assertion named one.
        kid: Option<&'a str>,
        /// The assertion's `jti` (logged as a hash prefix).
        jti: &'a str,
    },
    /// `client_jwks.fetched` (INFO): a client's `jwks_uri` was (re)loaded.
    ClientJwksFetched {
        /// The URL.
        jwks_uri: &'a str,
        /// How many usable keys it held.
        keys: usize,
    },
    /// `client_jwks.refused` (WARN): a client's `jwks_uri` could not be used
    /// (refused by the SSRF rules, failed, or held no usable key).
    ClientJwksRefused {
        /// The URL.
        jwks_uri: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// `authorize.refused` (WARN): an authorization request was refused.
    AuthorizeRefused {
        /// The client, if known.
        client_id: Option<&'a str>,
        /// The redirect URI, if known.
        redirect_uri: Option<&'a str>,
        /// The error.
        error: ErrorCode,
        /// Why.
        reason: &'a str,
    },
    /// `authorize.login_shown` (INFO): a valid request reached the login page.
    LoginShown {
        /// The client.
        client_id: &'a str,
        /// Where the result goes.
        redirect_uri: &'a str,
        /// The token audience.
        resource: &'a str,
        /// Requested scopes.
        scopes: &'a str,
    },
    /// `authorize.login_failed` (WARN): wrong credentials on the login page.
    LoginFailed {
        /// The client.
        client_id: &'a str,
        /// The user name typed.
        username: &'a str,
    },
    /// `authorize.code_issued` (INFO): the user approved; a code was issued.
    CodeIssued {
        /// The client.
        client_id: &'a str,
        /// Where the code goes.
        redirect_uri: &'a str,
        /// The token audience.
        resource: &'a str,
        /// Granted scopes.
        scopes: &'a str,
        /// The user.
        subject: &'a str,
        /// The code (logged as a hash prefix).
        code: &'a str,
    },
    /// `cimd.refused` (WARN): a client id metadata document cannot be used.
    CimdRefused {
        /// The client id URL.
        client_id: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// `bearer.refused`: a request to a protected route was refused. WARN for
    /// a presented token; INFO for a request without credentials (the normal
    /// first request of every OAuth flow).
    BearerRefused {
        /// The HTTP status.
        status: u16,
        /// The RFC 6750 error, if any.
        error: Option<ErrorCode>,
        /// Why.
        reason: &'a str,
    },
    /// `jwks.fetched` (INFO): a remote JWKS was (re)loaded.
    JwksFetched {
        /// Its URL.
        jwks_uri: &'a str,
        /// How many usable keys it held.
        keys: usize,
        /// Why it was fetched: `start`, `expired` (older than its
        /// `Cache-Control: max-age` or the validator's maximum key age) or
        /// `unknown_kid` (a token named a key it did not hold).
        reason: &'a str,
        /// How long it is used before the next fetch, in seconds.
        fresh_for: i64,
    },
    /// `jwks.refresh_failed` (WARN): refetching a remote JWKS failed.
    JwksRefreshFailed {
        /// Why.
        reason: &'a str,
    },
    /// `upstream.started` (INFO): a browser was sent to the upstream
    /// identity provider.
    UpstreamStarted {
        /// The provider's id.
        provider: &'a str,
        /// The client the sign-in is for.
        client_id: &'a str,
        /// True if consent was given on the page just now; false if a
        /// remembered consent skipped the page.
        consented: bool,
        /// The `state` sent (logged as a hash prefix).
        state: &'a str,
    },
    /// `upstream.callback_refused` (WARN): a callback matched no sign-in in
    /// progress (forged, replayed or expired `state`, another browser).
    UpstreamCallbackRefused {
        /// The provider's id.
        provider: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// `upstream.failed` (WARN): the provider declined, could not be
    /// reached, or sent something unusable.
    UpstreamFailed {
        /// The provider's id.
        provider: &'a str,
        /// The client the sign-in was for, if known.
        client_id: Option<&'a str>,
        /// Why.
        reason: &'a str,
    },
    /// `upstream.login` (INFO): the provider signed a user in.
    UpstreamLogin {
        /// The provider's id.
        provider: &'a str,
        /// The provider's user id.
        upstream_subject: &'a str,
        /// The provider's user name, if any.
        login: Option<&'a str>,
        /// The local subject it maps to.
        subject: &'a str,
    },
    /// `upstream.refused` (WARN): the login policy (or a consent given by
    /// another account) refused a user the provider signed in.
    UpstreamRefused {
        /// The provider's id.
        provider: &'a str,
        /// The client.
        client_id: &'a str,
        /// The local subject.
        subject: &'a str,
        /// Why, as told to the user.
        reason: &'a str,
    },
    /// `upstream.tokens` (INFO/WARN): stored upstream tokens were saved,
    /// refreshed, or could not be (WARN).
    UpstreamTokens {
        /// The provider's id.
        provider: &'a str,
        /// The local subject.
        subject: &'a str,
        /// `saved`, `refreshed`, `refresh_failed` or `save_failed`.
        outcome: &'a str,
        /// Details of a failure.
        reason: Option<&'a str>,
    },
    /// `key.created` (INFO): a signing key was generated and stored.
    KeyCreated {
        /// The key.
        kid: &'a str,
        /// When (Unix seconds).
        at: i64,
        /// What caused it: `schedule`, `rotate`, `retire`.
        cause: &'a str,
    },
    /// `key.published` (INFO): a signing key entered the JWKS.
    KeyPublished {
        /// The key.
        kid: &'a str,
        /// When.
        at: i64,
        /// What caused it.
        cause: &'a str,
    },
    /// `key.activated` (INFO): a signing key started signing.
    KeyActivated {
        /// The key.
        kid: &'a str,
        /// When.
        at: i64,
        /// What caused it.
        cause: &'a str,
    },
    /// `key.retired` (INFO): a signing key stopped signing; it stays in the
    /// JWKS until `remove_after`.
    KeyRetired {
        /// The key.
        kid: &'a str,
        /// When.
        at: i64,
        /// When it leaves the JWKS.
        remove_after: i64,
        /// What caused it.
        cause: &'a str,
    },
    /// `key.removed` (INFO): a signing key left the store and the JWKS.
    KeyRemoved {
        /// The key.
        kid: &'a str,
        /// When.
        at: i64,
        /// What caused it.
        cause: &'a str,
    },
    /// `keys.loaded` (INFO): this process now signs and validates with the
    /// store's key set of this version.
    KeysLoaded {
        /// The key set's version in the store.
        version: u64,
        /// The key that signs.
        active_kid: &'a str,
        /// How many keys the JWKS holds (active, published, retired).
        keys: usize,
    },
    /// `keys.refresh_failed` (WARN): the key set could not be re-read or
    /// maintained; the keys in use stay until the next attempt.
    KeysRefreshFailed {
        /// Why.
        reason: &'a str,
    },
    /// `kek.file_shared` (WARN): the key-encryption key file is readable by
    /// other users.
    KekFileShared {
        /// The file.
        path: &'a str,
    },
}

impl AuditEvent<'_> {
    /// The event's stable name (the `event` field).
    pub fn name(&self) -> &'static str {
        match self {
            Self::TokenIssued { .. } => "token.issued",
            Self::TokenRefused { .. } => "token.refused",
            Self::CodeReplayed { .. } => "token.code_replayed",
            Self::RefreshReused { .. } => "token.refresh_reused",
            Self::TokenMinted { .. } => "token.minted",
            Self::TokenIntrospected { .. } => "token.introspected",
            Self::TokenRevoked { .. } => "token.revoked",
            Self::Registered { .. } => "register.ok",
            Self::RegisterRefused { .. } => "register.refused",
            Self::RegisterAdjusted { .. } => "register.adjusted",
            Self::ClientAuthRefused { .. } => "client_auth.refused",
            Self::ClientAssertionAccepted { .. } => "client_auth.assertion_accepted",
            Self::ClientJwksFetched { .. } => "client_jwks.fetched",
            Self::ClientJwksRefused { .. } => "client_jwks.refused",
            Self::AuthorizeRefused { .. } => "authorize.refused",
            Self::LoginShown { .. } => "authorize.login_shown",
            Self::LoginFailed { .. } => "authorize.login_failed",
            Self::CodeIssued { .. } => "authorize.code_issued",
            Self::CimdRefused { .. } => "cimd.refused",
            Self::BearerRefused { .. } => "bearer.refused",
            Self::JwksFetched { .. } => "jwks.fetched",
            Self::JwksRefreshFailed { .. } => "jwks.refresh_failed",
            Self::UpstreamStarted { .. } => "upstream.started",
            Self::UpstreamCallbackRefused { .. } => "upstream.callback_refused",
            Self::UpstreamFailed { .. } => "upstream.failed",
            Self::UpstreamLogin { .. } => "upstream.login",
            Self::UpstreamRefused { .. } => "upstream.refused",
            Self::UpstreamTokens { .. } => "upstream.tokens",
            Self::KeyCreated { .. } => "key.created",
            Self::KeyPublished { .. } => "key.published",
            Self::KeyActivated { .. } => "key.activated",
            Self::KeyRetired { .. } => "key.retired",
            Self::KeyRemoved { .. } => "key.removed",
            Self::KeysLoaded { .. } => "keys.loaded",
            Self::KeysRefreshFailed { .. } => "keys.refresh_failed",
            Self::KekFileShared { .. } => "kek.file_shared",
        }
    }

    /// Writes the event to `tracing`.
    pub fn emit(&self) {
        let event = self.name();
        match *self {
            Self::TokenIssued {
                grant_type,
                client_id,
                scopes,
            } => {
                tracing::info!(target: TARGET, event, grant_type, client_id, scopes, outcome = "ok")
            }
            Self::TokenRefused {
                grant_type,
                client_id,
                error,
                reason,
            } => {
                tracing::warn!(target: TARGET, event, grant_type, client_id, error = error.as_str(), reason)
            }
            Self::CodeReplayed {
                client_id,
                code,
                grant_revoked,
            } => {
                tracing::warn!(target: TARGET, event, client_id, code = %log_tag(code), grant_revoked)
            }
            Self::RefreshReused {
                client_id,
                grant_id,
                refresh_token,
            } => tracing::warn!(target: TARGET, event, client_id, grant = %log_tag(grant_id),
                refresh_token = %log_tag(refresh_token)),
            Self::TokenMinted {
                client_id,
                subject,
                audience,
                scopes,
                jti,
                expires_at,
            } => tracing::debug!(target: TARGET, event, client_id, subject, audience, scopes,
                jti = %log_tag(jti), expires_at),
            Self::TokenIntrospected {
                client_id,
                subject,
                audience,
            } => tracing::info!(target: TARGET, event, client_id, subject, audience),
            Self::TokenRevoked {
                client_id,
                grant_id,
            } => tracing::info!(target: TARGET, event, client_id, grant = %log_tag(grant_id)),
            Self::Registered {
                client_id,
                redirect_uris,
                auth_method,
                client_name,
            } => tracing::info!(target: TARGET, event, client_id, redirect_uris = ?redirect_uris,
                auth_method, client_name),
            Self::RegisterRefused {
                redirect_uris,
                client_name,
                error,
                reason,
            } => tracing::warn!(target: TARGET, event, redirect_uris = ?redirect_uris, client_name,
                error = error.as_str(), reason),
            Self::RegisterAdjusted {
                client_name,
                dropped_grant_types,
                dropped_response_types,
                registered_grant_types,
            } => tracing::info!(target: TARGET, event, client_name,
                dropped_grant_types = ?dropped_grant_types,
                dropped_response_types = ?dropped_response_types,
                registered_grant_types = ?registered_grant_types,
                reason = "not implemented by this server (RFC 7591 §3.2.1: replaced and reported in the response)"),
            Self::ClientAuthRefused {
                endpoint,
                client_id,
                method,
                reason_code,
                error,
                reason,
            } => tracing::warn!(target: TARGET, event, endpoint, client_id, method, reason_code,
                error = error.as_str(), reason),
            Self::ClientAssertionAccepted {
                client_id,
                algorithm,
                kid,
                jti,
            } => tracing::info!(target: TARGET, event, client_id, algorithm, kid,
                jti = %log_tag(jti)),
            Self::ClientJwksFetched { jwks_uri, keys } => {
                tracing::info!(target: TARGET, event, jwks_uri, keys)
            }
            Self::ClientJwksRefused { jwks_uri, reason } => {
                tracing::warn!(target: TARGET, event, jwks_uri, reason)
            }
            Self::AuthorizeRefused {
                client_id,
                redirect_uri,
                error,
                reason,
            } => {
                tracing::warn!(target: TARGET, event, client_id, redirect_uri, error = error.as_str(), reason)
            }
            Self::LoginShown {
                client_id,
                redirect_uri,
                resource,
                scopes,
            } => tracing::info!(target: TARGET, event, client_id, redirect_uri, resource, scopes),
            Self::LoginFailed {
                client_id,
                username,
            } => tracing::warn!(target: TARGET, event, client_id, username),
            Self::CodeIssued {
                client_id,
                redirect_uri,
                resource,
                scopes,
                subject,
                code,
            } => tracing::info!(target: TARGET, event, client_id, redirect_uri, resource, scopes,
                subject, code = %log_tag(code)),
            Self::CimdRefused { client_id, reason } => {
                tracing::warn!(target: TARGET, event, client_id, reason)
            }
            Self::BearerRefused {
                status,
                error,
                reason,
            } => {
                let error = error.map(ErrorCode::as_str).unwrap_or("none");
                if status == 401 && error == "none" {
                    tracing::info!(target: TARGET, event, status, error, reason)
                } else {
                    tracing::warn!(target: TARGET, event, status, error, reason)
                }
            }
            Self::JwksFetched {
                jwks_uri,
                keys,
                reason,
                fresh_for,
            } => {
                tracing::info!(target: TARGET, event, jwks_uri, keys, reason, fresh_for)
            }
            Self::JwksRefreshFailed { reason } | Self::KeysRefreshFailed { reason } => {
                tracing::warn!(target: TARGET, event, reason)
            }
            Self::UpstreamStarted {
                provider,
                client_id,
                consented,
                state,
            } => tracing::info!(target: TARGET, event, provider, client_id, consented,
                state = %log_tag(state)),
            Self::UpstreamCallbackRefused { provider, reason } => {
                tracing::warn!(target: TARGET, event, provider, reason)
            }
            Self::UpstreamFailed {
                provider,
                client_id,
                reason,
            } => tracing::warn!(target: TARGET, event, provider, client_id, reason),
            Self::UpstreamLogin {
                provider,
                upstream_subject,
                login,
                subject,
            } => tracing::info!(target: TARGET, event, provider, upstream_subject, login, subject),
            Self::UpstreamRefused {
                provider,
                client_id,
                subject,
                reason,
            } => tracing::warn!(target: TARGET, event, provider, client_id, subject, reason),
            Self::UpstreamTokens {
                provider,
                subject,
                outcome,
                reason,
            } => {
                if reason.is_some() {
                    tracing::warn!(target: TARGET, event, provider, subject, outcome, reason)
                } else {
                    tracing::info!(target: TARGET, event, provider, subject, outcome)
                }
            }
            Self::KeyCreated { kid, at, cause }
            | Self::KeyPublished { kid, at, cause }
            | Self::KeyActivated { kid, at, cause }
            | Self::KeyRemoved { kid, at, cause } => {
                tracing::info!(target: TARGET, event, kid, at, cause)
            }
            Self::KeyRetired {
                kid,
                at,
                remove_after,
                cause,
            } => tracing::info!(target: TARGET, event, kid, at, remove_after, cause),
            Self::KeysLoaded {
                version,
                active_kid,
                keys,
            } => tracing::info!(target: TARGET, event, version, active_kid, keys),
            Self::KekFileShared { path } => tracing::warn!(
                target: TARGET,
                event,
                path,
                "the key-encryption key file is readable by other users; restrict it (chmod 600)"
            ),
        }
    }
}

impl std::fmt::Debug for AuditEvent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Fields may hold secrets (reduced only when emitted): show the name.
        f.debug_tuple("AuditEvent").field(&self.name()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// Records the level and target of every event.
    #[derive(Default, Clone)]
    struct Levels(Arc<Mutex<Vec<(Level, String)>>>);

    impl Subscriber for Levels {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, e: &Event<'_>) {
            if let Ok(mut v) = self.0.lock() {
                v.push((*e.metadata().level(), e.metadata().target().to_owned()));
            }
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    fn level_of(event: AuditEvent<'_>) -> (Level, String) {
        let levels = Levels::default();
        tracing::subscriber::with_default(levels.clone(), || event.emit());
        let got = levels.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(got.len(), 1, "one event per emit");
        got[0].clone()
    }

    #[test]
    fn a_tokenless_request_is_info_and_a_bad_token_is_warn() {
        let bare = level_of(AuditEvent::BearerRefused {
            status: 401,
            error: None,
            reason: "no token",
        });
        assert_eq!(bare, (Level::INFO, TARGET.to_owned()));
        let bad = level_of(AuditEvent::BearerRefused {
            status: 401,
            error: Some(ErrorCode::InvalidToken),
            reason: "expired",
        });
        assert_eq!(bad.0, Level::WARN);
        let scope = level_of(AuditEvent::BearerRefused {
            status: 403,
            error: Some(ErrorCode::InsufficientScope),
            reason: "admin",
        });
        assert_eq!(scope.0, Level::WARN);
        assert_eq!(
            AuditEvent::CodeIssued {
                client_id: "c",
                redirect_uri: "r",
                resource: "x",
                scopes: "mcp",
                subject: "s",
                code: "secret-code",
            }
            .name(),
            "authorize.code_issued"
        );
    }
}

//! Token requests in one store step: a code exchange
//! ([`AuthorizationStore::exchange_code`](super::AuthorizationStore::exchange_code))
//! and a refresh ([`TokenStore::refresh_for`](super::TokenStore::refresh_for)).
//! Each carries the checks the token endpoint makes before it writes, in a
//! form a database can evaluate in the statement that writes, and what
//! that statement stores.

use crate::pkce::CodeChallengeMethod;
use crate::resource::ResourceUri;

use super::{AuthorizationCode, FirstToken, Grant, RefreshToken};

/// A token request for a code, as the store checks it: the code is
/// redeemed only if [`CodeExchange::matches`] it, and then the store keeps
/// [`CodeExchange::grant_for`] the code.
///
/// The engine builds one only for a request whose `code_verifier` and
/// `resource` are well formed; whenever the store does not redeem, it reads
/// the code and says which check failed (or that the code was replayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    /// The authenticated client: the code must have been issued to it.
    pub client_id: String,
    /// The request's time: the code must expire after it; the grant and
    /// its refresh token are created at it.
    pub now: i64,
    /// The request's `redirect_uri`: the code's must be exactly this.
    /// `None`: the authorization request must not have named one either.
    pub redirect_uri: Option<String>,
    /// `BASE64URL(SHA-256(code_verifier))`: the code's PKCE challenge must
    /// be this, with method `S256` (a `plain` challenge never matches here;
    /// the engine checks it itself, in constant time).
    pub s256_challenge: String,
    /// The resource the request named, resolved, if it named one: the
    /// code's must be this.
    pub resource: Option<ResourceUri>,
    /// The refresh token to store with the grant (its hash and expiry), if
    /// the client is to get one.
    pub refresh: Option<RefreshSeed>,
    /// The client's first token, to record with the redemption as
    /// [`AuthorizationStore::redeem_code_with_first_token`](super::AuthorizationStore::redeem_code_with_first_token)
    /// does.
    pub first_token: Option<FirstToken>,
}

/// The part of a refresh token the engine chooses before it knows the
/// grant: [`CodeExchange::grant_for`] completes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSeed {
    /// base64url(SHA-256(token)).
    pub token_hash: String,
    /// Unix time of expiry.
    pub expires_at: i64,
}

impl CodeExchange {
    /// True if `code` (unspent) may be redeemed by this request: issued to
    /// this client, not expired, for this redirect URI, with this S256
    /// challenge and (if the request named one) this resource.
    pub fn matches(&self, code: &AuthorizationCode) -> bool {
        let redirect_ok = match &self.redirect_uri {
            Some(r) => *r == code.redirect_uri,
            None => !code.redirect_uri_explicit,
        };
        code.client_id == self.client_id
            && code.expires_at > self.now
            && redirect_ok
            && code.code_challenge_method == CodeChallengeMethod::S256
            && code.code_challenge == self.s256_challenge
            && self.resource.as_ref().is_none_or(|r| *r == code.resource)
    }

    /// The grant redeeming `code` starts (the code's id, client, user,
    /// scopes and resource, created now, generation 0), and its refresh
    /// token if the request gets one.
    pub fn grant_for(&self, code: &AuthorizationCode) -> (Grant, Option<RefreshToken>) {
        grant_from_code(code, self.now, self.refresh.as_ref())
    }
}

/// The grant redeeming `code` at `now` starts (the code's id, client,
/// user, scopes and resource, generation 0), and the refresh token
/// `refresh` completes for it.
pub fn grant_from_code(
    code: &AuthorizationCode,
    now: i64,
    refresh: Option<&RefreshSeed>,
) -> (Grant, Option<RefreshToken>) {
    let grant = Grant {
        grant_id: code.grant_id.clone(),
        client_id: code.client_id.clone(),
        subject: code.subject.clone(),
        scope: code.scope.clone(),
        resource: code.resource.clone(),
        created_at: now,
        refresh_generation: 0,
        revoked: false,
    };
    let refresh = refresh.map(|r| RefreshToken {
        token_hash: r.token_hash.clone(),
        grant_id: code.grant_id.clone(),
        generation: 0,
        issued_at: now,
        expires_at: r.expires_at,
    });
    (grant, refresh)
}

/// A refresh request as the store checks it
/// ([`TokenStore::refresh_for`](super::TokenStore::refresh_for)): the
/// presented token is rotated only if its grant [`RefreshExchange::matches`].
///
/// The engine builds one only for a request that asks for no narrower
/// scopes and whose `resource` is well formed; whenever the store does not
/// rotate, it reads the token and says why (or revokes a reuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshExchange {
    /// The authenticated client: the grant must be its.
    pub client_id: String,
    /// The resource the request named, resolved, if it named one: the
    /// grant's must be this.
    pub resource: Option<ResourceUri>,
    /// The request's time (the presented token must expire after it).
    pub now: i64,
    /// The new refresh token's hash.
    pub new_hash: String,
    /// The new refresh token's expiry.
    pub new_expires_at: i64,
}

impl RefreshExchange {
    /// True if `grant` (not revoked) may be refreshed by this request: it
    /// belongs to this client and (if the request named one) is for this
    /// resource.
    pub fn matches(&self, grant: &Grant) -> bool {
        grant.client_id == self.client_id
            && self.resource.as_ref().is_none_or(|r| *r == grant.resource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::ScopeSet;

    const NOW: i64 = 1_800_000_000;

    fn code() -> AuthorizationCode {
        AuthorizationCode {
            code_hash: "h".into(),
            grant_id: "g".into(),
            client_id: "c".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: true,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            code_challenge_method: CodeChallengeMethod::S256,
            scope: ScopeSet::from_scopes(["mcp"]),
            resource: resource("https://mcp.example/mcp"),
            subject: "alice".into(),
            issued_at: NOW - 10,
            expires_at: NOW + 50,
        }
    }

    fn resource(s: &str) -> ResourceUri {
        ResourceUri::parse(s).expect("a valid resource URI")
    }

    fn exchange() -> CodeExchange {
        CodeExchange {
            client_id: "c".into(),
            now: NOW,
            redirect_uri: Some("https://app.example/cb".into()),
            s256_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            resource: Some(resource("https://mcp.example/mcp")),
            refresh: Some(RefreshSeed {
                token_hash: "rt".into(),
                expires_at: NOW + 3600,
            }),
            first_token: None,
        }
    }

    #[test]
    fn a_request_that_passes_every_check_matches() {
        assert!(exchange().matches(&code()));
        let no_resource = CodeExchange {
            resource: None,
            ..exchange()
        };
        assert!(no_resource.matches(&code()), "naming no resource is fine");
        let implicit = AuthorizationCode {
            redirect_uri_explicit: false,
            ..code()
        };
        let no_redirect = CodeExchange {
            redirect_uri: None,
            ..exchange()
        };
        assert!(no_redirect.matches(&implicit));
        assert!(exchange().matches(&implicit), "naming it anyway is fine");
    }

    #[test]
    fn each_failed_check_alone_stops_the_match() {
        let c = code();
        let cases = [
            CodeExchange {
                client_id: "other".into(),
                ..exchange()
            },
            CodeExchange {
                now: c.expires_at,
                ..exchange()
            },
            CodeExchange {
                redirect_uri: Some("https://app.example/cb2".into()),
                ..exchange()
            },
            CodeExchange {
                redirect_uri: None,
                ..exchange()
            },
            CodeExchange {
                s256_challenge: "x".into(),
                ..exchange()
            },
            CodeExchange {
                resource: Some(resource("https://other.example/mcp")),
                ..exchange()
            },
        ];
        for (i, x) in cases.iter().enumerate() {
            assert!(!x.matches(&c), "case {i} must not match");
        }
        let plain = AuthorizationCode {
            code_challenge_method: CodeChallengeMethod::Plain,
            ..code()
        };
        assert!(!exchange().matches(&plain), "a plain challenge never does");
    }

    #[test]
    fn the_grant_is_the_codes_created_now_with_its_refresh_token() {
        let c = code();
        let (grant, refresh) = exchange().grant_for(&c);
        assert_eq!(
            grant,
            Grant {
                grant_id: "g".into(),
                client_id: "c".into(),
                subject: "alice".into(),
                scope: c.scope.clone(),
                resource: c.resource.clone(),
                created_at: NOW,
                refresh_generation: 0,
                revoked: false,
            }
        );
        assert_eq!(
            refresh,
            Some(RefreshToken {
                token_hash: "rt".into(),
                grant_id: "g".into(),
                generation: 0,
                issued_at: NOW,
                expires_at: NOW + 3600,
            })
        );
        let none = CodeExchange {
            refresh: None,
            ..exchange()
        };
        assert_eq!(none.grant_for(&c).1, None);
    }
}

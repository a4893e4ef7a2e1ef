//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `none`, `client_secret_basic`,
//! `client_secret_post`, and `private_key_jwt` (RFC 7523 §2.2). Every
//! refusal is logged (`client_auth.refused`) with a short reason code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::authorization::credentials;
use crate::client::{Client, TokenEndpointAuthMethod};
use crate::client_assertion::{
    AssertionAlgorithm, AssertionError, CLIENT_ASSERTION_TYPE, KeySource, parse_header,
    unverified_subject,
};
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::params::Params;
use crate::secret::{constant_time_eq, hash_secret};
use crate::server::AuthServer;
/// Credentials from an `Authorization: Basic` header value (RFC 6749 §2.3.1);
/// `None` if the scheme is not `Basic` (any case).
fn parse_basic(header: &str) -> Option<Result<(String, String), OAuthError>> {
    let b64 = credentials(header, "Basic")?;
    let bad = || OAuthError::invalid_client("malformed Authorization: Basic header");
    let parse = || {
        let raw = STANDARD.decode(b64).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
        // Both parts are form-urlencoded before base64 (RFC 6749 §2.3.1).
        let dec = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Ok((dec(id), dec(secret)))
    };
    Some(parse())
}

/// The endpoint a client authenticates at (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthEndpoint {
    /// `/token`.
    Token,
    /// `/revoke` (RFC 7009).
    Revoke,
    /// `/introspect` (RFC 7662).
    Introspect,
}

impl ClientAuthEndpoint {
    /// `token`, `revoke` or `introspect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Revoke => "revoke",
            Self::Introspect => "introspect",
        }
    }
}

/// A client that authenticated, and the method it used.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// The client.
    pub client: Client,
    /// How it authenticated.
    pub method: TokenEndpointAuthMethod,
}

/// The credentials a request presents.
struct Presented<'a> {
    client_id: String,
    method: TokenEndpointAuthMethod,
    secret: Option<&'a str>,
    assertion: Option<&'a str>,
}

/// A refusal with what the audit log needs.
struct Refusal {
    error: OAuthError,
    reason_code: &'static str,
    client_id: Option<String>,
    method: &'static str,
}

impl Refusal {
    fn new(error: OAuthError, reason_code: &'static str) -> Self {
        Self {
            error,
            reason_code,
            client_id: None,
            method: "unknown",
        }
    }

    fn of(mut self, client_id: &str, method: TokenEndpointAuthMethod) -> Self {
        self.client_id = Some(client_id.to_owned());
        self.method = method.as_str();
        self
    }
}

fn quoted_methods(methods: &[TokenEndpointAuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Reads which client the request names and how it authenticates, without
/// checking anything against a client yet.
fn presented<'a>(
    form: &'a Params,
    basic: Option<&'a (String, String)>,
) -> Result<Presented<'a>, Refusal> {
    let one_method = |e: OAuthError| Refusal::new(e, "several_methods");
    let malformed = |e: OAuthError| Refusal::new(e, "malformed");
    let body_secret = form.single("client_secret").map_err(malformed)?;
    let body_id = form.single("client_id").map_err(malformed)?;
    let assertion = form.single("client_assertion").map_err(malformed)?;
    let assertion_type = form.single("client_assertion_type").map_err(malformed)?;
    if assertion.is_some() || assertion_type.is_some() {
        if basic.is_some() || body_secret.is_some() {
            return Err(one_method(OAuthError::invalid_request(
                "use one client authentication method: private_key_jwt (client_assertion) or a client secret, not both",
            )));
        }
        match assertion_type {
            Some(CLIENT_ASSERTION_TYPE) => {}
            Some(other) => {
                return Err(malformed(OAuthError::invalid_request(format!(
                    "client_assertion_type `{other}` is not supported; use {CLIENT_ASSERTION_TYPE}"
                ))));
            }
            None => {
                return Err(malformed(OAuthError::invalid_request(format!(
                    "client_assertion needs client_assertion_type={CLIENT_ASSERTION_TYPE}"
                ))));
            }
        }
        let Some(assertion) = assertion else {
            return Err(malformed(OAuthError::invalid_request(
                "client_assertion_type was sent without client_assertion",
            )));
        };
        // RFC 7523 §3: client_id is optional; the assertion's subject names
        // the client (and is checked against it once the signature verifies).
        let client_id = match body_id {
            Some(id) => id.to_owned(),
            None => unverified_subject(assertion).map_err(|e| {
                let code = e.reason_code();
                Refusal::new(e.into(), code)
            })?,
        };
        return Ok(Presented {
            client_id,
            method: TokenEndpointAuthMethod::PrivateKeyJwt,
            secret: None,
            assertion: Some(assertion),
        });
    }
    if basic.is_some() && body_secret.is_some() {
        return Err(one_method(OAuthError::invalid_request(
            "use one client authentication method: client_secret_basic or client_secret_post, not both",
        )));
    }
    match basic {
        Some((id, secret)) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(malformed(OAuthError::invalid_request(
                    "client_id in the body differs from the Basic credentials",
                )));
            }
            Ok(Presented {
                client_id: id.clone(),
                method: TokenEndpointAuthMethod::ClientSecretBasic,
                secret: Some(secret),
                assertion: None,
            })
        }
        None => {
            let id = body_id.ok_or_else(|| {
                Refusal::new(
                    OAuthError::invalid_client(
                        "no client authentication: send client_id (public clients), client credentials, or a client_assertion",
                    ),
                    "no_credentials",
                )
            })?;
            let (method, secret) = match body_secret {
                // An empty secret is no secret (some public clients send one).
                Some("") | None => (TokenEndpointAuthMethod::None, None),
                Some(s) => (TokenEndpointAuthMethod::ClientSecretPost, Some(s)),
            };
            Ok(Presented {
                client_id: id.to_owned(),
                method,
                secret,
                assertion: None,
            })
        }
    }
}

/// Why `method` is not one this client may use, in words.
fn method_refused(client: &Client, method: TokenEndpointAuthMethod) -> OAuthError {
    let id = &client.client_id;
    let accepted = client.accepted_auth_methods();
    let allowed = quoted_methods(&accepted);
    OAuthError::invalid_client(if method.uses_secret() && client.secret_hash.is_none() {
        format!("client `{id}` has no client secret; do not send one (authenticate with {allowed})")
    } else if method == TokenEndpointAuthMethod::None {
        format!("client `{id}` is confidential; authenticate with {allowed}")
    } else if client.auth_method_explicit && accepted.len() == 1 {
        format!(
            "client `{id}` registered token_endpoint_auth_method={}, but authenticated with {}",
            client.auth_method.as_str(),
            method.as_str()
        )
    } else {
        format!(
            "client `{id}` may authenticate with {allowed}, not with {}",
            method.as_str()
        )
    })
}

impl AuthServer {
    /// Authenticates the client of a token, revocation or introspection
    /// request with the method it chose, if the client may use it. Every
    /// refusal is logged with its reason (`client_auth.refused`).
    pub async fn authenticate_client(
        &self,
        endpoint: ClientAuthEndpoint,
        form: &Params,
        authorization: Option<&str>,
    ) -> Result<AuthenticatedClient, OAuthError> {
        match self.authenticate(form, authorization).await {
            Ok(c) => {
                self.limit_client(endpoint, &c).await?;
                Ok(c)
            }
            Err(r) => {
                AuditEvent::ClientAuthRefused {
                    endpoint: endpoint.as_str(),
                    client_id: r.client_id.as_deref(),
                    method: r.method,
                    reason_code: r.reason_code,
                    error: r.error.code,
                    reason: &r.error.description,
                }
                .emit();
                Err(r.error)
            }
        }
    }

    /// Counts the request against the client's own limit, once it has
    /// proven who it is. Public clients are limited by address only: their
    /// id is a claim anyone can make (and may be shared by every user of an
    /// application), so a stranger must not be able to spend its allowance.
    async fn limit_client(
        &self,
        endpoint: ClientAuthEndpoint,
        c: &AuthenticatedClient,
    ) -> Result<(), OAuthError> {
        if c.method == TokenEndpointAuthMethod::None {
            return Ok(());
        }
        let limited = match endpoint {
            ClientAuthEndpoint::Token => crate::ratelimit::Endpoint::Token,
            ClientAuthEndpoint::Revoke => crate::ratelimit::Endpoint::Revoke,
            ClientAuthEndpoint::Introspect => crate::ratelimit::Endpoint::Introspect,
        };
        self.rate_limiter
            .check_client(limited, &c.client.client_id)
            .await
            .map_err(|e| {
                crate::http::log_rate_limited(&e, None, Some(&c.client.client_id));
                e.into()
            })
    }

    async fn authenticate(
        &self,
        form: &Params,
        authorization: Option<&str>,
    ) -> Result<AuthenticatedClient, Refusal> {
        let basic = authorization
            .and_then(parse_basic)
            .transpose()
            .map_err(|e| Refusal::new(e, "malformed"))?;
        let p = presented(form, basic.as_ref())?;
        let refuse = |e: OAuthError, code| Refusal::new(e, code).of(&p.client_id, p.method);
        let client = match self.find_client(&p.client_id).await {
            Ok(Some(c)) => c,
            Ok(None) => return Err(refuse(Self::unknown_client(&p.client_id), "unknown_client")),
            Err(e) => {
                let code = if e.code == ErrorCode::InvalidClient {
                    "client_unavailable"
                } else {
                    "store"
                };
                return Err(refuse(e, code));
            }
        };
        if !client.accepted_auth_methods().contains(&p.method) {
            return Err(refuse(
                method_refused(&client, p.method),
                "method_not_registered",
            ));
        }
        match (p.method, p.secret, p.assertion) {
            (TokenEndpointAuthMethod::None, ..) => {}
            (TokenEndpointAuthMethod::PrivateKeyJwt, _, Some(assertion)) => {
                self.verify_assertion(&client, assertion)
                    .await
                    .map_err(|e| {
                        let code = e.reason_code();
                        refuse(e.into(), code)
                    })?;
            }
            (_, Some(secret), _) => {
                let ok = client
                    .secret_hash
                    .as_ref()
                    .is_some_and(|h| constant_time_eq(&hash_secret(secret), h));
                if !ok {
                    return Err(refuse(
                        OAuthError::invalid_client(format!(
                            "wrong client secret for client `{}`",
                            client.client_id
                        )),
                        "wrong_secret",
                    ));
                }
            }
            _ => {
                return Err(refuse(
                    OAuthError::invalid_client("no client credentials"),
                    "no_credentials",
                ));
            }
        }
        Ok(AuthenticatedClient {
            client,
            method: p.method,
        })
    }

    /// Verifies a `private_key_jwt` assertion of `client` against the keys
    /// its metadata names, and consumes its `jti` in the store.
    async fn verify_assertion(
        &self,
        client: &Client,
        assertion: &str,
    ) -> Result<(), AssertionError> {
        let source = KeySource::from_metadata(&client.metadata)?;
        if let Some(declared) = client
            .metadata
            .get("token_endpoint_auth_signing_alg")
            .and_then(|v| v.as_str())
            .and_then(AssertionAlgorithm::parse)
        {
            let header = parse_header(assertion)?;
            if header.algorithm != declared {
                return Err(AssertionError::AlgorithmNotRegistered {
                    used: header.algorithm.as_str(),
                    registered: declared.as_str(),
                });
            }
        }
        let verified = self
            .assertions
            .verify(
                assertion,
                &client.client_id,
                source,
                &*self.store,
                self.now(),
            )
            .await?;
        AuditEvent::ClientAssertionAccepted {
            client_id: &client.client_id,
            algorithm: verified.algorithm.as_str(),
            kid: verified.kid.as_deref(),
            jti: &verified.jti,
        }
        .emit();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[tokio::test]
    async fn non_ascii_authorization_does_not_panic() {
        let cfg = crate::config::ServerConfig::builder("http://127.0.0.1:8080")
            .build()
            .unwrap();
        let server =
            AuthServer::new(cfg, std::sync::Arc::new(crate::store::MemoryStore::new())).unwrap();
        let form = Params::parse(b"client_id=x");
        for h in [
            "\u{e9}\u{e9}\u{e9}\u{e9}",
            "Bas\u{e9}c abc",
            "Basic \u{1F600}",
        ] {
            let e = server
                .authenticate_client(ClientAuthEndpoint::Token, &form, Some(h))
                .await
                .unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{h}");
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded_in_any_scheme_case() {
        for scheme in ["Basic", "basic", "BASIC", "bAsIc"] {
            let h = format!("{scheme} {}", STANDARD.encode("my%20id:s%3Ac"));
            assert_eq!(
                parse_basic(&h).unwrap().unwrap(),
                ("my id".into(), "s:c".into()),
                "{scheme}"
            );
        }
        assert!(parse_basic("Bearer abc").is_none());
        assert_eq!(
            parse_basic("Basic !!!").unwrap().unwrap_err().code,
            ErrorCode::InvalidClient
        );
        assert_eq!(
            parse_basic(&format!("Basic {}", STANDARD.encode("nocolon")))
                .unwrap()
                .unwrap_err()
                .code,
            ErrorCode::InvalidClient
        );
    }
}

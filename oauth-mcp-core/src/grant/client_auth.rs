//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `none`, `client_secret_basic`, `client_secret_post`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::authorization::credentials;
use crate::client::{Client, TokenEndpointAuthMethod};
use crate::error::OAuthError;
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

impl AuthServer {
    /// Authenticates the client of a token, revocation or introspection request.
    pub async fn authenticate_client(
        &self,
        form: &Params,
        authorization: Option<&str>,
    ) -> Result<Client, OAuthError> {
        let basic = authorization.and_then(parse_basic).transpose()?;
        let body_secret = form.single("client_secret")?;
        let body_id = form.single("client_id")?;
        if basic.is_some() && body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method: client_secret_basic or client_secret_post, not both",
            ));
        }
        let (client_id, secret, method) = match &basic {
            Some((id, s)) => {
                if body_id.is_some_and(|b| b != id) {
                    return Err(OAuthError::invalid_request(
                        "client_id in the body differs from the Basic credentials",
                    ));
                }
                (
                    id.as_str(),
                    Some(s.as_str()),
                    TokenEndpointAuthMethod::ClientSecretBasic,
                )
            }
            None => {
                let id = body_id.ok_or_else(|| {
                    OAuthError::invalid_client("no client authentication: send client_id (public clients) or client credentials")
                })?;
                match body_secret {
                    Some(s) => (id, Some(s), TokenEndpointAuthMethod::ClientSecretPost),
                    None => (id, None, TokenEndpointAuthMethod::None),
                }
            }
        };
        let client = self
            .find_client(client_id)
            .await?
            .ok_or_else(|| Self::unknown_client(client_id))?;
        match (&client.secret_hash, secret) {
            (None, None) => Ok(client),
            (None, Some("")) => Ok(client),
            (None, Some(_)) => Err(OAuthError::invalid_client(format!(
                "client `{client_id}` is public (token_endpoint_auth_method=none) and has no secret; do not send one"
            ))),
            (Some(_), None) => Err(OAuthError::invalid_client(format!(
                "client `{client_id}` is confidential; authenticate with {}",
                if client.auth_method_explicit {
                    client.auth_method.as_str()
                } else {
                    "client_secret_basic or client_secret_post"
                }
            ))),
            (Some(hash), Some(s)) => {
                if client.auth_method_explicit && client.auth_method != method {
                    return Err(OAuthError::invalid_client(format!(
                        "client `{client_id}` registered token_endpoint_auth_method={}, but authenticated with {}",
                        client.auth_method.as_str(),
                        method.as_str()
                    )));
                }
                if constant_time_eq(&hash_secret(s), hash) {
                    Ok(client)
                } else {
                    Err(OAuthError::invalid_client(format!(
                        "wrong client secret for client `{client_id}`"
                    )))
                }
            }
        }
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
                .authenticate_client(&form, Some(h))
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

//! RFC 7591 registration rules: what a registration request may ask for,
//! what is dropped (lenient where §3.2.1 allows it) and what is refused.

use serde::Deserialize;

use super::redirect::{RedirectUriPolicy, validate_redirect_uri};
use super::{Client, TokenEndpointAuthMethod};
use crate::client_assertion::declared_keys;
use crate::error::{ErrorCode, OAuthError};
use crate::events::AuditEvent;
use crate::scope::ScopeSet;

/// An RFC 7591 client registration request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistrationRequest {
    /// Redirect URIs (required for the code flow).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Requested token endpoint auth method.
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    pub response_types: Option<Vec<String>>,
    /// Client name.
    pub client_name: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
    /// Every field, for echoing back registered metadata.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Grant types this server implements for registered clients.
pub const SUPPORTED_GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];

/// Response types this server implements.
pub const SUPPORTED_RESPONSE_TYPES: &[&str] = &["code"];

/// Splits `requested` into the values this server supports (deduplicated,
/// in request order) and the ones it drops.
fn keep_supported(requested: &[String], supported: &[&str]) -> (Vec<String>, Vec<String>) {
    let mut kept: Vec<String> = Vec::new();
    let mut dropped: Vec<String> = Vec::new();
    for value in requested {
        let list = if supported.contains(&value.as_str()) {
            &mut kept
        } else {
            &mut dropped
        };
        if !list.contains(value) {
            list.push(value.clone());
        }
    }
    (kept, dropped)
}

fn quoted(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Validates a registration request and turns it into a [`Client`] (without
/// id or secret, which the caller assigns).
///
/// Lenient where RFC 7591 §3.2.1 allows it: grant types and response types
/// this server does not implement (`urn:ietf:params:oauth:grant-type:device_code`
/// from VS Code, `…:jwt-bearer` from Claude, `implicit`, `token`, …) are
/// dropped, and the client is registered with the rest; the registration
/// response reports what was registered. The request is refused only when
/// what remains cannot work: no `authorization_code` grant, or no `code`
/// response type.
pub fn validate_registration(
    req: &RegistrationRequest,
    policy: Option<&dyn RedirectUriPolicy>,
    now: i64,
) -> Result<Client, OAuthError> {
    let meta_err = |d: String| OAuthError::new(ErrorCode::InvalidClientMetadata, d);
    super::limits::check_sizes(&req.redirect_uris, req.client_name.as_deref())?;
    let metadata = super::limits::kept_metadata(&req.extra)?;
    if req.redirect_uris.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidRedirectUri,
            "redirect_uris is required and must list at least one URI",
        ));
    }
    for uri in &req.redirect_uris {
        validate_redirect_uri(uri)?;
        if let Some(p) = policy {
            p.check(uri)
                .map_err(|why| OAuthError::new(ErrorCode::InvalidRedirectUri, why))?;
        }
    }
    let (auth_method, explicit) = match req.token_endpoint_auth_method.as_deref() {
        None => (TokenEndpointAuthMethod::ClientSecretBasic, false),
        Some(m) => (
            TokenEndpointAuthMethod::parse(m).ok_or_else(|| {
                meta_err(format!(
                    "token_endpoint_auth_method `{m}` is not supported; use none, client_secret_basic, client_secret_post or private_key_jwt"
                ))
            })?,
            true,
        ),
    };
    let has_keys = declared_keys(&req.extra).map_err(meta_err)?.is_some();
    if auth_method == TokenEndpointAuthMethod::PrivateKeyJwt && !has_keys {
        return Err(meta_err(
            "token_endpoint_auth_method private_key_jwt needs the client's public keys: register `jwks` (a JWK Set) or `jwks_uri` (an https URL serving one)".into(),
        ));
    }
    let (grant_types, dropped_grants) = match &req.grant_types {
        None => (
            SUPPORTED_GRANT_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            Vec::new(),
        ),
        Some(requested) => keep_supported(requested, SUPPORTED_GRANT_TYPES),
    };
    if !grant_types.iter().any(|g| g == "authorization_code") {
        let why = if dropped_grants.is_empty() {
            String::new()
        } else {
            format!(
                " (set aside as not implemented here: {})",
                quoted(&dropped_grants)
            )
        };
        return Err(meta_err(format!(
            "grant_types must include authorization_code{why}; this server supports authorization_code and refresh_token"
        )));
    }
    let dropped_responses = match &req.response_types {
        None => Vec::new(),
        Some(requested) => {
            let (kept, dropped) = keep_supported(requested, SUPPORTED_RESPONSE_TYPES);
            if kept.is_empty() {
                return Err(meta_err(format!(
                    "response_types must include `code` (the authorization code flow){}",
                    if dropped.is_empty() {
                        String::new()
                    } else {
                        format!("; not supported: {}", quoted(&dropped))
                    }
                )));
            }
            dropped
        }
    };
    let scope = req
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| meta_err(e.description))?;
    if !dropped_grants.is_empty() || !dropped_responses.is_empty() {
        AuditEvent::RegisterAdjusted {
            client_name: req.client_name.as_deref(),
            dropped_grant_types: &dropped_grants,
            dropped_response_types: &dropped_responses,
            registered_grant_types: &grant_types,
        }
        .emit();
    }
    Ok(Client {
        client_id: String::new(),
        secret_hash: None,
        redirect_uris: req.redirect_uris.clone(),
        auth_method,
        auth_method_explicit: explicit,
        client_name: req.client_name.clone(),
        scope,
        grant_types,
        trusted: false,
        active: true,
        created_at: now,
        expires_at: None,
        awaiting_first_token: false,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::RedirectUriAllowlist;

    #[test]
    fn registration_validation() {
        let mut req = RegistrationRequest {
            redirect_uris: vec!["https://a/cb".into()],
            ..Default::default()
        };
        let c = validate_registration(&req, None, 5).unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert!(!c.auth_method_explicit);
        req.token_endpoint_auth_method = Some("private_key_jwt".into());
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        req.token_endpoint_auth_method = Some("none".into());
        req.grant_types = Some(vec!["implicit".into()]);
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidClientMetadata
        );
        req.grant_types = None;
        req.redirect_uris.clear();
        assert_eq!(
            validate_registration(&req, None, 5).unwrap_err().code,
            ErrorCode::InvalidRedirectUri
        );
        req.redirect_uris = vec!["https://evil/cb".into()];
        let policy = RedirectUriAllowlist::new(["https://good/cb"]);
        assert_eq!(
            validate_registration(&req, Some(&policy), 5)
                .unwrap_err()
                .code,
            ErrorCode::InvalidRedirectUri
        );
    }

    fn dcr(grants: Option<&[&str]>, responses: Option<&[&str]>) -> RegistrationRequest {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        RegistrationRequest {
            redirect_uris: vec!["http://127.0.0.1:33418/".into()],
            token_endpoint_auth_method: Some("none".into()),
            grant_types: grants.map(list),
            response_types: responses.map(list),
            ..Default::default()
        }
    }

    #[test]
    fn unsupported_grant_and_response_types_are_dropped_not_refused() {
        // VS Code's grant list, with a duplicate and an unknown response type.
        let c = validate_registration(
            &dcr(
                Some(&[
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:device_code",
                    "refresh_token",
                ]),
                Some(&["code", "token", "code"]),
            ),
            None,
            0,
        )
        .unwrap();
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        // Claude's: jwt-bearer goes, refresh is kept.
        let c = validate_registration(
            &dcr(
                Some(&[
                    "authorization_code",
                    "refresh_token",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ]),
                Some(&["code"]),
            ),
            None,
            0,
        )
        .unwrap();
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        // Without refresh_token the client registers without it.
        let c = validate_registration(&dcr(Some(&["authorization_code"]), None), None, 0).unwrap();
        assert_eq!(c.grant_types, ["authorization_code"]);
        assert!(!c.allows_grant("refresh_token"));
        // Omitted: both supported grants.
        let c = validate_registration(&dcr(None, None), None, 0).unwrap();
        assert_eq!(c.grant_types, SUPPORTED_GRANT_TYPES);
    }

    #[test]
    fn registration_is_refused_when_what_remains_cannot_work() {
        let e = validate_registration(
            &dcr(
                Some(&["urn:ietf:params:oauth:grant-type:device_code", "implicit"]),
                None,
            ),
            None,
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert_eq!(
            e.description,
            "grant_types must include authorization_code (set aside as not implemented here: \
             `urn:ietf:params:oauth:grant-type:device_code`, `implicit`); \
             this server supports authorization_code and refresh_token"
        );
        let e = validate_registration(&dcr(Some(&["refresh_token"]), None), None, 0).unwrap_err();
        assert_eq!(
            e.description,
            "grant_types must include authorization_code; this server supports authorization_code and refresh_token"
        );
        let e = validate_registration(&dcr(Some(&[]), None), None, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        let e =
            validate_registration(&dcr(None, Some(&["token", "id_token"])), None, 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
        assert_eq!(
            e.description,
            "response_types must include `code` (the authorization code flow); not supported: `token`, `id_token`"
        );
        let e = validate_registration(&dcr(None, Some(&[])), None, 0).unwrap_err();
        assert_eq!(
            e.description,
            "response_types must include `code` (the authorization code flow)"
        );
    }
    fn with_keys(method: &str, keys: serde_json::Value) -> RegistrationRequest {
        let mut req = dcr(None, None);
        req.token_endpoint_auth_method = Some(method.into());
        if let serde_json::Value::Object(m) = keys {
            req.extra = m;
        }
        req
    }

    #[test]
    fn private_key_jwt_registers_with_public_keys_only() {
        let jwk = serde_json::json!({"kty": "OKP", "crv": "Ed25519", "kid": "k1",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let c = validate_registration(
            &with_keys(
                "private_key_jwt",
                serde_json::json!({"jwks": {"keys": [jwk]}}),
            ),
            None,
            0,
        )
        .unwrap();
        assert_eq!(c.auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert_eq!(
            c.accepted_auth_methods(),
            [TokenEndpointAuthMethod::PrivateKeyJwt]
        );
        let c = validate_registration(
            &with_keys(
                "private_key_jwt",
                serde_json::json!({"jwks_uri": "https://client.example/jwks.json",
                    "token_endpoint_auth_signing_alg": "RS256"}),
            ),
            None,
            0,
        )
        .unwrap();
        assert!(c.is_confidential());
        assert!(!c.auth_method.uses_secret());
        for (keys, says) in [
            (
                serde_json::json!({}),
                "token_endpoint_auth_method private_key_jwt needs the client's public keys: register `jwks` (a JWK Set) or `jwks_uri` (an https URL serving one)",
            ),
            (
                serde_json::json!({"jwks": {"keys": [jwk]}, "jwks_uri": "https://c.example/j"}),
                "the client metadata has both `jwks` and `jwks_uri` (RFC 7591 §2 forbids it)",
            ),
            (
                serde_json::json!({"jwks_uri": "http://client.example/jwks.json"}),
                "`jwks_uri` `http://client.example/jwks.json` must use https",
            ),
            (
                serde_json::json!({"jwks": {"keys": [{"kty": "EC", "crv": "P-256", "d": "x"}]}}),
                "`jwks`: the JWK Set contains private or symmetric key material",
            ),
            (
                serde_json::json!({"jwks_uri": "https://c.example/j", "token_endpoint_auth_signing_alg": "HS256"}),
                "token_endpoint_auth_signing_alg `HS256` is not accepted; use one of RS256, PS256, ES256, EdDSA",
            ),
        ] {
            let e =
                validate_registration(&with_keys("private_key_jwt", keys), None, 0).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
            assert_eq!(e.description, says);
        }
        // Keys are checked whatever the method: no private key material anywhere.
        let e = validate_registration(
            &with_keys(
                "none",
                serde_json::json!({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            ),
            None,
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClientMetadata);
    }
}

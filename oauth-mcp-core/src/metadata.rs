//! RFC 8414 authorization-server metadata and RFC 9728 protected-resource
//! metadata as typed documents, each generated from one validated
//! configuration. Unknown members survive a round trip through `extra`.
//! Only what is implemented is advertised (no ID-token fields: this server
//! issues no ID tokens).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::TokenEndpointAuthMethod;
use crate::client_assertion::AssertionAlgorithm;
use crate::config::ServerConfig;
use crate::scope::OFFLINE_ACCESS;

/// An RFC 8414 authorization-server metadata document (also served as
/// OpenID discovery, since MCP clients try both).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer identifier.
    pub issuer: String,
    /// `/authorize`.
    pub authorization_endpoint: String,
    /// `/token`.
    pub token_endpoint: String,
    /// `/register`, when dynamic registration is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// `/revoke` (RFC 7009).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// `/introspect` (RFC 7662).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `/jwks.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Supported scopes.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Always `["code"]`.
    pub response_types_supported: Vec<String>,
    /// Always `["query"]`.
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    /// The grants the token endpoint accepts.
    #[serde(default)]
    pub grant_types_supported: Vec<String>,
    /// `S256` (and `plain` only when dangerously enabled).
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    /// Client authentication at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// The algorithms `private_key_jwt` client assertions may be signed
    /// with at the token endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Client authentication at the revocation endpoint.
    #[serde(default)]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// The algorithms of client assertions at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// Client authentication at the introspection endpoint.
    #[serde(default)]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// The algorithms of client assertions at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// RFC 9207: the authorization response carries `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    /// URL client ids (Client ID Metadata Documents) are accepted.
    #[serde(default)]
    pub client_id_metadata_document_supported: bool,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An RFC 9728 protected-resource metadata document.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// The resource's canonical URI (the token audience).
    pub resource: String,
    /// Issuers whose tokens the resource accepts.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// Scopes the resource understands (never `offline_access`).
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Always `["header"]`: tokens in query strings and bodies are refused.
    #[serde(default)]
    pub bearer_methods_supported: Vec<String>,
    /// A name to show people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Every other member.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProtectedResourceMetadata {
    /// The document for `resource` trusting `issuers`, listing `scopes`
    /// (`offline_access` is left out: it concerns the authorization server).
    pub fn new<'a>(
        resource: &str,
        issuers: impl IntoIterator<Item = &'a str>,
        scopes: impl IntoIterator<Item = &'a str>,
        name: Option<&str>,
    ) -> Self {
        Self {
            resource: resource.to_owned(),
            authorization_servers: issuers.into_iter().map(str::to_owned).collect(),
            scopes_supported: scopes
                .into_iter()
                .filter(|s| *s != OFFLINE_ACCESS)
                .map(str::to_owned)
                .collect(),
            bearer_methods_supported: vec!["header".into()],
            resource_name: name.map(str::to_owned),
            extra: Map::new(),
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The RFC 8414 document of the server configured by `cfg`.
pub fn authorization_server_metadata(cfg: &ServerConfig) -> AuthorizationServerMetadata {
    let mut pkce = vec!["S256"];
    if cfg.plain_pkce_allowed() {
        pkce.push("plain");
    }
    let client_auth: Vec<String> = TokenEndpointAuthMethod::ALL
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    let assertion_algs: Vec<String> = AssertionAlgorithm::ALL
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    let mut extra = Map::new();
    // RFC 8707 resource indicators are honoured (not a registered member,
    // but clients and the CLI read it).
    extra.insert("resource_indicators_supported".into(), Value::Bool(true));
    AuthorizationServerMetadata {
        issuer: cfg.issuer().to_owned(),
        authorization_endpoint: cfg.endpoint_url("/authorize"),
        token_endpoint: cfg.endpoint_url("/token"),
        registration_endpoint: cfg
            .registration_enabled()
            .then(|| cfg.endpoint_url("/register")),
        revocation_endpoint: Some(cfg.endpoint_url("/revoke")),
        introspection_endpoint: Some(cfg.endpoint_url("/introspect")),
        jwks_uri: Some(cfg.endpoint_url("/jwks.json")),
        // Refresh tokens are issued, so `offline_access` is understood (RFC
        // 8414 lists what a client may ask; the PRM never lists it).
        scopes_supported: {
            let mut scopes = cfg.scopes_supported().to_vec();
            if !scopes.iter().any(|s| s == OFFLINE_ACCESS) {
                scopes.push(OFFLINE_ACCESS.to_owned());
            }
            scopes
        },
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: strings(&["authorization_code", "refresh_token"]),
        code_challenge_methods_supported: strings(&pkce),
        token_endpoint_auth_methods_supported: client_auth.clone(),
        token_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
        // Introspection needs an authenticated client: every method but `none`.
        introspection_endpoint_auth_methods_supported: client_auth
            .iter()
            .filter(|m| *m != "none")
            .cloned()
            .collect(),
        revocation_endpoint_auth_methods_supported: client_auth,
        revocation_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
        introspection_endpoint_auth_signing_alg_values_supported: assertion_algs,
        authorization_response_iss_parameter_supported: true,
        client_id_metadata_document_supported: cfg.client_id_metadata_documents_enabled(),
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_agree_with_config() {
        let cfg = ServerConfig::builder("https://h.example")
            .scopes_supported(["mcp", "offline_access"])
            .build()
            .unwrap();
        let as_md = serde_json::to_value(authorization_server_metadata(&cfg)).unwrap();
        assert_eq!(as_md["issuer"], "https://h.example");
        assert_eq!(as_md["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(as_md["registration_endpoint"], "https://h.example/register");
        assert_eq!(as_md["resource_indicators_supported"], true);
        // private_key_jwt is implemented at every client-authenticating endpoint.
        let all = json!([
            "none",
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ]);
        let algs = json!(["RS256", "PS256", "ES256", "EdDSA"]);
        assert_eq!(as_md["token_endpoint_auth_methods_supported"], all);
        assert_eq!(as_md["revocation_endpoint_auth_methods_supported"], all);
        assert_eq!(
            as_md["introspection_endpoint_auth_methods_supported"],
            json!([
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt"
            ])
        );
        for endpoint in ["token", "revocation", "introspection"] {
            assert_eq!(
                as_md[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
                algs,
                "{endpoint}"
            );
        }
        // No ID token is ever issued, so nothing about ID tokens is advertised.
        assert!(as_md.get("id_token_signing_alg_values_supported").is_none());
        assert!(as_md.get("subject_types_supported").is_none());
        let back: AuthorizationServerMetadata = serde_json::from_value(as_md.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), as_md);

        let prm = ProtectedResourceMetadata::new(
            "https://h.example/mcp",
            ["https://h.example"],
            ["mcp", "offline_access"],
            Some("n"),
        );
        let prm = serde_json::to_value(prm).unwrap();
        assert_eq!(prm["scopes_supported"], json!(["mcp"]));
        assert_eq!(prm["bearer_methods_supported"], json!(["header"]));

        let no_reg = ServerConfig::builder("https://h.example")
            .disable_registration()
            .build()
            .unwrap();
        assert!(
            authorization_server_metadata(&no_reg)
                .registration_endpoint
                .is_none()
        );
        let plain = ServerConfig::builder("https://h.example")
            .dangerously_allow_plain_pkce()
            .build()
            .unwrap();
        assert_eq!(
            authorization_server_metadata(&plain).code_challenge_methods_supported,
            ["S256", "plain"]
        );
    }
}

//! RFC 8414 authorization-server metadata and RFC 9728 protected-resource
//! metadata, both generated from the one validated configuration.

use serde_json::{Value, json};

use crate::config::ServerConfig;
use crate::scope::OFFLINE_ACCESS;

/// The RFC 8414 document (also served as OpenID discovery).
pub fn authorization_server_metadata(cfg: &ServerConfig) -> Value {
    let mut pkce = vec!["S256"];
    if cfg.plain_pkce_allowed() {
        pkce.push("plain");
    }
    let mut m = json!({
        "issuer": cfg.issuer(),
        "authorization_endpoint": cfg.endpoint_url("/authorize"),
        "token_endpoint": cfg.endpoint_url("/token"),
        "revocation_endpoint": cfg.endpoint_url("/revoke"),
        "introspection_endpoint": cfg.endpoint_url("/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "jwks_uri": cfg.endpoint_url("/jwks.json"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": pkce,
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": cfg.scopes_supported().to_vec(),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": cfg.client_id_metadata_documents_enabled(),
        // OpenID discovery clients require these three fields.
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [cfg.keys().active().algorithm().as_str()],
        "resource_indicators_supported": true,
    });
    if cfg.registration_enabled() {
        m["registration_endpoint"] = json!(cfg.endpoint_url("/register"));
    }
    m
}

/// The RFC 9728 document for the MCP endpoint. `offline_access` is never
/// listed: it concerns the authorization server, not the resource.
pub fn protected_resource_metadata(cfg: &ServerConfig) -> Value {
    protected_resource_document(
        cfg.resource().as_str(),
        &[cfg.issuer()],
        &cfg.scopes_supported().to_vec(),
        cfg.server_name(),
    )
}

/// A protected-resource metadata document for `resource` trusting `issuers`.
pub fn protected_resource_document(
    resource: &str,
    issuers: &[&str],
    scopes: &[String],
    name: &str,
) -> Value {
    let scopes: Vec<&str> = scopes
        .iter()
        .map(String::as_str)
        .filter(|s| *s != OFFLINE_ACCESS)
        .collect();
    json!({
        "resource": resource,
        "authorization_servers": issuers,
        "scopes_supported": scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_agree_with_config() {
        let cfg = ServerConfig::builder("https://h.example")
            .scopes_supported(["mcp", "offline_access"])
            .build()
            .unwrap();
        let as_md = authorization_server_metadata(&cfg);
        let prm = protected_resource_metadata(&cfg);
        assert_eq!(prm["authorization_servers"][0], as_md["issuer"]);
        assert_eq!(prm["resource"], "https://h.example/mcp");
        assert_eq!(prm["scopes_supported"], json!(["mcp"]));
        assert_eq!(as_md["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(as_md["registration_endpoint"], "https://h.example/register");
        let no_reg = ServerConfig::builder("https://h.example")
            .disable_registration()
            .build()
            .unwrap();
        assert!(
            authorization_server_metadata(&no_reg)
                .get("registration_endpoint")
                .is_none()
        );
        let plain = ServerConfig::builder("https://h.example")
            .dangerously_allow_plain_pkce()
            .build()
            .unwrap();
        assert_eq!(
            authorization_server_metadata(&plain)["code_challenge_methods_supported"],
            json!(["S256", "plain"])
        );
    }
}

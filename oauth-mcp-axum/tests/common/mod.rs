//! What the adapter's tests share: a validator that accepts one token and
//! the resource server built on it.

use async_trait::async_trait;
use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::scope::ScopeSet;
use oauth_mcp_core::validate::{AuthContext, Identity, TokenRejection, TokenValidator};

/// Accepts the token "good" only, as alice with the scope `mcp`.
pub(crate) struct Fixed;

#[async_trait]
impl TokenValidator for Fixed {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        if token != "good" {
            return Err(TokenRejection::Malformed("not good".into()));
        }
        Ok(AuthContext::new(Identity {
            subject: "alice".into(),
            client_id: "c".into(),
            scopes: ScopeSet::parse("mcp").unwrap(),
            audience: "http://127.0.0.1:9/mcp".into(),
            issuer: "https://idp.example".into(),
            expires_at: i64::MAX,
            token_id: None,
        }))
    }
}

/// `http://127.0.0.1:9/mcp` trusting `https://idp.example`, through
/// [`Fixed`], requiring `mcp`.
pub(crate) fn resource_server() -> ResourceServer {
    ResourceServer::builder("http://127.0.0.1:9/mcp")
        .authorization_server("https://idp.example")
        .validator(Fixed)
        .required_scopes(["mcp"])
        .build()
        .unwrap()
}

//! OAuth clients: the registered record and how it may authenticate; the
//! RFC 7591 registration rules (`registration`) and redirect-URI rules
//! (`redirect`) are submodules, re-exported here.

mod cache;
pub mod limits;
mod redirect;
mod registration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::scope::ScopeSet;

pub use cache::CLIENT_CACHE_FRESH_FOR;
pub(crate) use cache::ClientCache;
pub use redirect::{
    RedirectUriAllowlist, RedirectUriPolicy, SharedRedirectPolicy, all_loopback,
    redirect_uri_matches, validate_redirect_uri,
};
pub use registration::{
    RegistrationRequest, SUPPORTED_GRANT_TYPES, SUPPORTED_RESPONSE_TYPES, validate_registration,
};

/// How a client authenticates at the token endpoint.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// Public client: no secret; PKCE protects the code.
    None,
    /// HTTP Basic with client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2), verified
    /// with the public keys of its `jwks` or `jwks_uri`.
    PrivateKeyJwt,
}

impl TokenEndpointAuthMethod {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    /// Every method this server implements, as advertised in its metadata.
    pub const ALL: [Self; 4] = [
        Self::None,
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
    ];

    /// True for the methods that present a client secret.
    pub fn uses_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }

    /// Parses a method name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(Self::None),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            _ => None,
        }
    }
}

/// A client as the authorization server stores it. The secret is kept only
/// as a hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client identifier.
    pub client_id: String,
    /// base64url(SHA-256(secret)) for confidential clients.
    pub secret_hash: Option<String>,
    /// Registered redirect URIs, verbatim.
    pub redirect_uris: Vec<String>,
    /// How the client authenticates at the token endpoint.
    pub auth_method: TokenEndpointAuthMethod,
    /// True if the client registered `token_endpoint_auth_method` explicitly;
    /// then only that method is accepted (see [`Client::accepted_auth_methods`]).
    /// Otherwise a confidential client may use either `client_secret_basic`
    /// or `client_secret_post`.
    pub auth_method_explicit: bool,
    /// Human-readable name shown on the consent page.
    pub client_name: Option<String>,
    /// Scopes the client registered for (informational; user policy decides).
    pub scope: Option<ScopeSet>,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// Trusted clients skip the consent step (operators set this).
    pub trusted: bool,
    /// Inactive clients are refused everywhere.
    pub active: bool,
    /// Unix time of registration.
    pub created_at: i64,
    /// Unix time after which the client registration expires, if any.
    pub expires_at: Option<i64>,
    /// True for a dynamically registered client that has not completed a
    /// token request yet: its `expires_at` is then the unused-registration
    /// expiry ([`crate::config::AbuseLimits::unused_registration_ttl`]),
    /// and its first token gives it the registration lifetime.
    #[serde(default)]
    pub awaiting_first_token: bool,
    /// The registration metadata as sent (or the whole client metadata
    /// document), for the registration response and the client's keys
    /// (`jwks`, `jwks_uri`).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Client {
    /// True for confidential clients (they hold a secret or a private key).
    pub fn is_confidential(&self) -> bool {
        self.auth_method != TokenEndpointAuthMethod::None
    }

    /// The token-endpoint authentication methods this client may use, its
    /// registered one first. A Client ID Metadata Document that lists
    /// `token_endpoint_auth_methods_supported` (OpenID RP Metadata Choices,
    /// MCP SEP-3149) may use any method of that list this server implements
    /// and the client can perform. A method the client cannot perform is
    /// never accepted: the secret methods need a secret, `private_key_jwt`
    /// needs `jwks` or `jwks_uri`.
    pub fn accepted_auth_methods(&self) -> Vec<TokenEndpointAuthMethod> {
        let mut declared = if self.auth_method_explicit {
            vec![self.auth_method]
        } else {
            vec![
                TokenEndpointAuthMethod::ClientSecretBasic,
                TokenEndpointAuthMethod::ClientSecretPost,
            ]
        };
        if is_url_client_id(&self.client_id)
            && let Some(list) = self
                .metadata
                .get("token_endpoint_auth_methods_supported")
                .and_then(Value::as_array)
        {
            declared.extend(
                list.iter()
                    .filter_map(Value::as_str)
                    .filter_map(TokenEndpointAuthMethod::parse),
            );
        }
        let mut accepted = Vec::new();
        for m in declared {
            if self.can_perform(m) && !accepted.contains(&m) {
                accepted.push(m);
            }
        }
        accepted
    }

    /// True if the client has what `method` needs (a secret, public keys).
    pub(crate) fn can_perform(&self, method: TokenEndpointAuthMethod) -> bool {
        match method {
            TokenEndpointAuthMethod::None => true,
            TokenEndpointAuthMethod::ClientSecretBasic
            | TokenEndpointAuthMethod::ClientSecretPost => self.secret_hash.is_some(),
            TokenEndpointAuthMethod::PrivateKeyJwt => {
                self.metadata.contains_key("jwks") || self.metadata.contains_key("jwks_uri")
            }
        }
    }

    /// The name to show a person: the registered name, else the id.
    pub fn display_name(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.client_id)
    }

    /// True if the client may use `grant_type`.
    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Finds the registered redirect URI that `requested` matches: exact
    /// string equality, or for an `http` loopback IP literal the same URI on
    /// any port (RFC 8252 §7.3). `localhost` gets the port rule too, but only
    /// when registered as `localhost` (host literals must match).
    pub fn match_redirect_uri(&self, requested: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .find(|r| redirect_uri_matches(r, requested))
            .map(String::as_str)
    }
}

/// True if `client_id` is a URL: the client is described by a Client ID
/// Metadata Document rather than registered.
pub fn is_url_client_id(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

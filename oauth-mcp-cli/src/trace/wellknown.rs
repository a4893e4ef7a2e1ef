//! The well-known URLs a client derives from a URL: where RFC 9728
//! protected-resource metadata and RFC 8414 / OpenID authorization-server
//! metadata may live, in the order MCP clients try them.
//!
//! The tracer asks for these lists and nothing else, so that each is one
//! call to swap for the core's builder of the same URLs.

use oauth_mcp_core::discovery::{
    authorization_server_metadata_urls, protected_resource_metadata_url,
};
use url::Url;

use super::parse::origin;

/// Where RFC 9728 metadata for the resource at `resource` may live: the
/// well-known URI with the resource's path inserted (core's
/// [`protected_resource_metadata_url`], as servers name it), then at the
/// root, where clients of the 2025-03-26 revision look.
pub(crate) fn protected_resource(resource: &Url) -> Vec<String> {
    let mut v: Vec<String> = [resource.as_str().to_owned(), origin(resource)]
        .iter()
        .filter_map(|u| protected_resource_metadata_url(u).ok())
        .collect();
    v.dedup();
    v
}

/// Where the metadata of the authorization server `issuer` may live, in the
/// order MCP clients try (core's [`authorization_server_metadata_urls`]):
/// RFC 8414 with path insertion, OpenID Connect discovery with path
/// insertion, then OpenID appended to the issuer path. Without an issuer
/// path: RFC 8414, then OpenID. Nothing for a URL that is not http(s).
pub(crate) fn authorization_server(issuer: &Url) -> Vec<String> {
    authorization_server_metadata_urls(issuer.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        let u = Url::parse("https://H.example:443/mcp/").unwrap();
        assert_eq!(
            protected_resource(&u),
            vec![
                "https://h.example/.well-known/oauth-protected-resource/mcp",
                "https://h.example/.well-known/oauth-protected-resource"
            ]
        );
        assert_eq!(
            authorization_server(&Url::parse("https://as.example/tenant1").unwrap()),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            authorization_server(&Url::parse("http://127.0.0.1:9/").unwrap()).len(),
            2
        );
    }
}

//! The well-known URLs a client derives from a URL: where RFC 9728
//! protected-resource metadata and RFC 8414 / OpenID authorization-server
//! metadata may live, in the order MCP clients try them.
//!
//! The tracer asks for these lists and nothing else, so that each is one
//! call to swap for the core's builder of the same URLs.

use url::Url;

use super::parse::origin;

/// The path of a URL without its trailing slash ("" for the root).
fn trimmed_path(u: &Url) -> String {
    u.path().trim_end_matches('/').to_owned()
}

/// Where RFC 9728 metadata for the resource at `resource` may live: the
/// well-known URI with the resource's path inserted, then at the root.
pub(crate) fn protected_resource(resource: &Url) -> Vec<String> {
    let o = origin(resource);
    let p = trimmed_path(resource);
    let mut v = Vec::new();
    if !p.is_empty() {
        v.push(format!("{o}/.well-known/oauth-protected-resource{p}"));
    }
    v.push(format!("{o}/.well-known/oauth-protected-resource"));
    v
}

/// Where the metadata of the authorization server `issuer` may live, in the
/// order MCP clients try: RFC 8414 with path insertion, OpenID Connect
/// discovery with path insertion, then OpenID appended to the issuer path.
/// Without an issuer path: RFC 8414, then OpenID.
pub(crate) fn authorization_server(issuer: &Url) -> Vec<String> {
    let o = origin(issuer);
    let p = trimmed_path(issuer);
    if p.is_empty() {
        vec![
            format!("{o}/.well-known/oauth-authorization-server"),
            format!("{o}/.well-known/openid-configuration"),
        ]
    } else {
        vec![
            format!("{o}/.well-known/oauth-authorization-server{p}"),
            format!("{o}/.well-known/openid-configuration{p}"),
            format!("{o}{p}/.well-known/openid-configuration"),
        ]
    }
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

//! Where metadata lives: the well-known URLs of an authorization server
//! (RFC 8414 with path insertion, then OpenID discovery) and of a protected
//! resource (RFC 9728), built the way MCP clients build them. Used by the
//! remote validators, the servers' own routes and the CLI.

use url::Url;

/// Why an issuer or resource is not a URL metadata can be found for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{url}` is not an absolute http(s) URL: {reason}")]
pub struct DiscoveryUrlError {
    /// The value given.
    pub url: String,
    /// Why it is unusable.
    pub reason: String,
}

fn parse(raw: &str) -> Result<Url, DiscoveryUrlError> {
    let err = |reason: String| DiscoveryUrlError {
        url: raw.to_owned(),
        reason,
    };
    let url = Url::parse(raw).map_err(|e| err(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err("it needs an http(s) scheme and a host".into()));
    }
    Ok(url)
}

/// `origin` + `/.well-known/<suffix>` + the URL's path (path insertion).
fn inserted(url: &Url, suffix: &str) -> String {
    let origin = url.origin().ascii_serialization();
    let path = url.path().trim_end_matches('/');
    format!("{origin}/.well-known/{suffix}{path}")
}

/// The well-known URLs for `issuer`, in the order MCP clients try them:
/// RFC 8414 with path insertion, then OpenID discovery (inserted, then
/// appended).
///
/// ```
/// use oauth_mcp_core::discovery::authorization_server_metadata_urls;
/// assert_eq!(
///     authorization_server_metadata_urls("https://as.example/tenant").unwrap(),
///     [
///         "https://as.example/.well-known/oauth-authorization-server/tenant",
///         "https://as.example/.well-known/openid-configuration/tenant",
///         "https://as.example/tenant/.well-known/openid-configuration",
///     ]
/// );
/// ```
pub fn authorization_server_metadata_urls(issuer: &str) -> Result<Vec<String>, DiscoveryUrlError> {
    let url = parse(issuer)?;
    let path = url.path().trim_end_matches('/');
    let mut urls = vec![
        inserted(&url, "oauth-authorization-server"),
        inserted(&url, "openid-configuration"),
    ];
    if !path.is_empty() {
        urls.push(format!(
            "{}{path}/.well-known/openid-configuration",
            url.origin().ascii_serialization()
        ));
    }
    Ok(urls)
}

/// The RFC 9728 metadata URL of `resource` (path insertion), as a resource
/// server names it in `WWW-Authenticate: Bearer resource_metadata="…"`.
///
/// ```
/// use oauth_mcp_core::discovery::protected_resource_metadata_url;
/// assert_eq!(
///     protected_resource_metadata_url("https://h.example/base/mcp").unwrap(),
///     "https://h.example/.well-known/oauth-protected-resource/base/mcp"
/// );
/// ```
pub fn protected_resource_metadata_url(resource: &str) -> Result<String, DiscoveryUrlError> {
    Ok(inserted(&parse(resource)?, "oauth-protected-resource"))
}

/// The path part of [`protected_resource_metadata_url`].
pub(crate) fn protected_resource_metadata_path(resource_path: &str) -> String {
    format!(
        "/.well-known/oauth-protected-resource{}",
        resource_path.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_order_follows_the_spec() {
        assert_eq!(
            authorization_server_metadata_urls("https://as.example").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            authorization_server_metadata_urls("https://as.example/tenant1/").unwrap(),
            vec![
                "https://as.example/.well-known/oauth-authorization-server/tenant1",
                "https://as.example/.well-known/openid-configuration/tenant1",
                "https://as.example/tenant1/.well-known/openid-configuration"
            ]
        );
        assert!(authorization_server_metadata_urls("not a url").is_err());
        assert!(authorization_server_metadata_urls("urn:x:y").is_err());
        assert_eq!(
            protected_resource_metadata_url("http://127.0.0.1:8080/mcp").unwrap(),
            "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"
        );
    }
}

//! URL canonicalisation: the public URL, the issuer and the MCP endpoint are
//! checked once, at start-up, and must agree (same origin, canonical form, the
//! MCP endpoint never the issuer itself).

use url::Url;

use crate::error::ConfigError;
use crate::net::is_loopback;
use crate::resource::ResourceUri;

/// The validated URLs of a server.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    /// `scheme://host[:port]`.
    pub(crate) origin: String,
    /// The issuer identifier.
    pub(crate) issuer: String,
    /// The issuer's path ("" at the root).
    pub(crate) issuer_path: String,
    /// The MCP endpoint's canonical URI.
    pub(crate) resource: ResourceUri,
}

/// What the builder was given.
pub(crate) struct UrlInput<'a> {
    pub(crate) public_url: &'a str,
    pub(crate) issuer: Option<&'a str>,
    pub(crate) mcp_path: &'a str,
    pub(crate) resource: Option<&'a str>,
    pub(crate) allow_insecure_http: bool,
}

fn err(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::new(field, reason)
}

/// Checks an absolute http(s) URL that must be served securely: https, or
/// http on loopback, or http anywhere when `allow_insecure_http`.
pub(crate) fn check_public_url(
    field: &'static str,
    raw: &str,
    allow_insecure_http: bool,
) -> Result<Url, ConfigError> {
    let url =
        Url::parse(raw).map_err(|e| err(field, format!("`{raw}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err(
            field,
            format!("`{raw}` must be an http(s) URL with a host"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err(
            field,
            format!("`{raw}` must not have a query or fragment"),
        ));
    }
    if url.scheme() == "http" && !is_loopback(&url) && !allow_insecure_http {
        return Err(err(
            field,
            format!(
                "`{raw}` uses http on a non-loopback host; OAuth endpoints must be served over https (MCP authorization spec). Use an https URL, or call dangerously_allow_insecure_http() for a test network"
            ),
        ));
    }
    Ok(url)
}

/// Validates and derives every URL of the server.
pub(crate) fn derive(input: &UrlInput<'_>) -> Result<Urls, ConfigError> {
    let public = check_public_url("public_url", input.public_url, input.allow_insecure_http)?;
    let origin = public.origin().ascii_serialization();
    let base_path = public.path().trim_end_matches('/').to_owned();
    let canonical_public = format!("{origin}{base_path}");
    if input.public_url != canonical_public {
        return Err(err(
            "public_url",
            format!(
                "`{}` is not in canonical form; write `{canonical_public}` (lower-case host, no default port, no trailing slash)",
                input.public_url
            ),
        ));
    }

    let issuer = input.issuer.unwrap_or(&canonical_public).to_owned();
    let iss_url =
        Url::parse(&issuer).map_err(|e| err("issuer", format!("`{issuer}` is not a URL ({e})")))?;
    if iss_url.origin().ascii_serialization() != origin {
        return Err(err(
            "issuer",
            format!(
                "issuer `{issuer}` and public_url `{}` have different origins; this server's endpoints live under the issuer, so they must agree",
                input.public_url
            ),
        ));
    }
    if iss_url.query().is_some() || iss_url.fragment().is_some() || issuer.ends_with('/') {
        return Err(err(
            "issuer",
            format!(
                "issuer `{issuer}` must have no query, fragment or trailing slash (RFC 8414 §2)"
            ),
        ));
    }
    let issuer_path = iss_url.path().trim_end_matches('/').to_owned();

    let mcp_path = input.mcp_path;
    if !mcp_path.starts_with('/') || mcp_path.len() < 2 || mcp_path.ends_with('/') {
        return Err(err(
            "mcp_path",
            format!("`{mcp_path}` must start with `/` and not end with `/` (e.g. `/mcp`)"),
        ));
    }
    let mcp_url = format!("{canonical_public}{mcp_path}");
    let resource = ResourceUri::parse(&mcp_url).map_err(|e| err("mcp_path", e.to_string()))?;
    if resource.as_str() != mcp_url {
        return Err(err(
            "mcp_path",
            format!("`{mcp_url}` is not canonical; use `{resource}`"),
        ));
    }
    if let Some(r) = input.resource
        && r != resource.as_str()
    {
        return Err(err(
            "resource",
            format!(
                "resource `{r}` does not match the MCP endpoint `{resource}` (public_url + mcp_path); tokens would carry an audience the MCP endpoint refuses. Set resource to `{resource}` or change mcp_path"
            ),
        ));
    }
    if resource.as_str() == issuer {
        return Err(err(
            "mcp_path",
            "the MCP endpoint URL equals the issuer; serve MCP on its own path (e.g. /mcp)",
        ));
    }
    Ok(Urls {
        origin,
        issuer,
        issuer_path,
        resource,
    })
}

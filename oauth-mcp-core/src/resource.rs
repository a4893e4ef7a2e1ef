//! Resource indicators (RFC 8707) and audience comparison.
//!
//! Two URIs name the same resource when they are equal after canonicalisation:
//! scheme and host lower-cased, the default port dropped, and a trailing slash
//! removed from the path. Nothing else is forgiven: a different path, port,
//! scheme or query is a different resource.

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::OAuthError;

/// A canonical resource URI (absolute, no fragment, no trailing slash).
/// Serialised as its canonical string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ResourceUri(String);

impl From<ResourceUri> for String {
    fn from(r: ResourceUri) -> String {
        r.0
    }
}

impl TryFrom<String> for ResourceUri {
    type Error = ResourceUriError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

/// Why a string is not a usable resource URI.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceUriError {
    /// Not an absolute URI.
    #[error("`{0}` is not an absolute URI")]
    NotAbsolute(String),
    /// Has a fragment, which RFC 8707 forbids.
    #[error("`{0}` has a fragment, which a resource indicator must not have (RFC 8707 §2)")]
    Fragment(String),
    /// Not http(s).
    #[error("`{0}` must use https (or http)")]
    Scheme(String),
    /// Has user information (`user@` or `user:password@`) before the host,
    /// which would otherwise be dropped silently. The URI is shown without it.
    #[error(
        "`{0}` has user information (`user@` before the host), which a resource URI must not have; remove it"
    )]
    Userinfo(String),
}

impl ResourceUri {
    /// Parses and canonicalises a resource URI.
    pub fn parse(input: &str) -> Result<Self, ResourceUriError> {
        let url = Url::parse(input).map_err(|_| ResourceUriError::NotAbsolute(input.to_owned()))?;
        if url.cannot_be_a_base() || url.host_str().is_none() {
            return Err(ResourceUriError::NotAbsolute(input.to_owned()));
        }
        if url.fragment().is_some() || input.contains('#') {
            return Err(ResourceUriError::Fragment(input.to_owned()));
        }
        if !matches!(url.scheme(), "https" | "http") {
            return Err(ResourceUriError::Scheme(input.to_owned()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ResourceUriError::Userinfo(canonical_string(&url)));
        }
        Ok(Self(canonical_string(&url)))
    }

    /// The canonical string form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL form.
    pub fn to_url(&self) -> Url {
        // A canonical string always re-parses: it came from a Url.
        Url::parse(&self.0).unwrap_or_else(|_| unreachable_url())
    }

    /// The path of the URI, without trailing slash ("" for the root).
    pub fn path(&self) -> String {
        let url = self.to_url();
        url.path().trim_end_matches('/').to_owned()
    }

    /// True if `other` names this resource after canonicalisation.
    pub fn matches(&self, other: &str) -> bool {
        Self::parse(other).is_ok_and(|o| o == *self)
    }
}

fn unreachable_url() -> Url {
    // Only reached if the url crate stops round-tripping its own output.
    #[allow(clippy::expect_used)]
    Url::parse("http://invalid.invalid").expect("static URL parses")
}

fn canonical_string(url: &Url) -> String {
    let mut out = format!("{}://", url.scheme());
    if let Some(host) = url.host_str() {
        out.push_str(host);
    }
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(url.path().trim_end_matches('/'));
    if let Some(q) = url.query() {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The resources an authorization server issues tokens for, with the one used
/// when a client sends no `resource` parameter.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    default: ResourceUri,
    known: Vec<ResourceUri>,
}

impl ResourcePolicy {
    /// A policy whose only (and default) resource is `default`.
    pub fn new(default: ResourceUri) -> Self {
        Self {
            known: vec![default.clone()],
            default,
        }
    }

    /// Adds another resource this server may issue tokens for.
    pub fn with_resource(mut self, r: ResourceUri) -> Self {
        if !self.known.contains(&r) {
            self.known.push(r);
        }
        self
    }

    /// The default resource: the audience of tokens for clients that omit `resource`.
    pub fn default_resource(&self) -> &ResourceUri {
        &self.default
    }

    /// Every resource this server issues tokens for.
    pub fn known(&self) -> &[ResourceUri] {
        &self.known
    }

    /// Resolves the `resource` parameter(s) of a request to the one audience
    /// of the token. No parameter means the default resource, never the
    /// authorization server itself.
    pub fn resolve(&self, requested: &[String]) -> Result<ResourceUri, OAuthError> {
        let mut chosen: Option<ResourceUri> = None;
        for raw in requested {
            let r =
                ResourceUri::parse(raw).map_err(|e| OAuthError::invalid_target(e.to_string()))?;
            if !self.known.contains(&r) {
                return Err(OAuthError::invalid_target(format!(
                    "unknown resource `{raw}`; this server issues tokens for: {}",
                    self.known
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            match &chosen {
                Some(c) if *c != r => {
                    return Err(OAuthError::invalid_target(
                        "several different resources in one request; ask for one resource per token",
                    ));
                }
                _ => chosen = Some(r),
            }
        }
        Ok(chosen.unwrap_or_else(|| self.default.clone()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_information_is_refused_without_echoing_it() {
        for input in [
            "https://evil@mcp.example.com/mcp",
            "https://user:hunter2@mcp.example.com/mcp",
            "https://:hunter2@mcp.example.com/mcp",
        ] {
            let e = super::ResourceUri::parse(input).unwrap_err();
            assert_eq!(
                e,
                super::ResourceUriError::Userinfo("https://mcp.example.com/mcp".into()),
                "{input}"
            );
            assert!(!e.to_string().contains("hunter2"));
            assert!(!e.to_string().contains("evil"));
        }
    }

    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn canonicalisation_forgives_case_port_and_slash_only() {
        let r = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        assert!(r.matches("HTTPS://MCP.Example.com/mcp"));
        assert!(r.matches("https://mcp.example.com:443/mcp"));
        assert!(r.matches("https://mcp.example.com/mcp/"));
        assert!(!r.matches("https://mcp.example.com/MCP"));
        assert!(!r.matches("https://mcp.example.com:8443/mcp"));
        assert!(!r.matches("http://mcp.example.com/mcp"));
        assert!(!r.matches("https://mcp.example.com/"));
        assert!(!r.matches("https://mcp.example.com/mcp?x=1"));
        assert_eq!(
            ResourceUri::parse("https://h/").unwrap().as_str(),
            "https://h"
        );
    }

    #[test]
    fn rejects_fragments_and_relative() {
        assert!(matches!(
            ResourceUri::parse("https://h/mcp#x"),
            Err(ResourceUriError::Fragment(_))
        ));
        assert!(matches!(
            ResourceUri::parse("/mcp"),
            Err(ResourceUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            ResourceUri::parse("urn:x:y"),
            Err(ResourceUriError::NotAbsolute(_))
        ));
        assert!(matches!(
            ResourceUri::parse("ftp://h/x"),
            Err(ResourceUriError::Scheme(_))
        ));
    }

    #[test]
    fn policy_defaults_to_the_mcp_server_and_refuses_unknown() {
        let p = ResourcePolicy::new(ResourceUri::parse("http://127.0.0.1:8080/mcp").unwrap());
        assert_eq!(
            p.resolve(&[]).unwrap().as_str(),
            "http://127.0.0.1:8080/mcp"
        );
        assert_eq!(
            p.resolve(&["http://127.0.0.1:8080/mcp/".into()])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:8080/mcp"
        );
        let e = p.resolve(&["http://127.0.0.1:8080".into()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        let e = p.resolve(&["not a uri".into()]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
    }
}

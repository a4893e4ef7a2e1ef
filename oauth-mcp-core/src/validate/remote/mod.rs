//! Validators for tokens from an external authorization server (Keycloak,
//! Auth0, Okta, Entra ID, any OpenID provider): JWTs checked against its
//! JWKS ([`RemoteJwksValidator`]), and opaque tokens through RFC 7662
//! introspection ([`IntrospectionValidator`]). This module holds what both
//! share: metadata discovery, the HTTP client, and reading scopes and the
//! identity from claims.

mod introspection;
mod jwks;

use std::time::Duration;

use crate::discovery::authorization_server_metadata_urls;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;

use super::{AuthContext, Identity};

pub use introspection::IntrospectionValidator;
pub use jwks::{RemoteJwksBuilder, RemoteJwksValidator};

/// Why a remote validator could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("remote authorization server: {0}")]
pub struct RemoteError(pub String);

fn http_client(timeout: Duration) -> Result<reqwest::Client, RemoteError> {
    reqwest::Client::builder()
        .timeout(timeout)
        // Following redirects would let a metadata document steer us anywhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| RemoteError(format!("cannot build the HTTP client: {e}")))
}

/// The `max-age` of a `Cache-Control` value (300 s when it names none),
/// or `None` for `no-store`/`no-cache`: how long a fetched JWKS or metadata
/// document may be kept (here and, with feature `cimd`, in the guarded fetcher).
pub(crate) fn cache_max_age(header: &str) -> Option<i64> {
    let mut age = None;
    for part in header.split(',').map(str::trim) {
        let lower = part.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return None;
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            age = v.trim_matches('"').parse::<i64>().ok();
        }
    }
    age.or(Some(300))
}

/// Fetches the issuer's metadata (the first discovery URL that answers 200)
/// and checks that its `issuer` is the one configured, byte for byte.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<serde_json::Value, RemoteError> {
    let mut tried = Vec::new();
    let urls =
        authorization_server_metadata_urls(issuer).map_err(|e| RemoteError(e.to_string()))?;
    for url in urls {
        match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                let doc: serde_json::Value = r
                    .json()
                    .await
                    .map_err(|e| RemoteError(format!("metadata at {url} is not JSON: {e}")))?;
                if doc.get("issuer").and_then(|v| v.as_str()) != Some(issuer) {
                    return Err(RemoteError(format!(
                        "metadata at {url} names issuer {}, not `{issuer}`; refusing it (RFC 8414 §3.3)",
                        doc.get("issuer")
                            .map(ToString::to_string)
                            .unwrap_or_else(|| "nothing".into())
                    )));
                }
                return Ok(doc);
            }
            Ok(r) => tried.push(format!("{url} -> {}", r.status())),
            Err(e) => tried.push(format!("{url} -> {e}")),
        }
    }
    Err(RemoteError(format!(
        "no authorization server metadata found for `{issuer}`; tried {}",
        tried.join(", ")
    )))
}

/// Where scopes are read from in a provider's tokens.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeClaim {
    /// A space-separated string claim (`scope`, RFC 9068).
    SpaceSeparated(String),
    /// A claim that is a string or an array of strings (`scp`, `roles`, `permissions`).
    List(String),
}

fn scopes_from(claims: &serde_json::Value, sources: &[ScopeClaim]) -> ScopeSet {
    let mut out: Vec<String> = Vec::new();
    for src in sources {
        match src {
            ScopeClaim::SpaceSeparated(name) => {
                if let Some(s) = claims.get(name).and_then(|v| v.as_str()) {
                    out.extend(s.split(' ').filter(|t| !t.is_empty()).map(str::to_owned));
                }
            }
            ScopeClaim::List(name) => match claims.get(name) {
                Some(serde_json::Value::String(s)) => {
                    out.extend(s.split(' ').filter(|t| !t.is_empty()).map(str::to_owned))
                }
                Some(serde_json::Value::Array(a)) => {
                    out.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_owned))
                }
                _ => {}
            },
        }
    }
    ScopeSet::from_scopes(out)
}

pub(crate) fn context_from(
    c: &serde_json::Value,
    scope_claims: &[ScopeClaim],
    audience: &ResourceUri,
    issuer: &str,
) -> AuthContext {
    let s = |k: &str| c.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    AuthContext::validated(Identity {
        subject: s("sub").or_else(|| s("client_id")).unwrap_or_default(),
        client_id: s("client_id")
            .or_else(|| s("azp"))
            .or_else(|| s("cid"))
            .unwrap_or_default(),
        scopes: scopes_from(c, scope_claims),
        audience: audience.as_str().into(),
        issuer: issuer.into(),
        expires_at: c.get("exp").and_then(|v| v.as_i64()).unwrap_or_default(),
        token_id: s("jti"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_from_provider_claims() {
        let c = serde_json::json!({"scope": "a b", "scp": ["c"], "roles": "d e"});
        let all = [
            ScopeClaim::SpaceSeparated("scope".into()),
            ScopeClaim::List("scp".into()),
            ScopeClaim::List("roles".into()),
        ];
        assert_eq!(scopes_from(&c, &all).to_string(), "a b c d e");
        assert_eq!(scopes_from(&c, &all[..1]).to_string(), "a b");
    }

    /// Out-of-range settings fail at `build`, before any network call
    /// (the issuer here does not exist), naming the setting.
    #[tokio::test]
    async fn jwks_builder_settings_are_validated() {
        use std::time::Duration;
        let aud = ResourceUri::parse("https://mcp.example.com/mcp").unwrap();
        let b = || RemoteJwksValidator::builder("https://as.invalid", aud.clone());
        for (builder, words) in [
            (b().algorithms(vec![]), "algorithms:"),
            (b().scope_claims(vec![]), "scope_claims:"),
            (b().leeway(-1), "leeway is -1 s"),
            (b().leeway(i64::MAX), "use 0 to 300 s"),
            (b().timeout(Duration::ZERO), "timeout is 0ns"),
            (b().timeout(Duration::from_secs(31)), "at most 30 s"),
            (b().max_key_age(Duration::ZERO), "max_key_age is 0ns"),
            (
                b().min_refetch_interval(Duration::from_secs(3600)),
                "use at most max_key_age",
            ),
        ] {
            let e = builder.build().await.unwrap_err();
            assert!(e.to_string().contains(words), "{words}: {e}");
        }
    }
}

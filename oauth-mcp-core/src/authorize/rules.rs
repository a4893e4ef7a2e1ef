//! The rules of the authorization endpoint as pure functions: no store, no
//! HTTP, no rendering. Each takes what was requested and what is configured
//! and returns the decision, so every rule is testable on its own.

use url::Url;

use super::request::AuthorizeRequest;
use crate::client::{Client, RedirectUriPolicy};
use crate::error::{ErrorCode, OAuthError};
use crate::pkce::{self, CodeChallengeMethod};
use crate::resource::{ResourcePolicy, ResourceUri};
use crate::scope::{OFFLINE_ACCESS, ScopeSet, UserPolicy};

/// The redirect URI a request will use, and whether it was sent explicitly
/// (then `/token` must repeat it). Errors here are shown on a page, never
/// redirected: the redirect URI is not trusted yet.
pub(crate) fn redirect_uri(
    req: &AuthorizeRequest,
    client: &Client,
    policy: Option<&dyn RedirectUriPolicy>,
) -> Result<(String, bool), OAuthError> {
    let (uri, explicit) = match req.redirect_uri()? {
        Some(r) => {
            if client.match_redirect_uri(r).is_none() {
                return Err(OAuthError::invalid_request(format!(
                    "redirect_uri `{r}` is not registered for client `{}`. Registered: {}. Redirect URIs must match exactly (loopback URIs may differ only in port).",
                    client.client_id,
                    client.redirect_uris.join(", ")
                )));
            }
            (r.to_owned(), true)
        }
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required because the client registered several",
            ));
        }
    };
    if let Some(p) = policy {
        p.check(&uri).map_err(OAuthError::invalid_request)?;
    }
    Ok((uri, explicit))
}

/// What a valid request asks for.
#[derive(Debug, Clone)]
pub(crate) struct Validated {
    pub(crate) code_challenge: String,
    pub(crate) code_challenge_method: CodeChallengeMethod,
    pub(crate) scope: ScopeSet,
    pub(crate) resource: ResourceUri,
}

/// What the configuration allows an authorization request.
pub(crate) struct Allowed<'a> {
    pub(crate) plain_pkce: bool,
    pub(crate) resources: &'a ResourcePolicy,
    pub(crate) scopes_supported: &'a ScopeSet,
    pub(crate) default_scopes: &'a ScopeSet,
}

/// The rest of the request (response type, grant, PKCE, resource, scope).
/// Errors here are redirected to the client.
pub(crate) fn validate(
    req: &AuthorizeRequest,
    client: &Client,
    allowed: &Allowed<'_>,
) -> Result<Validated, OAuthError> {
    match req.response_type()? {
        Some("code") => {}
        Some(other) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type `{other}` is not supported; use `code`"),
            ));
        }
        None => {
            return Err(OAuthError::invalid_request(
                "missing required parameter `response_type` (use `code`)",
            ));
        }
    }
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client did not register the authorization_code grant",
        ));
    }
    let challenge = req.code_challenge()?.ok_or_else(|| {
        OAuthError::invalid_request(
            "code_challenge is required: this server requires PKCE with S256 (OAuth 2.1)",
        )
    })?;
    let method = CodeChallengeMethod::parse(req.code_challenge_method()?)?;
    if method == CodeChallengeMethod::Plain && !allowed.plain_pkce {
        return Err(OAuthError::invalid_request(
            "code_challenge_method `plain` (or none) is not allowed; send code_challenge_method=S256",
        ));
    }
    pkce::check_challenge_format(method, challenge)?;
    let resource = allowed.resources.resolve(req.resources())?;
    // `offline_access` asks for a refresh token, which this server issues
    // to every client registered for the refresh_token grant: it is
    // honoured, never refused, and never becomes a scope of the grant (or
    // of an access token). Asked alone, the default scopes are granted.
    let scope = match req.scope()?.map(ScopeSet::parse).transpose()? {
        Some(requested) if !requested.without(OFFLINE_ACCESS).is_empty() => {
            let requested = requested.without(OFFLINE_ACCESS);
            let unknown: Vec<&str> = requested
                .iter()
                .filter(|s| !allowed.scopes_supported.contains(s))
                .collect();
            if !unknown.is_empty() {
                return Err(OAuthError::invalid_scope(format!(
                    "unknown scope(s) {}; this server supports: {}",
                    unknown.join(" "),
                    allowed.scopes_supported
                )));
            }
            requested
        }
        _ => allowed.default_scopes.clone(),
    };
    Ok(Validated {
        code_challenge: challenge.to_owned(),
        code_challenge_method: method,
        scope,
        resource,
    })
}

/// The scopes `user` may be granted of those `requested`; `access_denied`
/// when the user may not log in or may get none of them.
pub(crate) fn grant_scope(
    user: &str,
    requested: &ScopeSet,
    policy: &UserPolicy,
    supported: &ScopeSet,
) -> Result<ScopeSet, OAuthError> {
    if !policy.allowed_users.allows(user) {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            format!("user `{user}` may not use this server"),
        ));
    }
    let scope = requested.intersection(&policy.grantable(user, supported));
    if scope.is_empty() && !requested.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::AccessDenied,
            format!("user `{user}` may not be granted any of the requested scopes ({requested})"),
        ));
    }
    Ok(scope)
}

/// `redirect_uri` with `params` appended, keeping its own query.
pub(crate) fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        // Registered URIs were parsed at registration; this cannot happen.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// The host a person should see the result going to: the redirect URI's
/// host, or `scheme:` for app links (`cursor:`).
pub(crate) fn redirect_host(redirect_uri: &str) -> String {
    Url::parse(redirect_uri)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(str::to_owned)
                .or_else(|| Some(format!("{}:", u.scheme())))
        })
        .unwrap_or_else(|| redirect_uri.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scope::AllowedUsers;

    #[test]
    fn user_policy_narrows_or_denies() {
        let supported = ScopeSet::parse("mcp admin").unwrap();
        let mut policy = UserPolicy {
            allowed_users: AllowedUsers::from_list(["alice", "bob"]),
            ..UserPolicy::default()
        };
        policy
            .user_scopes
            .insert("bob".into(), ScopeSet::parse("admin").unwrap());
        policy.default_user_scopes = Some(ScopeSet::parse("mcp").unwrap());
        let both = ScopeSet::parse("mcp admin").unwrap();
        assert_eq!(
            grant_scope("alice", &both, &policy, &supported)
                .unwrap()
                .to_string(),
            "mcp"
        );
        let e = grant_scope("carol", &both, &policy, &supported).unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
        let e =
            grant_scope("bob", &ScopeSet::parse("mcp").unwrap(), &policy, &supported).unwrap_err();
        assert_eq!(e.code, ErrorCode::AccessDenied);
    }

    #[test]
    fn redirects_keep_the_query_and_hosts_are_shown() {
        assert_eq!(
            redirect_with("https://app.example/cb?x=1", &[("code", "a b")]),
            "https://app.example/cb?x=1&code=a+b"
        );
        assert_eq!(redirect_host("http://127.0.0.1:3/cb"), "127.0.0.1");
        assert_eq!(redirect_host("cursor://anysphere/cb"), "anysphere");
        assert_eq!(redirect_host("com.example.app:/cb"), "com.example.app:");
    }
}

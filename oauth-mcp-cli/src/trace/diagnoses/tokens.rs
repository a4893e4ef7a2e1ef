//! Findings about tokens: the code exchange and the refresh grant, the
//! token response, and a JWT access token's audience and issuer.

use oauth2::RequestTokenError;
use oauth2::basic::BasicErrorResponse;

use crate::trace::parse::truncate;
use crate::trace::recorder::HttpError;
use crate::trace::report::Diagnosis;

/// Why a token endpoint said `code`, and what to do.
fn token_error_help(code: &str, grant: &str, resource: Option<&str>) -> (String, String) {
    match code {
        "invalid_grant" if grant == "refresh_token" => (
            "the refresh token was refused right after it was issued: it is not stored, is bound to another client or resource, or the rotation logic revoked it".into(),
            "store refresh tokens when issuing them and accept the newest one; keep the grant's resource on refresh".into(),
        ),
        "invalid_grant" => (
            "the code was refused: the PKCE code_verifier does not match the code_challenge (S256), the redirect_uri differs from the authorization request's, the code expired or was already used, or it was issued to another client".into(),
            "compare SHA-256(code_verifier) with the stored challenge (base64url, no padding), compare redirect_uri exactly, and keep codes valid for a few minutes".into(),
        ),
        "invalid_client" => (
            "client authentication failed: the server expects another token_endpoint_auth_method than the one registered (public clients send only client_id)".into(),
            "accept the method the client registered (`none` for public clients; client_secret_basic or client_secret_post for confidential ones)".into(),
        ),
        "invalid_target" => (
            format!(
                "the server refused the resource indicator{} (RFC 8707)",
                resource.map(|r| format!(" `{r}`")).unwrap_or_default()
            ),
            "accept the MCP server's canonical URL as `resource` at /authorize and /token (that is what MCP clients send)".into(),
        ),
        "unsupported_grant_type" => (
            format!("the token endpoint does not support the `{grant}` grant"),
            format!("support `{grant}`, as MCP clients require"),
        ),
        "invalid_scope" => (
            "the requested scope is unknown or not allowed".into(),
            "accept the scopes listed in scopes_supported (or pass --scope with one the server grants)".into(),
        ),
        _ => (
            "the token endpoint refused the request".into(),
            "see the error description; the server's logs say more".into(),
        ),
    }
}

/// A failed token request (`grant`: `authorization_code` or
/// `refresh_token`): `token-refused` / `refresh-refused` with the OAuth
/// error explained, or `token-response-invalid`.
pub(crate) fn token_error(
    e: &RequestTokenError<HttpError, BasicErrorResponse>,
    grant: &str,
    resource: Option<&str>,
) -> Diagnosis {
    let id_refused = if grant == "refresh_token" {
        "refresh-refused"
    } else {
        "token-refused"
    };
    match e {
        RequestTokenError::ServerResponse(er) => {
            let code = er.error().to_string();
            let desc = er.error_description().cloned().unwrap_or_default();
            let (cause, fix) = token_error_help(&code, grant, resource);
            Diagnosis::failure(
                id_refused,
                format!(
                    "the token endpoint refused the {grant} grant: {code}{}",
                    if desc.is_empty() {
                        String::new()
                    } else {
                        format!(": {desc}")
                    }
                ),
                cause,
                fix,
            )
        }
        RequestTokenError::Request(err) => Diagnosis::failure(
            id_refused,
            format!("the token endpoint did not answer: {err}"),
            "the metadata names a token endpoint that is not reachable from here",
            "check token_endpoint in the metadata",
        ),
        RequestTokenError::Parse(err, body) => Diagnosis::failure(
            "token-response-invalid",
            format!(
                "the token response is not a valid RFC 6749 response ({err}): {}",
                truncate(&String::from_utf8_lossy(body), 200)
            ),
            "clients need JSON with access_token and token_type (RFC 6749 §5.1), or an error JSON (§5.2)",
            "answer with application/json: {\"access_token\": …, \"token_type\": \"Bearer\", \"expires_in\": …}",
        ),
        RequestTokenError::Other(msg) => Diagnosis::failure(
            "token-response-invalid",
            format!("the token response cannot be used: {msg}"),
            "token responses must be application/json (RFC 6749 §5.1)",
            "answer with Content-Type: application/json",
        ),
    }
}

/// `token-type`: not Bearer.
pub(crate) fn token_type(token_type: &str) -> Diagnosis {
    Diagnosis::warning(
        "token-type",
        format!("token_type is `{token_type}`, not Bearer"),
        "MCP clients send Bearer tokens (RFC 6750)",
        "issue token_type \"Bearer\"",
    )
}

/// `token-cacheable`: no `Cache-Control: no-store`.
pub(crate) fn token_cacheable() -> Diagnosis {
    Diagnosis::warning(
        "token-cacheable",
        "the token response has no `Cache-Control: no-store`",
        "RFC 6749 §5.1 requires it: tokens must not be stored by caches or proxies",
        "send Cache-Control: no-store with token responses",
    )
}

/// `aud-missing`.
pub(crate) fn aud_missing(mcp: &str) -> Diagnosis {
    Diagnosis::failure(
        "aud-missing",
        "the access token (a JWT) has no aud claim",
        "without an audience the token is valid for any resource server that trusts this issuer; MCP requires tokens bound to the MCP server (RFC 8707, RFC 9068 §2.2)",
        format!("put aud = \"{mcp}\" in every access token for this MCP server"),
    )
}

/// The facts behind a token audience that is not the MCP server.
pub(crate) struct WrongAudience<'a> {
    /// The `aud` values, joined.
    pub(crate) list: &'a str,
    /// The MCP server's canonical URL.
    pub(crate) mcp: &'a str,
    /// The audience is the authorization server.
    pub(crate) is_authorization_server: bool,
    /// The audience is the client id.
    pub(crate) is_client: bool,
    /// The `resource` sent, if any.
    pub(crate) resource_sent: Option<&'a str>,
    /// The token came from the refresh grant.
    pub(crate) after_refresh: bool,
}

/// `aud-is-authorization-server` (the "client omitted resource" bug),
/// `aud-mismatch`, or `refresh-aud-mismatch` after a refresh.
pub(crate) fn wrong_audience(w: &WrongAudience<'_>) -> Diagnosis {
    let (list, mcp) = (w.list, w.mcp);
    let problem = if w.is_authorization_server {
        format!(
            "the access token's audience is the authorization server ({list}), not the MCP server ({mcp})"
        )
    } else {
        format!("the access token's audience ({list}) is not the MCP server ({mcp})")
    };
    let id = match (w.after_refresh, w.is_authorization_server) {
        (true, _) => "refresh-aud-mismatch",
        (false, true) => "aud-is-authorization-server",
        (false, false) => "aud-mismatch",
    };
    let cause = match (w.is_authorization_server, w.resource_sent) {
        (true, Some(resource)) => format!(
            "this trace sent resource={resource} (RFC 8707) and the server ignored it, binding the token to itself: the \"client omitted resource\" bug (an authorization server that falls back to its own identifier as audience when a client sends no resource), here hitting every client. An MCP server that checks aud must refuse this token; one that does not accepts tokens meant for any service (confused deputy)"
        ),
        (true, None) => "this trace omitted resource (--no-resource), as some MCP clients do, and the server fell back to its own identifier as audience: the \"client omitted resource\" bug. Clients that omit resource get tokens the MCP server must refuse".to_owned(),
        (false, _) if w.is_client => "the token is addressed to the client (aud = client_id, like an ID token), not to the resource it is for".to_owned(),
        (false, Some(resource)) => format!(
            "the server did not bind the token to the requested resource {resource} (RFC 8707)"
        ),
        (false, None) => "no resource was sent (--no-resource) and the server's default audience is not this MCP server".to_owned(),
    };
    let fix = if w.after_refresh {
        format!(
            "keep the grant's resource on refresh: refreshed tokens must carry aud = \"{mcp}\" too"
        )
    } else {
        format!(
            "honour the resource parameter (RFC 8707) at /authorize and /token, and when a client omits it, default the audience to the MCP server URL (\"{mcp}\"), never to the authorization server"
        )
    };
    Diagnosis::failure(id, problem, cause, fix)
}

/// `jwt-iss-mismatch`.
pub(crate) fn jwt_iss_mismatch(iss: &str, issuer: &str) -> Diagnosis {
    Diagnosis::warning(
        "jwt-iss-mismatch",
        format!("the token's iss `{iss}` differs from the issuer `{issuer}`"),
        "resource servers compare iss with the issuer they trust, character for character",
        "use one spelling of the issuer in metadata, tokens and redirects",
    )
}

/// `refresh-not-issued`: no refresh token though the grant is advertised.
pub(crate) fn refresh_not_issued() -> Diagnosis {
    Diagnosis::warning(
        "refresh-not-issued",
        "no refresh token was issued, though grant_types_supported lists refresh_token",
        "clients must send the user through the login again when the access token expires (some servers issue refresh tokens only with scope offline_access)",
        "issue a refresh token with the authorization_code grant (or stop advertising refresh_token)",
    )
}

/// `refresh-not-rotated`: no new refresh token (`returned_same`: the same
/// one came back); a failure for public clients, a warning otherwise.
pub(crate) fn refresh_not_rotated(returned_same: bool, public_client: bool) -> Diagnosis {
    let problem = if returned_same {
        "the refresh response returned the same refresh token: it was not rotated"
    } else {
        "the refresh response carries no new refresh token: the refresh token was not rotated"
    };
    let fix = "issue a new refresh token with every refresh and retire the old one (oauth-mcp keeps the previous one usable until the new one is first used)";
    if public_client {
        Diagnosis::failure(
            "refresh-not-rotated",
            problem,
            "OAuth 2.1 §4.3.1: refresh tokens of public clients (MCP clients are mostly public) must be rotated or sender-constrained; a stolen one would stay valid",
            fix,
        )
    } else {
        Diagnosis::warning(
            "refresh-not-rotated",
            problem,
            "rotation is optional for confidential clients but limits the damage of a leaked refresh token",
            fix,
        )
    }
}

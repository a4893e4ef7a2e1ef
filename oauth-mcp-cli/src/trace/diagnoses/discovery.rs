//! Findings of the discovery steps: the URL traced, the MCP endpoint's 401
//! challenge, protected-resource metadata (RFC 9728) and
//! authorization-server metadata (RFC 8414 / OpenID discovery).

use std::time::Duration;

use url::Url;

use crate::trace::recorder::{Failure, HttpError};
use crate::trace::report::Diagnosis;

/// `bad-url`: the traced URL is not an absolute http(s) URL.
pub(crate) fn bad_url(given: &str, why: &str) -> Diagnosis {
    Diagnosis::failure(
        "bad-url",
        format!("`{given}` is not an MCP server URL ({why})"),
        "the tracer needs the MCP endpoint's absolute http(s) URL",
        "pass the URL MCP clients are given, e.g. https://mcp.example.com/mcp",
    )
}

/// `http-client`: the HTTP client could not be built.
pub(crate) fn http_client(error: String) -> Diagnosis {
    Diagnosis::failure(
        "http-client",
        error,
        "the HTTP client could not be set up",
        "report this as a bug",
    )
}

/// `unreachable`: the MCP URL gave no answer; the cause and the fix follow
/// what failed: the name, the connection, or the answer (`timeout`:
/// `--timeout`).
pub(crate) fn unreachable(mcp: &Url, e: &HttpError, timeout: Duration) -> Diagnosis {
    let host = mcp.host_str().unwrap_or_default();
    let port = mcp.port_or_known_default().unwrap_or_default();
    let secs = timeout.as_secs();
    let (cause, fix) = match e.kind {
        Failure::Dns => (
            format!(
                "the host name `{host}` could not be resolved (DNS): it is misspelt, it exists only on another network (a VPN, a container network, /etc/hosts elsewhere), or no DNS server is reachable from here"
            ),
            "check the host name in the URL (or use the server's IP address)".to_owned(),
        ),
        Failure::Refused => (
            format!(
                "the connection to {host} port {port} was refused: nothing listens there (the server is not running, listens on another port or address, e.g. only on 127.0.0.1 inside a container)"
            ),
            "start the server, or correct the port in the URL (the example servers print their URL at start-up)".to_owned(),
        ),
        Failure::ConnectTimeout => (
            format!(
                "nothing answered the connection attempt to {host} port {port} within {secs} s: a firewall drops the packets, or the host is down or unreachable from here"
            ),
            "check the host and port, and the firewalls between here and the server".to_owned(),
        ),
        Failure::NoAnswer => (
            format!(
                "the connection to {host} port {port} was accepted, but no answer came within {secs} s (--timeout): the server is stuck or overloaded, or what listens on that port does not speak HTTP"
            ),
            "look at the server's logs and load (a slow server can be given more time with --timeout), and check that the URL names the MCP server's port".to_owned(),
        ),
        Failure::Other => (
            "nothing answered at that address: the server is down, the host or port is wrong, a firewall or proxy is in the way, or TLS failed".to_owned(),
            "start the server and check the URL (scheme, host, port, path of the MCP endpoint)".to_owned(),
        ),
    };
    Diagnosis::failure(
        "unreachable",
        format!("cannot reach the MCP server at {mcp}: {e}"),
        cause,
        fix,
    )
}

/// `forbidden-without-token`: 403 instead of 401.
pub(crate) fn forbidden_without_token(prm_hint: &str) -> Diagnosis {
    Diagnosis::failure(
        "forbidden-without-token",
        "the MCP endpoint answered 403 to a request without a token",
        "403 means \"authenticated but not allowed\"; MCP clients start the OAuth flow only on 401",
        format!(
            "answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` when there is no token"
        ),
    )
}

/// `not-protected`: 2xx without a token.
pub(crate) fn not_protected(status: u16) -> Diagnosis {
    Diagnosis::failure(
        "not-protected",
        format!("the MCP endpoint answered {status} without any token: it is not OAuth-protected"),
        "clients only start OAuth when the server answers 401; this one lets everybody in",
        "put the Bearer layer (oauth-mcp's BearerLayer / BearerAuth) in front of the MCP endpoint, or trace the right URL",
    )
}

/// `mcp-not-found`: 404 at the MCP URL.
pub(crate) fn mcp_not_found(mcp: &Url) -> Diagnosis {
    Diagnosis::failure(
        "mcp-not-found",
        format!("no MCP endpoint at {mcp} (404)"),
        "the path is wrong (e.g. /mcp vs /mcp/ vs /sse) or the server mounts MCP elsewhere",
        "pass the URL of the streamable-HTTP MCP endpoint",
    )
}

/// `mcp-method-not-allowed`: 405 to `POST`.
pub(crate) fn mcp_method_not_allowed(mcp: &Url) -> Diagnosis {
    Diagnosis::failure(
        "mcp-method-not-allowed",
        format!("{mcp} does not accept POST (405)"),
        "this is not a streamable-HTTP MCP endpoint (perhaps the old HTTP+SSE transport, or a web page)",
        "point the tracer (and your clients) at the streamable-HTTP endpoint",
    )
}

/// `mcp-unexpected-status`: any other answer than 401.
pub(crate) fn mcp_unexpected_status(status: u16, answer: &str, prm_hint: &str) -> Diagnosis {
    Diagnosis::failure(
        "mcp-unexpected-status",
        format!("the MCP endpoint answered {status} to a request without a token: {answer}"),
        "MCP clients expect 401 with a Bearer challenge when the token is missing; anything else stops them",
        format!(
            "answer 401 with `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` before looking at the request body"
        ),
    )
}

/// `no-www-authenticate`: a 401 without a challenge.
pub(crate) fn no_www_authenticate(status: u16, prm_hint: &str) -> Diagnosis {
    Diagnosis::failure(
        "no-www-authenticate",
        format!("{status} without a WWW-Authenticate header"),
        "RFC 9110 §11.6.1 requires a challenge with every 401, and MCP clients read `resource_metadata` from it to find the authorization server; without it some clients stop here and the others must guess the well-known URL",
        format!(
            "send `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"` with every 401 (and list WWW-Authenticate in Access-Control-Expose-Headers for browser-based clients)"
        ),
    )
}

/// `not-bearer`: the challenge is of another scheme.
pub(crate) fn not_bearer(raw: &str, prm_hint: &str) -> Diagnosis {
    Diagnosis::failure(
        "not-bearer",
        format!("the challenge is not a Bearer challenge: `{raw}`"),
        "MCP uses OAuth 2.0 Bearer tokens (RFC 6750); clients ignore other schemes",
        format!("answer `WWW-Authenticate: Bearer resource_metadata=\"{prm_hint}\"`"),
    )
}

/// `no-resource-metadata`: a warning for clients that may fall back to the
/// well-known URL (2025-11-25 and later), a failure for those that require
/// the parameter (`required_by`: the protocol version).
pub(crate) fn no_resource_metadata(required_by: Option<&str>, prm_hint: &str) -> Diagnosis {
    let problem = "the Bearer challenge has no resource_metadata parameter";
    let fix = format!("add `resource_metadata=\"{prm_hint}\"` to the challenge");
    match required_by {
        None => Diagnosis::warning(
            "no-resource-metadata",
            problem,
            "MCP 2025-11-25 lets clients fall back to the well-known URL, but clients written for 2025-06-18 require the parameter and stop here",
            fix,
        ),
        Some(version) => Diagnosis::failure(
            "no-resource-metadata",
            problem,
            format!(
                "MCP {version} requires servers to name their protected-resource metadata in the 401 challenge (RFC 9728 §5.1)"
            ),
            fix,
        ),
    }
}

/// `error-on-bare-challenge`: `error=` answering a request without credentials.
pub(crate) fn error_on_bare_challenge(error: &str) -> Diagnosis {
    Diagnosis::warning(
        "error-on-bare-challenge",
        format!("the challenge to a request without credentials carries error=\"{error}\""),
        "RFC 6750 §3.1: when a request has no authentication information the challenge SHOULD NOT include an error code; a client may read it as \"my token is bad\" and throw away a good one",
        "send a bare challenge (resource_metadata, scope) when there is no Authorization header; use error=\"invalid_token\" only for a bad token",
    )
}

/// `prm-url-invalid`: `resource_metadata` is not an absolute URL.
pub(crate) fn prm_url_invalid(given: &str, example: &str) -> Diagnosis {
    Diagnosis::failure(
        "prm-url-invalid",
        format!("resource_metadata `{given}` is not an absolute URL"),
        "RFC 9728 §5.1: the parameter is the absolute URL of the metadata",
        format!("use an absolute URL, e.g. `{example}`"),
    )
}

/// `prm-not-found` at the URL the challenge named.
pub(crate) fn prm_not_found_at_challenge(tried: &str, named: &str, resource: &str) -> Diagnosis {
    Diagnosis::failure(
        "prm-not-found",
        format!("the protected-resource metadata named by the challenge is not served: {tried}"),
        format!(
            "resource_metadata in WWW-Authenticate points to {named}, which does not answer with the RFC 9728 document; clients stop here"
        ),
        format!(
            "serve the metadata (JSON with resource = \"{resource}\" and authorization_servers) at {named}, or correct the URL in the challenge"
        ),
    )
}

/// `prm-not-found` at every well-known URL.
pub(crate) fn prm_not_found(tried: &str, resource: &str, well_known: &str) -> Diagnosis {
    Diagnosis::failure(
        "prm-not-found",
        format!("no protected-resource metadata (RFC 9728): tried {tried}"),
        "MCP clients (2025-06-18 and later) find the authorization server through this document; without it they cannot start the login",
        format!(
            "serve {{\"resource\": \"{resource}\", \"authorization_servers\": [\"<issuer>\"]}} at {well_known} and name it in the 401 challenge: WWW-Authenticate: Bearer resource_metadata=\"…\""
        ),
    )
}

/// `prm-invalid`: no `resource` member.
pub(crate) fn prm_invalid(resource: &str) -> Diagnosis {
    Diagnosis::failure(
        "prm-invalid",
        "the protected-resource metadata has no `resource` member",
        "RFC 9728 §2 requires it: clients compare it with the server URL and use it as the RFC 8707 resource indicator",
        format!("add \"resource\": \"{resource}\""),
    )
}

/// `prm-resource-mismatch`: a warning when the metadata names a parent path
/// of the MCP URL on the same origin (some clients accept it), else a failure.
pub(crate) fn prm_resource_mismatch(stated: &str, resource: &str, parent: bool) -> Diagnosis {
    let problem =
        format!("the metadata's resource `{stated}` is not the MCP server URL `{resource}`");
    let fix = format!("set \"resource\": \"{resource}\" (the exact URL clients connect to)");
    if parent {
        Diagnosis::warning(
            "prm-resource-mismatch",
            problem,
            "RFC 9728 §3.3 requires the resource to equal the URL the client started from; some clients (the TypeScript SDK) accept a parent path, stricter ones refuse, and tokens get this broader audience",
            fix,
        )
    } else {
        Diagnosis::failure(
            "prm-resource-mismatch",
            problem,
            "RFC 9728 §3.3: clients must reject metadata whose resource differs from the URL they started from (it could be an impersonation); a proxy or wrong public URL usually causes it",
            fix,
        )
    }
}

/// `prm-no-authorization-servers`.
pub(crate) fn prm_no_authorization_servers() -> Diagnosis {
    Diagnosis::failure(
        "prm-no-authorization-servers",
        "the metadata lists no authorization_servers",
        "MCP clients take the authorization server from this list (MCP requires at least one)",
        "add \"authorization_servers\": [\"<issuer URL>\"]",
    )
}

/// `prm-no-header-bearer`.
pub(crate) fn prm_no_header_bearer(methods: &[String]) -> Diagnosis {
    Diagnosis::warning(
        "prm-no-header-bearer",
        format!("bearer_methods_supported is {methods:?}, without \"header\""),
        "MCP clients send the token in the Authorization header only (query-string tokens are forbidden)",
        "list \"header\" (or leave the member out)",
    )
}

/// `as-issuer-invalid`: the authorization server is not an http(s) URL.
pub(crate) fn as_issuer_invalid(issuer: &str) -> Diagnosis {
    Diagnosis::failure(
        "as-issuer-invalid",
        format!("the authorization server `{issuer}` is not an http(s) URL"),
        "authorization_servers holds issuer identifiers: https URLs without query or fragment (RFC 8414 §2)",
        "list the issuer URL exactly as the authorization server's metadata states it",
    )
}

/// `as-not-https`: plain http off loopback.
pub(crate) fn as_not_https(issuer: &str) -> Diagnosis {
    Diagnosis::warning(
        "as-not-https",
        format!("the authorization server {issuer} uses plain http"),
        "OAuth 2.1 requires TLS for every endpoint except on loopback; clients refuse or warn",
        "serve the authorization server over https",
    )
}

/// `as-metadata-not-found`: every well-known URL failed.
pub(crate) fn as_metadata_not_found(issuer: &str, tried: &str, well_known: &str) -> Diagnosis {
    Diagnosis::failure(
        "as-metadata-not-found",
        format!("no authorization-server metadata for issuer {issuer}: tried {tried}"),
        "MCP clients read the authorization, token and registration endpoints from RFC 8414 metadata (or OpenID discovery), at the well-known URL derived from the issuer by path insertion",
        format!(
            "serve the RFC 8414 document at {well_known} (for an issuer with a path, the path goes after the well-known segment), or list the right issuer in the protected-resource metadata"
        ),
    )
}

/// `as-issuer-mismatch`: the metadata has no `issuer`.
pub(crate) fn as_issuer_missing(issuer: &str) -> Diagnosis {
    Diagnosis::failure(
        "as-issuer-mismatch",
        "the metadata has no `issuer` member",
        "RFC 8414 §2 requires it; clients compare it with the issuer they looked up (mix-up defence)",
        format!("add \"issuer\": \"{issuer}\""),
    )
}

/// `as-issuer-mismatch`: the metadata's `issuer` is another string.
pub(crate) fn as_issuer_mismatch(stated: &str, issuer: &str) -> Diagnosis {
    let slash = stated.trim_end_matches('/') == issuer.trim_end_matches('/');
    Diagnosis::failure(
        "as-issuer-mismatch",
        format!(
            "the metadata's issuer `{stated}` differs from the authorization server `{issuer}` named by the protected-resource metadata"
        ),
        if slash {
            "RFC 8414 §3.3: the issuer must be identical to the URL the metadata was derived from, character for character; here only a trailing slash differs, which strict clients still refuse"
        } else {
            "RFC 8414 §3.3: the issuer must be identical to the URL the metadata was derived from; clients refuse the metadata (it could come from another server: a mix-up attack)"
        },
        "use one spelling of the issuer everywhere: in authorization_servers, in the metadata's issuer, and in the iss of tokens and redirects",
    )
}

/// `as-missing-endpoint`: no usable authorization or token endpoint.
pub(crate) fn as_missing_endpoint(missing: &[&str]) -> Diagnosis {
    Diagnosis::failure(
        "as-missing-endpoint",
        format!("the metadata has no usable {}", missing.join(" or ")),
        "RFC 8414 §2 requires both (absolute URLs) for the authorization code flow",
        "add them",
    )
}

/// `pkce-not-advertised`.
pub(crate) fn pkce_not_advertised() -> Diagnosis {
    Diagnosis::failure(
        "pkce-not-advertised",
        "the metadata has no code_challenge_methods_supported",
        "MCP clients must verify PKCE support before starting, and refuse to proceed when this member is absent (MCP authorization, 2025-11-25)",
        "add \"code_challenge_methods_supported\": [\"S256\"] (and require S256 at /authorize)",
    )
}

/// `pkce-no-s256`.
pub(crate) fn pkce_no_s256(methods: &[String]) -> Diagnosis {
    Diagnosis::failure(
        "pkce-no-s256",
        format!("code_challenge_methods_supported is {methods:?}, without S256"),
        "OAuth 2.1 and MCP require PKCE with S256; clients refuse servers without it",
        "support S256 and list it",
    )
}

/// `no-code-response-type`: a failure when the list lacks `code`, a
/// warning when there is no list (`None`).
pub(crate) fn no_code_response_type(listed: Option<&[String]>) -> Diagnosis {
    match listed {
        Some(r) => Diagnosis::failure(
            "no-code-response-type",
            format!("response_types_supported is {r:?}, without \"code\""),
            "MCP uses the authorization code flow",
            "support and list \"code\"",
        ),
        None => Diagnosis::warning(
            "no-code-response-type",
            "the metadata has no response_types_supported",
            "RFC 8414 §2 requires it",
            "add \"response_types_supported\": [\"code\"]",
        ),
    }
}

/// `grant-type-missing`.
pub(crate) fn grant_type_missing(grants: &[String]) -> Diagnosis {
    Diagnosis::warning(
        "grant-type-missing",
        format!("grant_types_supported is {grants:?}, without authorization_code"),
        "MCP clients use the authorization_code grant",
        "list authorization_code (and refresh_token)",
    )
}

//! Findings of the client step: the loopback listener of a browser login
//! and dynamic client registration (RFC 7591).

use crate::trace::recorder::HttpError;
use crate::trace::report::Diagnosis;

/// `browser-listener`: no loopback listener for the redirect.
pub(crate) fn browser_listener(error: String) -> Diagnosis {
    Diagnosis::failure(
        "browser-listener",
        error,
        "the browser login needs a loopback redirect URI this program can listen on",
        "pass --redirect-uri http://127.0.0.1:<free port>/callback, or drop it to use any free port",
    )
}

/// `registration-unavailable`: no `registration_endpoint` (`cimd`: the
/// server supports client ID metadata documents instead).
pub(crate) fn registration_unavailable(cimd: bool) -> Diagnosis {
    Diagnosis::failure(
        "registration-unavailable",
        "the authorization server offers no dynamic client registration (no registration_endpoint)",
        if cimd {
            "MCP clients without a pre-arranged client id register dynamically (RFC 7591); this server supports client ID metadata documents instead, which this tracer does not use"
        } else {
            "MCP clients without a pre-arranged client id (Claude, Cursor, VS Code, MCP Inspector, …) register dynamically (RFC 7591) and stop here"
        },
        "enable registration (oauth-mcp: do not call disable_registration()), or pre-register a client and pass --client-id (and --client-secret)",
    )
}

/// `no-public-clients`: `none` is not among the token endpoint's methods.
pub(crate) fn no_public_clients(methods: &[String]) -> Diagnosis {
    Diagnosis::warning(
        "no-public-clients",
        format!("token_endpoint_auth_methods_supported is {methods:?}, without \"none\""),
        "MCP clients are mostly public clients (no secret, PKCE instead); they cannot register here",
        "accept public clients (token_endpoint_auth_method \"none\") with PKCE",
    )
}

/// `registration-refused`: the endpoint did not answer.
pub(crate) fn registration_unreachable(endpoint: &str, e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "registration-refused",
        format!("the registration endpoint {endpoint} did not answer: {e}"),
        "the metadata names an endpoint that is not reachable",
        "check registration_endpoint in the metadata",
    )
}

/// `registration-refused`: a success status without `client_id`.
pub(crate) fn registration_without_client_id(status: u16) -> Diagnosis {
    Diagnosis::failure(
        "registration-refused",
        format!("the registration response ({status}) has no client_id"),
        "RFC 7591 §3.2.1: the response carries the new client's client_id",
        "return the client information response (JSON with client_id)",
    )
}

/// `redirect-uri-refused` at registration.
pub(crate) fn registration_refused_redirect_uri(
    redirect_uri: &str,
    status: u16,
    answer: &str,
) -> Diagnosis {
    Diagnosis::failure(
        "redirect-uri-refused",
        format!("registration refused the redirect URI {redirect_uri} ({status}: {answer})"),
        "native MCP clients register loopback redirect URIs (http://127.0.0.1:<port>/…, RFC 8252 §7.3) and hosted ones their https callback; this server refuses it",
        "accept http loopback redirect URIs (any port) and https redirect URIs at registration, or pass --redirect-uri with one the server accepts",
    )
}

/// `registration-refused`: 401/403, an initial access token is required.
pub(crate) fn registration_needs_authorization(status: u16, answer: &str) -> Diagnosis {
    Diagnosis::failure(
        "registration-refused",
        format!("registration needs authorization ({status}: {answer})"),
        "the registration endpoint requires an initial access token (RFC 7591 §3.1), which MCP clients do not have",
        "allow open registration for MCP clients, or pre-register a client and pass --client-id",
    )
}

/// `registration-refused` for another reason.
pub(crate) fn registration_refused(status: u16, answer: &str) -> Diagnosis {
    Diagnosis::failure(
        "registration-refused",
        format!("registration refused ({status}: {answer})"),
        "the server rejects the client metadata MCP clients send (client_name, redirect_uris, grant_types authorization_code + refresh_token, response_types code, token_endpoint_auth_method none)",
        "accept that metadata (RFC 7591), or pre-register a client and pass --client-id",
    )
}

/// `registration-redirect-changed`: the registered redirect URIs lack the one sent.
pub(crate) fn registration_redirect_changed(registered: &[String], sent: &str) -> Diagnosis {
    Diagnosis::warning(
        "registration-redirect-changed",
        format!("the registered redirect_uris {registered:?} do not contain the requested {sent}"),
        "the server replaced the client's redirect URI; the authorization request will likely be refused",
        "register the redirect URIs exactly as sent (or refuse the registration with invalid_redirect_uri)",
    )
}

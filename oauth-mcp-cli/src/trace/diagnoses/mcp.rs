//! Findings of the MCP calls made with the token: `initialize`,
//! `notifications/initialized` and `tools/list`.

use crate::trace::recorder::HttpError;
use crate::trace::report::Diagnosis;

/// `mcp-insufficient-scope`: 403 to the token.
pub(crate) fn insufficient_scope(answer: &str, needed: Option<&str>) -> Diagnosis {
    Diagnosis::failure(
        "mcp-insufficient-scope",
        format!(
            "the MCP endpoint answered 403{}: {answer}",
            needed
                .map(|x| format!(" (needs scope \"{x}\")"))
                .unwrap_or_default()
        ),
        "the token lacks a scope the server requires for this request",
        "request that scope (--scope; MCP clients take it from the challenge), or grant it to the user",
    )
}

/// `mcp-token-refused`: 401 to the fresh token; the cause names the wrong
/// audience when the audience step found one.
pub(crate) fn token_refused(
    status: u16,
    answer: &str,
    wrong_audience: Option<&str>,
    issuer: &str,
    mcp: &str,
) -> Diagnosis {
    let cause = match wrong_audience {
        Some(aud) => format!(
            "the token's audience is {aud}, not this server (see \"token audience\"): the MCP server is right to refuse it; the authorization server must issue tokens for {mcp}"
        ),
        None => format!(
            "the token was just issued by {issuer}, yet the MCP server does not accept it: it trusts another issuer (or another spelling of it), expects another audience, cannot fetch the signing keys (JWKS) or introspect, or the clocks disagree"
        ),
    };
    Diagnosis::failure(
        "mcp-token-refused",
        format!("the MCP endpoint refused the access token ({status}: {answer})"),
        cause,
        format!(
            "make the MCP server accept tokens from issuer {issuer} with audience {mcp} (and the authorization server issue exactly those)"
        ),
    )
}

/// `mcp-initialize-failed`: no answer.
pub(crate) fn initialize_unanswered(e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "mcp-initialize-failed",
        format!("the MCP endpoint did not answer: {e}"),
        "the server stopped answering",
        "check the server",
    )
}

/// `mcp-initialize-failed`: an error status to a valid token.
pub(crate) fn initialize_status(status: u16, answer: &str) -> Diagnosis {
    Diagnosis::failure(
        "mcp-initialize-failed",
        format!("initialize with a valid token was answered {status}: {answer}"),
        "the MCP server accepted the token but failed the request",
        "see the server's logs",
    )
}

/// `mcp-initialize-failed`: no JSON-RPC response in the answer.
pub(crate) fn initialize_no_response(content_type: &str) -> Diagnosis {
    Diagnosis::failure(
        "mcp-initialize-failed",
        format!("no JSON-RPC response to initialize in the answer ({content_type})"),
        "streamable HTTP answers a request with application/json or an SSE stream carrying the response",
        "answer initialize with its JSON-RPC result",
    )
}

/// `mcp-initialize-failed`: a JSON-RPC error.
pub(crate) fn initialize_error(error: &str) -> Diagnosis {
    Diagnosis::failure(
        "mcp-initialize-failed",
        format!("initialize returned a JSON-RPC error: {error}"),
        "the MCP server refused the initialize request",
        "see the error; a protocol version the server does not support can be changed with --protocol-version",
    )
}

/// `mcp-accepts-wrong-audience`.
pub(crate) fn accepts_wrong_audience(audience: &str, mcp: &str) -> Diagnosis {
    Diagnosis::failure(
        "mcp-accepts-wrong-audience",
        format!("the MCP endpoint accepted a token whose audience is {audience}, not itself"),
        "it does not validate aud: a token issued for another service (or stolen from one) works here too — the confused-deputy / token-passthrough risk the MCP specification forbids",
        format!("validate that aud contains \"{mcp}\" before accepting a token"),
    )
}

/// `initialized-refused`: an error status to the notification.
pub(crate) fn initialized_status(status: u16, answer: &str) -> Diagnosis {
    Diagnosis::warning(
        "initialized-refused",
        format!("notifications/initialized was answered {status}: {answer}"),
        "streamable HTTP answers notifications with 202 Accepted",
        "accept notifications (202)",
    )
}

/// `initialized-refused`: no answer.
pub(crate) fn initialized_unanswered(e: &HttpError) -> Diagnosis {
    Diagnosis::warning(
        "initialized-refused",
        format!("notifications/initialized failed: {e}"),
        "the server stopped answering",
        "check the server",
    )
}

/// `tools-list-failed`: no answer.
pub(crate) fn tools_list_unanswered(e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "tools-list-failed",
        format!("tools/list did not complete: {e}"),
        "the server stopped answering",
        "check the server",
    )
}

/// `tools-list-failed`: a JSON-RPC error.
pub(crate) fn tools_list_error(error: &str) -> Diagnosis {
    Diagnosis::failure(
        "tools-list-failed",
        format!("tools/list returned a JSON-RPC error: {error}"),
        "the server refused tools/list",
        "see the error",
    )
}

/// `tools-list-failed`: no JSON-RPC response in the answer.
pub(crate) fn tools_list_no_response(status: u16, content_type: &str) -> Diagnosis {
    Diagnosis::failure(
        "tools-list-failed",
        format!("no JSON-RPC response to tools/list ({status} {content_type})"),
        "the answer carried no response with the request's id",
        "answer with the JSON-RPC result (JSON or SSE)",
    )
}

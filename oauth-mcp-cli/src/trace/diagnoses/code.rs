//! Findings of the steps that obtain an authorization code: the
//! authorization request, the login (form or browser) and the redirect back.

use url::Url;

use crate::trace::recorder::HttpError;
use crate::trace::report::Diagnosis;

/// `bad-endpoint`: the OAuth client cannot be built from the endpoints.
pub(crate) fn bad_endpoint(error: &str) -> Diagnosis {
    Diagnosis::failure(
        "bad-endpoint",
        format!("cannot build the OAuth client: {error}"),
        "an endpoint URL is not valid",
        "fix the metadata (or --redirect-uri)",
    )
}

/// `browser-not-opened` (the URL is printed instead).
pub(crate) fn browser_not_opened(error: &str) -> Diagnosis {
    Diagnosis::warning(
        "browser-not-opened",
        format!("could not open a browser: {error}"),
        "no desktop opener (open / xdg-open) is available here",
        "open the URL below yourself; the tracer is waiting for the redirect",
    )
}

/// `authorization-unreachable`.
pub(crate) fn authorization_unreachable(e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "authorization-unreachable",
        format!("the authorization endpoint did not answer: {e}"),
        "the metadata names an endpoint that is not reachable from here",
        "check authorization_endpoint in the metadata (a public URL behind a proxy must be reachable by clients)",
    )
}

/// `authorization-refused`: a redirect without `Location`.
pub(crate) fn redirect_without_location(status: u16) -> Diagnosis {
    Diagnosis::failure(
        "authorization-refused",
        format!("{status} without a usable Location header"),
        "a redirect needs a Location",
        "send Location",
    )
}

/// The authorization endpoint refused the request: `redirect-uri-refused`
/// when its answer speaks of the redirect URI, `unknown-client` when it
/// speaks of the client, else `authorization-refused`.
pub(crate) fn authorization_refused(
    status: u16,
    answer: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Diagnosis {
    let lower = answer.to_ascii_lowercase();
    if lower.contains("redirect") {
        Diagnosis::failure(
            "redirect-uri-refused",
            format!(
                "the authorization endpoint refused the redirect URI {redirect_uri} ({status}: {answer})"
            ),
            format!(
                "the redirect URI is not registered for client `{client_id}`, or the server's redirect-URI policy refuses it; MCP clients use loopback URIs on any port (RFC 8252 §7.3) or their own https callback"
            ),
            "register this exact redirect URI for the client (or pass the registered one with --redirect-uri); for http loopback URIs, let any port match",
        )
    } else if lower.contains("client") {
        Diagnosis::failure(
            "unknown-client",
            format!("the authorization endpoint refused client `{client_id}` ({status}: {answer})"),
            "the client id is unknown, inactive or expired (a registration not persisted, or a store shared wrongly between instances)",
            "check that registered clients are stored where /authorize looks them up (all instances must share the store)",
        )
    } else {
        Diagnosis::failure(
            "authorization-refused",
            format!("the authorization endpoint answered {status}: {answer}"),
            "the authorization request MCP clients send (response_type=code, PKCE S256, state, scope, resource) was refused",
            "accept it; the server's error page and logs name the parameter",
        )
    }
}

/// `no-login-form`: the authorization page has no form.
pub(crate) fn no_login_form(content_type: &str) -> Diagnosis {
    Diagnosis::failure(
        "no-login-form",
        format!("the authorization page ({content_type}) has no HTML form to log in with"),
        "the login page needs JavaScript, or the server answers with something other than a login page",
        "use --browser to log in interactively",
    )
}

/// `no-login-form`: a page after the login has neither a form nor a redirect.
pub(crate) fn no_form_after_login() -> Diagnosis {
    Diagnosis::failure(
        "no-login-form",
        "the page after the login has no form and is no redirect",
        "the server shows a page the tracer cannot act on",
        "use --browser",
    )
}

/// `no-login-form`: the form's action is not a URL.
pub(crate) fn bad_form_action() -> Diagnosis {
    Diagnosis::failure(
        "no-login-form",
        "the form's action is not a URL",
        "bad HTML",
        "fix the form's action",
    )
}

/// `redirect-loop`.
pub(crate) fn redirect_loop() -> Diagnosis {
    Diagnosis::failure(
        "redirect-loop",
        "more than five redirects inside the authorization server",
        "a redirect loop",
        "fix the login redirects",
    )
}

/// `browser-timeout`.
pub(crate) fn browser_timeout(error: &str) -> Diagnosis {
    Diagnosis::failure(
        "browser-timeout",
        format!("the browser login did not come back: {error}"),
        "the login was not completed, or the server redirected elsewhere",
        "complete the login in the browser within the time limit (--browser-timeout), or use --username/--password",
    )
}

/// `credentials-needed`.
pub(crate) fn credentials_needed() -> Diagnosis {
    Diagnosis::failure(
        "credentials-needed",
        "the authorization server shows a login form, and no credentials were given",
        "the headless login fills the form with --username and --password",
        "pass --username and --password (or --browser to log in yourself)",
    )
}

/// `login-refused`: the login form came back (with the page's error, if any).
pub(crate) fn login_refused(page_error: Option<&str>) -> Diagnosis {
    let why = page_error.map(|e| format!(": \"{e}\"")).unwrap_or_default();
    Diagnosis::failure(
        "login-refused",
        format!("the login was refused: the server showed the login form again{why}"),
        "wrong --username or --password, or this user may not log in",
        "check the credentials (the example servers' demo user is demo-user / demo-password)",
    )
}

/// `login-failed`: the form's target did not answer.
pub(crate) fn form_unreachable(e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "login-failed",
        format!("submitting the form failed: {e}"),
        "the form's target did not answer",
        "check the form's action URL",
    )
}

/// `login-failed`: a redirect inside the login did not answer.
pub(crate) fn login_redirect_unreachable(at: &str, e: &HttpError) -> Diagnosis {
    Diagnosis::failure(
        "login-failed",
        format!("following the login redirect to {at} failed: {e}"),
        "the redirect target did not answer",
        "check the login flow's redirects",
    )
}

/// The login was answered without a redirect to the client:
/// `redirect-uri-refused` when the answer speaks of the redirect URI, else
/// `login-failed`.
pub(crate) fn login_not_redirected(status: u16, answer: &str) -> Diagnosis {
    if answer.to_ascii_lowercase().contains("redirect") {
        Diagnosis::failure(
            "redirect-uri-refused",
            format!("the login was answered {status}: {answer}"),
            "the server refused the redirect URI after the login",
            "register the redirect URI exactly (loopback: any port)",
        )
    } else {
        Diagnosis::failure(
            "login-failed",
            format!("the login was answered {status} without a redirect: {answer}"),
            "after a successful login the server must redirect (302/303) to the client's redirect URI with code and state",
            "see the message; the server's logs say more",
        )
    }
}

/// `login-failed`: too many forms in a row.
pub(crate) fn too_many_forms() -> Diagnosis {
    Diagnosis::failure(
        "login-failed",
        "more than four forms in a row",
        "the tracer cannot get through this login",
        "use --browser",
    )
}

/// `wrong-redirect-target`.
pub(crate) fn wrong_redirect_target(back: &Url, redirect_uri: &str) -> Diagnosis {
    Diagnosis::failure(
        "wrong-redirect-target",
        format!("the server redirected to {back}, not to the redirect URI {redirect_uri}"),
        "the authorization response must go to the redirect URI of the request",
        "redirect to the exact redirect_uri of the authorization request",
    )
}

/// `authorization-error`: the redirect carries `error=` (explained by code).
pub(crate) fn authorization_error(error: &str, description: &str, resource: &str) -> Diagnosis {
    let (cause, fix) = match error {
        "invalid_scope" => (
            "the requested scope is unknown or not grantable to this user".to_owned(),
            "request a scope the server supports (--scope), or grant it to the user".to_owned(),
        ),
        "invalid_target" => (
            format!("the server refused the resource indicator {resource} (RFC 8707)"),
            "accept the MCP server's canonical URL as resource".to_owned(),
        ),
        "access_denied" => (
            "the user (or a policy) denied the request".to_owned(),
            "allow this user and client; check user and scope policies".to_owned(),
        ),
        _ => (
            "the authorization server refused the request".to_owned(),
            "see the description; the server's logs say more".to_owned(),
        ),
    };
    Diagnosis::failure(
        "authorization-error",
        format!(
            "the server redirected back with error={error}{}",
            if description.is_empty() {
                String::new()
            } else {
                format!(": {description}")
            }
        ),
        cause,
        fix,
    )
}

/// `no-code`.
pub(crate) fn no_code() -> Diagnosis {
    Diagnosis::failure(
        "no-code",
        "the redirect carries no code",
        "a successful authorization response has `code` (RFC 6749 §4.1.2)",
        "append code and state to the redirect URI",
    )
}

/// `state-mismatch`: `state` came back altered (`Some`) or not at all.
pub(crate) fn state_mismatch(returned: Option<&str>) -> Diagnosis {
    match returned {
        Some(st) => Diagnosis::failure(
            "state-mismatch",
            format!("the redirect's state `{st}` is not the state sent"),
            "the server altered state (re-encoding, truncation) or answered another request; clients must reject the response (CSRF defence, RFC 6749 §10.12)",
            "return state exactly as received",
        ),
        None => Diagnosis::failure(
            "state-mismatch",
            "the redirect carries no state, though the request had one",
            "RFC 6749 §4.1.2: state is required in the response when the request had it; clients reject the response",
            "return state exactly as received",
        ),
    }
}

/// `iss-mismatch`.
pub(crate) fn iss_mismatch(iss: &str, issuer: &str) -> Diagnosis {
    Diagnosis::failure(
        "iss-mismatch",
        format!("the redirect's iss `{iss}` is not the issuer `{issuer}`"),
        "RFC 9207: clients compare iss with the issuer of the metadata and reject a mismatch (mix-up attack defence); a different public URL or a trailing slash usually causes it",
        "use the metadata's issuer exactly as iss",
    )
}

/// `iss-missing`.
pub(crate) fn iss_missing() -> Diagnosis {
    Diagnosis::failure(
        "iss-missing",
        "the redirect carries no iss, though the metadata sets authorization_response_iss_parameter_supported",
        "RFC 9207 §2.4: clients then require iss and reject the response",
        "append iss=<issuer> to every authorization response (or stop advertising it)",
    )
}

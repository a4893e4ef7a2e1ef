//! The authorization endpoint's outcome as an HTTP response: pages rendered
//! by the configured [`LoginUi`] with the security headers every page gets,
//! redirects as 303 with `Location`.

use bytes::Bytes;
use http::Response;
use http::header::{self, HeaderValue};

use super::html_response;
use crate::authorize::{AuthorizeOutcome, error_page};
use crate::error::OAuthError;
use crate::login::LoginUi;

/// The response for `outcome`.
pub(crate) fn authorize_response(outcome: AuthorizeOutcome, ui: &dyn LoginUi) -> Response<Bytes> {
    let retry_after = match &outcome {
        AuthorizeOutcome::ShowLogin(v) => v.retry_after,
        _ => None,
    };
    let mut r = render(outcome, ui);
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    } else if r.status() == http::StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(super::RETRY_AFTER_SECS),
        );
    }
    r
}

fn render(outcome: AuthorizeOutcome, ui: &dyn LoginUi) -> Response<Bytes> {
    let csp = ui.content_security_policy();
    let status = outcome.status();
    match outcome {
        AuthorizeOutcome::ShowLogin(v) => html_response(status, ui.login_page(&v), &csp),
        AuthorizeOutcome::ShowConsent(v) => html_response(status, ui.consent_page(&v), &csp),
        AuthorizeOutcome::ShowError(v) => html_response(status, ui.error_page(&v), &csp),
        AuthorizeOutcome::RedirectWithCode(to)
        | AuthorizeOutcome::RedirectToProvider(to)
        | AuthorizeOutcome::RedirectWithError { location: to, .. } => {
            match HeaderValue::from_str(&to) {
                Ok(v) => {
                    let mut r = html_response(303, String::new(), &csp);
                    r.headers_mut().insert(header::LOCATION, v);
                    r
                }
                Err(_) => {
                    let e = OAuthError::server_error(
                        "the redirect URI cannot be sent in a Location header",
                    );
                    let AuthorizeOutcome::ShowError(v) = error_page(500, &e) else {
                        return html_response(500, String::new(), &csp);
                    };
                    html_response(500, ui.error_page(&v), &csp)
                }
            }
        }
    }
}

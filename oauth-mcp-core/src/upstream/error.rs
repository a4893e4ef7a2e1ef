//! Why an upstream login failed, and the one mapping from that to an
//! RFC 6749 error for the MCP client.
//!
//! Every message is written for the person in front of the browser (or the
//! operator reading the log): it names the provider and what to do.

use super::http::HttpError;
use crate::error::{ErrorCode, OAuthError, StoreError};

/// Which check an ID token failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenCheck {
    /// The token response had no `id_token`.
    Missing,
    /// `iss` is not the configured issuer.
    Issuer,
    /// `aud` does not contain this client (or contains untrusted others).
    Audience,
    /// `nonce` is missing or not the one this sign-in sent.
    Nonce,
    /// The signature, algorithm or key is wrong.
    Signature,
    /// `exp` has passed.
    Expired,
    /// Anything else (malformed, unsupported).
    Other,
}

impl IdTokenCheck {
    /// The check's name, as in log fields.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Nonce => "nonce",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::Other => "other",
        }
    }
}

/// An upstream login failed.
#[non_exhaustive]
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The callback's query is malformed (a parameter repeated).
    #[error("the identity provider's answer is malformed: {0}; start again from your application")]
    MalformedCallback(String),
    /// The callback's `state` matches no sign-in in progress: forged, already
    /// used, or expired.
    #[error(
        "this sign-in link is unknown, was already used, or has expired; start again from your application"
    )]
    UnknownState,
    /// The callback has no `state` parameter.
    #[error(
        "the identity provider's answer has no `state` parameter, so it cannot be matched to a sign-in; start again from your application"
    )]
    MissingState,
    /// The callback came from a browser other than the one that started the
    /// sign-in (or the browser dropped the sign-in cookie).
    #[error(
        "this sign-in was started in another browser, or this browser did not keep the sign-in cookie; start again from your application in this browser, with cookies allowed"
    )]
    BrowserMismatch,
    /// The sign-in was started with another provider than the one answering.
    #[error("this sign-in was started with another identity provider (`{expected}`), not `{got}`")]
    WrongProvider {
        /// The provider the flow was started with.
        expected: String,
        /// The provider handling the callback.
        got: String,
    },
    /// The provider reported an error at the callback (the user declined,
    /// the client is not allowed, …).
    #[error("{provider} did not sign you in: `{error}`{}", describe(description))]
    Denied {
        /// The provider's display name.
        provider: String,
        /// The `error` parameter.
        error: String,
        /// The `error_description` parameter.
        description: Option<String>,
    },
    /// The callback's `iss` parameter (RFC 9207) names another issuer: a
    /// possible mix-up attack.
    #[error(
        "the answer claims to come from `{got}`, not from {provider} (`{expected}`); refusing it (RFC 9207 mix-up protection)"
    )]
    IssuerMismatch {
        /// The provider's display name.
        provider: String,
        /// The configured issuer.
        expected: String,
        /// The `iss` parameter received.
        got: String,
    },
    /// The callback has neither `code` nor `error`.
    #[error("{provider}'s answer has no authorization `code`")]
    MissingCode {
        /// The provider's display name.
        provider: String,
    },
    /// The provider could not be reached, timed out, or answered with a
    /// server error.
    #[error("{provider} could not be reached ({detail}); try again in a moment")]
    Unavailable {
        /// The provider's display name.
        provider: String,
        /// What failed (URL, timeout, status).
        detail: String,
    },
    /// The provider's token endpoint refused to redeem the code.
    #[error(
        "{provider} refused to redeem the sign-in code: `{error}`{}",
        describe(description)
    )]
    TokenRejected {
        /// The provider's display name.
        provider: String,
        /// The `error` code of the token endpoint.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// The ID token failed a check.
    #[error("{provider}'s ID token was refused ({} check): {reason}", check.as_str())]
    InvalidIdToken {
        /// The provider's display name.
        provider: String,
        /// Which check failed.
        check: IdTokenCheck,
        /// Details.
        reason: String,
    },
    /// The provider sent something this client cannot use (malformed JSON,
    /// a redirect, a body over the size limit, a missing field).
    #[error("{provider} sent an unusable answer: {detail}")]
    BadResponse {
        /// The provider's display name.
        provider: String,
        /// What was wrong.
        detail: String,
    },
    /// The provider's metadata or our configuration for it is wrong (issuer
    /// mismatch in discovery, an `http:` endpoint, …): the operator must fix it.
    #[error("the sign-in with {provider} is misconfigured: {detail}")]
    Misconfigured {
        /// The provider's display name.
        provider: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn describe(description: &Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

impl UpstreamError {
    /// True if the failure happened before the sign-in could be matched to a
    /// client request (bad or replayed `state`, another browser): then there
    /// is no client to redirect to, only an error page to show.
    pub fn is_before_flow(&self) -> bool {
        matches!(
            self,
            Self::UnknownState
                | Self::MalformedCallback(_)
                | Self::MissingState
                | Self::BrowserMismatch
                | Self::WrongProvider { .. }
        )
    }
}

impl From<UpstreamError> for OAuthError {
    fn from(e: UpstreamError) -> Self {
        let code = match &e {
            UpstreamError::UnknownState
            | UpstreamError::MalformedCallback(_)
            | UpstreamError::MissingState
            | UpstreamError::BrowserMismatch
            | UpstreamError::WrongProvider { .. } => ErrorCode::InvalidRequest,
            UpstreamError::Denied { .. }
            | UpstreamError::IssuerMismatch { .. }
            | UpstreamError::MissingCode { .. }
            | UpstreamError::TokenRejected { .. }
            | UpstreamError::InvalidIdToken { .. }
            | UpstreamError::BadResponse { .. } => ErrorCode::AccessDenied,
            UpstreamError::Unavailable { .. } => ErrorCode::TemporarilyUnavailable,
            UpstreamError::Misconfigured { .. } => ErrorCode::ServerError,
            UpstreamError::Store(s) => return s.clone().into(),
        };
        OAuthError::new(code, e.to_string())
    }
}

/// The [`UpstreamError`] for a failed token request at `provider` (the
/// one mapping, for every provider).
pub(crate) fn token_request_error<T: oauth2::ErrorResponse + 'static>(
    provider: &str,
    e: oauth2::RequestTokenError<HttpError, T>,
) -> UpstreamError {
    match e {
        oauth2::RequestTokenError::ServerResponse(r) => {
            let v = serde_json::to_value(&r).unwrap_or_default();
            UpstreamError::TokenRejected {
                provider: provider.to_owned(),
                error: v["error"].as_str().unwrap_or("unknown_error").to_owned(),
                description: v["error_description"].as_str().map(str::to_owned),
            }
        }
        oauth2::RequestTokenError::Request(h) => h.into_upstream(provider),
        oauth2::RequestTokenError::Parse(p, body) => {
            // Some providers (GitHub) answer errors with 200 and an error body.
            #[derive(serde::Deserialize)]
            struct ErrorBody {
                error: String,
                error_description: Option<String>,
            }
            match serde_json::from_slice::<ErrorBody>(&body) {
                Ok(b) => UpstreamError::TokenRejected {
                    provider: provider.to_owned(),
                    error: b.error,
                    description: b.error_description,
                },
                Err(_) => UpstreamError::BadResponse {
                    provider: provider.to_owned(),
                    detail: format!("the token response does not parse: {p}"),
                },
            }
        }
        oauth2::RequestTokenError::Other(m) => UpstreamError::BadResponse {
            provider: provider.to_owned(),
            detail: m,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_provider_and_map_to_rfc_codes() {
        let e = UpstreamError::Unavailable {
            provider: "GitHub".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "GitHub could not be reached (connection refused); try again in a moment"
        );
        assert_eq!(OAuthError::from(e).code, ErrorCode::TemporarilyUnavailable);
        let e = UpstreamError::Denied {
            provider: "Google".into(),
            error: "access_denied".into(),
            description: Some("the user declined".into()),
        };
        assert_eq!(
            e.to_string(),
            "Google did not sign you in: `access_denied` (the user declined)"
        );
        assert!(!e.is_before_flow());
        assert_eq!(OAuthError::from(e).code, ErrorCode::AccessDenied);
        assert!(UpstreamError::UnknownState.is_before_flow());
        assert_eq!(
            OAuthError::from(UpstreamError::BrowserMismatch).code,
            ErrorCode::InvalidRequest
        );
        let e = UpstreamError::InvalidIdToken {
            provider: "idp".into(),
            check: IdTokenCheck::Nonce,
            reason: "nonce mismatch".into(),
        };
        assert_eq!(
            e.to_string(),
            "idp's ID token was refused (nonce check): nonce mismatch"
        );
        assert_eq!(
            OAuthError::from(UpstreamError::Store(StoreError::Unavailable("x".into()))).code,
            ErrorCode::TemporarilyUnavailable
        );
    }
}

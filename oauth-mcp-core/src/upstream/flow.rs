//! The browser leg of an upstream login, around an [`UpstreamProvider`]:
//!
//! 1. [`UpstreamSignIn::start`] makes a random `state`, PKCE verifier and
//!    (for OpenID providers) `nonce`, stores them as an [`UpstreamFlow`]
//!    under the state's hash, bound to a random browser-binding value, and
//!    returns the provider URL to redirect to plus that value (for an
//!    `HttpOnly` cookie).
//! 2. At the callback, [`UpstreamSignIn::returned`] takes the flow (once:
//!    a replayed or forged `state` finds nothing; so does an expired one)
//!    and checks that the browser presents the binding value.
//! 3. [`UpstreamSignIn::finish`] checks the RFC 9207 `iss` parameter and
//!    the provider's error, then redeems the code through the provider.
//!
//! Step 2 failing means the request cannot be tied to any client: show an
//! error page. Step 3 failing happens for a known pending request: the
//! client can be told (`access_denied`).

use std::sync::Arc;

use super::error::UpstreamError;
use super::{AuthorizationParams, ExchangeParams, SignedIn, UpstreamProvider};
use crate::clock::{SharedClock, SystemClock};
use crate::events::AuditEvent;
use crate::params::Params;
use crate::secret::{Secret, constant_time_eq, hash_secret, log_tag, random_token};
use crate::store::{UpstreamFlow, UpstreamStore};

/// The default lifetime of an upstream sign-in, in seconds (10 minutes).
pub const DEFAULT_FLOW_TTL: i64 = 600;

/// Where to send the browser, and the value that binds the sign-in to it.
#[derive(Debug, Clone)]
pub struct SignInRedirect {
    /// The provider's authorization URL (redirect with 302/303).
    pub location: String,
    /// Set this as an `HttpOnly`, `SameSite=Lax` cookie; the callback must
    /// present it.
    pub browser_binding: Secret,
    /// A short, non-secret tag of this sign-in's `state` (see
    /// [`state_tag`]): the name of the binding cookie can include it, so
    /// that sign-ins in several tabs do not overwrite each other's cookie.
    pub state_tag: String,
    /// Seconds until the sign-in expires (the cookie's `Max-Age`).
    pub expires_in: i64,
}

/// The tag of a `state` value: 8 characters of its hash, safe to show.
pub fn state_tag(state: &str) -> String {
    log_tag(state)
}

/// The parameters of a request to the callback URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackParams {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// Parameters that appeared more than once (the callback is then refused).
    pub repeated: Vec<String>,
}

impl CallbackParams {
    /// Parses a query string (without `?`).
    pub fn from_query(query: &str) -> Self {
        let params = Params::parse(query.as_bytes());
        let mut repeated = Vec::new();
        let mut one = |name: &str| match params.single(name) {
            Ok(v) => v.map(str::to_owned),
            Err(_) => {
                repeated.push(name.to_owned());
                None
            }
        };
        let code = one("code");
        let state = one("state");
        let error = one("error");
        let error_description = one("error_description");
        let iss = one("iss");
        Self {
            code,
            state,
            error,
            error_description,
            iss,
            repeated,
        }
    }
}

/// A sign-in that came back to the browser that started it (see
/// [`UpstreamSignIn::returned`]).
#[derive(Debug, Clone)]
pub struct ReturnedFlow {
    flow: UpstreamFlow,
}

impl ReturnedFlow {
    /// The id hash of our pending `/authorize` request this sign-in is for.
    pub fn pending_id_hash(&self) -> &str {
        &self.flow.pending_id_hash
    }

    /// True if the person approved the consent page in this sign-in (else
    /// the page was skipped for a consent this browser's session remembered).
    pub fn consented(&self) -> bool {
        self.flow.consented
    }
}

/// Runs upstream sign-ins for one provider. Cheap to clone.
#[derive(Clone)]
pub struct UpstreamSignIn {
    provider: Arc<dyn UpstreamProvider>,
    store: Arc<dyn UpstreamStore>,
    callback_url: String,
    flow_ttl: i64,
    clock: SharedClock,
}

impl std::fmt::Debug for UpstreamSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSignIn")
            .field("provider", &self.provider)
            .field("callback_url", &self.callback_url)
            .field("flow_ttl", &self.flow_ttl)
            .finish_non_exhaustive()
    }
}

impl UpstreamSignIn {
    /// Sign-ins at `provider`, remembered in `store`, returning to
    /// `callback_url` (`<public-url>/upstream/callback`, registered at the
    /// provider).
    pub fn new(
        provider: Arc<dyn UpstreamProvider>,
        store: Arc<dyn UpstreamStore>,
        callback_url: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            store,
            callback_url: callback_url.into(),
            flow_ttl: DEFAULT_FLOW_TTL,
            clock: Arc::new(SystemClock),
        }
    }

    /// How long a user may take at the provider, in seconds (default 600;
    /// kept between 60 and 3600).
    pub fn flow_ttl(mut self, secs: i64) -> Self {
        self.flow_ttl = secs.clamp(60, 3600);
        self
    }

    /// The clock (tests).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn UpstreamProvider> {
        &self.provider
    }

    /// The callback URL.
    pub fn callback_url(&self) -> &str {
        &self.callback_url
    }

    /// Starts a sign-in for our pending request `pending_id_hash` of
    /// `client_id`; `consented` says whether the person approved the consent
    /// page just now (else a remembered consent is to be checked at the
    /// callback).
    pub async fn start(
        &self,
        pending_id_hash: &str,
        client_id: &str,
        consented: bool,
    ) -> Result<SignInRedirect, UpstreamError> {
        let now = self.clock.now();
        let state = Secret::new(random_token());
        let verifier = Secret::new(random_token());
        let nonce = self
            .provider
            .uses_nonce()
            .then(|| Secret::new(random_token()));
        let binding = Secret::new(random_token());
        let location = self
            .provider
            .authorization_url(&AuthorizationParams {
                redirect_uri: self.callback_url.clone(),
                state: state.clone(),
                pkce_verifier: verifier.clone(),
                nonce: nonce.clone(),
            })
            .await?;
        self.store
            .insert_upstream_flow(UpstreamFlow {
                state_hash: hash_secret(state.secret()),
                provider: self.provider.id().to_owned(),
                pkce_verifier: verifier.secret().to_owned(),
                nonce: nonce.map(|n| n.secret().to_owned()),
                pending_id_hash: pending_id_hash.to_owned(),
                browser_hash: hash_secret(binding.secret()),
                consented,
                created_at: now,
                expires_at: now + self.flow_ttl,
            })
            .await?;
        AuditEvent::UpstreamStarted {
            provider: self.provider.id(),
            client_id,
            consented,
            state: state.secret(),
        }
        .emit();
        Ok(SignInRedirect {
            location,
            browser_binding: binding,
            state_tag: state_tag(state.secret()),
            expires_in: self.flow_ttl,
        })
    }

    /// Matches a callback to its sign-in: takes the flow named by `state`
    /// (single use) and checks that `browser_binding` (the cookie) is the
    /// one [`start`](Self::start) handed out.
    pub async fn returned(
        &self,
        params: &CallbackParams,
        browser_binding: Option<&str>,
    ) -> Result<ReturnedFlow, UpstreamError> {
        let refuse = |e: UpstreamError| {
            AuditEvent::UpstreamCallbackRefused {
                provider: self.provider.id(),
                reason: &e.to_string(),
            }
            .emit();
            e
        };
        if let Some(name) = params.repeated.first() {
            return Err(refuse(UpstreamError::MalformedCallback(format!(
                "parameter `{name}` appears more than once"
            ))));
        }
        let Some(state) = params.state.as_deref() else {
            return Err(refuse(UpstreamError::MissingState));
        };
        let now = self.clock.now();
        let Some(flow) = self
            .store
            .take_upstream_flow(&hash_secret(state), now)
            .await?
        else {
            return Err(refuse(UpstreamError::UnknownState));
        };
        let bound =
            browser_binding.is_some_and(|b| constant_time_eq(&hash_secret(b), &flow.browser_hash));
        if !bound {
            return Err(refuse(UpstreamError::BrowserMismatch));
        }
        if flow.provider != self.provider.id() {
            return Err(refuse(UpstreamError::WrongProvider {
                expected: flow.provider,
                got: self.provider.id().to_owned(),
            }));
        }
        Ok(ReturnedFlow { flow })
    }

    /// Completes a returned sign-in: the `iss` check (RFC 9207), the
    /// provider's error if it sent one, then the code exchange and identity.
    pub async fn finish(
        &self,
        returned: ReturnedFlow,
        params: &CallbackParams,
    ) -> Result<SignedIn, UpstreamError> {
        let provider = self.provider.display_name().to_owned();
        let result = async {
            if let Some(iss) = &params.iss
                && iss != self.provider.issuer()
            {
                return Err(UpstreamError::IssuerMismatch {
                    provider: provider.clone(),
                    expected: self.provider.issuer().to_owned(),
                    got: iss.clone(),
                });
            }
            if let Some(error) = &params.error {
                return Err(UpstreamError::Denied {
                    provider: provider.clone(),
                    error: error.clone(),
                    description: params.error_description.clone(),
                });
            }
            let code = params
                .code
                .as_deref()
                .ok_or_else(|| UpstreamError::MissingCode {
                    provider: provider.clone(),
                })?;
            let flow = &returned.flow;
            self.provider
                .exchange(
                    code,
                    &ExchangeParams {
                        redirect_uri: self.callback_url.clone(),
                        pkce_verifier: Secret::new(flow.pkce_verifier.clone()),
                        nonce: flow.nonce.clone().map(Secret::new),
                    },
                )
                .await
        }
        .await;
        if let Err(e) = &result {
            AuditEvent::UpstreamFailed {
                provider: self.provider.id(),
                client_id: None,
                reason: &e.to_string(),
            }
            .emit();
        }
        result
    }
}

//! Rate limits at the door of the authorization server's public endpoints:
//! who sent the request (the connection's peer, which adapters hand over as
//! a [`PeerAddr`] request extension, or — behind trusted proxies — the
//! address they recorded), and the one place a refusal becomes a response:
//! 429 with `Retry-After` and an RFC 6749-style JSON body, or an HTML page
//! on the browser's endpoint (`/authorize`).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response};

use super::error_response;
use super::pages::authorize_response;
use crate::authorize::error_page;
use crate::error::OAuthError;
use crate::ratelimit::{Endpoint, RateKey, RateLimitError};
use crate::server::AuthServer;

/// The address of the connection a request arrived on, put in the request's
/// extensions by the adapter (axum: from `ConnectInfo<SocketAddr>`, so serve
/// with `into_make_service_with_connect_info::<SocketAddr>()`; actix-web:
/// from `HttpRequest::peer_addr`). Without it, requests are not limited by
/// address (only authenticated clients by their id), and a warning says so
/// once.
///
/// ```
/// use oauth_mcp_core::http::PeerAddr;
/// let mut req = http::Request::new(bytes::Bytes::new());
/// req.extensions_mut().insert(PeerAddr("203.0.113.9:51234".parse().unwrap()));
/// assert_eq!(req.extensions().get::<PeerAddr>().unwrap().0.port(), 51234);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// Set once the missing-peer warning was logged.
static WARNED_NO_PEER: AtomicBool = AtomicBool::new(false);

/// The client's address: the peer, or what trusted proxies say it was.
fn client_address(server: &AuthServer, req: &Request<Bytes>) -> Option<IpAddr> {
    let Some(PeerAddr(peer)) = req.extensions().get::<PeerAddr>().copied() else {
        if !WARNED_NO_PEER.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "oauth_mcp::ratelimit",
                "requests reach the OAuth endpoints without their peer address, so they are not rate-limited by address; \
                 with axum serve the app with `into_make_service_with_connect_info::<SocketAddr>()` \
                 (or insert `oauth_mcp_core::http::PeerAddr` in the request extensions)"
            );
        }
        return None;
    };
    let proxies = server.config().abuse_limits().rate_limits.proxies();
    Some(proxies.client_address(peer.ip(), req.headers()))
}

/// Logs a refusal (`ratelimit.refused`, INFO: a flood must not fill the
/// warning log).
pub(crate) fn log_rate_limited(
    e: &RateLimitError,
    address: Option<IpAddr>,
    client_id: Option<&str>,
) {
    if let Some(l) = e.limited() {
        tracing::info!(
            target: crate::events::TARGET,
            event = "ratelimit.refused",
            endpoint = l.endpoint.as_str(),
            address = address.map(tracing::field::display),
            client_id,
            retry_after = l.retry_after_secs(),
            reason = %l.description(),
        );
    }
}

/// Counts `req` against the address limit of `endpoint`; the answer to send
/// instead if it is over (or the store keeping the buckets failed).
pub(crate) async fn check(
    server: &AuthServer,
    endpoint: Endpoint,
    req: &Request<Bytes>,
) -> Option<Response<Bytes>> {
    let address = client_address(server, req)?;
    let e = server
        .rate_limiter()
        .check(endpoint, &RateKey::address(address))
        .await
        .err()?;
    log_rate_limited(&e, Some(address), None);
    Some(refusal(server, endpoint, &e.into()))
}

/// The response for a refused request: JSON for clients, the login UI's
/// error page for the browser's endpoint; `Retry-After` on both.
fn refusal(server: &AuthServer, endpoint: Endpoint, e: &OAuthError) -> Response<Bytes> {
    match endpoint {
        Endpoint::AuthorizeGet | Endpoint::AuthorizePost => {
            let status = e.code.http_status();
            let mut r =
                authorize_response(error_page(status, e), server.config().login_ui().as_ref());
            if let Some(secs) = e.retry_after_secs {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            r
        }
        _ => error_response(e),
    }
}

//! `BearerLayer` as a tower service: the wrapped service is cloned once per
//! request (not twice), the clone driven ready is the one called, a call
//! without `poll_ready` still drives its service ready, and a refused
//! request never reaches the wrapped service.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use oauth_mcp_axum::BearerLayer;
use oauth_mcp_core::validate::AuthContext;
use tower::{Layer, Service, ServiceExt};

use common::resource_server;

/// Counts its clones and calls; each instance is pending on its first
/// `poll_ready` (and wakes itself), and answers 200 only if it was driven
/// ready before its call, 500 otherwise.
#[derive(Default)]
struct Counted {
    clones: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    polls: usize,
    ready: bool,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
            calls: Arc::clone(&self.calls),
            polls: 0,
            ready: false,
        }
    }
}

impl Service<Request> for Counted {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.polls += 1;
        if self.polls == 1 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let status = if std::mem::take(&mut self.ready) {
            200
        } else {
            500
        };
        let who = req
            .extensions()
            .get::<AuthContext>()
            .map(|c| c.subject.to_string())
            .unwrap_or_default();
        Box::pin(async move {
            Ok(Response::builder()
                .status(status)
                .body(Body::from(who))
                .unwrap())
        })
    }
}

fn post(token: Option<&str>) -> Request {
    let mut b = Request::post("/mcp").header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    ))
    .unwrap()
}

async fn text(resp: Response) -> String {
    let bytes = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn one_clone_per_request_and_the_ready_clone_is_called() {
    let inner = Counted::default();
    let (clones, calls) = (Arc::clone(&inner.clones), Arc::clone(&inner.calls));
    let svc = BearerLayer::new(resource_server()).layer(inner);
    for n in 1..=3 {
        // As axum's route does: a clone of the service per request, driven
        // ready, then called once.
        let resp = svc.clone().oneshot(post(Some("good"))).await.unwrap();
        assert_eq!(resp.status(), 200, "request {n}");
        assert_eq!(text(resp).await, "alice");
        assert_eq!(clones.load(Ordering::SeqCst), n, "clones after {n}");
        assert_eq!(calls.load(Ordering::SeqCst), n, "calls after {n}");
    }
    // The same service called twice in a row: a fresh clone for each call.
    let mut same = svc.clone();
    for n in 4..=5 {
        let resp = same.ready().await.unwrap().call(post(Some("good"))).await;
        assert_eq!(resp.unwrap().status(), 200, "request {n}");
        assert_eq!(clones.load(Ordering::SeqCst), n);
    }
}

#[tokio::test]
async fn a_call_without_poll_ready_drives_its_clone_ready() {
    let inner = Counted::default();
    let calls = Arc::clone(&inner.calls);
    let mut svc = BearerLayer::new(resource_server()).layer(inner);
    let resp = svc.call(post(Some("good"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_request_never_reaches_the_service() {
    let inner = Counted::default();
    let calls = Arc::clone(&inner.calls);
    let svc = BearerLayer::new(resource_server()).layer(inner);
    for token in [None, Some("bad")] {
        let resp = svc.clone().oneshot(post(token)).await.unwrap();
        assert_eq!(resp.status(), 401, "{token:?}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer resource_metadata="),
            "{challenge}"
        );
        assert_eq!(
            challenge.contains(r#"error="invalid_token""#),
            token.is_some(),
            "{challenge}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

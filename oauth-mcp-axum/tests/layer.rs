//! `BearerLayer` as a tower service: an accepted request calls the shared
//! wrapped service in place when it is free and ready (no clone), a clone
//! driven ready when it is not ready or another request is using it, a
//! call without `poll_ready` is served, and a refused request never
//! reaches the wrapped service.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::time::Duration;

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
async fn the_shared_service_serves_each_request_once_it_is_ready() {
    let inner = Counted::default();
    let (clones, calls) = (Arc::clone(&inner.clones), Arc::clone(&inner.calls));
    let svc = BearerLayer::new(resource_server()).layer(inner);
    // The layer keeps the service it wraps and one shared instance.
    assert_eq!(clones.load(Ordering::SeqCst), 1);
    // The first request finds the shared instance not ready (its first
    // poll): a clone, driven ready, serves it.
    let resp = svc.clone().oneshot(post(Some("good"))).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(text(resp).await, "alice");
    assert_eq!(clones.load(Ordering::SeqCst), 2);
    // From then on the shared instance is ready: no more clones, each
    // request still called on an instance driven ready (200, not 500).
    for n in 2..=5 {
        let resp = svc.clone().oneshot(post(Some("good"))).await.unwrap();
        assert_eq!(resp.status(), 200, "request {n}");
        assert_eq!(text(resp).await, "alice");
        assert_eq!(clones.load(Ordering::SeqCst), 2, "clones after {n}");
        assert_eq!(calls.load(Ordering::SeqCst), n, "calls after {n}");
    }
}

/// The way into a first call and out of it: told when it is inside, waits
/// to be released.
type Gate = (mpsc::Sender<()>, mpsc::Receiver<()>);

/// Always ready; the first `call` of any instance blocks its thread until
/// the test releases it (bounded), after telling the test it is inside.
/// Counts its clones.
struct Gated {
    clones: Arc<AtomicUsize>,
    gate: Arc<Mutex<Option<Gate>>>,
}

impl Clone for Gated {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Self {
            clones: Arc::clone(&self.clones),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl Service<Request> for Gated {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request) -> Self::Future {
        let gate = self.gate.lock().unwrap().take();
        if let Some((inside, release)) = gate {
            inside.send(()).unwrap();
            release.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        std::future::ready(Ok(Response::new(Body::from("served"))))
    }
}

#[test]
fn a_request_never_waits_for_another_using_the_shared_service() {
    let (inside_tx, inside) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let clones = Arc::new(AtomicUsize::new(0));
    let gated = Gated {
        clones: Arc::clone(&clones),
        gate: Arc::new(Mutex::new(Some((inside_tx, release_rx)))),
    };
    let svc = BearerLayer::new(resource_server()).layer(gated);
    let run = |svc: oauth_mcp_axum::Bearer<Gated>| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(svc.oneshot(post(Some("good"))))
            .unwrap()
            .status()
    };
    // A first request takes the shared instance and stays in its `call`.
    let first = std::thread::spawn({
        let svc = svc.clone();
        move || run(svc)
    });
    inside.recv_timeout(Duration::from_secs(10)).unwrap();
    // A second one meanwhile is served by a clone, without waiting.
    let before = clones.load(Ordering::SeqCst);
    assert_eq!(run(svc.clone()), 200);
    assert_eq!(clones.load(Ordering::SeqCst), before + 1);
    release.send(()).unwrap();
    assert_eq!(first.join().unwrap(), 200);
}

#[tokio::test]
async fn a_call_without_poll_ready_is_served() {
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

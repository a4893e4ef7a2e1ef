//! `mcp_router` over real HTTP on loopback, with a method router
//! (`post(handler)`) and with any other tower service: both answer every
//! method through the guard first, with the same statuses and headers, and
//! no route added later at the MCP path can get past the guard.

// Test helpers panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{Extension, Request};
use axum::response::Response;
use axum::routing::post;
use oauth_mcp_axum::mcp_router;
use oauth_mcp_core::validate::AuthContext;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::resource_server;

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Both shapes of the protected endpoint: a method router and a plain
/// service, each answering with the subject it was given.
async fn servers() -> [(&'static str, SocketAddr); 2] {
    let methods = mcp_router(
        resource_server(),
        post(|Extension(ctx): Extension<AuthContext>| async move { ctx.subject.to_string() }),
    );
    let service = mcp_router(
        resource_server(),
        tower::service_fn(|req: Request| async move {
            let who = req
                .extensions()
                .get::<AuthContext>()
                .map(|c| c.subject.to_string())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(Body::from(who)))
        }),
    );
    [
        ("method router", serve(methods).await),
        ("service", serve(service).await),
    ]
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), read
/// to the end within 10 s.
async fn send(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> Answer {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        out
    };
    let raw = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .expect("an answer within 10 s");
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_shapes_pass_every_method_through_the_guard() {
    for (shape, addr) in servers().await {
        // No token, on the handled method and on another: 401 + challenge.
        for method in ["POST", "GET", "DELETE"] {
            let body = if method == "POST" { LIST } else { "" };
            let a = send(addr, method, "/mcp", &[], body).await;
            assert_eq!(a.status, 401, "{shape} {method}");
            let challenge = a.header("www-authenticate").unwrap();
            assert!(
                challenge.starts_with("Bearer resource_metadata=\"http://127.0.0.1:9/.well-known/oauth-protected-resource/mcp\""),
                "{shape} {method}: {challenge}"
            );
            assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        }
        // A bad token: 401 invalid_token.
        let a = send(addr, "POST", "/mcp", &["authorization: Bearer bad"], LIST).await;
        assert_eq!(a.status, 401, "{shape}");
        assert!(
            a.header("www-authenticate")
                .unwrap()
                .contains(r#"error="invalid_token""#),
            "{shape}"
        );
        // A CORS preflight is answered without a token.
        let a = send(
            addr,
            "OPTIONS",
            "/mcp",
            &[
                "origin: https://inspector.example",
                "access-control-request-method: POST",
            ],
            "",
        )
        .await;
        assert_eq!(a.status, 204, "{shape}");
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert!(
            a.header("access-control-allow-methods")
                .unwrap()
                .contains("POST"),
            "{shape}"
        );
        // A good token reaches the endpoint with its identity, and the
        // answer carries the CORS headers.
        let a = send(addr, "POST", "/mcp", &["authorization: Bearer good"], LIST).await;
        assert_eq!((a.status, a.body.as_str()), (200, "alice"), "{shape}");
        assert_eq!(a.header("access-control-allow-origin"), Some("*"));
        assert!(
            a.header("access-control-expose-headers")
                .unwrap()
                .to_ascii_lowercase()
                .contains("www-authenticate"),
            "{shape}"
        );
        // Not JSON, with a good token: the JSON-RPC parse error.
        let a = send(addr, "POST", "/mcp", &["authorization: Bearer good"], "{").await;
        assert_eq!(a.status, 400, "{shape}");
        assert!(a.body.contains("-32700"), "{shape}: {}", a.body);
        // The path is matched exactly; the metadata is served beside it.
        let a = send(
            addr,
            "POST",
            "/mcp/x",
            &["authorization: Bearer good"],
            LIST,
        )
        .await;
        assert_eq!(a.status, 404, "{shape}");
        let a = send(
            addr,
            "GET",
            "/.well-known/oauth-protected-resource/mcp",
            &[],
            "",
        )
        .await;
        assert_eq!(a.status, 200, "{shape}");
        assert!(
            a.body.contains(r#""resource":"http://127.0.0.1:9/mcp""#),
            "{shape}: {}",
            a.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_router_answers_other_methods_405_after_the_guard() {
    let [(_, addr), _] = servers().await;
    let a = send(addr, "GET", "/mcp", &["authorization: Bearer good"], "").await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("POST"));
}

#[test]
fn a_route_added_later_at_the_mcp_path_cannot_pass_the_guard() {
    // axum merges method routes at one path: had the guard been applied to
    // the handlers of a method router, this GET would be served unguarded.
    // On the service route mcp_router builds, adding it fails instead.
    let added = std::panic::catch_unwind(|| {
        mcp_router(resource_server(), post(|| async { "protected" }))
            .route("/mcp", axum::routing::get(|| async { "unguarded" }))
    });
    assert!(added.is_err(), "a route at the MCP path must be refused");
}

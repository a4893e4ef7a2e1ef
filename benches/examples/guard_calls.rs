//! Calls the README's protected route (`mcp_router(resource, post(mcp))`,
//! the same set-up as the load harness) or the bare route in process, `N`
//! times, with a repeated ES256 token and a `tools/list` body: no socket,
//! no hyper, nothing but the router and the guard. Run under callgrind
//! twice with different `N` and difference the totals for the
//! instructions one request costs, free of the machine's noise:
//!
//! ```bash
//! cargo build --release -p oauth-mcp-benches --example guard_calls
//! for k in bare layer; do for n in 2000 12000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$k.$n \
//!     target/release/examples/guard_calls $k $n
//! done; done
//! ```
//!
//! (layer₁₂₀₀₀ − layer₂₀₀₀ − bare₁₂₀₀₀ + bare₂₀₀₀) ÷ 10,000 is what the
//! guard adds to one request; `callgrind_annotate` on the pairs names
//! where.

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::Request;
use oauth_mcp_benches::glue::{BoxError, TokenMint, readme_guard};
use oauth_mcp_core::token::{SigningAlgorithm, SigningKey};
use tower::{Service, ServiceExt};

const PUBLIC_URL: &str = "http://127.0.0.1";
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;

async fn mcp() -> &'static str {
    r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}"#
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: guard_calls bare|layer N";
    let kind = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let key = SigningKey::generate(SigningAlgorithm::Es256)?;
    let token = TokenMint::new(PUBLIC_URL, key.clone())?.mint()?;
    let mut app: Router = match kind.as_str() {
        "bare" => Router::new().route("/mcp", post(mcp)),
        "layer" => oauth_mcp_axum::mcp_router(readme_guard(PUBLIC_URL, key)?, post(mcp)),
        _ => return Err(usage.into()),
    };
    let authorization = format!("Bearer {token}");
    let mut ok = 0;
    for _ in 0..n {
        let req = Request::post("/mcp")
            .header("host", "127.0.0.1")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", authorization.as_str())
            .body(Body::from(BODY))?;
        let resp = ServiceExt::<Request<Body>>::ready(&mut app)
            .await?
            .call(req)
            .await?;
        ok += usize::from(resp.status() == 200);
    }
    if ok != n {
        return Err(format!("{kind}: {ok} of {n} requests answered 200").into());
    }
    eprintln!("{kind}: {n} requests answered 200");
    Ok(())
}

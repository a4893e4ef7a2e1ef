//! Calls the README's protected route (`mcp_router(resource, post(mcp))`,
//! the same set-up as the load harness) or the bare route in process, `N`
//! times, with a repeated ES256 token, the harness's headers and a
//! `tools/list` body: no socket, no hyper, nothing but the router and the
//! guard. Run under callgrind twice with different `N` and difference the
//! totals for the instructions one request costs, free of the machine's
//! noise:
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
use http::Request;
use oauth_mcp_benches::glue::{
    BoxError, TOOLS_LIST, TokenMint, bare_router, mcp_headers, protected_router,
};
use oauth_mcp_core::token::{SigningAlgorithm, SigningKey};
use tower::{Service, ServiceExt};

const PUBLIC_URL: &str = "http://127.0.0.1";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: guard_calls bare|layer N";
    let kind = args.next().ok_or(usage)?;
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let key = SigningKey::generate(SigningAlgorithm::Es256)?;
    let token = TokenMint::new(PUBLIC_URL, key.clone())?.mint()?;
    let mut app: Router = match kind.as_str() {
        "bare" => bare_router(),
        "layer" => protected_router(PUBLIC_URL, key)?,
        _ => return Err(usage.into()),
    };
    let authorization = format!("Bearer {token}");
    let headers = mcp_headers();
    let mut ok = 0;
    for _ in 0..n {
        let mut req = Request::post("/mcp")
            .header("host", "127.0.0.1")
            .header("authorization", authorization.as_str())
            .body(Body::from(TOOLS_LIST))?;
        req.headers_mut().extend(headers.iter().cloned());
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

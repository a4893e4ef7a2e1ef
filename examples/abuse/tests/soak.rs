//! The soak harness (not in CI): both example servers under ten minutes of
//! mixed traffic — logins, token exchanges and refreshes, MCP calls, fresh
//! registrations, abandoned authorization requests, wrong passwords and
//! malformed requests — with each server's memory sampled from
//! `/proc/<pid>/status` every 10 seconds. The memory must be flat: the
//! peak of the last quarter at most 16 MiB (or 5 %, if more) above the peak
//! of the second quarter (the first quarter is warm-up).
//!
//! ```text
//! ABUSE_SOAK_SECS=600 cargo test -p oauth-mcp-abuse --release --test soak -- --ignored --nocapture
//! ```
//!
//! `ABUSE_SOAK_SECS` (default 600) sets the duration, `ABUSE_SOAK_STORE`
//! (default `memory`) the `--store` flag.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oauth_mcp_abuse::{Flavor, MIB, Memory, Server, client};
use oauth_mcp_battery::client::{
    AuthRequest, Pkce, authorize_get, login_post, refresh, register_public, request_id, session,
    tokens_of, whoami,
};

/// How long a round that leaves a sign-in request pending waits after it.
/// A pending request lives 10 minutes and a server holds at most 10,000
/// (then answers 503, by design): with this pause each of the 4 workers
/// leaves at most 2 a second, about 4,800 at once, so the soak measures
/// memory under that load rather than the cap's refusals.
const PENDING_PACE: Duration = Duration::from_millis(500);

/// One unit of mixed traffic; `i` picks what.
async fn one_round(base: &str, http: &reqwest::Client, i: usize) {
    match i % 5 {
        0 => {
            // The whole flow, an MCP call and a refresh.
            let s = session(base, None).await;
            whoami(base, &s.tokens.access).await;
            tokens_of(&refresh(base, &s.client.client_id, &s.tokens.refresh, None).await);
        }
        1 => {
            // An authorization request nobody finishes.
            let c = register_public(base).await;
            authorize_get(base, &AuthRequest::new(&c, &Pkce::new())).await;
            tokio::time::sleep(PENDING_PACE).await;
        }
        2 => {
            // A wrong password, each time for a new user name: the login
            // throttle's per-name backoff must stay bounded, and it must not
            // lock out `demo-user`, whose logins the other rounds need (the
            // rate-limit opt-out does not switch the login throttle off).
            let c = register_public(base).await;
            let page = authorize_get(base, &AuthRequest::new(&c, &Pkce::new())).await;
            login_post(
                base,
                &request_id(&page.text),
                &format!("nobody-{i}"),
                "wrong",
                "approve",
            )
            .await;
            tokio::time::sleep(PENDING_PACE).await;
        }
        3 => {
            // Malformed and refused requests.
            for body in ["grant_type=authorization_code&code=x", "grant_type=%ZZ", ""] {
                let _ = http
                    .post(format!("{base}/token"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await;
            }
            let _ = http
                .post(format!("{base}/register"))
                .header("content-type", "application/json")
                .body("{\"redirect_uris\": 7}")
                .send()
                .await;
        }
        _ => {
            register_public(base).await;
        }
    }
}

/// Drives `server` until `stop`, sampling its memory every `every`.
async fn soak_one(server: &Server, stop: Arc<AtomicBool>, every: Duration) -> Vec<Memory> {
    let rounds = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (base, stop, rounds) = (server.base.clone(), stop.clone(), rounds.clone());
            tokio::spawn(async move {
                let http = client();
                while !stop.load(Ordering::Relaxed) {
                    let i = rounds.fetch_add(1, Ordering::Relaxed);
                    one_round(&base, &http, i).await;
                }
            })
        })
        .collect();
    let mut samples = Vec::new();
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(every).await;
        // A worker that ended before the stop panicked: say so now, not
        // after the whole soak has sampled an idle server.
        if workers.iter().any(tokio::task::JoinHandle::is_finished) && !stop.load(Ordering::Relaxed)
        {
            stop.store(true, Ordering::Relaxed);
            break;
        }
        let m = server.memory();
        eprintln!(
            "{:?} t={:>4}s rounds={:>6} {m}",
            server.flavor,
            started.elapsed().as_secs(),
            rounds.load(Ordering::Relaxed)
        );
        samples.push(m);
    }
    for w in workers {
        w.await.expect("a soak worker failed");
    }
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "soak: ten minutes by default; run by hand (see the module docs)"]
async fn soak_both_servers() {
    let secs: u64 = std::env::var("ABUSE_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let store = std::env::var("ABUSE_SOAK_STORE").unwrap_or_else(|_| "memory".into());
    let every = Duration::from_secs(10).min(Duration::from_secs(secs.max(8) / 8));
    let stop = Arc::new(AtomicBool::new(false));
    let mut servers = Vec::new();
    for flavor in Flavor::ALL {
        // All traffic comes from 127.0.0.1: without this, most of it would
        // be answered 429 and the soak would measure the rate limits.
        servers.push(
            Server::start(
                flavor,
                &["--store", &store, "--dangerously-disable-rate-limits"],
            )
            .await,
        );
    }
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(secs)).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let (a, b) = tokio::join!(
        soak_one(&servers[0], stop.clone(), every),
        soak_one(&servers[1], stop.clone(), every)
    );
    timer.await.unwrap();
    let mut failures = Vec::new();
    for (server, samples) in servers.iter().zip([a, b]) {
        let n = samples.len();
        assert!(n >= 8, "too few samples ({n}); run longer");
        let peak = |s: &[Memory]| s.iter().map(|m| m.rss).max().unwrap_or(0);
        let second_quarter = peak(&samples[n / 4..n / 2]);
        let last_quarter = peak(&samples[n - n / 4..]);
        let allowed = second_quarter + (second_quarter / 20).max(16 * MIB);
        eprintln!(
            "{:?}: peak RSS {:.1} MiB in the second quarter, {:.1} MiB in the last (allowed {:.1})",
            server.flavor,
            second_quarter as f64 / MIB as f64,
            last_quarter as f64 / MIB as f64,
            allowed as f64 / MIB as f64
        );
        if last_quarter > allowed {
            failures.push(format!("{:?} grew", server.flavor));
        }
    }
    assert!(failures.is_empty(), "memory is not flat: {failures:?}");
}

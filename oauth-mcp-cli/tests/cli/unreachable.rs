//! A server that cannot be reached, three ways, each a real situation on
//! loopback: a closed port (refused), a listener that accepts and never
//! answers (no answer before `--timeout`), and a name that cannot resolve.
//! Each gets the `unreachable` diagnosis with its own cause and fix.

use std::time::{Duration, Instant};

use oauth_mcp_cli::{Diagnosis, TraceOptions};

use super::support::{assert_diagnosis, demo, run_cli, run_trace};

fn unreachable(r: &oauth_mcp_cli::TraceReport) -> &Diagnosis {
    assert_diagnosis(r, "MCP challenge", "unreachable");
    assert_eq!(r.steps.len(), 1);
    r.diagnosis("unreachable").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_refused() {
    let port = {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let r = run_trace(&demo(&format!("http://127.0.0.1:{port}/mcp"))).await;
    let d = unreachable(&r);
    assert!(d.problem.contains("connection refused"), "{d:?}");
    assert!(
        d.cause.starts_with(&format!(
            "the connection to 127.0.0.1 port {port} was refused: nothing listens there"
        )),
        "{d:?}"
    );
    assert!(
        d.fix.starts_with("start the server, or correct the port"),
        "{d:?}"
    );
}

/// A listener that accepts connections and never answers; the binary with
/// `--timeout 1` gives up after about a second and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_but_no_answer_before_the_timeout() {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        // The tracer connects once; a few more are tolerated, then the
        // listener stops accepting.
        while open.len() < 8 {
            let Ok((sock, _)) = listener.accept().await else {
                break;
            };
            open.push(sock);
        }
        open
    });
    let url = format!("http://127.0.0.1:{port}/mcp");
    let started = Instant::now();
    let out = run_cli(&["trace", &url, "--timeout", "1"], None).await;
    let took = started.elapsed();
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("[unreachable]"), "{}", out.stdout);
    assert!(
        out.stdout.contains("timed out waiting for the answer"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!(
            "cause: the connection to 127.0.0.1 port {port} was accepted, but no answer came within 1 s (--timeout)"
        )),
        "{}",
        out.stdout
    );
    assert!(took < Duration::from_secs(20), "{took:?}");
    held.abort();
}

/// A name under the reserved `.invalid` top-level domain (RFC 6761) whose
/// first label is 64 characters long: longer than DNS allows, so the
/// resolver refuses it locally and no query leaves the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_that_does_not_resolve() {
    let host = format!("{}.invalid", "x".repeat(64));
    let r = run_trace(&TraceOptions {
        timeout: Duration::from_secs(5),
        ..demo(&format!("http://{host}/mcp"))
    })
    .await;
    let d = unreachable(&r);
    assert!(
        d.problem.contains("the host name does not resolve"),
        "{d:?}"
    );
    assert!(
        d.cause.starts_with(&format!(
            "the host name `{host}` could not be resolved (DNS)"
        )),
        "{d:?}"
    );
    assert!(d.fix.starts_with("check the host name in the URL"), "{d:?}");
}

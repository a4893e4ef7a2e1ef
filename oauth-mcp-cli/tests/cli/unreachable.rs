//! A server that cannot be reached, three ways, each a real situation on
//! loopback: a closed port (refused), a listener that accepts and never
//! answers (no answer before `--timeout`), and a name that cannot resolve.
//! Each gets the `unreachable` diagnosis with its own cause and fix.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oauth_mcp_cli::{Diagnosis, Progress, TraceOptions, Waiting};

use super::support::{assert_diagnosis, closed_port, demo, run_cli, run_trace};

fn unreachable(r: &oauth_mcp_cli::TraceReport) -> &Diagnosis {
    assert_diagnosis(r, "MCP challenge", "unreachable");
    assert_eq!(r.steps.len(), 1);
    r.diagnosis("unreachable").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_refused() {
    let port = closed_port();
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

/// A loopback listener that accepts connections (a few) and never answers;
/// its port, and the task holding the connections open.
async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        // The tracer connects once; a few more are tolerated, then the
        // listener stops accepting (the open ones stay open).
        while open.len() < 8 {
            let Ok((sock, _)) = listener.accept().await else {
                break;
            };
            open.push(sock);
        }
        std::future::pending::<()>().await;
    });
    (port, held)
}

/// The binary with `--timeout 1` against a listener that accepts and never
/// answers gives up after about a second and says so; its stderr is not a
/// terminal, so no progress line is drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_but_no_answer_before_the_timeout() {
    let (port, held) = silent_listener().await;
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
    assert!(!out.stderr.contains("waiting for"), "{}", out.stderr);
    assert!(took < Duration::from_secs(20), "{took:?}");
    held.abort();
}

/// While a request waits, the library reports it about once a second, then
/// once as done; the URL is shown without its query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_while_a_request_waits() {
    let (port, held) = silent_listener().await;
    let seen = Arc::new(Mutex::new(Vec::<(String, String, u64, bool)>::new()));
    let log = seen.clone();
    let progress: Progress = Arc::new(move |w: &Waiting<'_>| {
        log.lock().unwrap().push((
            w.method.to_owned(),
            w.url.to_owned(),
            w.elapsed.as_secs(),
            w.done,
        ));
    });
    let r = run_trace(&TraceOptions {
        timeout: Duration::from_millis(2500),
        progress: Some(progress),
        ..demo(&format!("http://127.0.0.1:{port}/mcp?x=1"))
    })
    .await;
    unreachable(&r);
    let seen = seen.lock().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}/mcp");
    assert!(seen.len() >= 3, "{seen:?}");
    let (last, waiting) = seen.split_last().unwrap();
    assert!(last.3, "the last report is `done`: {seen:?}");
    for (i, (method, u, secs, done)) in waiting.iter().enumerate() {
        assert_eq!(
            (method.as_str(), u.as_str(), *done),
            ("POST", url.as_str(), false)
        );
        assert_eq!(*secs, i as u64 + 1, "{seen:?}");
    }
    held.abort();
}

/// On a terminal (a pseudo-terminal from `script`), the binary draws the
/// progress line on stderr and erases it before printing the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_line_on_a_terminal() {
    // A skipped test would pass without testing anything: `script` is in
    // Debian's essential bsdutils package, so its absence is a broken machine.
    assert!(
        std::path::Path::new("/usr/bin/script").exists(),
        "this test needs util-linux's `script` (Debian: apt-get install bsdutils)"
    );
    let (port, held) = silent_listener().await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let command = format!(
        "{} trace {url} --timeout 2",
        env!("CARGO_BIN_EXE_oauth-mcp")
    );
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new("/usr/bin/script")
            .args(["-qec", &command, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("script finished")
    .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains(&format!("\r\x1b[2K… waiting for POST {url} (1 s)")),
        "{screen:?}"
    );
    let erased = screen.rfind("\r\x1b[2K").unwrap();
    let step = screen.find("✘  1 MCP challenge").unwrap();
    assert!(erased < step, "{screen:?}");
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

//! Raw-socket clients for what an HTTP library will not do on purpose:
//! half-sent headers, unfinished bodies, `CONNECT`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens `n` connections to `addr` and sends each an unfinished request
/// `head` (no blank line, or a body shorter than announced); returns the
/// connections that were accepted.
pub async fn stalled_connections(addr: &str, n: usize, head: &str) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        else {
            continue;
        };
        if s.write_all(head.as_bytes()).await.is_ok() {
            conns.push(s);
        }
    }
    conns
}

/// Waits (at most `limit`) until the server has closed every connection;
/// returns how many it closed and when the last one went. A connection
/// counts as closed when reading from it yields end-of-file or an error
/// (whatever the server sent before, e.g. a 408).
pub async fn wait_closed(conns: Vec<TcpStream>, limit: Duration) -> (usize, Duration) {
    let started = Instant::now();
    let deadline = started + limit;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut s| {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, s.read(&mut buf)).await {
                        Err(_) => return None, // still open at the deadline
                        Ok(Ok(0)) | Ok(Err(_)) => return Some(Instant::now()),
                        Ok(Ok(_)) => continue, // a response (e.g. 408); wait for the close
                    }
                }
            })
        })
        .collect();
    let mut closed = 0;
    let mut last = started;
    for t in tasks {
        if let Ok(Some(at)) = t.await {
            closed += 1;
            last = last.max(at);
        }
    }
    (closed, last - started)
}

/// Sends one raw request and returns what the server answered within
/// `limit` (possibly nothing): the status line, if any.
pub async fn raw_status_line(addr: &str, request: &str, limit: Duration) -> Option<String> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    s.write_all(request.as_bytes()).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    while !got.windows(2).any(|w| w == b"\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    text.lines()
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .map(str::to_owned)
}

//! A loopback TCP proxy in front of PostgreSQL that counts protocol
//! messages, so the harness can name the store round trips of each
//! endpoint. A round trip is one `ReadyForQuery` ('Z') from the server: the
//! client waits for it after every `Sync` (extended protocol) or simple
//! `Query`. Also counted: `Execute` ('E', a prepared statement run),
//! simple `Query` ('Q', e.g. `BEGIN`/`COMMIT`), and bare `Sync`s with
//! nothing before them (sqlx's connection health check, `ping`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::Error;

/// Message counts so far (all connections).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    round_trips: AtomicU64,
    executes: AtomicU64,
    simple: AtomicU64,
    pings: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// `ReadyForQuery` messages (round trips).
    pub(crate) round_trips: u64,
    /// `Execute` messages (prepared statements run).
    pub(crate) executes: u64,
    /// Simple `Query` messages (`BEGIN`, `COMMIT`, …).
    pub(crate) simple: u64,
    /// Bare `Sync`s (health checks).
    pub(crate) pings: u64,
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, o: Counts) -> Counts {
        Counts {
            round_trips: self.round_trips.saturating_sub(o.round_trips),
            executes: self.executes.saturating_sub(o.executes),
            simple: self.simple.saturating_sub(o.simple),
            pings: self.pings.saturating_sub(o.pings),
        }
    }
}

impl Counters {
    /// The counts now.
    pub(crate) fn snapshot(&self) -> Counts {
        Counts {
            round_trips: self.round_trips.load(Ordering::SeqCst),
            executes: self.executes.load(Ordering::SeqCst),
            simple: self.simple.load(Ordering::SeqCst),
            pings: self.pings.load(Ordering::SeqCst),
        }
    }
}

/// Starts the proxy to `upstream` (loopback); returns its address and counters.
pub(crate) async fn start(upstream: SocketAddr) -> Result<(SocketAddr, Arc<Counters>), Error> {
    if !upstream.ip().is_loopback() {
        return Err(format!("PostgreSQL at {upstream} is not on loopback").into());
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let c = c.clone();
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    relay(client, server, c).await;
                }
            });
        }
    });
    Ok((addr, counters))
}

async fn relay(client: TcpStream, server: TcpStream, c: Arc<Counters>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // After an SSLRequest/GSSENCRequest the server answers with one untyped byte.
    let one_untyped_byte = Arc::new(AtomicBool::new(false));
    let flag = one_untyped_byte.clone();
    let c2 = c.clone();
    let up = async move {
        let mut p = Parser::new(true);
        let mut buf = vec![0u8; 16 * 1024];
        // Whether anything but a Sync was sent since the last Sync.
        let mut batch = false;
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            p.feed(&buf[..n], |kind, untyped_code| match (kind, untyped_code) {
                (_, Some(80877103 | 80877104)) => flag.store(true, Ordering::SeqCst),
                (b'E', None) => {
                    c2.executes.fetch_add(1, Ordering::SeqCst);
                    batch = true;
                }
                (b'Q', None) => {
                    c2.simple.fetch_add(1, Ordering::SeqCst);
                }
                (b'S', None) => {
                    if !batch {
                        c2.pings.fetch_add(1, Ordering::SeqCst);
                    }
                    batch = false;
                }
                (_, None) => batch = true,
                _ => {}
            });
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async move {
        let mut p = Parser::new(false);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut data = &buf[..n];
            if one_untyped_byte.swap(false, Ordering::SeqCst) && !data.is_empty() {
                data = &data[1..];
            }
            p.feed(data, |kind, _| {
                if kind == b'Z' {
                    c.round_trips.fetch_add(1, Ordering::SeqCst);
                }
            });
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = cw.shutdown().await;
    };
    tokio::join!(up, down);
}

/// Splits a byte stream into PostgreSQL messages: a type byte and an int32
/// length (which counts itself), except the frontend's first messages
/// (startup, SSL/GSS requests), which have no type byte.
struct Parser {
    untyped: bool,
    header: Vec<u8>,
    skip: usize,
}

impl Parser {
    fn new(frontend: bool) -> Self {
        Self {
            untyped: frontend,
            header: Vec::with_capacity(8),
            skip: 0,
        }
    }

    /// Calls `on(kind, untyped_code)` for each message header seen.
    fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(u8, Option<u32>)) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let need = if self.untyped { 8 } else { 5 };
            let take = (need - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.header.len() < need {
                return;
            }
            let h = std::mem::take(&mut self.header);
            if self.untyped {
                let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                let code = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                on(0, Some(code));
                // The startup message proper ends the untyped phase; SSL and
                // GSS requests are followed by another untyped message.
                if !matches!(code, 80877103 | 80877104) {
                    self.untyped = false;
                }
                self.skip = len.saturating_sub(8);
            } else {
                let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
                on(h[0], None);
                self.skip = len.saturating_sub(4);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Parser;

    #[test]
    fn splits_messages_across_reads() {
        // Startup (untyped, 8 + 4 bytes), then Parse(len 6), Sync(len 4).
        let mut bytes = vec![0, 0, 0, 12, 0, 3, 0, 0, 1, 2, 3, 4];
        bytes.extend_from_slice(&[b'P', 0, 0, 0, 6, 9, 9, b'S', 0, 0, 0, 4]);
        for split in 1..bytes.len() {
            let mut p = Parser::new(true);
            let mut seen = Vec::new();
            p.feed(&bytes[..split], |k, _| seen.push(k));
            p.feed(&bytes[split..], |k, _| seen.push(k));
            assert_eq!(seen, vec![0, b'P', b'S'], "split at {split}");
        }
    }
}

//! A client's own web host on loopback: serves its Client ID Metadata
//! Document and JWK Set (fixed JSON by path) so the server under test can
//! fetch them, and counts the requests. Reads are bounded in size and time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running document host; stops when dropped.
pub struct ClientHost {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    docs: Arc<Mutex<HashMap<String, String>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ClientHost {
    /// Starts an empty host on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the client host");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let docs: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (d, h) = (docs.clone(), hits.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (d, h) = (d.clone(), h.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let read = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf));
                    let n = read.await.ok().and_then(Result::ok).unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                    let body = d.lock().unwrap().get(&path).cloned();
                    let resp = match body {
                        Some(b) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=300\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}",
                            b.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_owned(),
                    };
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        Self {
            base,
            docs,
            hits,
            task,
        }
    }

    /// Serves `doc` at `path` (which starts with `/`); returns its URL.
    pub fn serve(&self, path: &str, doc: &Value) -> String {
        self.docs
            .lock()
            .unwrap()
            .insert(path.to_owned(), doc.to_string());
        format!("{}{path}", self.base)
    }

    /// How many requests asked for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

impl Drop for ClientHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

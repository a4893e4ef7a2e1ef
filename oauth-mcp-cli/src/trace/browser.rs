//! `--browser`: open the authorization URL in the user's browser and catch
//! the redirect on a loopback port with a minimal HTTP listener.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// Opens a URL for the user.
#[derive(Clone)]
pub enum Opener {
    /// The platform's opener: `open` (macOS), `xdg-open` (other Unix),
    /// `cmd /C start` (Windows).
    System,
    /// This program with these arguments; the URL is appended.
    Command(Vec<String>),
    /// A function (tests: a scripted browser).
    Custom(Arc<dyn Fn(String) -> Result<(), String> + Send + Sync>),
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("System"),
            Self::Command(c) => f.debug_tuple("Command").field(c).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl Opener {
    /// Opens `url`; an error says why it could not.
    pub(crate) async fn open(&self, url: &str) -> Result<(), String> {
        let (program, mut args): (String, Vec<String>) = match self {
            Self::Custom(f) => return f(url.to_owned()),
            Self::Command(c) => match c.split_first() {
                Some((p, rest)) => (p.clone(), rest.to_vec()),
                None => return Err("the browser command is empty".into()),
            },
            Self::System if cfg!(target_os = "macos") => ("open".into(), Vec::new()),
            Self::System if cfg!(windows) => (
                "cmd".into(),
                vec!["/C".into(), "start".into(), String::new()],
            ),
            Self::System => ("xdg-open".into(), Vec::new()),
        };
        args.push(url.to_owned());
        let mut child = tokio::process::Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        // Openers return at once; a real browser started directly keeps
        // running, which is fine: stop waiting after a few seconds.
        match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
            Ok(Ok(st)) if !st.success() => Err(format!("`{program}` exited with {st}")),
            Ok(Err(e)) => Err(format!("`{program}` failed: {e}")),
            _ => Ok(()),
        }
    }
}

/// A loopback listener waiting for the authorization redirect.
#[derive(Debug)]
pub(crate) struct Callback {
    listener: TcpListener,
    /// The redirect URI it serves.
    pub(crate) redirect_uri: Url,
}

const PAGE: &str = "<!doctype html><meta charset=\"utf-8\"><title>oauth-mcp trace</title>\
<body style=\"font-family:system-ui,sans-serif;margin:3rem\"><h1>Signed in</h1>\
<p>oauth-mcp trace received the authorization response. You can close this window.</p></body>";

impl Callback {
    /// Binds the listener for `redirect_uri` (an `http` loopback URI; its
    /// port, or any free port when it has none), or for
    /// `http://127.0.0.1:<free port>/callback`.
    pub(crate) async fn bind(redirect_uri: Option<&str>) -> Result<Self, String> {
        let mut uri = match redirect_uri {
            Some(r) => {
                Url::parse(r).map_err(|e| format!("--redirect-uri `{r}` is not a URL: {e}"))?
            }
            None => Url::parse("http://127.0.0.1/callback").map_err(|e| e.to_string())?,
        };
        if uri.scheme() != "http" || !super::parse::is_loopback(&uri) {
            return Err(format!(
                "with --browser the redirect URI must be http on a loopback address (http://127.0.0.1:<port>/…), so that this program can receive it; got `{uri}`"
            ));
        }
        let host = match uri.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = uri.port().unwrap_or(0);
        let listener = TcpListener::bind((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot listen on {host}:{port} for the redirect: {e}"))?;
        let actual = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?
            .port();
        uri.set_port(Some(actual))
            .map_err(|()| "cannot set the redirect URI's port".to_owned())?;
        Ok(Self {
            listener,
            redirect_uri: uri,
        })
    }

    /// Waits at most `timeout` for a request to the redirect URI's path and
    /// returns its full URL. Other requests (a favicon) get a 404.
    pub(crate) async fn wait(&self, timeout: Duration) -> Result<Url, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let accepted = tokio::time::timeout(left, self.listener.accept())
                .await
                .map_err(|_| format!("no redirect arrived within {} s", timeout.as_secs()))?;
            let Ok((mut sock, _)) = accepted else {
                continue;
            };
            // One request head, at most 16 KiB, within 10 s.
            let mut buf = Vec::new();
            let mut chunk = [0u8; 2048];
            let read = tokio::time::timeout(Duration::from_secs(10), async {
                while buf.len() < 16 * 1024 && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            })
            .await;
            if read.is_err() {
                continue;
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|l| {
                    let mut it = l.split(' ');
                    match (it.next(), it.next()) {
                        (Some("GET"), Some(t)) => Some(t.to_owned()),
                        _ => None,
                    }
                })
                .and_then(|t| self.redirect_uri.join(&t).ok());
            match target {
                Some(u) if u.path() == self.redirect_uri.path() => {
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{PAGE}",
                        PAGE.len()
                    );
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        sock.write_all(resp.as_bytes()),
                    )
                    .await;
                    return Ok(u);
                }
                _ => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                    )
                    .await;
                }
            }
        }
    }
}

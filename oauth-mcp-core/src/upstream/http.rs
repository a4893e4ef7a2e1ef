//! The HTTP client every upstream call goes through: a total time limit per
//! request, a cap on the response size, and redirects never followed (a
//! provider's answer that redirects is an error, not a new destination).
//! It plugs into `oauth2`/`openidconnect` as their async HTTP client, so they
//! use reqwest 0.13 without a second reqwest.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::UpstreamError;

/// Limits on every request to an upstream provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The longest a request may take, from connecting to the last byte of
    /// the body (default 10 s).
    pub timeout: Duration,
    /// The largest response body accepted (default 1 MiB).
    pub max_response_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
        }
    }
}

/// Why an upstream HTTP request failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}: {kind}")]
pub struct HttpError {
    /// The URL requested.
    pub url: String,
    /// What went wrong.
    pub kind: HttpErrorKind,
}

/// The kinds of [`HttpError`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpErrorKind {
    /// No connection (refused, DNS, TLS).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The time limit passed.
    #[error("no complete answer within {0:?}")]
    Timeout(Duration),
    /// The provider answered with a server error (5xx) or "too many
    /// requests" (429): it is down or overloaded.
    #[error("the provider answered {0}")]
    ServerError(u16),
    /// The body was larger than allowed.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The provider answered with a redirect, which is not followed.
    #[error("the answer is a redirect ({status}) to `{location}`, which is not followed")]
    Redirect {
        /// The 3xx status.
        status: u16,
        /// Its `Location`.
        location: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl HttpError {
    /// The [`UpstreamError`] for this failure at `provider`: no answer at
    /// all is [`UpstreamError::Unavailable`]; an answer we cannot use is
    /// [`UpstreamError::BadResponse`].
    pub fn into_upstream(self, provider: &str) -> UpstreamError {
        match self.kind {
            HttpErrorKind::Connect(_)
            | HttpErrorKind::Timeout(_)
            | HttpErrorKind::ServerError(_) => UpstreamError::Unavailable {
                provider: provider.to_owned(),
                detail: self.to_string(),
            },
            _ => UpstreamError::BadResponse {
                provider: provider.to_owned(),
                detail: self.to_string(),
            },
        }
    }
}

/// A reqwest client with [`HttpLimits`].
#[derive(Debug, Clone)]
pub(crate) struct UpstreamHttp {
    client: reqwest::Client,
    limits: HttpLimits,
}

impl UpstreamHttp {
    pub(crate) fn new(limits: HttpLimits) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            .user_agent(concat!("oauth-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, limits })
    }

    /// Sends `req` and reads the whole answer within the limits. A status
    /// is returned as is, except a redirect, a 5xx or a 429 (errors).
    pub(crate) async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let url = req.uri().to_string();
        let err = |kind| HttpError {
            url: url.clone(),
            kind,
        };
        let req = reqwest::Request::try_from(req)
            .map_err(|e| err(HttpErrorKind::Other(format!("bad request: {e}"))))?;
        let timeout = self.limits.timeout;
        let max = self.limits.max_response_bytes;
        let exchange = async {
            let mut resp = self.client.execute(req).await.map_err(|e| {
                err(if e.is_timeout() {
                    HttpErrorKind::Timeout(timeout)
                } else if e.is_connect() {
                    HttpErrorKind::Connect(error_chain(&e))
                } else {
                    HttpErrorKind::Other(error_chain(&e))
                })
            })?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(http::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                return Err(err(HttpErrorKind::Redirect {
                    status: status.as_u16(),
                    location,
                }));
            }
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(err(HttpErrorKind::ServerError(status.as_u16())));
            }
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(err(HttpErrorKind::TooLarge(max)));
            }
            let mut body = Vec::new();
            loop {
                let chunk = resp.chunk().await.map_err(|e| {
                    err(if e.is_timeout() {
                        HttpErrorKind::Timeout(timeout)
                    } else {
                        HttpErrorKind::Other(error_chain(&e))
                    })
                })?;
                let Some(chunk) = chunk else { break };
                if body.len() + chunk.len() > max {
                    return Err(err(HttpErrorKind::TooLarge(max)));
                }
                body.extend_from_slice(&chunk);
            }
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = resp.headers().clone();
            Ok(out)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| err(HttpErrorKind::Timeout(timeout)))?
    }

    /// GETs `url` with `Authorization: Bearer <token>` and the extra
    /// headers; returns the status and the body.
    pub(crate) async fn get_with_token(
        &self,
        url: &str,
        token: &str,
        headers: &[(&'static str, &'static str)],
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let mut req = http::Request::get(url);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let req = req
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Vec::new())
            .map_err(|e| HttpError {
                url: url.to_owned(),
                kind: HttpErrorKind::Other(format!("bad request: {e}")),
            })?;
        let resp = self.send(req).await?;
        Ok((resp.status().as_u16(), resp.into_body()))
    }
}

/// An error with its sources ("error sending request: connection refused"):
/// reqwest's own message alone rarely says what happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl<'c> oauth2::AsyncHttpClient<'c> for UpstreamHttp {
    type Error = HttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A one-shot loopback server answering every connection with `answer`
    /// (after `delay`).
    async fn serve(answer: &'static [u8], delay: Duration) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    tokio::time::sleep(delay).await;
                    let _ = sock.write_all(answer).await;
                });
            }
        });
        format!("http://{addr}/x")
    }

    fn get(url: &str) -> http::Request<Vec<u8>> {
        http::Request::get(url).body(Vec::new()).unwrap()
    }

    fn limits(timeout_ms: u64, max: usize) -> UpstreamHttp {
        UpstreamHttp::new(HttpLimits {
            timeout: Duration::from_millis(timeout_ms),
            max_response_bytes: max,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn limits_hold() {
        let ok = serve(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            Duration::ZERO,
        )
        .await;
        let resp = limits(2000, 100).send(get(&ok)).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.body(), b"hello");

        let e = limits(2000, 4).send(get(&ok)).await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::TooLarge(4));

        // No content-length: the cap applies while reading.
        let chunked = serve(
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n0123456789",
            Duration::ZERO,
        )
        .await;
        let e = limits(2000, 4).send(get(&chunked)).await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::TooLarge(4));

        let redirect = serve(
            b"HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        let e = limits(2000, 100).send(get(&redirect)).await.unwrap_err();
        assert_eq!(
            e.kind,
            HttpErrorKind::Redirect {
                status: 302,
                location: "http://169.254.169.254/".into()
            }
        );
        assert!(matches!(
            e.into_upstream("idp"),
            UpstreamError::BadResponse { .. }
        ));

        let down = serve(
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            Duration::ZERO,
        )
        .await;
        let e = limits(2000, 100).send(get(&down)).await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::ServerError(503));
        assert!(matches!(
            e.into_upstream("idp"),
            UpstreamError::Unavailable { .. }
        ));

        let slow = serve(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            Duration::from_secs(5),
        )
        .await;
        let started = std::time::Instant::now();
        let e = limits(300, 100).send(get(&slow)).await.unwrap_err();
        assert_eq!(e.kind, HttpErrorKind::Timeout(Duration::from_millis(300)));
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(
            e.into_upstream("idp"),
            UpstreamError::Unavailable { .. }
        ));

        // Nothing listens: a connection error, reported as an outage.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}/x", l.local_addr().unwrap())
        };
        let e = limits(2000, 100).send(get(&closed)).await.unwrap_err();
        assert!(matches!(e.kind, HttpErrorKind::Connect(_)), "{e}");
        let msg = e.into_upstream("GitHub").to_string();
        assert!(msg.starts_with("GitHub could not be reached"), "{msg}");
    }
}

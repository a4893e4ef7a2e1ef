//! A minimal HTTP/1.1 client on hyper's connection API: one keep-alive
//! connection per [`Conn`], no pool, `TCP_NODELAY` on, every request bounded
//! by a timeout. Cheap enough that one generator core can drive a server core.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Any failure, as text for the report.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The longest a single request may take before it counts as failed.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One keep-alive connection.
pub(crate) struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// A response, fully read.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_default()
    }

    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Conn {
    /// Connects to `addr` (loopback only: the harness never targets anything else).
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self, Error> {
        if !addr.ip().is_loopback() {
            return Err(format!("{addr} is not a loopback address").into());
        }
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr)).await??;
        stream.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// Sends `req` (a `Host` header is added) and reads the whole answer.
    pub(crate) async fn send(&mut self, mut req: Request<Full<Bytes>>) -> Result<Reply, Error> {
        req.headers_mut()
            .insert(http::header::HOST, self.host.clone());
        let go = async {
            self.send.ready().await?;
            let resp = self.send.send_request(req).await?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, Error>(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, go)
            .await
            .map_err(|_| format!("no answer within {REQUEST_TIMEOUT:?}"))?
    }

    /// `GET path`.
    pub(crate) async fn get(&mut self, path: &str) -> Result<Reply, Error> {
        self.send(request(Method::GET, path, None, Bytes::new())?)
            .await
    }

    /// `POST path` with a body of `content_type`.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, Error> {
        self.send(request(
            Method::POST,
            path,
            Some(content_type),
            body.into(),
        )?)
        .await
    }
}

/// A request without `Host` (added by [`Conn::send`]).
pub(crate) fn request(
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, Error> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(c) = content_type {
        b = b.header(http::header::CONTENT_TYPE, c);
    }
    Ok(b.body(Full::new(body))?)
}

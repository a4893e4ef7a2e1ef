//! The protected-resource metadata endpoint (RFC 9728) of a
//! [`ResourceServer`], at the paths it names.

use bytes::Bytes;
use http::{Method, Request, Response};

use super::{Endpoints, add_cors, json_response, method_not_allowed, preflight};
use crate::resource_server::ResourceServer;

#[async_trait::async_trait]
impl Endpoints for ResourceServer {
    fn paths(&self) -> Vec<String> {
        self.metadata_paths().to_vec()
    }
    fn max_body_bytes(&self) -> usize {
        1024
    }
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let mut r = match *req.method() {
            Method::OPTIONS => return preflight("GET, OPTIONS"),
            Method::GET => json_response(200, self.metadata()),
            _ => method_not_allowed(req.uri().path(), req.method(), "GET"),
        };
        add_cors(&mut r);
        r
    }
}

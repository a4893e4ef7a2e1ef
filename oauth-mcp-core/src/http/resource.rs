//! The protected-resource metadata endpoint of a resource server whose
//! tokens come from an external authorization server.

use bytes::Bytes;
use http::{Method, Request, Response};

use super::{Endpoints, add_cors, json_response, method_not_allowed, preflight};

/// The protected-resource metadata (RFC 9728) of a resource server whose
/// tokens come from an external authorization server: no authorization-server
/// endpoint is mounted.
#[derive(Debug, Clone)]
pub struct ResourceMetadataHttp {
    document: crate::metadata::ProtectedResourceMetadata,
    paths: Vec<String>,
    url: String,
}

impl ResourceMetadataHttp {
    /// The metadata for `resource`, naming `authorization_servers` (issuer
    /// identifiers, exactly as their metadata states them) and `scopes`.
    pub fn new(
        resource: &crate::resource::ResourceUri,
        authorization_servers: &[&str],
        scopes: &crate::scope::ScopeSet,
        name: &str,
    ) -> Self {
        let path = crate::discovery::protected_resource_metadata_path(&resource.path());
        let origin = resource.to_url().origin().ascii_serialization();
        let mut paths = vec![
            path.clone(),
            "/.well-known/oauth-protected-resource".to_owned(),
        ];
        paths.dedup();
        Self {
            document: crate::metadata::ProtectedResourceMetadata::new(
                resource.as_str(),
                authorization_servers.iter().copied(),
                scopes.iter(),
                Some(name),
            ),
            url: format!("{origin}{path}"),
            paths,
        }
    }

    /// The absolute URL of the metadata (for `WWW-Authenticate`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

#[async_trait::async_trait]
impl Endpoints for ResourceMetadataHttp {
    fn paths(&self) -> Vec<String> {
        self.paths.clone()
    }
    fn max_body_bytes(&self) -> usize {
        1024
    }
    async fn handle(&self, req: Request<Bytes>) -> Response<Bytes> {
        let mut r = match *req.method() {
            Method::OPTIONS => return preflight("GET, OPTIONS"),
            Method::GET => json_response(200, &self.document),
            _ => method_not_allowed(req.uri().path(), req.method(), "GET"),
        };
        add_cors(&mut r);
        r
    }
}

//! The OAuth endpoints, for `App::configure`.

use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

use oauth_mcp_core::http::{Endpoints, body_too_large};

use crate::convert::{read_body, to_actix_response, to_core_request};

/// Registers every endpoint of `endpoints` at the paths it names:
/// `App::new().configure(configure(oauth))`, for an
/// [`oauth_mcp_core::http::OAuthHttp`] (embedded authorization server) or an
/// [`oauth_mcp_core::http::ResourceMetadataHttp`] (external one). The closure
/// is cheap to call once per worker.
pub fn configure<E: Endpoints>(endpoints: E) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let oauth: Arc<dyn Endpoints> = Arc::new(endpoints);
    move |cfg: &mut web::ServiceConfig| {
        for path in oauth.paths() {
            let oauth = oauth.clone();
            cfg.route(
                &path,
                web::to(move |req: HttpRequest, payload: web::Payload| {
                    let oauth = oauth.clone();
                    async move { handle(&oauth, req, payload).await }
                }),
            );
        }
    }
}

async fn handle(
    oauth: &Arc<dyn Endpoints>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let limit = oauth.max_body_bytes();
    match read_body(payload.into_inner(), limit).await {
        Some(body) => to_actix_response(oauth.handle(to_core_request(&req, body)).await),
        None => to_actix_response(body_too_large(limit)),
    }
}

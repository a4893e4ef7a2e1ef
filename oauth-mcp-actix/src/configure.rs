//! The OAuth endpoints and the protected MCP endpoint, for `App::configure`.

use actix_web::dev::Handler;
use actix_web::{FromRequest, HttpRequest, HttpResponse, Responder, web};
use std::sync::Arc;

use oauth_mcp_core::ResourceServer;
use oauth_mcp_core::http::{Endpoints, body_too_large};

use crate::BearerAuth;
use crate::convert::{read_body, to_actix_response, to_core_request};

/// Registers every endpoint of `endpoints` at the paths it names:
/// `App::new().configure(configure(oauth))`, for an
/// [`oauth_mcp_core::http::OAuthHttp`] (the embedded authorization server's
/// endpoints) or a [`ResourceServer`] (its protected-resource metadata only).
/// The closure is cheap to call once per worker.
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

/// The protected MCP endpoint in one call, for `App::configure`: `handler`
/// at [`ResourceServer::mcp_path`] (every method) behind [`BearerAuth`], plus
/// the RFC 9728 metadata at its well-known paths. Configure the embedded
/// authorization server's endpoints beside it with [`configure`], if any.
pub fn configure_mcp<F, Args>(
    rs: ResourceServer,
    handler: F,
) -> impl Fn(&mut web::ServiceConfig) + Clone
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let metadata = configure(rs.clone());
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(
            web::resource(rs.mcp_path())
                .wrap(BearerAuth::new(rs.clone()))
                .route(web::route().to(handler.clone())),
        );
        metadata(cfg);
    }
}

//! The extractor for the authenticated identity.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use oauth_mcp_core::AuthContext;
use oauth_mcp_core::http::unguarded_route;

use crate::convert::to_actix_response;

/// The identity behind the request's access token, on routes wrapped in
/// [`crate::BearerAuth`]; elsewhere the handler answers 500, which points at
/// the missing middleware.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AuthContext);

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<AuthContext>() {
            Some(ctx) => Ok(Authenticated(ctx.clone())),
            None => Err(InternalError::from_response(
                "route not behind BearerAuth",
                to_actix_response(unguarded_route()),
            )
            .into()),
        })
    }
}

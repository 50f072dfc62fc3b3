//! Auth endpoints of auth collections: `/api/collections/{c}/auth-*`.

use super::body;
use crate::app::App;
use crate::auth::{self, Caller};
use crate::error::ApiError;
use poem::web::{Data, Json, Path};
use poem::{handler, Body, Request};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn auth_with_password(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let input = body::read(req, body, super::body_limit(&app)).await?;
    Ok(Json(
        auth::auth_with_password(&app, &c, &input.data, &client_ip(req))
            .await?
            .0,
    ))
}

#[handler]
pub async fn auth_refresh(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(auth::refresh(&app, &c, &caller).await?.0))
}

/// The client address used for failed-login limiting (the TCP peer; proxies come later).
fn client_ip(req: &Request) -> String {
    match req.remote_addr().as_socket_addr() {
        Some(addr) => addr.ip().to_string(),
        None => req.remote_addr().to_string(),
    }
}

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
        auth::auth_with_password(&app, &c, &input.data).await?.0,
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

//! `GET/PATCH /api/settings` (superusers; the check lives in `settings::SettingsService`).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use poem::web::{Data, Json};
use poem::{handler, Body, Request};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn get(app: Data<&Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.settings.get(&caller)?))
}

#[handler]
pub async fn update(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    Ok(Json(app.settings.update(&caller, &input).await?))
}

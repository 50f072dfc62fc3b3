//! `GET/PATCH /api/settings` and `POST /api/settings/test/email` (superusers; the checks live
//! in `settings::SettingsService` and `accounts::test_email`).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{handler, Body, IntoResponse, Request, Response};
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

#[handler]
pub async fn test_email(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    crate::accounts::test_email(&app.accounts, &caller, &input).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

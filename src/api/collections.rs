//! Collections API (superusers only): `/api/collections[/{c}]`, import, truncate. The superuser
//! check lives in [`CollectionService`](crate::collections::CollectionService).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::PageParams;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn list(
    app: Data<&Arc<App>>,
    Query(q): Query<PageParams>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let p = app.collections.list(&caller, &q)?;
    Ok(Json(p.map(|c| c.to_api_json()).into_json()))
}

#[handler]
pub async fn view(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.collections.view(&caller, &c)?.to_api_json()))
}

#[handler]
pub async fn create(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    let col = app
        .collections
        .create(&caller, &Value::Object(input))
        .await?;
    Ok(Json(col.to_api_json()))
}

#[handler]
pub async fn update(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    let col = app
        .collections
        .update(&caller, &c, &Value::Object(input))
        .await?;
    Ok(Json(col.to_api_json()))
}

/// `POST /api/collections/meta/validate`: 204 when a save of the body would pass its checks,
/// else the 400 the save would give.
#[handler]
pub async fn validate(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    app.collections.validate(&caller, &Value::Object(input))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn delete(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    app.collections.delete(&caller, &c).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn truncate(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    app.collections.truncate(&caller, &c).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn import(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    app.collections
        .import(&caller, &Value::Object(input))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! Webhooks API (superusers only): `/api/webhooks[/{id}]`, its deliveries, redelivery and test
//! events. The superuser check lives in [`WebhookService`](crate::webhooks::WebhookService).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::{Page, PageParams};
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn list(app: Data<&Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let items = app.webhooks.list(&caller)?;
    let n = items.len();
    Ok(Json(Page::new(items, 1, n.max(1), Some(n)).into_json()))
}

#[handler]
pub async fn view(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.webhooks.view(&caller, &id)?))
}

#[handler]
pub async fn create(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    Ok(Json(app.webhooks.create(&caller, &input).await?))
}

#[handler]
pub async fn update(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    Ok(Json(app.webhooks.update(&caller, &id, &input).await?))
}

#[handler]
pub async fn delete(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    app.webhooks.delete(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn deliveries(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    Query(q): Query<PageParams>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        app.webhooks.deliveries(&caller, &id, &q).await?.into_json(),
    ))
}

#[handler]
pub async fn redeliver(
    app: Data<&Arc<App>>,
    Path((id, delivery)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.webhooks.redeliver(&caller, &id, &delivery).await?))
}

#[handler]
pub async fn test(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.webhooks.test(&caller, &id).await?))
}

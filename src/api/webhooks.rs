//! Webhooks API (superusers only): `/api/webhooks[/{id}]`, its deliveries, redelivery and test
//! events. The superuser check lives in [`WebhookService`](crate::webhooks::WebhookService).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::webhooks::deliveries::ListParams;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    skip_total: Option<String>,
    filter: Option<String>,
}

#[handler]
pub async fn list(app: Data<&Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let items = app.webhooks.list(&caller)?;
    let n = items.len();
    Ok(Json(json!({
        "items": items,
        "page": 1,
        "perPage": n.max(1),
        "totalItems": n,
        "totalPages": i64::from(n > 0),
    })))
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
    caller.require_superuser()?; // before reading a body a non-superuser may not send
    let input = body::read(req, body, super::body_limit(&app)).await?;
    Ok(Json(app.webhooks.create(&caller, &input.data).await?))
}

#[handler]
pub async fn update(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require_superuser()?;
    let input = body::read(req, body, super::body_limit(&app)).await?;
    Ok(Json(app.webhooks.update(&caller, &id, &input.data).await?))
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
    Query(q): Query<ListQuery>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let params = ListParams {
        page: q.page,
        per_page: q.per_page,
        skip_total: q.skip_total,
        filter: q.filter,
    };
    let p = app.webhooks.deliveries(&caller, &id, &params).await?;
    Ok(Json(json!({
        "items": p.items,
        "page": p.page,
        "perPage": p.per_page,
        "totalItems": p.total,
        "totalPages": p.pages,
    })))
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

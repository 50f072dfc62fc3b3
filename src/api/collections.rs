//! Collections API (superusers only): `/api/collections[/{c}]`, import, truncate.

use super::{body, require_superuser};
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::records::{parse_number, DEFAULT_PER_PAGE, MAX_PER_PAGE};
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
pub async fn list(
    app: Data<&Arc<App>>,
    Query(q): Query<ListQuery>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    require_superuser(&caller)?;
    if q.filter.as_deref().is_some_and(|f| !f.trim().is_empty()) {
        return Err(ApiError::bad_field(
            crate::error::MSG_GENERIC,
            "filter",
            FieldError::new(
                "validation_unsupported_param",
                "Filtering collections is not supported yet.",
            ),
        ));
    }
    let page = parse_number("page", &q.page, 1)?;
    let per_page = parse_number("perPage", &q.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let snap = app.schema.snapshot();
    let all = snap.all();
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| c.to_api_json())
        .collect();
    let skip = matches!(q.skip_total.as_deref(), Some("1" | "true"));
    let (total, pages) = if skip {
        (-1, -1)
    } else {
        (all.len() as i64, all.len().div_ceil(per_page) as i64)
    };
    Ok(Json(
        json!({"items": items, "page": page, "perPage": per_page, "totalItems": total, "totalPages": pages}),
    ))
}

#[handler]
pub async fn view(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    require_superuser(&caller)?;
    let col = app.schema.get(&c).ok_or_else(ApiError::not_found)?;
    Ok(Json(col.to_api_json()))
}

#[handler]
pub async fn create(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    require_superuser(&caller)?;
    let input = body::read(req, body, super::body_limit(&app)).await?;
    let col = app
        .schema
        .create(app.store.as_ref(), &Value::Object(input.data))
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
    require_superuser(&caller)?;
    let input = body::read(req, body, super::body_limit(&app)).await?;
    let col = app
        .schema
        .update(app.store.as_ref(), &c, &Value::Object(input.data))
        .await?;
    Ok(Json(col.to_api_json()))
}

#[handler]
pub async fn delete(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require_superuser(&caller)?;
    app.schema.delete(app.store.as_ref(), &c).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn truncate(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    caller: Caller,
) -> Result<Response, ApiError> {
    require_superuser(&caller)?;
    app.schema.truncate(app.store.as_ref(), &c).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
pub async fn import(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    require_superuser(&caller)?;
    let input = body::read(req, body, super::body_limit(&app)).await?;
    let cols = input
        .data
        .get("collections")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if cols.is_empty() {
        return Err(ApiError::bad_field(
            "Failed to import collections.",
            "collections",
            FieldError::required(),
        ));
    }
    let delete_missing = input
        .data
        .get("deleteMissing")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    app.schema
        .import(app.store.as_ref(), &cols, delete_missing)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

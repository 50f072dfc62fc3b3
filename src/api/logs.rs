//! `GET /api/logs`, `/api/logs/stats`, `/api/logs/{id}` (superusers; the check lives in
//! `logs::RequestLog`).

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::PageParams;
use poem::handler;
use poem::web::{Data, Json, Path, Query};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn list(
    app: Data<&Arc<App>>,
    Query(q): Query<PageParams>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.logs.list(&caller, &q).await?.into_json()))
}

#[handler]
pub async fn stats(
    app: Data<&Arc<App>>,
    Query(q): Query<PageParams>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.logs.stats(&caller, q.filter()).await?))
}

#[handler]
pub async fn view(
    app: Data<&Arc<App>>,
    Path(id): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.logs.view(&caller, &id).await?))
}

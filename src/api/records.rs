//! Record CRUD endpoints: `/api/collections/{c}/records[/{id}]`.

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::query::RequestInfo;
use crate::records::{ListParams, Shape};
use poem::http::StatusCode;
use poem::web::{Data, Json, Path, Query, RemoteAddr};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    sort: Option<String>,
    skip_total: Option<String>,
    filter: Option<String>,
    expand: Option<String>,
    fields: Option<String>,
}

#[handler]
pub async fn list(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    Query(q): Query<ListQuery>,
    caller: Caller,
    meta: RequestInfo,
    peer: &RemoteAddr,
) -> Result<Response, ApiError> {
    let params = ListParams {
        page: q.page,
        per_page: q.per_page,
        sort: q.sort,
        skip_total: q.skip_total,
        filter: q.filter,
        expand: q.expand,
        fields: q.fields,
    };
    let plan_visible = caller.is_superuser();
    let app2 = Arc::clone(&app);
    let result = app
        .work
        .run(
            move || app2.records.list(&c, &params, &caller, &meta),
            app.connections.closed(peer),
        )
        .await?;
    let mut resp = Json(result.body).into_response();
    if plan_visible {
        if let Ok(v) = poem::http::HeaderValue::from_str(&result.plan) {
            resp.headers_mut().insert("x-ferrobase-plan", v);
        }
    }
    Ok(resp)
}

/// `expand` / `fields` of single-record endpoints.
#[derive(Debug, Deserialize, Default)]
pub struct ShapeQuery {
    expand: Option<String>,
    fields: Option<String>,
}

impl ShapeQuery {
    fn shape(&self) -> Result<Shape, ApiError> {
        Shape::parse(self.expand.as_deref(), self.fields.as_deref())
    }
}

#[handler]
pub async fn view(
    app: Data<&Arc<App>>,
    Path((c, id)): Path<(String, String)>,
    Query(q): Query<ShapeQuery>,
    caller: Caller,
    meta: RequestInfo,
    peer: &RemoteAddr,
) -> Result<Json<Value>, ApiError> {
    let shape = q.shape()?;
    if !shape.expands() {
        // One record by id: cheap whatever the client asks, so no thread hop and no queueing
        // behind heavy lists.
        let body = app
            .work
            .run_inline(|| app.records.view(&c, &id, &shape, &caller, &meta))?;
        return Ok(Json(body));
    }
    let app2 = Arc::clone(&app);
    let body = app
        .work
        .run(
            move || app2.records.view(&c, &id, &shape, &caller, &meta),
            app.connections.closed(peer),
        )
        .await?;
    Ok(Json(body))
}

/// A create/update body, with uploads for the collection's file fields. An unknown collection
/// is its 404 before a byte is read (not a 400 about the parts of a body it cannot take).
async fn read_record_body(
    app: &App,
    c: &str,
    req: &Request,
    body: Body,
) -> Result<body::Input, ApiError> {
    let col = app.schema.require(c)?;
    let uploads = body::Uploads {
        files: &app.records.files,
        fields: &col.fields,
        batch: false,
    };
    body::read_with_files(req, body, super::body_limit(app), Some(uploads)).await
}

#[handler]
pub async fn create(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    Query(q): Query<ShapeQuery>,
    req: &Request,
    body: Body,
    caller: Caller,
    meta: RequestInfo,
) -> Result<Json<Value>, ApiError> {
    let input = read_record_body(&app, &c, req, body).await?;
    Ok(Json(
        app.records
            .create(&c, &input, &q.shape()?, &caller, &meta)
            .await?,
    ))
}

#[handler]
pub async fn update(
    app: Data<&Arc<App>>,
    Path((c, id)): Path<(String, String)>,
    Query(q): Query<ShapeQuery>,
    req: &Request,
    body: Body,
    caller: Caller,
    meta: RequestInfo,
) -> Result<Json<Value>, ApiError> {
    let input = read_record_body(&app, &c, req, body).await?;
    Ok(Json(
        app.records
            .update(&c, &id, &input, &q.shape()?, &caller, &meta)
            .await?,
    ))
}

#[handler]
pub async fn delete(
    app: Data<&Arc<App>>,
    Path((c, id)): Path<(String, String)>,
    caller: Caller,
    meta: RequestInfo,
) -> Result<Response, ApiError> {
    app.records.delete(&c, &id, &caller, &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

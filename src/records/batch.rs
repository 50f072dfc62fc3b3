//! `POST /api/batch`: many record writes committed as ONE store transaction — all or nothing.
//! Later requests see the writes of earlier ones (create then update the same record works).

use super::cascade::stage_delete;
use super::render;
use super::tx::{commit_with_retries, Tx};
use super::write::{stage_create, stage_update, Request};
use super::RecordService;
use crate::auth::Caller;
use crate::error::{echo, ApiError, ApiResult, FieldError};
use crate::ids::RecordId;
use crate::query::RequestInfo;
use crate::schema::names;
use serde_json::{json, Map, Value};

/// One request of a batch, as the client sent it.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub method: String,
    pub url: String,
    pub body: Request,
}

pub(super) enum Target {
    Create(String),
    Upsert(String),
    Update(String, String),
    Delete(String, String),
}

pub(super) fn parse_target(method: &str, url: &str) -> Result<Target, String> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if !query.is_empty() {
        return Err("Query parameters are not supported inside batch requests.".into());
    }
    let rest = path
        .strip_prefix("/api/collections/")
        .ok_or("Only record URLs are allowed in batch requests.")?;
    let parts: Vec<&str> = rest.split('/').collect();
    match (method.to_ascii_uppercase().as_str(), parts.as_slice()) {
        ("POST", [c, "records"]) => Ok(Target::Create(c.to_string())),
        ("PUT", [c, "records"]) => Ok(Target::Upsert(c.to_string())),
        ("PATCH", [c, "records", id]) if !id.is_empty() => {
            Ok(Target::Update(c.to_string(), id.to_string()))
        }
        ("DELETE", [c, "records", id]) if !id.is_empty() => {
            Ok(Target::Delete(c.to_string(), id.to_string()))
        }
        (m, _) => Err(format!(
            "Unsupported batch request {} {}.",
            echo(m),
            echo(url)
        )),
    }
}

fn failed(index: usize, error: &ApiError) -> ApiError {
    let mut detail = FieldError::new("batch_request_failed", "Batch request failed.").to_json();
    if let Value::Object(m) = &mut detail {
        m.insert("response".into(), error.body());
    }
    let mut requests = Map::new();
    requests.insert(index.to_string(), detail);
    let mut data = Map::new();
    data.insert("requests".into(), Value::Object(requests));
    ApiError::BadRequest {
        message: "Batch transaction failed.".into(),
        data: Value::Object(data),
    }
}

async fn stage_one(tx: &mut Tx<'_>, item: &BatchItem, caller: &Caller) -> ApiResult<Value> {
    let target = parse_target(&item.method, &item.url).map_err(ApiError::bad_request)?;
    let (coll, body) = match target {
        Target::Create(c) => {
            let col = tx.collection(&c)?;
            let d = stage_create(tx, &col, &item.body, caller).await?;
            (col, Some(d))
        }
        Target::Upsert(c) => {
            let col = tx.collection(&c)?;
            let id = item
                .body
                .data
                .get(names::ID)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(RecordId::from);
            let exists = match &id {
                Some(id) => tx.get(&col.id, id)?.is_some(),
                None => false,
            };
            let d = match id {
                Some(id) if exists => stage_update(tx, &col, &id, &item.body, caller).await?,
                _ => stage_create(tx, &col, &item.body, caller).await?,
            };
            (col, Some(d))
        }
        Target::Update(c, id) => {
            let col = tx.collection(&c)?;
            let d = stage_update(tx, &col, &RecordId::from(id), &item.body, caller).await?;
            (col, Some(d))
        }
        Target::Delete(c, id) => {
            let col = tx.collection(&c)?;
            stage_delete(tx, &col, &RecordId::from(id), caller)?;
            (col, None)
        }
    };
    Ok(match body {
        Some(d) => json!({"status": 200, "body": render::record(&coll, &d, caller)}),
        None => json!({"status": 204, "body": null}),
    })
}

/// Runs all requests in one transaction; the response lists each result in request order.
pub async fn batch(
    app: &RecordService,
    items: &[BatchItem],
    max: usize,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<Value> {
    if items.is_empty() {
        return Err(ApiError::bad_field(
            "Invalid batch request data.",
            "requests",
            FieldError::required(),
        ));
    }
    // Every request may cascade and the whole batch commits as one group: keep it small.
    if items.len() > max {
        return Err(ApiError::bad_field(
            "Invalid batch request data.",
            "requests",
            FieldError::new(
                "validation_length_too_long",
                format!("At most {max} requests are allowed."),
            )
            .with_params(json!({"max": max})),
        ));
    }
    // Hooks first: they may take a while and must not hold any record lock.
    let items = super::hooks::before_batch(app, items, caller)
        .await
        .map_err(|(i, e)| failed(i, &e))?;
    let items = &*items;
    // Lock every record the batch updates or deletes, in a fixed order.
    let snap = app.schema.snapshot();
    let targets: Vec<(String, String)> = items
        .iter()
        .filter_map(|it| match parse_target(&it.method, &it.url).ok()? {
            Target::Update(c, id) | Target::Delete(c, id) => Some((c, id)),
            Target::Upsert(c) => it
                .body
                .data
                .get(names::ID)
                .and_then(Value::as_str)
                .map(|id| (c, id.to_string())),
            Target::Create(_) => None,
        })
        .map(|(c, id)| (snap.get(&c).map_or(c.clone(), |col| col.id.0.clone()), id))
        .collect();
    let refs: Vec<(&str, &str)> = targets
        .iter()
        .map(|(c, i)| (c.as_str(), i.as_str()))
        .collect();
    let _locked = app.locks.lock_all(&refs).await;
    let results = commit_with_retries(
        app,
        |tx| {
            Box::pin(async move {
                let mut results = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    tx.request = i;
                    tx.meta = meta.clone();
                    tx.meta.method = item.method.to_ascii_uppercase();
                    match stage_one(tx, item, caller).await {
                        Ok(r) => results.push(r),
                        Err(e) => return Err(failed(i, &e)),
                    }
                }
                Ok(results)
            })
        },
        |e| failed(e.request, &e.error),
    )
    .await?;
    Ok(Value::Array(results))
}

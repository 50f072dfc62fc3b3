//! `POST /api/batch` (JSON, or multipart with an `@jsonPayload` part as the SDK sends it).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
use crate::records::{BatchItem, Request as Input};
use poem::web::{Data, Json};
use poem::{handler, Body, Request};
use serde_json::Value;
use std::sync::Arc;

fn invalid(message: &str) -> ApiError {
    ApiError::bad_field(
        "Invalid batch request data.",
        "requests",
        FieldError::new("validation_invalid_value", message),
    )
}

fn parse_items(data: &serde_json::Map<String, Value>) -> Result<Vec<BatchItem>, ApiError> {
    let Some(list) = data.get("requests") else {
        return Err(ApiError::bad_field(
            "Invalid batch request data.",
            "requests",
            FieldError::required(),
        ));
    };
    let list = list
        .as_array()
        .ok_or_else(|| invalid("requests must be an array."))?;
    list.iter()
        .map(|r| {
            let method = r
                .get("method")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Each request needs a method."))?;
            let url = r
                .get("url")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("Each request needs a url."))?;
            let body = match r.get("body") {
                None | Some(Value::Null) => serde_json::Map::new(),
                Some(Value::Object(m)) => m.clone(),
                Some(_) => return Err(invalid("A request body must be an object.")),
            };
            Ok(BatchItem {
                method: method.to_string(),
                url: url.to_string(),
                body: Input {
                    data: body,
                    from_form: false,
                    ..Default::default()
                },
            })
        })
        .collect()
}

#[handler]
pub async fn batch(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
    meta: crate::query::RequestInfo,
) -> Result<Json<Value>, ApiError> {
    // Settings `batch.*` apply from the next request on.
    let settings = app.settings.current().batch.clone();
    if !settings.enabled {
        return Err(ApiError::Forbidden(
            "Batch requests are not allowed.".into(),
        ));
    }
    let mut limit = super::body_limit(&app);
    if settings.max_body_size > 0 {
        limit = limit.min(usize::try_from(settings.max_body_size).unwrap_or(usize::MAX));
    }
    // Parts `requests.<i>.<field>` may carry files for a file field of any collection (the
    // request's own collection is only known from `@jsonPayload`); each request's field then
    // checks its own limits.
    let fields: Vec<_> = app
        .schema
        .snapshot()
        .all()
        .iter()
        .flat_map(|c| c.fields.iter())
        .filter(|f| matches!(f.kind, crate::schema::FieldKind::File(_)))
        .cloned()
        .collect();
    let uploads = body::Uploads {
        files: &app.records.files,
        fields: &fields,
        batch: true,
    };
    let mut input = body::read_with_files(req, body, limit, Some(uploads)).await?;
    let mut items = parse_items(&input.data)?;
    for mut up in input.uploads.drain(..) {
        let Some((i, key)) = body::batch_part(&up.key) else {
            continue;
        };
        let key = key.to_string();
        let item = items.get_mut(i).ok_or_else(|| {
            invalid(&format!(
                "A file part names request {i}, which does not exist."
            ))
        })?;
        up.key = key;
        item.body.uploads.push(up);
    }
    let max = usize::try_from(settings.max_requests).unwrap_or(0);
    Ok(Json(app.records.batch(&items, max, &caller, &meta).await?))
}

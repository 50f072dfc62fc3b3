//! `GET/PATCH /api/settings`, `POST /api/settings/test/email` and `POST /api/settings/test/s3`
//! (superusers; the checks live in `settings::SettingsService`, `accounts::test_email` and
//! `files::S3::check`).

use super::body;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, FieldError};
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
    let updated = app.settings.update(&caller, &input).await?;
    if input.contains_key("s3") {
        app.apply_storage_settings();
    }
    Ok(Json(updated))
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

/// Longest bucket error a failed S3 test repeats (bytes).
const MAX_RAW_ERROR: usize = 2048;

/// The buckets `POST /api/settings/test/s3` can test (`filesystem`).
const TEST_FILESYSTEMS: [&str; 2] = ["storage", "backups"];

/// `POST /api/settings/test/s3 {filesystem: "storage"|"backups"}` (superusers): uploads and
/// removes a test object in the SAVED `s3` (or `backups.s3`) bucket, as PocketBase; 204 when
/// both worked, 400 with the bucket's error (or "not enabled") otherwise.
#[handler]
pub async fn test_s3(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let input = body::read_as_superuser(&caller, req, body, super::body_limit(&app)).await?;
    let fs = input
        .get("filesystem")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim();
    if fs.is_empty() {
        return Err(ApiError::bad_field(
            "Failed to test the S3 filesystem.",
            "filesystem",
            FieldError::required(),
        ));
    }
    if !TEST_FILESYSTEMS.contains(&fs) {
        return Err(ApiError::bad_field(
            "Failed to test the S3 filesystem.",
            "filesystem",
            FieldError::new("validation_in_invalid", "Must be a valid value.")
                .with_params(serde_json::json!({"allowed": TEST_FILESYSTEMS})),
        ));
    }
    let settings = app.settings.current();
    let s3 = if fs == "backups" {
        &settings.backups.s3
    } else {
        &settings.s3
    };
    let failed = |e: &dyn std::fmt::Display| {
        let mut raw = e.to_string();
        if raw.len() > MAX_RAW_ERROR {
            let mut end = MAX_RAW_ERROR;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
            raw.truncate(end);
        }
        ApiError::bad_request(format!(
            "Failed to test the S3 filesystem. Raw error: \n{raw}"
        ))
    };
    if !s3.enabled {
        return Err(failed(&"S3 storage filesystem is not enabled"));
    }
    crate::files::S3::check(&crate::app::s3_from_settings(s3))
        .await
        .map_err(|e| failed(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

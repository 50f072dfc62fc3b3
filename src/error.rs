//! The one error type of the HTTP surface. Every failure a client can cause becomes an `ApiError`,
//! rendered as PocketBase's envelope `{"status":…,"message":"…","data":{…}}` where `data` maps the
//! offending field to `{"code":"validation_…","message":"…","params":{…}?}`.

pub mod codes;

pub use codes::Code;

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Most characters of a client's value repeated back in an error.
pub const MAX_ECHO_CHARS: usize = 100;

/// `value` as an error may repeat it back: at most [`MAX_ECHO_CHARS`] characters, `…` marking a
/// cut, so a huge invalid value never makes a huge error response.
pub fn echo(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(MAX_ECHO_CHARS) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => Cow::Owned(format!("{}…", &value[..cut])),
    }
}

/// One field-level error, keyed by field name (or a nested path) inside the envelope's `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub code: &'static str,
    pub message: String,
    pub params: Option<Value>,
}

impl FieldError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            params: None,
        }
    }

    pub fn with_params(mut self, params: Value) -> Self {
        self.params = Some(params);
        self
    }

    pub fn required() -> Self {
        Self::new("validation_required", "Cannot be blank.")
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code));
        m.insert("message".into(), Value::from(self.message.clone()));
        if let Some(p) = &self.params {
            m.insert("params".into(), p.clone());
        }
        Value::Object(m)
    }
}

/// Field errors of one request, as the nested JSON object PocketBase puts in `data`
/// (`{"title":{…}}` for records, `{"fields":{"1":{"values":{…}}}}` for collections).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds an error for a top-level key; the first error of a key wins.
    pub fn add(&mut self, key: impl Into<String>, err: FieldError) {
        self.0.entry(key.into()).or_insert_with(|| err.to_json());
    }

    /// Adds an error under a nested path such as `["fields", "1", "values"]`.
    pub fn add_nested(&mut self, path: &[&str], err: FieldError) {
        let Some((last, parents)) = path.split_last() else {
            return;
        };
        let mut cur = &mut self.0;
        for p in parents {
            let slot = cur
                .entry(p.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                return; // an error is already recorded for the parent itself
            }
            let Value::Object(m) = slot else { return };
            cur = m;
        }
        cur.entry(last.to_string()).or_insert_with(|| err.to_json());
    }

    /// Keys that carry errors (top level).
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    pub fn single(key: impl Into<String>, err: FieldError) -> Self {
        let mut e = Self::new();
        e.add(key, err);
        e
    }
}

/// Every error the API can return. Each variant has a fixed HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with field errors, e.g. "Failed to create record.".
    #[error("{message}")]
    Validation {
        message: String,
        errors: FieldErrors,
    },
    /// 400 without a specific field (bad JSON, bad query parameter, rule failure on create).
    #[error("{message}")]
    BadRequest { message: String, data: Value },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("Request entity too large.")]
    PayloadTooLarge { limit: usize },
    #[error("Too Many Requests.")]
    TooManyRequests { retry_after_secs: u64 },
    /// 503 while the server is shutting down.
    #[error("The server is shutting down.")]
    Unavailable,
    /// 503 + `Retry-After`: no worker of the CPU pool became free within the request budget.
    #[error("The server is busy; retry later.")]
    Overloaded { retry_after_secs: u64 },
    /// 400 `query_too_expensive` under `data.request`: the request's own work (filter, sort,
    /// expand, rules) ran longer than `[server] request_budget_ms`.
    #[error("The request took longer than its time budget of {budget_ms} ms; narrow the filter, sort or expand.")]
    TooExpensive { budget_ms: u64 },
    /// 502: a plugin hook the write depends on failed (error status, timeout, unreachable) and
    /// its `on_error` is `reject`; the message names the plugin and the reason, never its URL.
    #[error("{0}")]
    BadGateway(String),
    /// 500: details go to the log, never to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Attached to every error response (as a response extension) for the request log: the
/// error's summary, or an internal error's detail (the log is superuser-only).
#[derive(Debug, Clone)]
pub struct LoggedError(pub String);

pub const MSG_GENERIC: &str = "Something went wrong while processing your request.";
pub const MSG_NOT_FOUND: &str = "The requested resource wasn't found.";
pub const MSG_SUPERUSERS_ONLY: &str = "Only superusers can perform this action.";
pub const MSG_AUTH_REQUIRED: &str = "The request requires valid record authorization token.";
pub const MSG_NOT_ALLOWED: &str = "The authorized record is not allowed to perform this action.";
pub const MSG_MISSING_COLLECTION: &str = "Missing collection context.";

impl ApiError {
    pub fn validation(message: impl Into<String>, errors: FieldErrors) -> Self {
        Self::Validation {
            message: message.into(),
            errors,
        }
    }

    /// A 400 about one field, e.g. a query parameter: `data: {"perPage": {code, message}}`.
    pub fn bad_field(message: impl Into<String>, field: &str, err: FieldError) -> Self {
        Self::Validation {
            message: message.into(),
            errors: FieldErrors::single(field, err),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            message: message.into(),
            data: Value::Object(Map::new()),
        }
    }

    pub fn not_found() -> Self {
        Self::NotFound(MSG_NOT_FOUND.into())
    }

    pub fn missing_collection() -> Self {
        Self::NotFound(MSG_MISSING_COLLECTION.into())
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } | Self::BadRequest { .. } | Self::TooExpensive { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// One line for channels without the envelope (realtime errors): the message, plus
    /// `field: reason` of the first field error.
    pub fn summary(&self) -> String {
        match self {
            Self::Validation { message, errors } => errors
                .0
                .iter()
                .next()
                .and_then(|(k, v)| Some(format!("{k}: {}", v.get("message")?.as_str()?)))
                .unwrap_or_else(|| message.clone()),
            Self::Internal(_) => MSG_GENERIC.to_string(),
            other => other.to_string(),
        }
    }

    /// The PocketBase envelope for this error.
    pub fn body(&self) -> Value {
        let (message, data) = match self {
            Self::Validation { message, errors } => (message.clone(), errors.clone().into_value()),
            Self::BadRequest { message, data } => (message.clone(), data.clone()),
            Self::Internal(_) => (MSG_GENERIC.to_string(), json!({})),
            Self::PayloadTooLarge { limit } => (
                self.to_string(),
                json!({"body": FieldError::new("validation_body_too_large", format!("The request body exceeds the limit of {limit} bytes.")).with_params(json!({"max": limit})).to_json()}),
            ),
            Self::TooExpensive { budget_ms } => (
                self.to_string(),
                json!({"request": FieldError::new("query_too_expensive", self.to_string()).with_params(json!({"budgetMs": budget_ms})).to_json()}),
            ),
            other => (other.to_string(), json!({})),
        };
        json!({"status": self.status().as_u16(), "message": message, "data": data})
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        if let Self::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut resp = poem::web::Json(self.body())
            .with_status(self.status())
            .into_response();
        resp.extensions_mut().insert(LoggedError(match self {
            Self::Internal(detail) => detail.clone(),
            other => other.summary(),
        }));
        if let Self::TooManyRequests { retry_after_secs } | Self::Overloaded { retry_after_secs } =
            self
        {
            if let Ok(v) = retry_after_secs.to_string().parse() {
                resp.headers_mut()
                    .insert(poem::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

#[cfg(test)]
mod envelope_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_pocketbase_shape() {
        let e = ApiError::bad_field(
            "Failed to create record.",
            "title",
            FieldError::new(
                "validation_min_text_constraint",
                "Must be at least 3 character(s).",
            )
            .with_params(json!({"min": 3})),
        );
        assert_eq!(
            e.body(),
            json!({"status":400,"message":"Failed to create record.","data":{"title":{"code":"validation_min_text_constraint","message":"Must be at least 3 character(s).","params":{"min":3}}}})
        );
    }

    #[test]
    fn nested_errors_build_paths() {
        let mut f = FieldErrors::new();
        f.add_nested(&["fields", "1", "values"], FieldError::required());
        f.add_nested(&["fields", "2", "name"], FieldError::required());
        assert_eq!(
            f.into_value(),
            json!({"fields":{"1":{"values":{"code":"validation_required","message":"Cannot be blank."}},"2":{"name":{"code":"validation_required","message":"Cannot be blank."}}}})
        );
    }

    #[test]
    fn echo_truncates_long_values_on_a_char_boundary() {
        assert_eq!(echo("short"), "short");
        let exact = "é".repeat(MAX_ECHO_CHARS);
        assert_eq!(echo(&exact), exact.as_str());
        let long = "é".repeat(200_000);
        let e = echo(&long);
        assert_eq!(e.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn summary_names_the_field() {
        let e = ApiError::bad_field(MSG_GENERIC, "fields", FieldError::new("x", "Too deep."));
        assert_eq!(e.summary(), "fields: Too deep.");
        assert_eq!(ApiError::not_found().summary(), MSG_NOT_FOUND);
    }

    #[test]
    fn internal_errors_hide_details() {
        let e = ApiError::internal("sled exploded at /secret/path");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body().to_string().contains("secret"));
    }
}

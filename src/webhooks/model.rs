//! A webhook's definition and how a create/update body becomes one: every field validated, each
//! bad one reported under its own key in the one error envelope.

use super::sign;
use super::target;
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::query::{compile, parse, CompileCtx};
use crate::schema::{now_string, Snapshot};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const MSG_CREATE: &str = "Failed to create webhook.";
pub const MSG_UPDATE: &str = "Failed to update webhook.";
/// The record actions a webhook can select.
pub const ACTIONS: [&str; 3] = ["create", "update", "delete"];
const MAX_NAME: usize = 255;
const MAX_URL: usize = 2048;
const MAX_HEADERS: usize = 32;
const MAX_HEADER_BYTES: usize = 4096;
const MAX_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Headers the dispatcher sets itself.
const RESERVED_HEADERS: [&str; 8] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// A stored webhook. `collections` holds collection ids (renames keep working); the API shows
/// their current names.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub collections: Vec<String>,
    pub actions: Vec<String>,
    pub filter: String,
    pub secret: String,
    pub enabled: bool,
    pub headers: BTreeMap<String, String>,
    pub timeout: u64,
    pub created: String,
    pub updated: String,
    /// The plugin that declared this webhook (read-only through the API), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

impl Webhook {
    /// The API's view: collections by current name (an id whose collection is gone stays an id).
    pub fn to_api_json(&self, snap: &Snapshot) -> Value {
        let collections: Vec<&str> = self
            .collections
            .iter()
            .map(|c| snap.get(c).map_or(c.as_str(), |col| col.name.as_str()))
            .collect();
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "collections": collections,
            "actions": self.actions,
            "filter": self.filter,
            "secret": self.secret,
            "enabled": self.enabled,
            "headers": self.headers,
            "timeout": self.timeout,
            "created": self.created,
            "updated": self.updated,
        });
        if let Some(p) = &self.plugin {
            v["plugin"] = Value::String(p.clone());
        }
        v
    }

    /// Whether this webhook wants events of collection `col` with `action`.
    pub fn selects(&self, col_id: &str, action: &str) -> bool {
        (self.collections.is_empty() || self.collections.iter().any(|c| c == col_id))
            && (self.actions.is_empty() || self.actions.iter().any(|a| a == action))
    }
}

/// Builds the webhook a create (`current` = None) or update body describes, checking every
/// field; the URL's DNS check is separate (async, see `target::resolve_checked`).
pub fn apply(
    body: &Map<String, Value>,
    current: Option<&Webhook>,
    snap: &Snapshot,
    allow_private: bool,
) -> Result<Webhook, ApiError> {
    let msg = if current.is_some() {
        MSG_UPDATE
    } else {
        MSG_CREATE
    };
    let now = now_string();
    let mut w = current.cloned().unwrap_or_else(|| Webhook {
        id: crate::schema::random_id(),
        name: String::new(),
        url: String::new(),
        collections: Vec::new(),
        actions: Vec::new(),
        filter: String::new(),
        secret: String::new(),
        enabled: true,
        headers: BTreeMap::new(),
        timeout: DEFAULT_TIMEOUT_SECS,
        created: now.clone(),
        updated: now.clone(),
        plugin: None,
    });
    let mut errors = FieldErrors::new();
    let bad = |code: &'static str, m: String| FieldError::new(code, m);
    for (key, v) in body {
        match key.as_str() {
            "name" => match v.as_str() {
                Some(s) if s.chars().count() <= MAX_NAME => w.name = s.trim().to_string(),
                _ => errors.add(
                    key,
                    bad(
                        "validation_invalid_name",
                        format!("Must be a string of at most {MAX_NAME} characters."),
                    ),
                ),
            },
            "url" => match v.as_str() {
                Some(s) if s.len() <= MAX_URL => match target::check_url(s, allow_private) {
                    Ok(_) => w.url = s.to_string(),
                    Err(e) => errors.add(key, bad("validation_invalid_url", e)),
                },
                _ => errors.add(
                    key,
                    bad(
                        "validation_invalid_url",
                        format!("Must be a URL of at most {MAX_URL} characters."),
                    ),
                ),
            },
            "collections" => match collection_ids(v, snap) {
                Ok(ids) => w.collections = ids,
                Err(e) => errors.add(key, bad("validation_invalid_collections", e)),
            },
            "actions" => match actions(v) {
                Ok(a) => w.actions = a,
                Err(e) => errors.add(key, bad("validation_invalid_actions", e)),
            },
            "filter" => match v {
                Value::String(s) => w.filter = s.trim().to_string(),
                Value::Null => w.filter.clear(),
                _ => errors.add(
                    key,
                    bad("validation_invalid_filter", "Must be a string.".into()),
                ),
            },
            "secret" => match v {
                Value::Null => w.secret.clear(),
                Value::String(s) if s.is_empty() => w.secret.clear(),
                Value::String(s) => match sign::secret_key(s) {
                    Ok(_) => w.secret = s.clone(),
                    Err(e) => errors.add(key, bad("validation_invalid_secret", e)),
                },
                _ => errors.add(
                    key,
                    bad("validation_invalid_secret", "Must be a string.".into()),
                ),
            },
            "enabled" => match v.as_bool() {
                Some(b) => w.enabled = b,
                None => errors.add(
                    key,
                    bad("validation_invalid_bool", "Must be true or false.".into()),
                ),
            },
            "headers" => match headers(v) {
                Ok(h) => w.headers = h,
                Err(e) => errors.add(key, bad("validation_invalid_headers", e)),
            },
            "timeout" => match v.as_u64() {
                Some(t) if (1..=MAX_TIMEOUT_SECS).contains(&t) => w.timeout = t,
                _ => errors.add(
                    key,
                    bad(
                        "validation_invalid_timeout",
                        format!("Must be a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}."),
                    ),
                ),
            },
            // Read-only or server-managed keys are ignored, as PocketBase ignores them on records.
            "id" | "created" | "updated" | "plugin" => {}
            other => errors.add(
                other,
                bad("validation_unknown_field", "Unknown webhook field.".into()),
            ),
        }
    }
    if w.url.is_empty() && !errors.keys().any(|k| k == "url") {
        errors.add("url", FieldError::required());
    }
    if !w.filter.is_empty() && !errors.keys().any(|k| k == "filter" || k == "collections") {
        if let Err(e) = check_filter(&w.filter, &w.collections, snap) {
            errors.add("filter", bad("validation_invalid_filter", e));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(msg, errors));
    }
    if w.secret.is_empty() {
        w.secret = sign::new_secret();
    }
    if w.name.is_empty() {
        w.name = reqwest::Url::parse(&w.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_default();
    }
    w.updated = now;
    Ok(w)
}

fn string_list(v: &Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) if items.len() <= 100 => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("Every {what} must be a string."))
            })
            .collect(),
        _ => Err(format!("Must be a list of at most 100 {what}s.")),
    }
}

fn collection_ids(v: &Value, snap: &Snapshot) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for name in string_list(v, "collection")? {
        let col = snap
            .get(&name)
            .ok_or_else(|| format!("Unknown collection {:?}.", crate::error::echo(&name)))?;
        if !ids.contains(&col.id.0) {
            ids.push(col.id.0.clone());
        }
    }
    Ok(ids)
}

fn actions(v: &Value) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for a in string_list(v, "action")? {
        if !ACTIONS.contains(&a.as_str()) {
            return Err(format!(
                "Unknown action {:?}; use create, update or delete.",
                crate::error::echo(&a)
            ));
        }
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

fn headers(v: &Value) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(map) = v else {
        return if v.is_null() {
            Ok(BTreeMap::new())
        } else {
            Err("Must be an object of header names to string values.".into())
        };
    };
    if map.len() > MAX_HEADERS {
        return Err(format!("At most {MAX_HEADERS} headers."));
    }
    let mut out = BTreeMap::new();
    let mut bytes = 0;
    for (name, value) in map {
        let lower = name.to_ascii_lowercase();
        if poem::http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
            return Err(format!(
                "{:?} is not a valid header name.",
                crate::error::echo(name)
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(format!("{lower} is set by the server."));
        }
        let Some(value) = value.as_str() else {
            return Err(format!("The value of {lower} must be a string."));
        };
        if poem::http::HeaderValue::from_str(value).is_err() {
            return Err(format!("The value of {lower} is not a valid header value."));
        }
        bytes += lower.len() + value.len();
        out.insert(lower, value.to_string());
    }
    if bytes > MAX_HEADER_BYTES {
        return Err(format!(
            "Headers may hold at most {MAX_HEADER_BYTES} bytes."
        ));
    }
    Ok(out)
}

/// Parses the filter and compiles it against each selected collection (every collection when
/// none is selected, where a collection that lacks a field the filter names simply never
/// matches); the positioned parser error otherwise.
fn check_filter(filter: &str, collections: &[String], snap: &Snapshot) -> Result<(), String> {
    let expr = parse(filter).map_err(|e| e.message)?;
    for id in collections {
        if let Some(col) = snap.get(id) {
            let ctx = CompileCtx::filter(col, snap, true);
            compile(&expr, &ctx).map_err(|e| format!("{} (collection {})", e, col.name))?;
        }
    }
    Ok(())
}

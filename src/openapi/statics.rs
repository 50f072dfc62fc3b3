//! The static part of the document: the endpoints that do not depend on the schema, described
//! once in a table, with their bodies as poem-openapi `Object` mirrors of what the handlers send
//! (they build `serde_json::Value`s, so the mirrors live here and the integration tests check
//! them against real responses).

use super::{error_responses, json_body, Audience, Doc};
use poem_openapi::registry::Registry;
use poem_openapi::types::Type;
use poem_openapi::Object;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// PocketBase's error envelope: `data` maps field names to `{code, message, params?}` (nested
/// for collection fields and batch items); codes are listed in docs/errors.md.
#[derive(Object)]
#[oai(rename = "Error")]
pub struct ErrorEnvelope {
    /// The HTTP status.
    status: u16,
    message: String,
    data: Value,
}

/// `GET /api/health`.
#[derive(Object)]
pub struct Health {
    code: u16,
    message: String,
    data: HealthData,
}

/// Empty for anyone but superusers.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct HealthData {
    can_backup: Option<bool>,
    #[oai(rename = "realIP")]
    real_ip: Option<String>,
    possible_proxy_header: Option<String>,
}

/// `GET /api/setup`.
#[derive(Object)]
pub struct SetupStatus {
    /// Whether no superuser exists yet.
    needed: bool,
}

/// `POST /api/files/token`.
#[derive(Object)]
pub struct FileToken {
    token: String,
}

#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct PasswordMethod {
    identity_fields: Vec<String>,
    enabled: bool,
}

#[derive(Object)]
pub struct OAuth2Method {
    providers: Vec<Value>,
    enabled: bool,
}

#[derive(Object)]
pub struct TimedMethod {
    enabled: bool,
    duration: i64,
}

/// `GET /api/collections/{c}/auth-methods`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct AuthMethods {
    password: PasswordMethod,
    oauth2: OAuth2Method,
    mfa: TimedMethod,
    otp: TimedMethod,
    auth_providers: Vec<Value>,
    username_password: bool,
    email_password: bool,
}

/// One request of a batch: a record create/update/upsert/delete.
#[derive(Object)]
pub struct BatchRequestItem {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    method: String,
    /// E.g. `/api/collections/posts/records`.
    url: String,
    headers: Option<BTreeMap<String, String>>,
    body: Option<BTreeMap<String, Value>>,
}

/// `POST /api/batch` (JSON; multipart with `@jsonPayload` for files).
#[derive(Object)]
pub struct BatchRequest {
    requests: Vec<BatchRequestItem>,
}

/// One answer of a batch, in request order.
#[derive(Object)]
pub struct BatchResult {
    status: u16,
    body: Value,
}

/// `POST /api/realtime`: replaces the subscriptions of an SSE client.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct RealtimeSubscribe {
    client_id: String,
    subscriptions: Option<Vec<String>>,
}

/// A list envelope of schema objects (collections, webhooks, deliveries, request logs).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct ObjectList {
    page: i64,
    per_page: i64,
    total_items: i64,
    total_pages: i64,
    items: Vec<BTreeMap<String, Value>>,
}

/// One static operation.
struct Op {
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    superuser: bool,
    query: &'static [&'static str],
    body: Option<Value>,
    ok: (u16, Option<Value>),
    errors: &'static [u16],
}

fn schema<T: Type>(registry: &mut Registry) -> Value {
    T::register(registry);
    serde_json::to_value(T::schema_ref()).unwrap_or_default()
}

fn object() -> Value {
    json!({"type": "object"})
}

fn json_request(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

/// Adds the static schemas and the operations `audience` may call.
pub fn add(doc: &mut Doc, audience: Audience) {
    let mut r = Registry::new();
    let error = schema::<ErrorEnvelope>(&mut r);
    debug_assert_eq!(error, json!({"$ref": "#/components/schemas/Error"}));
    let auth_methods = schema::<AuthMethods>(&mut r);
    debug_assert_eq!(auth_methods["$ref"], "#/components/schemas/AuthMethods");
    let health = schema::<Health>(&mut r);
    let setup = schema::<SetupStatus>(&mut r);
    let file_token = schema::<FileToken>(&mut r);
    let batch = schema::<BatchRequest>(&mut r);
    let batch_results = json!({"type": "array", "items": schema::<BatchResult>(&mut r)});
    let subscribe = schema::<RealtimeSubscribe>(&mut r);
    let list = schema::<ObjectList>(&mut r);
    let list_params: &[&str] = &["page", "perPage", "sort", "filter", "skipTotal"];
    let ops = [
        Op {
            method: "get",
            path: "/api/health",
            tag: "health",
            summary: "Health check",
            superuser: false,
            query: &[],
            body: None,
            ok: (200, Some(health)),
            errors: &[],
        },
        Op {
            method: "get",
            path: "/api/setup",
            tag: "health",
            summary: "Whether the first superuser still has to be created",
            superuser: false,
            query: &[],
            body: None,
            ok: (200, Some(setup)),
            errors: &[],
        },
        Op {
            method: "get",
            path: "/api/collections",
            tag: "collections",
            summary: "List collections",
            superuser: true,
            query: list_params,
            body: None,
            ok: (200, Some(list.clone())),
            errors: &[400, 401, 403],
        },
        Op {
            method: "post",
            path: "/api/collections",
            tag: "collections",
            summary: "Create a collection",
            superuser: true,
            query: &[],
            body: Some(json_request(object())),
            ok: (200, Some(object())),
            errors: &[400, 401, 403, 413],
        },
        Op {
            method: "get",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "View a collection",
            superuser: true,
            query: &[],
            body: None,
            ok: (200, Some(object())),
            errors: &[401, 403, 404],
        },
        Op {
            method: "patch",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "Update a collection",
            superuser: true,
            query: &[],
            body: Some(json_request(object())),
            ok: (200, Some(object())),
            errors: &[400, 401, 403, 404, 413],
        },
        Op {
            method: "delete",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "Delete a collection and its records",
            superuser: true,
            query: &[],
            body: None,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
        },
        Op {
            method: "delete",
            path: "/api/collections/{collection}/truncate",
            tag: "collections",
            summary: "Delete every record of a collection",
            superuser: true,
            query: &[],
            body: None,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
        },
        Op {
            method: "post",
            path: "/api/batch",
            tag: "batch",
            summary: "Run record writes in one transaction",
            superuser: false,
            query: &[],
            body: Some(json_request(batch)),
            ok: (200, Some(batch_results)),
            errors: &[400, 403, 413],
        },
        Op {
            method: "post",
            path: "/api/files/token",
            tag: "files",
            summary: "A short-lived token for protected files",
            superuser: false,
            query: &[],
            body: None,
            ok: (200, Some(file_token)),
            errors: &[400, 401],
        },
        Op {
            method: "get",
            path: "/api/files/{collection}/{record}/{filename}",
            tag: "files",
            summary: "Download a file (or a thumbnail with `thumb`)",
            superuser: false,
            query: &["thumb", "download", "token"],
            body: None,
            ok: (200, None),
            errors: &[400, 403, 404],
        },
        Op {
            method: "get",
            path: "/api/realtime",
            tag: "realtime",
            summary: "Open an SSE stream (the first event is `PB_CONNECT` with the clientId)",
            superuser: false,
            query: &[],
            body: None,
            ok: (200, None),
            errors: &[],
        },
        Op {
            method: "post",
            path: "/api/realtime",
            tag: "realtime",
            summary: "Set the subscriptions of an SSE client",
            superuser: false,
            query: &[],
            body: Some(json_request(subscribe)),
            ok: (204, None),
            errors: &[400, 403, 404, 413],
        },
        Op {
            method: "get",
            path: "/api/settings",
            tag: "settings",
            summary: "The application settings",
            superuser: true,
            query: &[],
            body: None,
            ok: (200, Some(object())),
            errors: &[401, 403],
        },
        Op {
            method: "patch",
            path: "/api/settings",
            tag: "settings",
            summary: "Update settings",
            superuser: true,
            query: &[],
            body: Some(json_request(object())),
            ok: (200, Some(object())),
            errors: &[400, 401, 403, 413],
        },
        Op {
            method: "get",
            path: "/api/logs",
            tag: "logs",
            summary: "List request logs",
            superuser: true,
            query: list_params,
            body: None,
            ok: (200, Some(list.clone())),
            errors: &[400, 401, 403],
        },
        Op {
            method: "get",
            path: "/api/logs/stats",
            tag: "logs",
            summary: "Request counts per hour",
            superuser: true,
            query: &["filter"],
            body: None,
            ok: (200, Some(json!({"type": "array", "items": object()}))),
            errors: &[400, 401, 403],
        },
        Op {
            method: "get",
            path: "/api/logs/{id}",
            tag: "logs",
            summary: "View a request log",
            superuser: true,
            query: &[],
            body: None,
            ok: (200, Some(object())),
            errors: &[401, 403, 404],
        },
        Op {
            method: "get",
            path: "/api/webhooks",
            tag: "webhooks",
            summary: "List webhooks",
            superuser: true,
            query: list_params,
            body: None,
            ok: (200, Some(list.clone())),
            errors: &[400, 401, 403],
        },
        Op {
            method: "post",
            path: "/api/webhooks",
            tag: "webhooks",
            summary: "Create a webhook",
            superuser: true,
            query: &[],
            body: Some(json_request(object())),
            ok: (200, Some(object())),
            errors: &[400, 401, 403, 413],
        },
        Op {
            method: "get",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "View a webhook",
            superuser: true,
            query: &[],
            body: None,
            ok: (200, Some(object())),
            errors: &[401, 403, 404],
        },
        Op {
            method: "patch",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "Update a webhook",
            superuser: true,
            query: &[],
            body: Some(json_request(object())),
            ok: (200, Some(object())),
            errors: &[400, 401, 403, 404, 413],
        },
        Op {
            method: "delete",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "Delete a webhook",
            superuser: true,
            query: &[],
            body: None,
            ok: (204, None),
            errors: &[401, 403, 404],
        },
        Op {
            method: "get",
            path: "/api/webhooks/{id}/deliveries",
            tag: "webhooks",
            summary: "List a webhook's deliveries",
            superuser: true,
            query: list_params,
            body: None,
            ok: (200, Some(list)),
            errors: &[400, 401, 403, 404],
        },
    ];
    let su = audience == Audience::Superuser;
    for op in ops.into_iter().filter(|o| su || !o.superuser) {
        let mut responses = Map::new();
        let (status, ok) = op.ok;
        let response = match ok {
            Some(s) => json_body("Success.", s),
            None if op.path == "/api/realtime" => json!({
                "description": "The event stream.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }),
            None if status == 200 => json!({
                "description": "The file.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }),
            None => json!({"description": "Done."}),
        };
        responses.insert(status.to_string(), response);
        responses.extend(error_responses(op.errors));
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(op.query.iter().map(|q| {
            let schema = match *q {
                "page" | "perPage" => json!({"type": "integer", "minimum": 1}),
                "skipTotal" => json!({"type": "boolean"}),
                _ => json!({"type": "string"}),
            };
            json!({"name": q, "in": "query", "required": false, "schema": schema})
        }));
        let mut o = json!({
            "tags": [op.tag],
            "operationId": format!("{}_{}", op.method, op.path.trim_start_matches("/api/").replace(['/', '{', '}', '-'], "_")),
            "summary": op.summary,
            "responses": responses,
        });
        if op.superuser {
            o["description"] = json!("Superusers only.");
        }
        if !params.is_empty() {
            o["parameters"] = Value::Array(params);
        }
        if let Some(b) = op.body {
            o["requestBody"] = b;
        }
        let entry = doc
            .paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method] = o;
        if !doc.tags.iter().any(|t| t["name"] == op.tag) {
            doc.tags.push(json!({"name": op.tag}));
        }
    }
    for (name, s) in r.schemas {
        doc.schemas
            .insert(name, serde_json::to_value(s).unwrap_or_default());
    }
}

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

/// `POST /api/setup`: the first superuser, with the token the server printed at start.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct SetupRequest {
    token: String,
    email: String,
    password: String,
    password_confirm: String,
}

/// A signed-in record: `POST /api/setup` and the auth endpoints.
#[derive(Object)]
pub struct AuthResult {
    token: String,
    record: BTreeMap<String, Value>,
}

/// One backup zip: `GET /api/backups` lists them, newest first.
#[derive(Object)]
pub struct BackupItem {
    /// The file name, e.g. `pb_backup_20261207180000.zip`.
    key: String,
    /// Bytes.
    size: u64,
    /// `2006-01-02 15:04:05.000Z`.
    modified: String,
}

/// `POST /api/backups`.
#[derive(Object)]
pub struct BackupCreate {
    /// The file name (`[a-z0-9_-]+\.zip`); generated when absent.
    name: Option<String>,
}

/// `POST /api/settings/test/email`.
#[derive(Object)]
pub struct TestEmail {
    /// Where to send the test message.
    email: String,
    /// `verification`, `password-reset`, `email-change`, `otp` or `login-alert`.
    template: String,
    /// The auth collection whose template is used (default `_superusers`).
    collection: Option<String>,
}

/// `POST /api/settings/test/s3`.
#[derive(Object)]
pub struct TestS3 {
    /// `storage` or `backups`: which saved bucket to test.
    filesystem: String,
}

/// `PUT /api/collections/import`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct CollectionsImport {
    /// The collections to create or update (matched by id, then by name).
    collections: Vec<BTreeMap<String, Value>>,
    /// Also delete the collections (and their records) that are not in the list.
    delete_missing: Option<bool>,
}

/// `GET /api/mails`: the messages kept by the mailer, newest first.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct MailList {
    items: Vec<BTreeMap<String, Value>>,
    total_items: i64,
}

/// One static operation.
#[derive(Default)]
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
    /// A complete success response object, for non-JSON answers (replaces `ok.1`).
    ok_response: Option<Value>,
    /// More text for the operation's description.
    description: &'static str,
    /// Responses without a body besides `ok` and `errors` (e.g. 304).
    more: &'static [(u16, &'static str)],
}

fn schema<T: Type>(registry: &mut Registry) -> Value {
    T::register(registry);
    serde_json::to_value(T::schema_ref()).unwrap_or_default()
}

fn object() -> Value {
    json!({"type": "object"})
}

/// A list envelope (`page`, `perPage`, `totalItems`, `totalPages`, `items`) of `item`.
fn list_of(item: Value) -> Value {
    let int = json!({"type": "integer", "format": "int64"});
    json!({
        "type": "object",
        "required": ["page", "perPage", "totalItems", "totalPages", "items"],
        "properties": {
            "page": int,
            "perPage": int,
            "totalItems": int,
            "totalPages": int,
            "items": {"type": "array", "items": item},
        },
    })
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
    let list_params: &[&str] = &["page", "perPage", "sort", "filter", "skipTotal"];
    let setup_request = schema::<SetupRequest>(&mut r);
    let auth_result = schema::<AuthResult>(&mut r);
    let backups = json!({"type": "array", "items": schema::<BackupItem>(&mut r)});
    let backup_create = schema::<BackupCreate>(&mut r);
    let backup_upload = json!({
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary", "description": "The backup zip."}},
    });
    let test_email = schema::<TestEmail>(&mut r);
    let test_s3 = schema::<TestS3>(&mut r);
    let import = schema::<CollectionsImport>(&mut r);
    let mails = schema::<MailList>(&mut r);
    let collection = schema::<super::mirrors::Collection>(&mut r);
    let webhook = schema::<super::mirrors::Webhook>(&mut r);
    let delivery = schema::<super::mirrors::Delivery>(&mut r);
    let log_entry = schema::<super::mirrors::LogEntry>(&mut r);
    let log_stats = json!({"type": "array", "items": schema::<super::mirrors::LogStat>(&mut r)});
    let plugins = list_of(schema::<super::mirrors::Plugin>(&mut r));
    let settings = schema::<super::mirrors::Settings>(&mut r);
    let collections = list_of(collection.clone());
    let webhooks = list_of(webhook.clone());
    let deliveries = list_of(delivery.clone());
    let logs = list_of(log_entry.clone());
    let ops = [
        Op {
            method: "get",
            path: "/api/health",
            tag: "health",
            summary: "Health check",
            ok: (200, Some(health)),
            errors: &[],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/setup",
            tag: "health",
            summary: "Whether the first superuser still has to be created",
            ok: (200, Some(setup)),
            errors: &[],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/collections",
            tag: "collections",
            summary: "List collections",
            superuser: true,
            query: list_params,
            ok: (200, Some(collections)),
            errors: &[400, 401, 403],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/collections",
            tag: "collections",
            summary: "Create a collection",
            superuser: true,
            body: Some(json_request(object())),
            ok: (200, Some(collection.clone())),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "View a collection",
            superuser: true,
            ok: (200, Some(collection.clone())),
            errors: &[401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "patch",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "Update a collection",
            superuser: true,
            body: Some(json_request(object())),
            ok: (200, Some(collection)),
            errors: &[400, 401, 403, 404, 413],
            ..Op::default()
        },
        Op {
            method: "delete",
            path: "/api/collections/{collection}",
            tag: "collections",
            summary: "Delete a collection and its records",
            superuser: true,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "delete",
            path: "/api/collections/{collection}/truncate",
            tag: "collections",
            summary: "Delete every record of a collection",
            superuser: true,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/batch",
            tag: "batch",
            summary: "Run record writes in one transaction",
            body: Some(json_request(batch)),
            ok: (200, Some(batch_results)),
            errors: &[400, 403, 413],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/files/token",
            tag: "files",
            summary: "A short-lived token for protected files",
            ok: (200, Some(file_token)),
            errors: &[400, 401],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/files/{collection}/{record}/{filename}",
            tag: "files",
            summary: "Download a file (or a thumbnail with `thumb`)",
            query: &["thumb", "download", "token"],
            ok: (200, None),
            errors: &[400, 403, 404],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/realtime",
            tag: "realtime",
            summary: "Open an SSE stream (the first event is `PB_CONNECT` with the clientId)",
            ok: (200, None),
            errors: &[],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/realtime",
            tag: "realtime",
            summary: "Set the subscriptions of an SSE client",
            body: Some(json_request(subscribe)),
            ok: (204, None),
            errors: &[400, 403, 404, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/settings",
            tag: "settings",
            summary: "The application settings",
            superuser: true,
            ok: (200, Some(settings.clone())),
            errors: &[401, 403],
            ..Op::default()
        },
        Op {
            method: "patch",
            path: "/api/settings",
            tag: "settings",
            summary: "Update settings",
            superuser: true,
            body: Some(json_request(settings.clone())),
            ok: (200, Some(settings)),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/logs",
            tag: "logs",
            summary: "List request logs",
            superuser: true,
            query: list_params,
            ok: (200, Some(logs)),
            errors: &[400, 401, 403],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/logs/stats",
            tag: "logs",
            summary: "Request counts per hour",
            superuser: true,
            query: &["filter"],
            ok: (200, Some(log_stats)),
            errors: &[400, 401, 403],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/logs/{id}",
            tag: "logs",
            summary: "View a request log",
            superuser: true,
            ok: (200, Some(log_entry)),
            errors: &[401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/webhooks",
            tag: "webhooks",
            summary: "List webhooks",
            superuser: true,
            query: list_params,
            ok: (200, Some(webhooks)),
            errors: &[400, 401, 403],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/webhooks",
            tag: "webhooks",
            summary: "Create a webhook",
            superuser: true,
            body: Some(json_request(object())),
            ok: (200, Some(webhook.clone())),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "View a webhook",
            superuser: true,
            ok: (200, Some(webhook.clone())),
            errors: &[401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "patch",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "Update a webhook",
            superuser: true,
            body: Some(json_request(object())),
            ok: (200, Some(webhook)),
            errors: &[400, 401, 403, 404, 413],
            ..Op::default()
        },
        Op {
            method: "delete",
            path: "/api/webhooks/{id}",
            tag: "webhooks",
            summary: "Delete a webhook",
            superuser: true,
            ok: (204, None),
            errors: &[401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/webhooks/{id}/deliveries",
            tag: "webhooks",
            summary: "List a webhook's deliveries",
            superuser: true,
            query: list_params,
            ok: (200, Some(deliveries)),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/setup",
            tag: "health",
            summary: "Create the first superuser (with the setup token the server printed)",
            body: Some(json_request(setup_request)),
            ok: (200, Some(auth_result)),
            errors: &[400, 403, 413],
            ..Op::default()
        },
        Op {
            method: "put",
            path: "/api/collections/import",
            tag: "collections",
            summary: "Create or update many collections at once",
            superuser: true,
            body: Some(json_request(import)),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/collections/meta/validate",
            tag: "collections",
            summary: "Check a collection without saving it (204, or the 400 a save would give)",
            superuser: true,
            body: Some(json_request(object())),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/typegen.ts",
            tag: "collections",
            summary: "TypeScript types for the live schema",
            superuser: true,
            ok: (200, None),
            ok_response: Some(json!({
                "description": "The module (its ETag is the schema version).",
                "content": {"application/typescript": {"schema": {"type": "string"}}},
            })),
            more: &[(304, "The schema has not changed (`If-None-Match`).")],
            errors: &[401, 403],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/realtime/ws",
            tag: "realtime",
            summary: "Open a WebSocket (Ferrobase's realtime protocol)",
            description: "Upgrade with the usual WebSocket headers; authenticate with \
                `Authorization`, `?token=` or an `{\"type\":\"auth\",\"token\":\"…\"}` message. \
                Messages are JSON text frames: `subscribe` (`id`, `topic` `<collection>/*` or \
                `<collection>/<id>`, optional `filter`, `expand`, `fields`, `since`), \
                `unsubscribe`, `ping`; the server sends `subscribed`, `event` (`sub`, `seq`, \
                `action` create/update/delete/enter/leave, `record`), `reset`, `pong` and \
                `error`. The full protocol (resume with `since`, \
                limits, close codes) is in [docs/realtime.md](docs/realtime.md#websocket-protocol) \
                of the Ferrobase source.",
            query: &["token"],
            ok: (101, None),
            ok_response: Some(
                json!({"description": "Switching Protocols: the WebSocket is open."}),
            ),
            errors: &[400],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/mails",
            tag: "settings",
            summary: "The messages the mailer kept (when it does not send them)",
            superuser: true,
            ok: (200, Some(mails)),
            errors: &[401, 403],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/plugins",
            tag: "settings",
            summary: "List the loaded plugins",
            superuser: true,
            query: &["page", "perPage"],
            ok: (200, Some(plugins)),
            errors: &[400, 401, 403],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/settings/test/email",
            tag: "settings",
            summary: "Send a test email with one of the templates",
            superuser: true,
            body: Some(json_request(test_email)),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/settings/test/s3",
            tag: "settings",
            summary: "Upload and delete a test object in the saved S3 bucket",
            superuser: true,
            body: Some(json_request(test_s3)),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/backups",
            tag: "backups",
            summary: "List the backups, newest first",
            superuser: true,
            ok: (200, Some(backups)),
            errors: &[401, 403],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/backups",
            tag: "backups",
            summary: "Make a backup (answers once it is complete)",
            superuser: true,
            body: Some(json!({"content": {"application/json": {"schema": backup_create}}})),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/backups/upload",
            tag: "backups",
            summary: "Upload a backup zip (multipart `file`)",
            superuser: true,
            body: Some(
                json!({"required": true, "content": {"multipart/form-data": {"schema": backup_upload}}}),
            ),
            ok: (204, None),
            errors: &[400, 401, 403, 413],
            ..Op::default()
        },
        Op {
            method: "get",
            path: "/api/backups/{key}",
            tag: "backups",
            summary: "Download a backup",
            superuser: true,
            description: "With a superuser's file token (`POST /api/files/token`) in `token`; \
                the `Authorization` header is not used.",
            query: &["token"],
            ok: (200, None),
            ok_response: Some(json!({
                "description": "The zip.",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            })),
            errors: &[400, 403, 404],
            ..Op::default()
        },
        Op {
            method: "delete",
            path: "/api/backups/{key}",
            tag: "backups",
            summary: "Delete a backup",
            superuser: true,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/backups/{key}/restore",
            tag: "backups",
            summary:
                "Restore a backup (answers 204, then the server restarts on the restored data)",
            superuser: true,
            ok: (204, None),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/webhooks/{id}/test",
            tag: "webhooks",
            summary: "Send a test delivery now",
            superuser: true,
            ok: (200, Some(delivery.clone())),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
        Op {
            method: "post",
            path: "/api/webhooks/{id}/deliveries/{delivery}/redeliver",
            tag: "webhooks",
            summary: "Send a delivery again now",
            superuser: true,
            ok: (200, Some(delivery)),
            errors: &[400, 401, 403, 404],
            ..Op::default()
        },
    ];
    let su = audience == Audience::Superuser;
    for op in ops.into_iter().filter(|o| su || !o.superuser) {
        let mut responses = Map::new();
        let (status, ok) = op.ok;
        let response = match (op.ok_response, ok) {
            (Some(r), _) => r,
            (None, Some(s)) => json_body("Success.", s),
            (None, None) if op.path == "/api/realtime" => json!({
                "description": "The event stream.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            }),
            (None, None) if status == 200 => json!({
                "description": "The file.",
                "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            }),
            (None, None) => json!({"description": "Done."}),
        };
        responses.insert(status.to_string(), response);
        for (status, text) in op.more {
            responses.insert(status.to_string(), json!({"description": text}));
        }
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
        let description = match (op.superuser, op.description) {
            (true, "") => "Superusers only.".to_string(),
            (true, d) => format!("Superusers only. {d}"),
            (false, d) => d.to_string(),
        };
        if !description.is_empty() {
            o["description"] = json!(description);
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
    // Only the schemas something refers to (a guest's document does not carry the shapes of
    // the superuser-only endpoints), following references between them.
    let mut pending: BTreeMap<String, Value> = r
        .schemas
        .into_iter()
        .map(|(name, s)| (name, serde_json::to_value(s).unwrap_or_default()))
        .collect();
    // The per-collection part, added after this, refers to `Error` and `AuthMethods`.
    let mut referring = format!("{error}{auth_methods}")
        + &serde_json::to_string(&doc.paths).unwrap_or_default()
        + &serde_json::to_string(&doc.schemas).unwrap_or_default();
    loop {
        let found: Vec<String> = pending
            .keys()
            .filter(|name| referring.contains(&format!("\"#/components/schemas/{name}\"")))
            .cloned()
            .collect();
        if found.is_empty() {
            break;
        }
        for name in found {
            if let Some(s) = pending.remove(&name) {
                referring.push_str(&s.to_string());
                doc.schemas.insert(name, s);
            }
        }
    }
}

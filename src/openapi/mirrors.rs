//! Typed mirrors of the JSON the superuser endpoints answer (collections, webhooks and their
//! deliveries, settings, request logs, plugins). The handlers build `serde_json::Value`s; these
//! only describe them. Values that may be `null` are typed `Value` (poem-openapi has no 3.1
//! `type: [T, "null"]`), keys the server may leave out are `Option`, and no mirror closes
//! `additionalProperties`, so the document never contradicts a real answer.

use poem_openapi::Object;
use serde_json::Value;
use std::collections::BTreeMap;

/// A collection as `GET /api/collections/{collection}` answers it. Auth collections add their
/// options (`authRule`, `manageRule`, `passwordAuth`, `oauth2`, `mfa`, `otp`, `authToken`, …,
/// kept loose here); views add `viewQuery`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Collection {
    id: String,
    name: String,
    /// `base`, `auth` or `view`.
    #[oai(rename = "type")]
    kind: String,
    system: bool,
    /// Who may list records: a filter expression, `""` (anyone) or `null` (superusers only).
    list_rule: Value,
    view_rule: Value,
    create_rule: Value,
    update_rule: Value,
    delete_rule: Value,
    /// The fields, each `{id, name, type, system, hidden, presentable, …options}`.
    fields: Vec<BTreeMap<String, Value>>,
    /// `CREATE [UNIQUE] INDEX …` statements.
    indexes: Vec<String>,
    created: String,
    updated: String,
    view_query: Option<String>,
    auth_rule: Option<Value>,
    manage_rule: Option<Value>,
    /// `{enabled, identityFields}`.
    password_auth: Option<BTreeMap<String, Value>>,
    /// Token options, `{duration}` (seconds; the secrets are never sent).
    auth_token: Option<BTreeMap<String, Value>>,
    password_reset_token: Option<BTreeMap<String, Value>>,
    email_change_token: Option<BTreeMap<String, Value>>,
    verification_token: Option<BTreeMap<String, Value>>,
    file_token: Option<BTreeMap<String, Value>>,
    /// `{enabled, providers, mappedFields}` (client secrets are never sent).
    oauth2: Option<Value>,
    mfa: Option<Value>,
    otp: Option<Value>,
    auth_alert: Option<Value>,
    /// Mail templates, `{subject, body}`.
    verification_template: Option<Value>,
    reset_password_template: Option<Value>,
    confirm_email_change_template: Option<Value>,
}

/// A webhook (`/api/webhooks`).
#[derive(Object)]
pub struct Webhook {
    id: String,
    name: String,
    /// Where deliveries are POSTed.
    url: String,
    /// Collection names (empty: all).
    collections: Vec<String>,
    /// `create`, `update`, `delete` (empty: all).
    actions: Vec<String>,
    /// A record filter the change must match.
    filter: String,
    /// The HMAC signing secret.
    secret: String,
    enabled: bool,
    headers: BTreeMap<String, String>,
    /// Seconds.
    timeout: u64,
    created: String,
    updated: String,
    /// The plugin that declared it, for webhooks from plugin manifests.
    plugin: Option<String>,
}

/// One delivery of a webhook (`/api/webhooks/{id}/deliveries`, `test`, `redeliver`).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Delivery {
    id: String,
    webhook_id: String,
    event_id: String,
    /// The change-log position of the event, `null` for test deliveries.
    seq: Value,
    /// The event type, e.g. `record.create` or `test`.
    #[oai(rename = "type")]
    kind: String,
    /// `pending`, `succeeded`, `failed` or `dead`.
    status: String,
    /// `{at, statusCode?, durationMs, responseExcerpt, error?}` per attempt.
    attempts: Vec<BTreeMap<String, Value>>,
    /// When the next retry is due, or `null`.
    next_attempt_at: Value,
    created: String,
    updated: String,
    /// The JSON body sent.
    payload: Value,
}

/// One request log (`GET /api/logs/{id}`), PocketBase's shape.
#[derive(Object)]
pub struct LogEntry {
    id: String,
    created: String,
    /// 0 info, 4 warn, 8 error (as slog).
    level: i64,
    message: String,
    /// `{type, method, url, status, execTime, remoteIP, userIP, referer, userAgent, auth,
    /// authId?, error?}`.
    data: BTreeMap<String, Value>,
}

/// `GET /api/logs/stats`: requests per hour.
#[derive(Object)]
pub struct LogStat {
    total: i64,
    /// The hour, `2006-01-02 15:00:00.000Z`.
    date: String,
}

/// One plugin (`GET /api/plugins`).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Plugin {
    name: String,
    description: String,
    dir: String,
    /// The sidecar's state, e.g. `running`, `stopped`, `crashed`.
    status: String,
    restarts: i64,
    last_error: Value,
    pid: Value,
    port: Value,
    /// `{event, collections, url, timeout, onError}` per hook.
    hooks: Vec<BTreeMap<String, Value>>,
    webhooks: Value,
}

/// `smtp` settings (the password is never sent back).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct SmtpSettings {
    enabled: Option<bool>,
    host: Option<String>,
    port: Option<i64>,
    username: Option<String>,
    password: Option<String>,
    auth_method: Option<String>,
    tls: Option<bool>,
    local_name: Option<String>,
}

/// `s3` settings (also `backups.s3`; the secret is never sent back).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct S3Settings {
    enabled: Option<bool>,
    bucket: Option<String>,
    region: Option<String>,
    endpoint: Option<String>,
    access_key: Option<String>,
    secret: Option<String>,
    force_path_style: Option<bool>,
}

/// `backups` settings.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct BackupsSettings {
    /// A cron expression; empty turns automatic backups off.
    cron: Option<String>,
    cron_max_keep: Option<i64>,
    s3: Option<S3Settings>,
}

/// `meta` settings.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct MetaSettings {
    app_name: Option<String>,
    #[oai(rename = "appURL")]
    app_url: Option<String>,
    sender_name: Option<String>,
    sender_address: Option<String>,
    hide_controls: Option<bool>,
}

/// `rateLimits` settings.
#[derive(Object)]
pub struct RateLimitsSettings {
    enabled: Option<bool>,
    /// `{label, audience, duration, maxRequests}` per rule.
    rules: Option<Vec<BTreeMap<String, Value>>>,
}

/// `trustedProxy` settings.
#[derive(Object)]
pub struct TrustedProxySettings {
    headers: Option<Vec<String>>,
    #[oai(rename = "useLeftmostIP")]
    use_leftmost_ip: Option<bool>,
}

/// `batch` settings.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct BatchSettings {
    enabled: Option<bool>,
    max_requests: Option<i64>,
    timeout: Option<i64>,
    max_body_size: Option<i64>,
}

/// `logs` settings.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct LogsSettings {
    max_days: Option<i64>,
    min_level: Option<i64>,
    #[oai(rename = "logIP")]
    log_ip: Option<bool>,
    log_auth_id: Option<bool>,
}

/// The application settings (`GET` answers every section; `PATCH` takes any of them and merges).
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct Settings {
    meta: Option<MetaSettings>,
    smtp: Option<SmtpSettings>,
    s3: Option<S3Settings>,
    backups: Option<BackupsSettings>,
    rate_limits: Option<RateLimitsSettings>,
    trusted_proxy: Option<TrustedProxySettings>,
    batch: Option<BatchSettings>,
    logs: Option<LogsSettings>,
}

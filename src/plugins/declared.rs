//! `[[webhooks]]` of a manifest: validated into [`DeclaredWebhook`]s with placeholders
//! substituted. The plugins module only declares them; the webhooks service registers and
//! delivers them (signed with the plugin's `{secret}` unless the manifest names another).

use super::manifest::{Check, ManifestError};
use super::vars::Vars;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Webhook timeout in seconds when the manifest gives none (as the webhooks API).
pub const DEFAULT_WEBHOOK_TIMEOUT_SECS: u64 = 10;
/// The record actions a webhook may subscribe to.
pub const ACTIONS: [&str; 3] = ["create", "update", "delete"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    name: Option<String>,
    url: String,
    #[serde(default)]
    collections: Vec<String>,
    #[serde(default)]
    actions: Vec<String>,
    #[serde(default)]
    filter: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    timeout: Option<u64>,
    secret: Option<String>,
    enabled: Option<bool>,
}

/// A webhook a plugin's manifest declares, ready to register (same fields as the webhooks API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclaredWebhook {
    /// The declaring plugin's name.
    pub plugin: String,
    /// Position among the manifest's `[[webhooks]]` (stable key with `plugin`).
    pub index: usize,
    /// The manifest's `name`, else `<plugin>/<index>`.
    pub name: String,
    pub url: String,
    /// Collection names or ids; empty = all.
    pub collections: Vec<String>,
    /// Subset of `create`, `update`, `delete`; empty = all.
    pub actions: Vec<String>,
    /// Query-engine filter (checked by the webhooks service when it registers the webhook).
    pub filter: String,
    pub headers: BTreeMap<String, String>,
    /// Seconds per delivery attempt.
    pub timeout: u64,
    /// `whsec_…` signing secret: the plugin's `{secret}` unless the manifest sets one.
    #[serde(skip)]
    pub secret: String,
    pub enabled: bool,
}

/// A Standard Webhooks secret: `whsec_` + base64 of at least 24 bytes.
fn valid_secret(s: &str) -> bool {
    s.strip_prefix("whsec_")
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .is_some_and(|bytes| bytes.len() >= 24)
}

pub(super) fn validate(
    check: &Check,
    plugin: &str,
    index: usize,
    raw: RawWebhook,
    vars: &Vars,
) -> Result<DeclaredWebhook, ManifestError> {
    let key = |k: &str| format!("webhooks[{index}].{k}");
    let url = check.url(&key("url"), &raw.url, vars)?;
    check.collections(&key("collections"), &raw.collections)?;
    if let Some(i) = raw
        .actions
        .iter()
        .position(|a| !ACTIONS.contains(&a.as_str()))
    {
        return Err(check.err(
            format!("{}[{i}]", key("actions")),
            format!("{:?} is not one of create, update, delete", raw.actions[i]),
        ));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in &raw.headers {
        let k = format!("{}.{name}", key("headers"));
        check.no_token(&k, value)?;
        let value = vars.apply(value);
        if poem::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(check.err(k, "is not a valid header name"));
        }
        if poem::http::HeaderValue::from_str(&value).is_err() {
            return Err(check.err(k, "is not a valid header value"));
        }
        headers.insert(name.clone(), value);
    }
    let timeout = raw.timeout.unwrap_or(DEFAULT_WEBHOOK_TIMEOUT_SECS);
    if !(1..=300).contains(&timeout) {
        return Err(check.err(key("timeout"), "must be 1 to 300 seconds"));
    }
    let secret = match &raw.secret {
        None => vars.secret.clone(),
        Some(s) => {
            check.no_token(&key("secret"), s)?;
            let s = vars.apply(s);
            if !valid_secret(&s) {
                return Err(check.err(
                    key("secret"),
                    "must be \"{secret}\" or whsec_ + base64 of at least 24 bytes",
                ));
            }
            s
        }
    };
    Ok(DeclaredWebhook {
        plugin: plugin.to_string(),
        index,
        name: raw
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("{plugin}/{index}")),
        url,
        collections: raw.collections,
        actions: raw.actions,
        filter: raw.filter,
        headers,
        timeout,
        secret,
        enabled: raw.enabled.unwrap_or(true),
    })
}

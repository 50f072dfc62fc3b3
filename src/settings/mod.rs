//! Application settings (`GET/PATCH /api/settings`, superusers only): PocketBase's document
//! (`meta`, `smtp`, `s3`, `backups`, `batch`, `rateLimits`, `trustedProxy`, `logs`).
//!
//! The config file gives the defaults ([`Settings::defaults`]); what superusers saved wins key by
//! key. Only the saved keys are stored (metadata `m/_settings`, the merge of every PATCH), so a
//! key never saved keeps following the config file. Reads are an `Arc` swap away
//! ([`SettingsService::current`]), so the mailer, batch, request log and health see a change
//! with their next use — no restart. Secrets (`smtp.password`, `s3.secret`,
//! `backups.s3.secret`) are never shown, as PocketBase; a PATCH without them keeps them.

mod model;

pub use model::{
    check_cron, Backups, Batch, Logs, Meta, RateLimitRule, RateLimits, Settings, Smtp,
    TrustedProxy, S3,
};

use crate::auth::Caller;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::{Store, WriteOp};
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};

/// Metadata key of the saved settings (the saved keys only).
const META_SETTINGS: &str = "_settings";
/// Deepest nesting a PATCH may have (the document has 4 levels).
const MAX_DEPTH: usize = 8;

pub struct SettingsService {
    store: Arc<dyn Store>,
    defaults: Settings,
    /// The effective settings: defaults overlaid with the saved keys.
    current: RwLock<Arc<Settings>>,
    /// Serializes PATCHes (read, merge, write).
    saving: tokio::sync::Mutex<()>,
}

/// `base` with `patch` merged in: objects key by key, anything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The effective settings: `saved` over `defaults`. A type mismatch (a saved value the model
/// no longer reads) is reported.
fn effective(defaults: &Settings, saved: &Value) -> Result<Settings, String> {
    let mut v = serde_json::to_value(defaults).map_err(|e| e.to_string())?;
    merge(&mut v, saved);
    serde_json::from_value(v).map_err(|e| e.to_string())
}

impl SettingsService {
    /// Loads the saved settings over the config's defaults. A saved document that no longer
    /// reads is ignored (logged), never fatal: the server starts with the config's values.
    pub fn open(store: Arc<dyn Store>, config: &Config) -> Self {
        let defaults = Settings::defaults(config);
        let saved = Self::saved(store.as_ref());
        let current = match effective(&defaults, &saved) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "stored settings are invalid; using the config file's");
                defaults.clone()
            }
        };
        Self {
            store,
            defaults,
            current: RwLock::new(Arc::new(current)),
            saving: tokio::sync::Mutex::new(()),
        }
    }

    fn saved(store: &dyn Store) -> Value {
        store
            .get_meta(META_SETTINGS)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// Whether a PATCH ever saved the top-level key `key` (else it follows the config file).
    /// Reads the store.
    pub fn is_saved(&self, key: &str) -> bool {
        Self::saved(self.store.as_ref()).get(key).is_some()
    }

    /// The settings in effect now (cheap: an `Arc` clone).
    pub fn current(&self) -> Arc<Settings> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// `GET /api/settings`.
    pub fn get(&self, caller: &Caller) -> ApiResult<Value> {
        caller.require_superuser()?;
        Ok(self.current().to_api_json())
    }

    /// `PATCH /api/settings`: merges `patch` into the saved keys, validates the result as a
    /// whole (400 with the field paths; nothing saved) and saves it durably.
    pub async fn update(&self, caller: &Caller, patch: &Map<String, Value>) -> ApiResult<Value> {
        caller.require_superuser()?;
        let patch = Value::Object(patch.clone());
        if depth(&patch) > MAX_DEPTH {
            return Err(ApiError::bad_request(
                "Failed to load the submitted data due to invalid formatting.",
            ));
        }
        let _guard = self.saving.lock().await;
        let mut saved = Self::saved(self.store.as_ref());
        merge(&mut saved, &patch);
        let next = effective(&self.defaults, &saved).map_err(|e| {
            ApiError::bad_request(format!(
                "Failed to load the submitted data due to invalid formatting: {}",
                crate::error::echo(&e)
            ))
        })?;
        let errors = next.validate();
        if !errors.is_empty() {
            return Err(ApiError::validation(
                "An error occurred while submitting the form.",
                errors,
            ));
        }
        // Keep only keys the model knows, with the model's values: unknown ones are dropped,
        // like PocketBase.
        let saved = prune(
            &saved,
            &serde_json::to_value(&next).map_err(ApiError::internal)?,
        );
        self.store
            .commit(vec![WriteOp::PutMeta {
                key: META_SETTINGS.into(),
                value: saved.to_string().into_bytes(),
            }])
            .await
            .map_err(ApiError::internal)?;
        let next = Arc::new(next);
        match self.current.write() {
            Ok(mut g) => *g = next.clone(),
            Err(p) => *p.into_inner() = next.clone(),
        }
        Ok(next.to_api_json())
    }
}

/// The keys of `saved` that `doc` (the full, typed document) has, with `doc`'s values: what is
/// stored is normalized by the model (unknown keys, also inside list items, are dropped).
fn prune(saved: &Value, doc: &Value) -> Value {
    match (saved, doc) {
        (Value::Object(s), Value::Object(model)) => Value::Object(
            s.iter()
                .filter_map(|(k, v)| model.get(k).map(|m| (k.clone(), prune(v, m))))
                .collect(),
        ),
        (_, d) => d.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_and_prune_keep_saved_keys_only() {
        let mut saved = json!({"meta": {"appName": "A"}});
        merge(
            &mut saved,
            &json!({"meta": {"appURL": "http://x"}, "bogus": 1, "smtp": {"port": 25}}),
        );
        assert_eq!(
            saved,
            json!({"meta": {"appName": "A", "appURL": "http://x"}, "bogus": 1, "smtp": {"port": 25}})
        );
        let d = Settings::defaults(&Config::default());
        let next = effective(&d, &saved).unwrap();
        assert_eq!(next.meta.app_name, "A");
        assert_eq!(next.smtp.port, 25);
        assert_eq!(next.meta.sender_address, d.meta.sender_address);
        let pruned = prune(&saved, &serde_json::to_value(&next).unwrap());
        assert!(pruned.get("bogus").is_none());
        assert_eq!(pruned["meta"]["appURL"], "http://x");
        assert_eq!(depth(&json!({"a": {"b": [1]}})), 3);
        let with_rules =
            json!({"rateLimits": {"rules": [{"label": "/api/", "bogus": "x".repeat(10)}]}});
        let next = effective(&d, &with_rules).unwrap();
        let pruned = prune(&with_rules, &serde_json::to_value(&next).unwrap());
        assert!(
            pruned["rateLimits"]["rules"][0].get("bogus").is_none(),
            "{pruned}"
        );
        assert_eq!(pruned["rateLimits"]["rules"][0]["label"], "/api/");
    }

    #[test]
    fn a_wrong_type_is_an_error_not_a_panic() {
        let d = Settings::defaults(&Config::default());
        assert!(effective(&d, &json!({"smtp": {"port": "x"}})).is_err());
        assert!(effective(&d, &json!({"smtp": 5})).is_err());
    }
}

//! Webhooks declared in configuration rather than through the API (a plugin's `[[webhooks]]`):
//! stored like any other under a stable id derived from the owner and key, so their cursors and
//! delivery logs survive restarts; re-declared (updated) on every start; deleted when their owner
//! no longer declares them; read-only through the API. Their owner is trusted (installed by the
//! operator), so they may target loopback and private addresses (their sidecar).

use super::model::{self, Webhook};
use super::WebhookService;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One declared webhook: `owner` (a plugin's name) and `key` (its position) identify it;
/// `body` has the API's fields (`url`, `collections`, `actions`, `filter`, `headers`,
/// `timeout`, `secret`, `enabled`, `name`).
#[derive(Debug, Clone)]
pub struct Declared {
    pub owner: String,
    pub key: String,
    pub body: Map<String, Value>,
}

/// The stable id of a declared webhook: `p` + 14 hex digits of SHA-256(owner "/" key).
pub fn declared_id(owner: &str, key: &str) -> String {
    let digest = Sha256::digest(format!("{owner}/{key}").as_bytes());
    let hex: String = digest.iter().take(7).map(|b| format!("{b:02x}")).collect();
    format!("p{hex}")
}

impl WebhookService {
    /// Makes the stored declared webhooks exactly `declared`: new ones start at the present,
    /// existing ones keep their cursor and log, ones no longer declared are deleted. Call before
    /// [`WebhookService::start`]. Errors name the owner and the field.
    pub async fn declare(&self, declared: Vec<Declared>) -> Result<(), String> {
        let snap = self.shared.records.schema.snapshot();
        let mut keep = Vec::new();
        for d in declared {
            let id = declared_id(&d.owner, &d.key);
            let current = super::lock(&self.hooks).get(&id).map(|r| (*r.hook).clone());
            let mut hook = model::apply(&d.body, current.as_ref(), &snap, true)
                .map_err(|e| format!("plugin {} webhook {}: {}", d.owner, d.key, e.summary()))?;
            hook.id = id.clone();
            hook.plugin = Some(d.owner.clone());
            if current.as_ref() != Some(&hook) {
                self.store_declared(hook, current.is_none()).await?;
            }
            keep.push(id);
        }
        let stale: Vec<String> = super::lock(&self.hooks)
            .values()
            .filter(|r| r.hook.plugin.is_some() && !keep.contains(&r.hook.id))
            .map(|r| r.hook.id.clone())
            .collect();
        for id in stale {
            self.remove(&id).await.map_err(|e| e.summary())?;
        }
        Ok(())
    }

    async fn store_declared(&self, hook: Webhook, created: bool) -> Result<(), String> {
        let ops = self
            .definition_ops(&hook, created)
            .map_err(|e| e.summary())?;
        self.shared
            .store
            .commit(ops)
            .await
            .map_err(|e| format!("cannot store webhook {}: {e}", hook.id))?;
        let mut hooks = super::lock(&self.hooks);
        hooks.insert(hook.id.clone(), super::Running::idle(hook));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_ids_are_stable_and_distinct() {
        assert_eq!(declared_id("audit", "0"), declared_id("audit", "0"));
        assert_ne!(declared_id("audit", "0"), declared_id("audit", "1"));
        assert_ne!(declared_id("a/b", "c"), declared_id("a", "b/c0"));
        assert_eq!(declared_id("audit", "0").len(), 15);
    }
}

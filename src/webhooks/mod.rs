//! Webhooks: durable, signed HTTP notifications of record changes (Standard Webhooks).
//!
//! - `model`: a webhook's definition and validation of create/update bodies;
//! - `target`: the SSRF guard (on save and, through the HTTP client's resolver, on every attempt);
//! - `sign`: secrets and signatures; `send`: one attempt; `payload`: what an event becomes;
//! - `delivery`: the delivery log and the retry queue (metadata in the store);
//! - `worker`: one dispatcher task per enabled webhook, reading the change log from its cursor.
//!
//! [`WebhookService`] owns the definitions and their workers; every method that the API calls
//! takes the [`Caller`] and requires a superuser itself.

mod declared;
pub mod deliveries;
mod delivery;
mod model;
mod payload;
mod send;
mod sign;
mod target;
mod worker;

pub use declared::{declared_id, Declared};
pub use delivery::{Delivery, Status};
pub use model::Webhook;
pub use sign::{new_secret, signature};

use crate::auth::Caller;
use crate::config::WebhooksConfig;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::records::RecordService;
use crate::store::{cursor_op, Store, WriteOp, META_CURSOR};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use worker::{Health, Shared};

struct Running {
    hook: Arc<Webhook>,
    health: Arc<Health>,
    stop: Option<watch::Sender<bool>>,
}

pub struct WebhookService {
    shared: Arc<Shared>,
    hooks: Mutex<HashMap<String, Running>>,
    /// Set once the dispatchers may run (after the server started).
    started: Mutex<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl WebhookService {
    /// Loads the stored webhooks (their dispatchers start with [`WebhookService::start`]).
    pub fn open(
        store: Arc<dyn Store>,
        records: Arc<RecordService>,
        config: WebhooksConfig,
    ) -> Result<Self, String> {
        let delays = config.retry_delays()?;
        config.retention()?;
        let client = target::client(config.allow_private_targets)?;
        let mut hooks = HashMap::new();
        let cursors: HashMap<String, u64> = crate::store::cursors(store.as_ref())
            .map_err(|e| format!("cannot read webhook cursors: {e}"))?
            .into_iter()
            .map(|(name, seq)| (name, seq.0))
            .collect();
        let stored = store
            .scan_meta(delivery::WEBHOOK_PREFIX)
            .map_err(|e| format!("cannot read webhooks: {e}"))?;
        for (key, bytes) in stored {
            match serde_json::from_slice::<Webhook>(&bytes) {
                Ok(w) => {
                    let cursor = cursors.get(&delivery::consumer(&w.id)).copied();
                    let running = Running::idle(w);
                    running
                        .health
                        .cursor
                        .store(cursor.unwrap_or_else(|| store.head().0), Ordering::Relaxed);
                    hooks.insert(running.hook.id.clone(), running);
                }
                Err(e) => tracing::error!(key, error = %e, "unreadable webhook definition skipped"),
            }
        }
        Ok(Self {
            shared: Arc::new(Shared {
                store,
                records,
                client,
                config,
                delays,
            }),
            hooks: Mutex::new(hooks),
            started: Mutex::new(false),
        })
    }

    /// Starts a dispatcher for every enabled webhook (call from inside the runtime).
    pub fn start(&self) {
        *lock(&self.started) = true;
        let mut hooks = lock(&self.hooks);
        for r in hooks.values_mut() {
            r.spawn(&self.shared);
        }
    }

    /// Stops every dispatcher (in-flight attempts are abandoned; their events are resent after
    /// the next start, with the same `webhook-id`).
    pub fn stop(&self) {
        *lock(&self.started) = false;
        for r in lock(&self.hooks).values_mut() {
            r.halt();
        }
    }

    fn snapshot_of(&self, id: &str) -> ApiResult<(Arc<Webhook>, Arc<Health>)> {
        let hooks = lock(&self.hooks);
        let r = hooks.get(id).ok_or_else(ApiError::not_found)?;
        Ok((r.hook.clone(), r.health.clone()))
    }

    /// The API view of a webhook with its live state.
    fn view_json(&self, hook: &Webhook, health: &Health) -> Value {
        let snap = self.shared.records.schema.snapshot();
        let mut v = hook.to_api_json(&snap);
        let head = self.shared.store.head().0;
        let cursor = health.cursor.load(Ordering::Relaxed);
        let failures = health.failures.load(Ordering::Relaxed);
        let state = if !hook.enabled {
            "disabled"
        } else if health.backlogged.load(Ordering::Relaxed) {
            "backlogged"
        } else if failures >= self.shared.config.breaker_after.max(1) {
            "failing"
        } else {
            "active"
        };
        v["status"] = serde_json::json!({
            "state": state,
            "cursor": cursor,
            "lag": head.saturating_sub(cursor),
            "pending": health.pending.load(Ordering::Relaxed),
            "consecutiveFailures": failures,
            "deliveredSinceStart": health.delivered.load(Ordering::Relaxed),
            "failedSinceStart": health.failed.load(Ordering::Relaxed),
            "lastError": lock(&health.last_error).clone(),
        });
        v
    }

    pub fn list(&self, caller: &Caller) -> ApiResult<Vec<Value>> {
        caller.require_superuser()?;
        let hooks = lock(&self.hooks);
        let mut all: Vec<&Running> = hooks.values().collect();
        all.sort_by(|a, b| (&a.hook.created, &a.hook.id).cmp(&(&b.hook.created, &b.hook.id)));
        Ok(all
            .iter()
            .map(|r| self.view_json(&r.hook, &r.health))
            .collect())
    }

    pub fn view(&self, caller: &Caller, id: &str) -> ApiResult<Value> {
        caller.require_superuser()?;
        let (hook, health) = self.snapshot_of(id)?;
        Ok(self.view_json(&hook, &health))
    }

    pub async fn create(&self, caller: &Caller, body: &Map<String, Value>) -> ApiResult<Value> {
        caller.require_superuser()?;
        if lock(&self.hooks).len() >= self.shared.config.max_webhooks {
            return Err(ApiError::bad_request(format!(
                "At most {} webhooks ([webhooks] max_webhooks).",
                self.shared.config.max_webhooks
            )));
        }
        let hook = self.validated(body, None).await?;
        self.save(hook, true).await
    }

    pub async fn update(
        &self,
        caller: &Caller,
        id: &str,
        body: &Map<String, Value>,
    ) -> ApiResult<Value> {
        caller.require_superuser()?;
        let (current, _) = self.snapshot_of(id)?;
        if current.plugin.is_some() {
            return Err(ApiError::bad_request(
                "This webhook is declared by a plugin; change its plugin.toml instead.",
            ));
        }
        let hook = self.validated(body, Some(&current)).await?;
        self.save(hook, false).await
    }

    async fn validated(
        &self,
        body: &Map<String, Value>,
        current: Option<&Webhook>,
    ) -> ApiResult<Webhook> {
        let snap = self.shared.records.schema.snapshot();
        let allow = self.shared.config.allow_private_targets;
        let hook = model::apply(body, current, &snap, allow)?;
        if current.is_none_or(|c| c.url != hook.url) {
            let url = target::check_url(&hook.url, allow);
            let checked = match url {
                Ok(u) => target::resolve_checked(&u, allow).await,
                Err(e) => Err(e),
            };
            if let Err(e) = checked {
                let msg = if current.is_some() {
                    model::MSG_UPDATE
                } else {
                    model::MSG_CREATE
                };
                return Err(ApiError::bad_field(
                    msg,
                    "url",
                    FieldError::new("validation_invalid_url", e),
                ));
            }
        }
        Ok(hook)
    }

    /// Stores `hook` (with its cursor at the present when it is new or re-enabled) and
    /// restarts its dispatcher.
    async fn save(&self, hook: Webhook, created: bool) -> ApiResult<Value> {
        let was_enabled = lock(&self.hooks)
            .get(&hook.id)
            .is_some_and(|r| r.hook.enabled);
        let fresh = created || !was_enabled;
        let ops = self.definition_ops(&hook, fresh)?;
        self.shared
            .store
            .commit(ops)
            .await
            .map_err(ApiError::internal)?;
        let started = *lock(&self.started);
        let mut hooks = lock(&self.hooks);
        let mut running = Running::idle(hook);
        let old = hooks.remove(&running.hook.id).map(|mut old| {
            old.halt();
            old.health.cursor.load(Ordering::Relaxed)
        });
        // Until its new dispatcher reports, the webhook is where its cursor was written.
        let cursor = match old {
            Some(kept) if !fresh => kept,
            _ => self.shared.store.head().0,
        };
        running.health.cursor.store(cursor, Ordering::Relaxed);
        if started {
            running.spawn(&self.shared);
        }
        let v = self.view_json(&running.hook, &running.health);
        hooks.insert(running.hook.id.clone(), running);
        Ok(v)
    }

    /// The writes that store `hook`; `fresh`: it starts now (new or re-enabled), so its cursor
    /// is set to the head — a webhook receives nothing from before it existed or was enabled.
    /// A disabled webhook's cursor is deleted: it must not hold the change log back.
    fn definition_ops(&self, hook: &Webhook, fresh: bool) -> Result<Vec<WriteOp>, ApiError> {
        let mut ops = vec![WriteOp::PutMeta {
            key: delivery::webhook_key(&hook.id),
            value: serde_json::to_vec(hook).map_err(ApiError::internal)?,
        }];
        let consumer = delivery::consumer(&hook.id);
        if hook.enabled && fresh {
            ops.push(cursor_op(&consumer, self.shared.store.head()));
        } else if !hook.enabled {
            ops.push(WriteOp::DeleteMeta {
                key: format!("{META_CURSOR}{consumer}"),
            });
        }
        Ok(ops)
    }

    /// Deletes a webhook, its cursor, its delivery log and its retry queue.
    pub async fn delete(&self, caller: &Caller, id: &str) -> ApiResult<()> {
        caller.require_superuser()?;
        let (hook, _) = self.snapshot_of(id)?;
        if hook.plugin.is_some() {
            return Err(ApiError::bad_request(
                "This webhook is declared by a plugin; remove it from its plugin.toml instead.",
            ));
        }
        self.remove(id).await
    }

    /// Stops and deletes a webhook with everything it stored.
    async fn remove(&self, id: &str) -> ApiResult<()> {
        if let Some(mut r) = lock(&self.hooks).remove(id) {
            r.halt();
        }
        let consumer = delivery::consumer(id);
        let mut ops = vec![
            WriteOp::DeleteMeta {
                key: delivery::webhook_key(id),
            },
            WriteOp::DeleteMeta {
                key: format!("{META_CURSOR}{consumer}"),
            },
        ];
        for prefix in [delivery::deliveries_prefix(id), delivery::queue_prefix(id)] {
            let keys = self
                .shared
                .store
                .scan_meta(&prefix)
                .map_err(ApiError::internal)?;
            ops.extend(keys.into_iter().map(|(key, _)| WriteOp::DeleteMeta { key }));
        }
        for chunk in ops.chunks(5000) {
            self.shared
                .store
                .commit(chunk.to_vec())
                .await
                .map_err(ApiError::internal)?;
        }
        Ok(())
    }
}

impl Running {
    fn idle(hook: Webhook) -> Self {
        Self {
            hook: Arc::new(hook),
            health: Arc::new(Health::default()),
            stop: None,
        }
    }

    fn spawn(&mut self, shared: &Arc<Shared>) {
        self.halt();
        if !self.hook.enabled {
            return;
        }
        let (tx, rx) = watch::channel(false);
        tokio::spawn(worker::run(
            shared.clone(),
            self.hook.clone(),
            self.health.clone(),
            rx,
        ));
        self.stop = Some(tx);
    }

    fn halt(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
    }
}

impl Drop for WebhookService {
    fn drop(&mut self) {
        self.stop();
    }
}

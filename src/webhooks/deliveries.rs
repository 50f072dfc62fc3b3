//! The delivery log through the API: newest-first pages with an optional filter (the query
//! engine's syntax over `status`, `type`, `eventId`, `seq`, `attempts`, `created`, `updated`),
//! redelivery, test events, and retention.

use super::delivery::{self, Delivery, Status};
use super::worker::now_ms;
use super::{lock, payload, WebhookService};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::{virtual_collection, EvalEnv, RequestInfo, RowQuery};
use crate::records::{Page, PageParams};
use crate::schema::{now_string, Collection, Field, FieldKind, TextOptions};
use crate::store::WriteOp;
use serde_json::Value;
use std::sync::Arc;

/// Deliveries read from the store per scan step.
const SCAN_STEP: usize = 512;
/// Most deliveries one list request examines (filtering and counting are linear).
const MAX_SCANNED: usize = 1_000_000;

/// The fields a deliveries filter may name, as a collection the query engine compiles against.
fn delivery_fields() -> Arc<Collection> {
    let text = |n: &str| Field::new(n, FieldKind::Text(TextOptions::default()));
    let number = |n: &str| {
        Field::new(
            n,
            FieldKind::Number {
                min: None,
                max: None,
                only_int: true,
            },
        )
    };
    virtual_collection(
        "_webhook_deliveries",
        vec![
            text("id"),
            text("status"),
            text("type"),
            text("eventId"),
            number("seq"),
            number("attempts"),
            text("created"),
            text("updated"),
        ],
    )
}

impl WebhookService {
    pub async fn deliveries(
        &self,
        caller: &Caller,
        id: &str,
        q: &PageParams,
    ) -> ApiResult<Page<Value>> {
        caller.require_superuser()?;
        self.snapshot_of(id)?;
        let (page, per_page, skip_total) = q.resolve()?;
        let snap = self.shared.records.schema.snapshot();
        let filter = RowQuery::compile(&delivery_fields(), &snap, q.filter(), None)?;
        let shared = self.shared.clone();
        let prefix = delivery::deliveries_prefix(id);
        let job = move || -> ApiResult<Page<Value>> {
            let env = EvalEnv::new(
                shared.store.as_ref(),
                &snap,
                &shared.records.rules,
                RequestInfo::default(),
                chrono::Utc::now(),
            );
            let skip = (page - 1).saturating_mul(per_page);
            let (mut matched, mut scanned, mut items) = (0usize, 0usize, Vec::new());
            let mut from: Option<String> = None;
            loop {
                let step = shared
                    .store
                    .scan_meta_page(&prefix, from.as_deref(), true, SCAN_STEP)
                    .map_err(ApiError::internal)?;
                let Some((last, _)) = step.last() else { break };
                from = Some(last.clone());
                for (_, bytes) in &step {
                    let Ok(d) = serde_json::from_slice::<Delivery>(bytes) else {
                        continue;
                    };
                    let ok = filter.matches(&d.filter_fields(), &env).unwrap_or(false);
                    if ok {
                        if matched >= skip && items.len() < per_page {
                            items.push(d.to_api_json());
                        }
                        matched += 1;
                    }
                }
                scanned += step.len();
                let enough = items.len() == per_page && skip_total;
                if enough || scanned >= MAX_SCANNED || step.len() < SCAN_STEP {
                    break;
                }
            }
            Ok(Page::new(
                items,
                page,
                per_page,
                (!skip_total).then_some(matched),
            ))
        };
        tokio::task::spawn_blocking(job)
            .await
            .map_err(ApiError::internal)?
    }

    fn load_delivery(&self, hook: &str, id: &str) -> ApiResult<Delivery> {
        let bytes = self
            .shared
            .store
            .get_meta(&delivery::delivery_key(hook, id))
            .map_err(ApiError::internal)?
            .ok_or_else(ApiError::not_found)?;
        serde_json::from_slice(&bytes).map_err(ApiError::internal)
    }

    /// A new attempt of a delivery now, with the same `webhook-id` and body. A success settles
    /// it; a failure leaves a retrying delivery on its schedule and marks a settled one failed.
    pub async fn redeliver(&self, caller: &Caller, hook_id: &str, id: &str) -> ApiResult<Value> {
        caller.require_superuser()?;
        let (hook, health) = self.snapshot_of(hook_id)?;
        let mut d = self.load_delivery(hook_id, id)?;
        let a = self.shared.send(&hook, &d.event_id, &d.body).await;
        let ok = a.ok();
        d.attempts.push(a);
        d.updated = now_string();
        if ok {
            d.status = Status::Delivered;
            d.next_attempt_at = None;
        } else if d.status != Status::Retrying {
            d.status = Status::Failed;
        }
        self.shared
            .store
            .commit(d.ops())
            .await
            .map_err(ApiError::internal)?;
        health.wake.notify_one();
        Ok(d.to_api_json())
    }

    /// Sends a signed `webhook.test` event now and records it in the delivery log.
    pub async fn test(&self, caller: &Caller, hook_id: &str) -> ApiResult<Value> {
        caller.require_superuser()?;
        let (hook, _) = self.snapshot_of(hook_id)?;
        let now = now_ms();
        let did = delivery::new_id(now);
        let mut d = Delivery {
            event_id: format!("msg_{}_test_{did}", hook.id),
            id: did,
            webhook_id: hook.id.clone(),
            seq: None,
            kind: "webhook.test".into(),
            status: Status::Pending,
            attempts: Vec::new(),
            next_attempt_at: None,
            created: now_string(),
            updated: now_string(),
            body: payload::test_body(&hook),
        };
        let a = self.shared.send(&hook, &d.event_id, &d.body).await;
        d.status = if a.ok() {
            Status::Delivered
        } else {
            Status::Failed
        };
        d.attempts.push(a);
        self.shared
            .store
            .commit(d.ops())
            .await
            .map_err(ApiError::internal)?;
        Ok(d.to_api_json())
    }

    /// Deletes settled deliveries older than the retention (retrying ones are kept until they
    /// settle). Returns how many were removed.
    pub async fn trim_deliveries(&self) -> usize {
        let Ok(retention) = self.shared.config.retention() else {
            return 0;
        };
        let floor = delivery::id_floor(now_ms() - retention.as_millis() as i64);
        let ids: Vec<String> = lock(&self.hooks).keys().cloned().collect();
        let mut removed = 0;
        for hook in ids {
            let prefix = delivery::deliveries_prefix(&hook);
            let mut from: Option<String> = None;
            while let Ok(step) =
                self.shared
                    .store
                    .scan_meta_page(&prefix, from.as_deref(), false, SCAN_STEP)
            {
                let Some((last, _)) = step.last() else { break };
                from = Some(last.clone());
                let past_floor = step.iter().any(|(k, _)| k[prefix.len()..] >= *floor);
                let old: Vec<WriteOp> = step
                    .iter()
                    .filter(|(k, _)| k[prefix.len()..] < *floor)
                    .filter(|(_, v)| {
                        serde_json::from_slice::<Delivery>(v)
                            .is_ok_and(|d| d.status != Status::Retrying)
                    })
                    .map(|(key, _)| WriteOp::DeleteMeta { key: key.clone() })
                    .collect();
                removed += old.len();
                if !old.is_empty() && self.shared.store.commit(old).await.is_err() {
                    break;
                }
                if past_floor || step.len() < SCAN_STEP {
                    break;
                }
            }
        }
        removed
    }
}

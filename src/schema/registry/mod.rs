//! The live set of collections: an in-memory snapshot readers share without locking, and the
//! serialized path for schema changes (validate → one store transaction → swap the snapshot).
//!
//! - `snapshot`: the immutable view readers share.
//! - `plan`: what a create/update/delete of a collection writes, validated against the others.
//! - `reverse`: the one-time reverse-relation index build for data dirs that predate it.

mod plan;
mod reverse;
mod snapshot;

pub use snapshot::Snapshot;

use self::plan::{plan_create, plan_delete, plan_update};
use self::reverse::build_reverse_relations;
use super::{superusers_collection, users_collection, Collection};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::ids::CollectionId;
use crate::store::{Store, StoreError, WriteOp, META_COLLECTION};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Which rules of a collection do not compile against a schema: `(rule key, reason)` pairs.
/// The query engine supplies it (`query::invalid_rules`); the schema only stores rule sources.
pub type RuleCheck = fn(&Arc<Collection>, &Snapshot) -> Vec<(&'static str, String)>;

pub struct Registry {
    /// Refuses collections whose rules do not compile (see [`RuleCheck`]).
    rule_check: RuleCheck,
    current: RwLock<Arc<Snapshot>>,
    /// Serializes schema changes so validation sees the state it commits against.
    change: tokio::sync::Mutex<()>,
    /// The last data epoch handed to a snapshot.
    epochs: AtomicU64,
}

fn meta_key(id: &CollectionId) -> String {
    format!("{META_COLLECTION}{id}")
}

fn put_meta(c: &Collection) -> WriteOp {
    WriteOp::PutMeta {
        key: meta_key(&c.id),
        value: c.to_storage(),
    }
}

impl Registry {
    /// Loads stored collections, creating the system collections on a fresh data dir.
    pub async fn load(store: &dyn Store, rule_check: RuleCheck) -> Result<Self, String> {
        let mut cols = Vec::new();
        for (key, bytes) in store
            .scan_meta(META_COLLECTION)
            .map_err(|e| e.to_string())?
        {
            cols.push(Arc::new(
                Collection::from_storage(&bytes).map_err(|e| format!("{key}: {e}"))?,
            ));
        }
        if !cols.iter().any(|c| c.id.as_str() == super::SUPERUSERS_ID) {
            let su = superusers_collection();
            let mut fresh = vec![su];
            if cols.is_empty() {
                // A fresh data dir also gets PocketBase's default `users` collection.
                fresh.push(users_collection());
            }
            store
                .commit(fresh.iter().map(put_meta).collect())
                .await
                .map_err(|e| e.to_string())?;
            cols.extend(fresh.into_iter().map(Arc::new));
        }
        build_reverse_relations(store, &cols).await?;
        Ok(Self {
            rule_check,
            current: RwLock::new(Arc::new(Snapshot::build(cols, 1))),
            change: tokio::sync::Mutex::new(()),
            epochs: AtomicU64::new(1),
        })
    }

    /// The current snapshot (cheap: one Arc clone).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn get(&self, id_or_name: &str) -> Option<Arc<Collection>> {
        self.snapshot().get(id_or_name).cloned()
    }

    /// Looks a collection up or fails with PocketBase's 404 "Missing collection context.".
    pub fn require(&self, id_or_name: &str) -> ApiResult<Arc<Collection>> {
        self.get(id_or_name)
            .ok_or_else(ApiError::missing_collection)
    }

    async fn apply(
        &self,
        store: &dyn Store,
        txn: Vec<WriteOp>,
        next: Vec<Arc<Collection>>,
    ) -> ApiResult<()> {
        store.commit(txn).await.map_err(|e| match e {
            StoreError::Unique {
                index,
                fields,
                collection,
                ..
            } => {
                let col = next.iter().find(|c| c.id == collection);
                unique_index_violated(col.map(|c| c.as_ref()), &index, &fields)
            }
            other => other.into(),
        })?;
        self.publish(next);
        Ok(())
    }

    /// Swaps in a snapshot of `collections` under a new data epoch (after the commit, before
    /// the change is acknowledged, so a caller that saw it acknowledged sees the new epoch).
    fn publish(&self, collections: Vec<Arc<Collection>>) {
        let epoch = self.epochs.fetch_add(1, Ordering::AcqRel) + 1;
        let next = Arc::new(Snapshot::build(collections, epoch));
        match self.current.write() {
            Ok(mut g) => *g = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    pub async fn create(&self, store: &dyn Store, input: &Value) -> ApiResult<Arc<Collection>> {
        let _guard = self.change.lock().await;
        let mut working = self.snapshot().ordered.clone();
        let (col, txn) = plan_create(&mut working, input, self.rule_check)?;
        self.apply(store, txn, working).await?;
        Ok(col)
    }

    pub async fn update(
        &self,
        store: &dyn Store,
        id_or_name: &str,
        patch: &Value,
    ) -> ApiResult<Arc<Collection>> {
        let _guard = self.change.lock().await;
        let mut working = self.snapshot().ordered.clone();
        let (col, txn) = plan_update(&mut working, id_or_name, patch, self.rule_check)?;
        self.apply(store, txn, working).await?;
        Ok(col)
    }

    /// Checks `input` as a save would — as an update of the collection its `id` names, else as a
    /// create — without writing anything. What only the data can refuse (existing records that
    /// violate a new unique index) is still found by the save alone.
    pub fn validate(&self, input: &Value) -> ApiResult<()> {
        let mut working = self.snapshot().ordered.clone();
        let existing = input
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| working.iter().any(|c| c.id.as_str() == *id))
            .map(str::to_owned);
        match existing {
            Some(id) => plan_update(&mut working, &id, input, self.rule_check).map(|_| ()),
            None => plan_create(&mut working, input, self.rule_check).map(|_| ()),
        }
    }

    pub async fn delete(&self, store: &dyn Store, id_or_name: &str) -> ApiResult<()> {
        let _guard = self.change.lock().await;
        let mut working = self.snapshot().ordered.clone();
        let txn = plan_delete(&mut working, id_or_name, &[])?;
        self.apply(store, txn, working).await
    }

    /// Deletes every record of a collection, keeping its definition.
    pub async fn truncate(&self, store: &dyn Store, id_or_name: &str) -> ApiResult<()> {
        let _guard = self.change.lock().await;
        let col = self.get(id_or_name).ok_or_else(ApiError::not_found)?;
        store
            .commit(vec![WriteOp::DropData {
                collection: col.id.clone(),
            }])
            .await?;
        // No change events describe the dropped records: a new epoch invalidates caches.
        self.publish(self.snapshot().ordered.clone());
        Ok(())
    }

    /// Creates or updates every listed collection (matched by id, then name) and, with
    /// `delete_missing`, deletes the unlisted non-system ones — all in one transaction.
    pub async fn import(
        &self,
        store: &dyn Store,
        list: &[Value],
        delete_missing: bool,
    ) -> ApiResult<()> {
        let _guard = self.change.lock().await;
        let mut working = self.snapshot().ordered.clone();
        let mut txn = Vec::new();
        let mut kept = Vec::new();
        for (i, input) in list.iter().enumerate() {
            let existing = ["id", "name"].iter().find_map(|k| {
                let key = input.get(k).and_then(Value::as_str)?;
                working
                    .iter()
                    .find(|c| c.id.as_str() == key || c.name.eq_ignore_ascii_case(key))
                    .cloned()
            });
            let planned = match existing {
                Some(old) => plan_update(&mut working, old.id.as_str(), input, self.rule_check),
                None => plan_create(&mut working, input, self.rule_check),
            };
            let (col, ops) = planned.map_err(|e| import_failure(i, &e))?;
            kept.push(col.id.clone());
            txn.extend(ops);
        }
        if delete_missing {
            let doomed: Vec<CollectionId> = working
                .iter()
                .filter(|c| !c.system && !kept.contains(&c.id))
                .map(|c| c.id.clone())
                .collect();
            for id in &doomed {
                let ops = plan_delete(&mut working, id.as_str(), &doomed)
                    .map_err(|e| import_failure(list.len(), &e))?;
                txn.extend(ops);
            }
        }
        self.apply(store, txn, working).await
    }
}

fn import_failure(index: usize, e: &ApiError) -> ApiError {
    let body = e.body();
    let message = format!(
        "Failed to import collection #{index}: {} {}",
        body.get("message").and_then(Value::as_str).unwrap_or(""),
        body.get("data").map(Value::to_string).unwrap_or_default()
    );
    ApiError::bad_field(
        "Failed to import collections.",
        "collections",
        FieldError::new("validation_collections_import_failure", message),
    )
}

fn unique_index_violated(col: Option<&Collection>, index: &str, fields: &[String]) -> ApiError {
    let pos = col
        .and_then(|c| c.indexes.iter().position(|sql| sql.contains(index)))
        .unwrap_or(0);
    let mut errors = FieldErrors::new();
    errors.add_nested(
        &["indexes", &pos.to_string()],
        FieldError::new(
            "validation_invalid_index_expression",
            format!(
                "Existing records violate the unique index {index} on ({}).",
                fields.join(", ")
            ),
        ),
    );
    ApiError::validation("Failed to update collection.", errors)
}

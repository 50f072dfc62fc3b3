//! The live set of collections: an in-memory snapshot readers share without locking, and the
//! serialized path for schema changes (validate → one store transaction → swap the snapshot).

use super::{superusers_collection, users_collection, Collection, FieldKind};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::ids::CollectionId;
use crate::store::{
    IndexSpec, RelationSpec, Store, StoreError, Version, WriteOp, META_COLLECTION,
    META_RELATIONS_INDEXED,
};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One collection with what writers need precomputed.
struct Entry {
    col: Arc<Collection>,
    indexes: Arc<[IndexSpec]>,
    relations: Arc<[RelationSpec]>,
    /// The stored definition's version: record writes assert it so they never commit against a
    /// schema that changed after they were validated.
    version: Version,
}

/// An immutable view of all collections.
#[derive(Default)]
pub struct Snapshot {
    by_id: HashMap<CollectionId, Entry>,
    /// Lower-cased name → id.
    by_name: HashMap<String, CollectionId>,
    /// System collections first, then by creation time and name, for stable listings.
    ordered: Vec<Arc<Collection>>,
    /// Bumped by every schema change and truncate: record data may have changed without change
    /// events (migrations, dropped data), so caches built under an older epoch are stale.
    epoch: u64,
}

impl Snapshot {
    fn build(collections: Vec<Arc<Collection>>, epoch: u64) -> Self {
        let mut ordered = collections;
        ordered.sort_by(|a, b| {
            (!a.system, &a.created, &a.name).cmp(&(!b.system, &b.created, &b.name))
        });
        let by_id = ordered
            .iter()
            .map(|c| {
                let entry = Entry {
                    col: c.clone(),
                    indexes: Arc::from(c.index_specs()),
                    relations: Arc::from(c.relation_specs()),
                    version: Version::of_bytes(&c.to_storage()),
                };
                (c.id.clone(), entry)
            })
            .collect();
        let by_name = ordered
            .iter()
            .map(|c| (c.name.to_lowercase(), c.id.clone()))
            .collect();
        Self {
            by_id,
            by_name,
            ordered,
            epoch,
        }
    }

    /// The data epoch this snapshot was taken in (see [`Registry`]): it changes whenever records
    /// may have changed without change-log events (schema migrations, truncates, drops).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Finds a collection by id or (case-insensitive) name.
    pub fn get(&self, id_or_name: &str) -> Option<&Arc<Collection>> {
        self.by_id
            .get(&CollectionId::from(id_or_name))
            .or_else(|| {
                self.by_name
                    .get(&id_or_name.to_lowercase())
                    .and_then(|id| self.by_id.get(id))
            })
            .map(|e| &e.col)
    }

    pub fn by_id(&self, id: &CollectionId) -> Option<&Arc<Collection>> {
        self.by_id.get(id).map(|e| &e.col)
    }

    pub fn all(&self) -> &[Arc<Collection>] {
        &self.ordered
    }

    /// Looks a collection up or fails with PocketBase's 404 "Missing collection context.".
    pub fn require(&self, id_or_name: &str) -> ApiResult<Arc<Collection>> {
        self.get(id_or_name)
            .cloned()
            .ok_or_else(ApiError::missing_collection)
    }

    /// The parsed indexes of a collection of this snapshot.
    pub fn indexes(&self, id: &CollectionId) -> Arc<[IndexSpec]> {
        self.by_id
            .get(id)
            .map(|e| e.indexes.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// The relation fields of a collection of this snapshot (for the reverse-relation index).
    pub fn relations(&self, id: &CollectionId) -> Arc<[RelationSpec]> {
        self.by_id
            .get(id)
            .map(|e| e.relations.clone())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// An op that makes a transaction fail (and retry) if collection `id` changed after this
    /// snapshot was taken.
    pub fn assert_unchanged(&self, id: &CollectionId) -> WriteOp {
        let expected = self
            .by_id
            .get(id)
            .map(|e| e.version.clone())
            .unwrap_or_else(|| Version::of_bytes(b""));
        WriteOp::AssertMeta {
            key: meta_key(id),
            expected,
        }
    }
}

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

fn plan_create(
    working: &mut Vec<Arc<Collection>>,
    input: &Value,
    rule_check: RuleCheck,
) -> ApiResult<(Arc<Collection>, Vec<WriteOp>)> {
    let col = Arc::new(Collection::from_create_input(input, working)?);
    working.push(col.clone());
    check_rules(&col, working, "Failed to create collection.", rule_check)?;
    Ok((col.clone(), vec![put_meta(&col)]))
}

fn plan_update(
    working: &mut Vec<Arc<Collection>>,
    id_or_name: &str,
    patch: &Value,
    rule_check: RuleCheck,
) -> ApiResult<(Arc<Collection>, Vec<WriteOp>)> {
    let old = find(working, id_or_name).ok_or_else(ApiError::not_found)?;
    let (mut new, change) = old.apply_update(patch, working)?;
    if let (Some(before), Some(after)) = (&old.auth, &mut new.auth) {
        after.revoke_tokens_if_auth_changed(before);
    }
    let new = Arc::new(new);
    let fills = added_fields(&old, &new);
    let mut txn = Vec::new();
    let relations = new.relation_specs();
    if change.needs_migration() || !fills.is_empty() || relations != old.relation_specs() {
        txn.push(WriteOp::Migrate {
            collection: new.id.clone(),
            renames: change.renamed.clone(),
            drops: change.dropped.clone(),
            fills,
            indexes: Arc::from(new.index_specs()),
            relations: Arc::from(relations),
        });
    }
    txn.push(put_meta(&new));
    working.retain(|c| c.id != new.id);
    working.push(new.clone());
    check_rules(&new, working, "Failed to update collection.", rule_check)?;
    Ok((new, txn))
}

/// Builds the reverse-relation index of a data dir written before it existed: every collection
/// is migrated in place (no field changes), which rebuilds its indexes and reverse entries, and
/// a flag marks the work done. Runs once, at open, before any request.
async fn build_reverse_relations(
    store: &dyn Store,
    cols: &[Arc<Collection>],
) -> Result<(), String> {
    if store
        .get_meta(META_RELATIONS_INDEXED)
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Ok(());
    }
    for c in cols {
        let rebuild = WriteOp::Migrate {
            collection: c.id.clone(),
            renames: Vec::new(),
            drops: Vec::new(),
            fills: Vec::new(),
            indexes: Arc::from(c.index_specs()),
            relations: Arc::from(c.relation_specs()),
        };
        store
            .commit(vec![rebuild])
            .await
            .map_err(|e| format!("cannot build the reverse-relation index of {}: {e}", c.name))?;
    }
    let flag = WriteOp::PutMeta {
        key: META_RELATIONS_INDEXED.into(),
        value: b"1".to_vec(),
    };
    store.commit(vec![flag]).await.map_err(|e| e.to_string())?;
    tracing::info!(collections = cols.len(), "built the reverse-relation index");
    Ok(())
}

/// Deletes one collection; references from collections in `also_deleted` do not block it.
fn plan_delete(
    working: &mut Vec<Arc<Collection>>,
    id_or_name: &str,
    also_deleted: &[CollectionId],
) -> ApiResult<Vec<WriteOp>> {
    let col = find(working, id_or_name).ok_or_else(ApiError::not_found)?;
    if col.system {
        return Err(ApiError::bad_request("Failed to delete collection."));
    }
    let referrers: Vec<&str> = working
        .iter()
        .filter(|c| {
            c.id != col.id
                && !also_deleted.contains(&c.id)
                && c.fields
                    .iter()
                    .any(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if *collection_id == col.id))
        })
        .map(|c| c.name.as_str())
        .collect();
    if !referrers.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Failed to delete collection probably due to existing reference in {}.",
            referrers.join(", ")
        )));
    }
    working.retain(|c| c.id != col.id);
    Ok(vec![
        WriteOp::DropData {
            collection: col.id.clone(),
        },
        WriteOp::DeleteMeta {
            key: meta_key(&col.id),
        },
    ])
}

/// Refuses rules of `col` that do not compile against the collections being saved.
fn check_rules(
    col: &Arc<Collection>,
    working: &[Arc<Collection>],
    message: &str,
    rule_check: RuleCheck,
) -> ApiResult<()> {
    let snapshot = Snapshot::build(working.to_vec(), 0);
    let mut errors = FieldErrors::new();
    for (key, reason) in rule_check(col, &snapshot) {
        errors.add(
            key,
            FieldError::new(
                "validation_invalid_rule",
                format!("Invalid rule. Raw error: {reason}."),
            ),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(message, errors))
    }
}

fn find(working: &[Arc<Collection>], id_or_name: &str) -> Option<Arc<Collection>> {
    working
        .iter()
        .find(|c| c.id.as_str() == id_or_name)
        .or_else(|| {
            working
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(id_or_name))
        })
        .cloned()
}

/// New fields with their zero values, written into existing records so indexes agree.
fn added_fields(old: &Collection, new: &Collection) -> Vec<(String, Value)> {
    new.fields
        .iter()
        .filter(|f| !old.fields.iter().any(|o| o.id == f.id))
        .map(|f| (f.name.clone(), f.zero_value()))
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use crate::store::{Expect, Referrer, SledStore, StoreOptions};
    use serde_json::json;

    #[tokio::test]
    async fn reverse_relation_index_is_built_for_data_dirs_that_predate_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path(), StoreOptions::default()).expect("open");
        let reg = Registry::load(store.as_ref(), crate::query::invalid_rules)
            .await
            .expect("load");
        let users = reg.get("users").expect("users");
        let posts = reg
            .create(
                store.as_ref(),
                &json!({"name": "posts", "fields": [
                    {"name": "author", "type": "relation", "collectionId": users.id.as_str(), "maxSelect": 1}
                ]}),
            )
            .await
            .expect("create posts");
        // Records written the way the writer did before the index existed: no reverse entries.
        let put = |c: &Collection, data: Value| WriteOp::PutRecord {
            collection: c.id.clone(),
            id: RecordId::from(data["id"].as_str().unwrap_or_default()),
            data: data.as_object().cloned().unwrap_or_default(),
            expect: Expect::Absent,
            indexes: Arc::from(Vec::new()),
            relations: Arc::from(Vec::new()),
        };
        store
            .commit(vec![
                put(&users, json!({"id": "u1", "email": "a@b.co"})),
                put(&posts, json!({"id": "p1", "author": "u1"})),
                WriteOp::DeleteMeta {
                    key: META_RELATIONS_INDEXED.into(),
                },
            ])
            .await
            .expect("commit");
        let referrers = |s: &SledStore| -> Vec<Referrer> {
            s.scan_referrers(&users.id, &RecordId::from("u1"))
                .collect::<Result<_, _>>()
                .expect("scan")
        };
        assert!(referrers(&store).is_empty());
        Registry::load(store.as_ref(), crate::query::invalid_rules)
            .await
            .expect("reload");
        assert_eq!(
            referrers(&store),
            vec![Referrer {
                collection: posts.id.clone(),
                field: "author".into(),
                id: RecordId::from("p1"),
            }]
        );
        assert!(store
            .get_meta(META_RELATIONS_INDEXED)
            .expect("meta")
            .is_some());
    }
}

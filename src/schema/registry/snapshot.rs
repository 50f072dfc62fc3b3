//! An immutable view of all collections, with what writers need precomputed.

use super::meta_key;
use crate::error::{ApiError, ApiResult};
use crate::ids::CollectionId;
use crate::schema::Collection;
use crate::store::{IndexSpec, RelationSpec, Version, WriteOp};
use std::collections::HashMap;
use std::sync::Arc;

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
    pub(super) ordered: Vec<Arc<Collection>>,
    /// Bumped by every schema change and truncate: record data may have changed without change
    /// events (migrations, dropped data), so caches built under an older epoch are stale.
    epoch: u64,
}

impl Snapshot {
    pub(super) fn build(collections: Vec<Arc<Collection>>, epoch: u64) -> Self {
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

//! Compiled rules, built once per collection and schema version.
//!
//! The cache belongs to the query engine (the schema only stores rule sources): it is keyed by
//! collection id and the snapshot's data epoch, which every schema change bumps, so a snapshot
//! never sees rules compiled against another schema.

use super::RuleSet;
use crate::ids::CollectionId;
use crate::schema::Snapshot;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Compiled rules of one registry's collections (one cache per registry: epochs are per registry).
#[derive(Default)]
pub struct RuleCache {
    /// Collection id → (epoch it was compiled under, rules).
    by_id: Mutex<HashMap<CollectionId, (u64, Arc<RuleSet>)>>,
}

impl RuleCache {
    /// The compiled rules of collection `id` in `schema` (all superusers-only for an unknown id).
    pub fn get(&self, schema: &Snapshot, id: &CollectionId) -> Arc<RuleSet> {
        let Some(col) = schema.by_id(id) else {
            return Arc::new(RuleSet::locked());
        };
        let epoch = schema.epoch();
        if let Some((at, rules)) = self.lock().get(id) {
            if *at == epoch {
                return rules.clone();
            }
        }
        // Compiled outside the lock: two first readers may both compile, and one result wins.
        let rules = Arc::new(RuleSet::compile(col, schema));
        let mut map = self.lock();
        let newer = map.get(id).is_none_or(|(at, _)| *at < epoch);
        if newer {
            map.insert(id.clone(), (epoch, rules.clone()));
            // Entries of dropped collections: keep the map bounded by the live collections.
            if map.len() > schema.all().len() * 2 {
                map.retain(|k, _| schema.by_id(k).is_some());
            }
        }
        rules
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CollectionId, (u64, Arc<RuleSet>)>> {
        match self.by_id.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

//! Compiled rules, built once per collection and schema version.
//!
//! The cache belongs to the query engine (the schema only stores rule sources): it is keyed by
//! collection id and the snapshot's data epoch, which every schema change bumps, so a snapshot
//! never sees rules compiled against another schema.

use super::RuleSet;
use crate::ids::CollectionId;
use crate::schema::Snapshot;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Compiled rules of one registry's collections (one cache per registry: epochs are per registry).
#[derive(Default)]
pub struct RuleCache {
    /// Collection id → (epoch it was compiled under, rules).
    /// A read lock on the hit path: rule lookups run per related record in filter joins.
    by_id: RwLock<HashMap<CollectionId, (u64, Arc<RuleSet>)>>,
}

impl RuleCache {
    /// The compiled rules of collection `id` in `schema` (all superusers-only for an unknown id).
    pub fn get(&self, schema: &Snapshot, id: &CollectionId) -> Arc<RuleSet> {
        let Some(col) = schema.by_id(id) else {
            return Arc::new(RuleSet::locked());
        };
        let epoch = schema.epoch();
        let hit = self
            .read()
            .get(id)
            .filter(|(at, _)| *at == epoch)
            .map(|(_, rules)| rules.clone());
        if let Some(rules) = hit {
            return rules;
        }
        // Compiled outside the lock: two first readers may both compile, and one result wins.
        let rules = Arc::new(RuleSet::compile(col, schema));
        let mut map = match self.by_id.write() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
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

    fn read(&self) -> RwLockReadGuard<'_, HashMap<CollectionId, (u64, Arc<RuleSet>)>> {
        match self.by_id.read() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Rule;
    use crate::schema::Registry;
    use crate::store::{SledStore, StoreOptions};
    use serde_json::json;

    #[tokio::test]
    async fn compiles_once_per_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), StoreOptions::default()).unwrap();
        let reg = Registry::load(store.as_ref(), crate::query::invalid_rules)
            .await
            .unwrap();
        let col = reg
            .create(
                store.as_ref(),
                &json!({"name": "t", "listRule": "", "fields": [{"name": "a", "type": "text"}]}),
            )
            .await
            .unwrap();
        let cache = RuleCache::default();
        let before = reg.snapshot();
        let first = cache.get(&before, &col.id);
        assert!(matches!(first.list, Rule::Everyone));
        assert!(Arc::ptr_eq(&first, &cache.get(&before, &col.id)));

        reg.update(store.as_ref(), "t", &json!({"listRule": "a = 'x'"}))
            .await
            .unwrap();
        let after = reg.snapshot();
        let second = cache.get(&after, &col.id);
        assert!(matches!(second.list, Rule::Expr(_)));
        assert!(Arc::ptr_eq(&second, &cache.get(&after, &col.id)));
        // A reader still holding the older snapshot gets rules compiled against it.
        assert!(matches!(cache.get(&before, &col.id).list, Rule::Everyone));
        assert!(Arc::ptr_eq(&second, &cache.get(&after, &col.id)));
        assert!(matches!(
            cache.get(&after, &"missing".into()).list,
            Rule::Superusers
        ));
    }
}

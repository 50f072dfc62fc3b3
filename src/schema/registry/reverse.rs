//! The reverse-relation index for data dirs written before it existed.

use crate::schema::Collection;
use crate::store::{Store, WriteOp, META_RELATIONS_INDEXED};
use std::sync::Arc;

/// Builds the reverse-relation index of a data dir written before it existed: every collection
/// is migrated in place (no field changes), which rebuilds its indexes and reverse entries, and
/// a flag marks the work done. Runs once, at open, before any request.
pub(super) async fn build_reverse_relations(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use crate::schema::Registry;
    use crate::store::{Expect, Referrer, SledStore, StoreOptions};
    use serde_json::{json, Value};

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

//! Reverse-relation entries (target → referring record): kept in step with record writes and
//! checked before a delete.

use super::overlay::{scan_merged, Overlay};
use crate::ids::RecordData;
use crate::store::codec;
use crate::store::keys;
use crate::store::types::{Referrer, RelationSpec, StoreError};

/// The record ids a relation value holds (one id or a list; empty strings hold none).
fn relation_ids(v: Option<&serde_json::Value>) -> Vec<&str> {
    use serde_json::Value;
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The reverse-relation entries of record `id` of `collection` holding `data`.
fn referrer_entries(
    collection: &crate::ids::CollectionId,
    relations: &[RelationSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
) -> Vec<(Vec<u8>, Referrer)> {
    let mut out = Vec::new();
    for spec in relations {
        for target in relation_ids(data.get(&spec.field)) {
            let source = Referrer {
                collection: collection.clone(),
                field: spec.field.clone(),
                id: id.clone(),
            };
            out.push((
                keys::referrer(&spec.target, &target.into(), &source),
                source,
            ));
        }
    }
    out
}

pub(super) fn add_referrers(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    relations: &[RelationSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
) {
    for (key, _) in referrer_entries(collection, relations, data, id) {
        // The key names the referrer; the value stays empty.
        ov.put(key, Vec::new());
    }
}

pub(super) fn remove_referrers(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    relations: &[RelationSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
) {
    for (key, _) in referrer_entries(collection, relations, data, id) {
        ov.del(key);
    }
}

/// Refuses to delete a record that another record still references: the delete's cascade was
/// planned before that reference committed, so it must be planned again. Entries whose source
/// no longer holds the id (left by a schema change) are dropped on the way.
pub(super) fn refuse_if_referenced(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
) -> Result<(), StoreError> {
    for (key, _) in scan_merged(ov, &keys::referrers_of(collection, id))? {
        let source = keys::referrer_in(&key)?;
        let holds = match ov.get(&keys::record(&source.collection, &source.id))? {
            Some(rec) => {
                relation_ids(codec::decode_record(&rec)?.get(&source.field)).contains(&id.as_str())
            }
            None => false,
        };
        if holds {
            return Err(StoreError::Conflict {
                collection: collection.clone(),
                id: id.clone(),
            });
        }
        ov.del(key);
    }
    Ok(())
}

/// Drops every reverse-relation entry whose source is a record of `collection` (they are keyed
/// by target, so this scans the whole reverse index; only bulk operations call it).
pub(super) fn remove_all_referrers_from(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
) -> Result<(), StoreError> {
    for (key, _) in scan_merged(ov, keys::REFERRER)? {
        if keys::referrer_in(&key)?.collection == *collection {
            ov.del(key);
        }
    }
    Ok(())
}

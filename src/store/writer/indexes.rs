//! Index entries and their counters, added and removed as records change.

use super::overlay::{bump, Overlay};
use crate::ids::RecordData;
use crate::store::index::{entries_for, IndexEntry};
use crate::store::types::{IndexSpec, StoreError};

pub(super) fn remove_index_entries(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    indexes: &[IndexSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
    rowid: u64,
) {
    for spec in indexes {
        if let Some(IndexEntry { key, counter, .. }) =
            entries_for(collection, spec, data, id, rowid)
        {
            ov.del(key);
            if let Some(c) = counter {
                bump(ov, c, -1);
            }
        }
    }
}

pub(super) fn add_index_entries(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    indexes: &[IndexSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
    rowid: u64,
) -> Result<(), StoreError> {
    for spec in indexes {
        let Some(IndexEntry {
            key,
            value,
            counter,
        }) = entries_for(collection, spec, data, id, rowid)
        else {
            continue;
        };
        if spec.unique {
            if let Some(owner) = ov.get(&key)? {
                if owner.as_ref() != id.0.as_bytes() {
                    return Err(StoreError::Unique {
                        collection: collection.clone(),
                        id: id.clone(),
                        index: spec.name.clone(),
                        fields: spec.fields.clone(),
                    });
                }
            }
        }
        if let Some(c) = counter {
            bump(ov, c, 1);
        }
        ov.put(key, value);
    }
    Ok(())
}

//! `WriteOp::Migrate`: rewrites every record of a collection after a schema change and
//! rebuilds its index entries, counters and reverse relations.

use super::overlay::{read_rowid, scan_merged, Overlay};
use super::referrers::{add_referrers, remove_all_referrers_from};
use crate::store::codec;
use crate::store::index::{entries_for, IndexEntry};
use crate::store::keys;
use crate::store::types::{IndexSpec, RelationSpec, StoreError};
use std::collections::HashMap;

pub(super) fn migrate(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    renames: &[(String, String)],
    drops: &[String],
    fills: &[(String, serde_json::Value)],
    indexes: &[IndexSpec],
    relations: &[RelationSpec],
) -> Result<(), StoreError> {
    remove_all_referrers_from(ov, collection)?;
    for prefix in [
        keys::indexes_prefix(collection),
        keys::index_counts_prefix(collection),
    ] {
        for (k, _) in scan_merged(ov, &prefix)? {
            ov.del(k);
        }
    }
    let mut counters: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut unique_owners: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for (key, raw) in scan_merged(ov, &keys::records_prefix(collection))? {
        let Some(id) = keys::record_id_of(&key, collection) else {
            continue;
        };
        let mut data = codec::decode_record(&raw)?;
        // All renames at once: a swap (a→b, b→a) must not overwrite either value.
        let moved: Vec<(String, serde_json::Value)> = renames
            .iter()
            .filter_map(|(from, to)| data.remove(from).map(|v| (to.clone(), v)))
            .collect();
        data.extend(moved);
        for d in drops {
            data.remove(d);
        }
        for (name, zero) in fills {
            data.entry(name.clone()).or_insert_with(|| zero.clone());
        }
        let rowid = read_rowid(ov, collection, &id, &raw)?;
        for spec in indexes {
            let Some(IndexEntry {
                key: ikey,
                value,
                counter,
            }) = entries_for(collection, spec, &data, &id, rowid)
            else {
                continue;
            };
            if spec.unique {
                if let Some(prev) = unique_owners.insert(ikey.clone(), id.0.as_bytes().to_vec()) {
                    if prev != id.0.as_bytes() {
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
                *counters.entry(c).or_default() += 1;
            }
            ov.put(ikey, value);
        }
        add_referrers(ov, collection, relations, &data, &id);
        if codec::record_rowid(&raw).is_none() {
            ov.del(keys::rowid(collection, &id));
        }
        ov.put(key, codec::encode_record(&data, rowid));
    }
    for (k, n) in counters {
        ov.put(k, n.to_be_bytes().to_vec());
    }
    Ok(())
}

//! Index entries derived from a record: which key a record occupies in each declared index.

use super::keys;
use super::memcmp;
use super::types::IndexSpec;
use crate::ids::{CollectionId, RecordData, RecordId};
use serde_json::Value;

pub(crate) struct IndexEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// For non-unique indexes: the key of the counter of records with these exact values.
    pub counter: Option<Vec<u8>>,
}

/// The counter key for an index-entry prefix (`i/…` → `k/…`).
pub fn counter_key(value_prefix: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(value_prefix.len());
    k.extend_from_slice(keys::INDEX_COUNT);
    k.extend_from_slice(value_prefix.get(keys::INDEX.len()..).unwrap_or_default());
    k
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// The entry `data` occupies in `spec`, or `None` when a partial index leaves it out.
pub(crate) fn entries_for(
    collection: &CollectionId,
    spec: &IndexSpec,
    data: &RecordData,
    id: &RecordId,
    rowid: u64,
) -> Option<IndexEntry> {
    if spec.skip_empty.iter().any(|f| is_empty(data.get(f))) {
        return None;
    }
    let mut key = keys::index_prefix(collection, &spec.name);
    for f in &spec.fields {
        memcmp::encode(&mut key, data.get(f).unwrap_or(&Value::Null));
    }
    // The value is always the record id. Non-unique keys end with the rowid (so equal values
    // list in insertion order, like SQLite's (value, rowid) index order) and the id.
    let mut counter = None;
    if !spec.unique {
        counter = Some(counter_key(&key));
        key.extend_from_slice(&rowid.to_be_bytes());
        key.extend_from_slice(id.0.as_bytes());
    }
    Some(IndexEntry {
        key,
        value: id.0.as_bytes().to_vec(),
        counter,
    })
}

/// Key prefix of the entries of `spec` whose leading fields equal `values`.
pub fn value_prefix(collection: &CollectionId, index: &str, values: &[Value]) -> Vec<u8> {
    let mut key = keys::index_prefix(collection, index);
    for v in values {
        memcmp::encode(&mut key, v);
    }
    key
}

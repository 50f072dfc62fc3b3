//! The current group's pending writes layered over the tree, and the small reads and counter
//! updates every op makes through it.

use crate::store::codec;
use crate::store::keys;
use crate::store::types::StoreError;
use sled::IVec;
use std::collections::BTreeMap;

/// Pending writes of the current group layered over the tree, with an undo log so one failing
/// transaction can be rolled back without disturbing the others.
pub(super) struct Overlay<'a> {
    tree: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<IVec>>,
    undo: Vec<(Vec<u8>, Option<Option<IVec>>)>,
}

impl<'a> Overlay<'a> {
    pub(super) fn new(tree: &'a sled::Tree) -> Self {
        Self {
            tree,
            writes: BTreeMap::new(),
            undo: Vec::new(),
        }
    }

    pub(super) fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)?),
        }
    }

    pub(super) fn set(&mut self, key: Vec<u8>, value: Option<IVec>) {
        let prev = self.writes.insert(key.clone(), value);
        self.undo.push((key, prev));
    }

    pub(super) fn put(&mut self, key: Vec<u8>, value: impl Into<IVec>) {
        self.set(key, Some(value.into()));
    }

    pub(super) fn del(&mut self, key: Vec<u8>) {
        self.set(key, None);
    }

    pub(super) fn begin(&mut self) {
        self.undo.clear();
    }

    pub(super) fn rollback(&mut self) {
        while let Some((key, prev)) = self.undo.pop() {
            match prev {
                Some(v) => self.writes.insert(key, v),
                None => self.writes.remove(&key),
            };
        }
    }

    /// The group's staged writes, in key order (a snapshot's tee records them).
    pub(super) fn writes(&self) -> impl Iterator<Item = (&[u8], Option<&IVec>)> {
        self.writes.iter().map(|(k, v)| (k.as_slice(), v.as_ref()))
    }

    pub(super) fn into_batch(self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        for (k, v) in self.writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        batch
    }
}

/// The insertion rank of an existing record whose stored value is `raw`: from its header, or
/// from its `w/` key if it is a format-1 value (0 if it predates rowids).
pub(super) fn read_rowid(
    ov: &Overlay<'_>,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
    raw: &[u8],
) -> Result<u64, StoreError> {
    if let Some(rowid) = codec::record_rowid(raw) {
        return Ok(rowid);
    }
    Ok(ov
        .get(&keys::rowid(collection, id))?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes))
}

/// Adds `delta` to a u64 counter key (deleted at zero).
pub(super) fn bump(ov: &mut Overlay<'_>, key: Vec<u8>, delta: i64) {
    let current = ov
        .get(&key)
        .ok()
        .flatten()
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    match current.saturating_add_signed(delta) {
        0 => ov.del(key),
        n => ov.put(key, n.to_be_bytes().to_vec()),
    }
}

/// Committed entries under `prefix` merged with the group's staged writes.
pub(super) fn scan_merged(
    ov: &Overlay<'_>,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, IVec)>, StoreError> {
    let mut merged: BTreeMap<Vec<u8>, IVec> = BTreeMap::new();
    for kv in ov.tree.scan_prefix(prefix) {
        let (k, v) = kv?;
        merged.insert(k.to_vec(), v);
    }
    for (k, v) in ov.writes.range(prefix.to_vec()..) {
        if !k.starts_with(prefix) {
            break;
        }
        match v {
            Some(v) => merged.insert(k.clone(), v.clone()),
            None => merged.remove(k),
        };
    }
    Ok(merged.into_iter().collect())
}

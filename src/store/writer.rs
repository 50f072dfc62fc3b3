//! The single writer: one OS thread drains queued transactions, validates each against committed
//! state plus everything staged before it in the same group, writes the whole group as ONE sled
//! batch, flushes ONCE, and only then answers the waiters and publishes change events.

use super::codec;
use super::index::{entries_for, IndexEntry};
use super::keys;
use super::types::{
    Action, ChangeEvent, Commit, Expect, IndexSpec, Referrer, RelationSpec, StoreError, WriteOp,
};
use crate::ids::{RecordData, Seq};
use sled::IVec;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

pub(crate) type Reply = oneshot::Sender<Result<Commit, StoreError>>;

pub(crate) enum Msg {
    Write(Vec<WriteOp>, Reply),
    Shutdown(oneshot::Sender<()>),
}

pub(crate) struct Writer {
    pub db: sled::Db,
    pub tree: sled::Tree,
    pub fsync: bool,
    /// Most transactions committed in one group (one batch + one flush); at least 1.
    pub max_group: usize,
    pub head: Arc<AtomicU64>,
    pub events: broadcast::Sender<Arc<ChangeEvent>>,
}

/// Pending writes of the current group layered over the tree, with an undo log so one failing
/// transaction can be rolled back without disturbing the others.
struct Overlay<'a> {
    tree: &'a sled::Tree,
    writes: BTreeMap<Vec<u8>, Option<IVec>>,
    undo: Vec<(Vec<u8>, Option<Option<IVec>>)>,
}

impl<'a> Overlay<'a> {
    fn new(tree: &'a sled::Tree) -> Self {
        Self {
            tree,
            writes: BTreeMap::new(),
            undo: Vec::new(),
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)?),
        }
    }

    fn set(&mut self, key: Vec<u8>, value: Option<IVec>) {
        let prev = self.writes.insert(key.clone(), value);
        self.undo.push((key, prev));
    }

    fn put(&mut self, key: Vec<u8>, value: impl Into<IVec>) {
        self.set(key, Some(value.into()));
    }

    fn del(&mut self, key: Vec<u8>) {
        self.set(key, None);
    }

    fn begin(&mut self) {
        self.undo.clear();
    }

    fn rollback(&mut self) {
        while let Some((key, prev)) = self.undo.pop() {
            match prev {
                Some(v) => self.writes.insert(key, v),
                None => self.writes.remove(&key),
            };
        }
    }

    fn into_batch(self) -> sled::Batch {
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

impl Writer {
    /// Runs until a shutdown message arrives or every sender is gone; then flushes.
    pub fn run(self, mut rx: mpsc::Receiver<Msg>) {
        let mut pending: Option<Msg> = None;
        loop {
            let first = match pending.take() {
                Some(m) => m,
                None => match rx.blocking_recv() {
                    Some(m) => m,
                    None => break,
                },
            };
            let (txn, reply) = match first {
                Msg::Write(txn, reply) => (txn, reply),
                Msg::Shutdown(done) => {
                    self.final_flush();
                    let _ = done.send(());
                    return;
                }
            };
            let mut group = vec![(txn, reply)];
            // A bulk transaction scans whole collections: it commits alone.
            if !group[0].0.iter().any(WriteOp::is_bulk) {
                while group.len() < self.max_group {
                    match rx.try_recv() {
                        Ok(Msg::Write(t, r)) if t.iter().any(WriteOp::is_bulk) => {
                            pending = Some(Msg::Write(t, r));
                            break;
                        }
                        Ok(Msg::Write(t, r)) => group.push((t, r)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
            }
            self.commit_group(group);
        }
        self.final_flush();
    }

    fn final_flush(&self) {
        if let Err(e) = self.db.flush() {
            tracing::error!(error = %e, "final flush failed");
        }
    }

    fn commit_group(&self, group: Vec<(Vec<WriteOp>, Reply)>) {
        let start_seq = self.head.load(Ordering::Acquire);
        let mut seq = start_seq;
        let ts = chrono::Utc::now().timestamp_millis();
        let mut overlay = Overlay::new(&self.tree);
        let mut outcomes: Vec<(Reply, Result<Vec<ChangeEvent>, StoreError>)> =
            Vec::with_capacity(group.len());
        for (txn, reply) in group {
            overlay.begin();
            let txn_start = seq;
            let mut events = Vec::new();
            let res = txn
                .into_iter()
                .try_for_each(|op| apply(&mut overlay, op, &mut seq, ts, &mut events));
            match res {
                Ok(()) => outcomes.push((reply, Ok(events))),
                Err(e) => {
                    overlay.rollback();
                    seq = txn_start;
                    outcomes.push((reply, Err(e)));
                }
            }
        }
        if seq != start_seq {
            overlay.put(keys::meta(keys::META_SEQ_HEAD), seq.to_be_bytes().to_vec());
        }
        let durable = self
            .tree
            .apply_batch(overlay.into_batch())
            .map_err(StoreError::from)
            .and_then(|()| {
                if self.fsync {
                    self.db.flush().map(|_| ()).map_err(StoreError::from)
                } else {
                    Ok(())
                }
            });
        if let Err(e) = durable {
            tracing::error!(error = %e, "group commit failed");
            // The batch may or may not be on disk; re-read the head so seqs stay gapless.
            let head = read_head(&self.tree).unwrap_or(start_seq);
            self.head.store(head, Ordering::Release);
            for (reply, _) in outcomes {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
        self.head.store(seq, Ordering::Release);
        for (reply, res) in outcomes {
            let res = res.map(|events| {
                let events: Vec<Arc<ChangeEvent>> = events.into_iter().map(Arc::new).collect();
                for ev in &events {
                    // No receivers is fine; lagging receivers catch up from the log.
                    let _ = self.events.send(ev.clone());
                }
                Commit { events }
            });
            let _ = reply.send(res);
        }
    }
}

/// The last committed seq recorded in the tree.
pub(crate) fn read_head(tree: &sled::Tree) -> Result<u64, StoreError> {
    let from_meta = tree
        .get(keys::meta(keys::META_SEQ_HEAD))?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(u64::from_be_bytes)
        .unwrap_or(0);
    let from_log = match tree.scan_prefix(keys::LOG).next_back() {
        Some(kv) => keys::seq_of_log(&kv?.0).map(|s| s.0).unwrap_or(0),
        None => 0,
    };
    Ok(from_meta.max(from_log))
}

fn check_expect(
    current: &Option<IVec>,
    expect: &Expect,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
) -> Result<(), StoreError> {
    let (collection, id) = (collection.clone(), id.clone());
    match (expect, current) {
        (Expect::Any, _) | (Expect::Absent, None) | (Expect::Present, Some(_)) => Ok(()),
        (Expect::Absent, Some(_)) => Err(StoreError::Exists { collection, id }),
        (Expect::Present | Expect::Unchanged(_), None) => {
            Err(StoreError::Missing { collection, id })
        }
        (Expect::Unchanged(v), Some(cur)) if v.as_bytes() == cur.as_ref() => Ok(()),
        (Expect::Unchanged(_), Some(_)) => Err(StoreError::Conflict { collection, id }),
    }
}

fn apply(
    ov: &mut Overlay<'_>,
    op: WriteOp,
    seq: &mut u64,
    ts: i64,
    events: &mut Vec<ChangeEvent>,
) -> Result<(), StoreError> {
    match op {
        WriteOp::PutRecord {
            collection,
            id,
            data,
            expect,
            indexes,
            relations,
        } => {
            let key = keys::record(&collection, &id);
            let current = ov.get(&key)?;
            check_expect(&current, &expect, &collection, &id)?;
            let before = current.as_deref().map(codec::decode_record).transpose()?;
            if let Some(old) = &before {
                remove_referrers(ov, &collection, &relations, old, &id);
            }
            add_referrers(ov, &collection, &relations, &data, &id);
            // A create's rowid is its own change seq (log_event below assigns *seq + 1).
            let rowid = match &before {
                Some(_) => read_rowid(ov, &collection, &id)?,
                None => *seq + 1,
            };
            if let Some(old) = &before {
                remove_index_entries(ov, &collection, &indexes, old, &id, rowid);
            }
            add_index_entries(ov, &collection, &indexes, &data, &id, rowid)?;
            ov.put(key, codec::encode_record(&data));
            if before.is_none() {
                bump(ov, keys::count(&collection), 1);
                ov.put(keys::order(&collection, rowid), id.0.as_bytes().to_vec());
                ov.put(keys::rowid(&collection, &id), rowid.to_be_bytes().to_vec());
            }
            let action = if before.is_some() {
                Action::Update
            } else {
                Action::Create
            };
            log_event(
                ov,
                seq,
                ts,
                events,
                ChangeEvent {
                    seq: Seq(0),
                    ts,
                    collection,
                    record: id,
                    action,
                    before,
                    after: Some(data),
                },
            );
        }
        WriteOp::DeleteRecord {
            collection,
            id,
            expect,
            indexes,
            relations,
        } => {
            let key = keys::record(&collection, &id);
            let current = ov.get(&key)?;
            let expect = if matches!(expect, Expect::Any) {
                Expect::Present
            } else {
                expect
            };
            check_expect(&current, &expect, &collection, &id)?;
            let before = current.as_deref().map(codec::decode_record).transpose()?;
            let rowid = read_rowid(ov, &collection, &id)?;
            if let Some(old) = &before {
                remove_index_entries(ov, &collection, &indexes, old, &id, rowid);
                remove_referrers(ov, &collection, &relations, old, &id);
            }
            ov.del(key);
            refuse_if_referenced(ov, &collection, &id)?;
            bump(ov, keys::count(&collection), -1);
            ov.del(keys::order(&collection, rowid));
            ov.del(keys::rowid(&collection, &id));
            log_event(
                ov,
                seq,
                ts,
                events,
                ChangeEvent {
                    seq: Seq(0),
                    ts,
                    collection,
                    record: id,
                    action: Action::Delete,
                    before,
                    after: None,
                },
            );
        }
        WriteOp::AssertExists { collection, id } => {
            if ov.get(&keys::record(&collection, &id))?.is_none() {
                return Err(StoreError::Missing { collection, id });
            }
        }
        WriteOp::AssertMeta { key, expected } => {
            if ov.get(&keys::meta(&key))?.as_deref() != Some(expected.as_bytes()) {
                return Err(StoreError::Conflict {
                    collection: key.as_str().into(),
                    id: "".into(),
                });
            }
        }
        WriteOp::PutMeta { key, value } => ov.put(keys::meta(&key), value),
        WriteOp::DeleteMeta { key } => ov.del(keys::meta(&key)),
        WriteOp::Migrate {
            collection,
            renames,
            drops,
            fills,
            indexes,
            relations,
        } => {
            migrate(
                ov,
                &collection,
                &renames,
                &drops,
                &fills,
                &indexes,
                &relations,
            )?;
        }
        WriteOp::DropData { collection } => {
            remove_all_referrers_from(ov, &collection)?;
            for prefix in [
                keys::referrers_prefix(&collection),
                keys::records_prefix(&collection),
                keys::indexes_prefix(&collection),
                keys::order_prefix(&collection),
                keys::rowids_prefix(&collection),
                keys::index_counts_prefix(&collection),
            ] {
                let doomed: Vec<Vec<u8>> = scan_merged(ov, &prefix)?
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect();
                for k in doomed {
                    ov.del(k);
                }
            }
            ov.del(keys::count(&collection));
        }
    }
    Ok(())
}

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

fn add_referrers(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    relations: &[RelationSpec],
    data: &RecordData,
    id: &crate::ids::RecordId,
) {
    for (key, source) in referrer_entries(collection, relations, data, id) {
        ov.put(key, codec::encode_referrer(&source));
    }
}

fn remove_referrers(
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
fn refuse_if_referenced(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
) -> Result<(), StoreError> {
    for (key, raw) in scan_merged(ov, &keys::referrers_of(collection, id))? {
        let source = codec::decode_referrer(&raw)?;
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
fn remove_all_referrers_from(
    ov: &mut Overlay<'_>,
    collection: &crate::ids::CollectionId,
) -> Result<(), StoreError> {
    for (key, raw) in scan_merged(ov, keys::REFERRER)? {
        if codec::decode_referrer(&raw)?.collection == *collection {
            ov.del(key);
        }
    }
    Ok(())
}

/// The insertion rank of an existing record (0 if it predates rowids).
fn read_rowid(
    ov: &Overlay<'_>,
    collection: &crate::ids::CollectionId,
    id: &crate::ids::RecordId,
) -> Result<u64, StoreError> {
    Ok(ov
        .get(&keys::rowid(collection, id))?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes))
}

fn log_event(
    ov: &mut Overlay<'_>,
    seq: &mut u64,
    ts: i64,
    events: &mut Vec<ChangeEvent>,
    mut ev: ChangeEvent,
) {
    *seq += 1;
    ev.seq = Seq(*seq);
    ev.ts = ts;
    ov.put(keys::log(ev.seq), codec::encode_event(&ev));
    events.push(ev);
}

fn remove_index_entries(
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

/// Adds `delta` to a u64 counter key (deleted at zero).
fn bump(ov: &mut Overlay<'_>, key: Vec<u8>, delta: i64) {
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

fn add_index_entries(
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

/// Committed entries under `prefix` merged with the group's staged writes.
fn scan_merged(ov: &Overlay<'_>, prefix: &[u8]) -> Result<Vec<(Vec<u8>, IVec)>, StoreError> {
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

fn migrate(
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
        let rowid = read_rowid(ov, collection, &id)?;
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
        ov.put(key, codec::encode_record(&data));
    }
    for (k, n) in counters {
        ov.put(k, n.to_be_bytes().to_vec());
    }
    Ok(())
}

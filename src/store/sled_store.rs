//! The embedded sled implementation of [`Store`]: reads go straight to the tree, writes go through
//! the single writer thread (see `writer/`).

use super::codec;
use super::index::value_prefix;
use super::keys;
use super::memcmp;
use super::snapshot::{self, SnapshotInfo};
use super::types::{
    ChangeEvent, Commit, Referrer, StoreError, StoredRecord, ValueRange, Version, WriteOp,
};
use super::writer::{cursor_floor, first_log_seq, read_head, Msg, Writer};
use super::{BoxFuture, Store};
use crate::ids::{CollectionId, RecordId, Seq};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Wait for fsync before acknowledging a write (`durability = "fsync"`).
    pub fsync: bool,
    pub cache_capacity_bytes: u64,
    /// Change-log retention: keep at most the newest `retain_entries` entries…
    pub retain_entries: u64,
    /// …and none older than this (zero: no age bound). Entries a consumer cursor has not
    /// passed are kept regardless.
    pub retain_age: Duration,
    /// Most transactions the writer commits in one group (one batch, one flush).
    pub max_group: usize,
    /// Transactions that may wait for the writer before `commit` callers wait to enqueue.
    pub queue: usize,
    /// Change events buffered for each subscriber before it lags (and catches up from the log).
    pub event_buffer: usize,
    /// Without `fsync`: how often sled flushes on its own timer.
    pub relaxed_flush: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            fsync: true,
            cache_capacity_bytes: 64 * 1024 * 1024,
            retain_entries: 10_000,
            retain_age: Duration::from_secs(72 * 3600),
            max_group: 2048,
            queue: 8192,
            event_buffer: 8192,
            relaxed_flush: Duration::from_millis(500),
        }
    }
}

/// The sled directory inside a data dir.
pub(super) const SLED_DIR: &str = "data.sled";
/// The one sled tree holding every key kind (see `keys.rs`).
pub(super) const DATA_TREE: &str = "data";
/// The tree that held the request log before it moved to its own segment files
/// (`crate::logs`); dropped at open, with its entries.
const OLD_LOGS_TREE: &str = "request_logs";

/// sled's settings for a data dir: the one place they are chosen, so every opener (the server,
/// `inspect`) agrees (sled refuses to reopen a dir with, e.g., other compression settings).
pub(super) fn sled_config(dir: &Path, options: &StoreOptions) -> sled::Config {
    sled::Config::new()
        .path(dir.join(SLED_DIR))
        .cache_capacity(options.cache_capacity_bytes)
        // We flush ourselves, once per group commit; relaxed mode keeps sled's timer.
        .flush_every_ms(if options.fsync {
            None
        } else {
            Some(u64::try_from(options.relaxed_flush.as_millis()).map_or(u64::MAX, |ms| ms.max(1)))
        })
}

/// How long an open waits for sled's file lock: sled releases it only when the last of its
/// background threads lets go of a closed store, which can lag the close by a few milliseconds,
/// so an in-process reopen (tests, restore) would otherwise fail at random.
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Opens the sled database of a data dir, waiting up to [`LOCK_WAIT`] for a store that is
/// closing; a dir still held after that (another process) is a clear error.
pub(super) fn open_db(dir: &Path, options: &StoreOptions) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match sled_config(dir, options).open() {
            Ok(db) => return Ok(db),
            Err(e) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::Io(format!(
                        "the data dir {} is in use by another process (a running server?); \
                         stop it first",
                        dir.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Metadata entries under `prefix`, names without the `m/` prefix.
pub(super) fn scan_meta(
    tree: &sled::Tree,
    prefix: &str,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    for kv in tree.scan_prefix(keys::meta(prefix)) {
        let (k, v) = kv?;
        let name = String::from_utf8_lossy(&k[keys::META.len()..]).into_owned();
        out.push((name, v.to_vec()));
    }
    Ok(out)
}

pub(super) fn scan_meta_page(
    tree: &sled::Tree,
    prefix: &str,
    from: Option<&str>,
    reverse: bool,
    limit: usize,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    use std::ops::Bound;
    let start = keys::meta(prefix);
    let mut end = start.clone();
    end.push(0xff); // metadata keys are UTF-8: 0xff never occurs in them
    let (lo, hi) = match (from.map(keys::meta), reverse) {
        (None, _) => (Bound::Included(start), Bound::Excluded(end)),
        (Some(f), false) => (Bound::Excluded(f), Bound::Excluded(end)),
        (Some(f), true) => (Bound::Included(start), Bound::Excluded(f)),
    };
    let range = tree.range::<Vec<u8>, _>((lo, hi));
    let it: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if reverse {
        Box::new(range.rev())
    } else {
        Box::new(range)
    };
    let mut out = Vec::new();
    for kv in it.take(limit) {
        let (k, v) = kv?;
        let name = String::from_utf8_lossy(&k[keys::META.len()..]).into_owned();
        out.push((name, v.to_vec()));
    }
    Ok(out)
}

pub struct SledStore {
    tree: sled::Tree,
    tx: mpsc::Sender<Msg>,
    head: Arc<AtomicU64>,
    /// The lowest seq that may still be in the change log (raised by both trims).
    oldest: Arc<AtomicU64>,
    events: broadcast::Sender<Arc<ChangeEvent>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    options: StoreOptions,
    /// The data dir (snapshot spill files go here).
    dir: std::path::PathBuf,
}

impl SledStore {
    /// Opens and closes a data dir that nothing else holds, so sled writes a fresh page-table
    /// snapshot: sled 0.34 snapshots only when it opens a dir, so the next start would otherwise
    /// replay every write since the previous start (seconds and hundreds of MB per million
    /// writes). Run after a clean shutdown; returns how long it took.
    pub fn checkpoint(dir: &Path, options: &StoreOptions) -> Result<Duration, StoreError> {
        let started = std::time::Instant::now();
        let db = open_db(dir, options)?;
        db.flush()?;
        drop(db);
        Ok(started.elapsed())
    }

    /// Opens (or creates) the data directory and starts the writer thread.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Arc<Self>, StoreError> {
        let db = open_db(dir, &options)?;
        let tree = db.open_tree(DATA_TREE)?;
        if db
            .tree_names()
            .iter()
            .any(|n| n == OLD_LOGS_TREE.as_bytes())
        {
            db.drop_tree(OLD_LOGS_TREE)?;
            tracing::info!("dropped the old request log tree (the log now lives in logs/)");
        }
        let upgraded = super::upgrade::run(&db, &tree)?;
        if upgraded > 0 {
            tracing::info!(
                records = upgraded,
                "data dir upgraded to the current format"
            );
        }
        let head = Arc::new(AtomicU64::new(read_head(&tree)?));
        let oldest = first_log_seq(&tree)?.unwrap_or(head.load(Ordering::Acquire) + 1);
        let oldest = Arc::new(AtomicU64::new(oldest));
        // Both channel constructors panic on zero.
        let (events, _) = broadcast::channel(options.event_buffer.max(1));
        let (tx, rx) = mpsc::channel(options.queue.max(1));
        let writer = Writer {
            db,
            tree: tree.clone(),
            fsync: options.fsync,
            max_group: options.max_group.max(1),
            head: head.clone(),
            events: events.clone(),
            retain_entries: options.retain_entries,
            oldest: oldest.clone(),
            tee: None,
        };
        let handle = std::thread::Builder::new()
            .name("ferrobase-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Io(e.to_string()))?;
        Ok(Arc::new(Self {
            tree,
            tx,
            head,
            oldest,
            events,
            writer: Mutex::new(Some(handle)),
            options,
            dir: dir.to_path_buf(),
        }))
    }

    /// A stored record `id` (taken from its key, never from the stored fields).
    fn decode_stored(id: RecordId, raw: sled::IVec) -> Result<StoredRecord, StoreError> {
        Ok(StoredRecord {
            record: crate::ids::Record::new(id, codec::decode_record(&raw)?),
            version: Version::of_record(raw),
        })
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}

/// The record id an index or insertion-order entry stores as its value.
fn id_value(kv: Result<(sled::IVec, sled::IVec), sled::Error>) -> Result<RecordId, StoreError> {
    let (_, v) = kv?;
    String::from_utf8(v.to_vec())
        .map(RecordId)
        .map_err(|e| StoreError::Io(e.to_string()))
}

impl Store for SledStore {
    fn get_record(
        &self,
        collection: &CollectionId,
        id: &RecordId,
    ) -> Result<Option<StoredRecord>, StoreError> {
        self.tree
            .get(keys::record(collection, id))?
            .map(|raw| Self::decode_stored(id.clone(), raw))
            .transpose()
    }

    fn scan_records<'a>(
        &'a self,
        collection: &CollectionId,
    ) -> Box<dyn Iterator<Item = Result<StoredRecord, StoreError>> + 'a> {
        let collection = collection.clone();
        Box::new(
            self.tree
                .scan_prefix(keys::records_prefix(&collection))
                .map(move |kv| {
                    let (k, v) = kv?;
                    let id = keys::record_id_of(&k, &collection)
                        .ok_or_else(|| StoreError::Io("corrupt record key".into()))?;
                    Self::decode_stored(id, v)
                }),
        )
    }

    fn count_records(&self, collection: &CollectionId) -> Result<usize, StoreError> {
        Ok(self
            .tree
            .get(keys::count(collection))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, |b| u64::from_be_bytes(b) as usize))
    }

    fn scan_index<'a>(
        &'a self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a> {
        let prefix = value_prefix(collection, index, equal);
        let iter = self.tree.scan_prefix(prefix);
        if reverse {
            Box::new(iter.rev().map(id_value))
        } else {
            Box::new(iter.map(id_value))
        }
    }

    fn scan_insertion_order<'a>(
        &'a self,
        collection: &CollectionId,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a> {
        let iter = self.tree.scan_prefix(keys::order_prefix(collection));
        if reverse {
            Box::new(iter.rev().map(id_value))
        } else {
            Box::new(iter.map(id_value))
        }
    }

    fn rowid(&self, collection: &CollectionId, id: &RecordId) -> Result<Option<u64>, StoreError> {
        let Some(raw) = self.tree.get(keys::record(collection, id))? else {
            return Ok(None);
        };
        if let Some(rowid) = codec::record_rowid(&raw) {
            return Ok(Some(rowid));
        }
        // A format-1 record not migrated yet.
        Ok(self
            .tree
            .get(keys::rowid(collection, id))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes))
    }

    fn scan_index_range<'a>(
        &'a self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        range: &ValueRange,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a> {
        use std::ops::Bound;
        let base = value_prefix(collection, index, equal);
        let typed = match (&range.lower, &range.upper) {
            (Bound::Included(v) | Bound::Excluded(v), _)
            | (_, Bound::Included(v) | Bound::Excluded(v)) => v.clone(),
            (Bound::Unbounded, Bound::Unbounded) => Value::Null,
        };
        let (tag, tag_end) = memcmp::type_bracket(&typed);
        let with = |v: &Value| {
            let mut k = base.clone();
            memcmp::encode(&mut k, v);
            k
        };
        let bracket = |t: u8| {
            let mut k = base.clone();
            k.push(t);
            k
        };
        let start = match &range.lower {
            Bound::Included(v) => with(v),
            Bound::Excluded(v) => {
                memcmp::prefix_successor(with(v)).unwrap_or_else(|| bracket(tag_end))
            }
            Bound::Unbounded => bracket(tag),
        };
        let end = match &range.upper {
            Bound::Included(v) => {
                memcmp::prefix_successor(with(v)).unwrap_or_else(|| bracket(tag_end))
            }
            Bound::Excluded(v) => with(v),
            Bound::Unbounded => bracket(tag_end),
        };
        if start >= end {
            return Box::new(std::iter::empty());
        }
        let iter = self.tree.range(start..end);
        if reverse {
            Box::new(iter.rev().map(id_value))
        } else {
            Box::new(iter.map(id_value))
        }
    }

    fn count_index(
        &self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        full: bool,
    ) -> Result<usize, StoreError> {
        if full {
            let counter = super::index::counter_key(&value_prefix(collection, index, equal));
            return Ok(self
                .tree
                .get(counter)?
                .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
                .map_or(0, |b| u64::from_be_bytes(b) as usize));
        }
        let mut n = 0;
        for k in self
            .tree
            .scan_prefix(value_prefix(collection, index, equal))
            .keys()
        {
            k?;
            n += 1;
        }
        Ok(n)
    }

    fn scan_referrers<'a>(
        &'a self,
        collection: &CollectionId,
        id: &RecordId,
    ) -> Box<dyn Iterator<Item = Result<Referrer, StoreError>> + 'a> {
        Box::new(
            self.tree
                .scan_prefix(keys::referrers_of(collection, id))
                .map(|kv| keys::referrer_in(&kv?.0)),
        )
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(keys::meta(key))?.map(|v| v.to_vec()))
    }

    fn scan_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        scan_meta(&self.tree, prefix)
    }

    fn scan_meta_page(
        &self,
        prefix: &str,
        from: Option<&str>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        scan_meta_page(&self.tree, prefix, from, reverse, limit)
    }

    fn commit(&self, txn: Vec<WriteOp>) -> BoxFuture<'static, Result<Commit, StoreError>> {
        let tx = self.tx.clone();
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            tx.send(Msg::Write(txn, reply))
                .await
                .map_err(|_| StoreError::Closed)?;
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn changes_since(&self, after: Seq, limit: usize) -> Result<Vec<ChangeEvent>, StoreError> {
        let mut out = Vec::new();
        for kv in self
            .tree
            .range(keys::log(Seq(after.0.saturating_add(1)))..)
            .take(limit)
        {
            let (k, v) = kv?;
            if !k.starts_with(keys::LOG) {
                break;
            }
            out.push(codec::decode_event(&v)?);
        }
        Ok(out)
    }

    fn oldest_retained(&self) -> Result<Option<Seq>, StoreError> {
        Ok(first_log_seq(&self.tree)?.map(Seq))
    }

    fn trim_changelog(&self) -> Result<u64, StoreError> {
        let head = self.head.load(Ordering::Acquire);
        let by_count = head.saturating_sub(self.options.retain_entries) + 1;
        let floor = cursor_floor(&self.tree)?;
        let age = self.options.retain_age;
        // Entries in [1, count_end) go whatever their age; the rest up to the floor only when
        // older than the age bound (a zero age means no age bound).
        let count_end = by_count.min(floor);
        let age_end = if age.is_zero() {
            count_end
        } else {
            floor.min(head + 1)
        };
        let cutoff = chrono::Utc::now()
            .timestamp_millis()
            .saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX));
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in self
            .tree
            .range(keys::log(Seq(0))..keys::log(Seq(age_end.max(count_end))))
        {
            let (k, v) = kv?;
            let past_count = keys::seq_of_log(&k).is_some_and(|s| s.0 < count_end);
            if !past_count && codec::decode_event(&v)?.ts >= cutoff {
                break;
            }
            batch.remove(k);
            n += 1;
        }
        if n > 0 {
            // Removing log entries is not a write anyone waits for; sled's own flush covers it.
            self.tree.apply_batch(batch)?;
            if let Some(seq) = first_log_seq(&self.tree)? {
                self.oldest.fetch_max(seq, Ordering::AcqRel);
            }
        }
        Ok(n)
    }

    fn snapshot(
        &self,
        out: &mut dyn std::io::Write,
        progress: &dyn Fn(u64),
    ) -> Result<SnapshotInfo, StoreError> {
        let (spill, mut spilled) = snapshot::spill_file(&self.dir)?;
        let (done, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::TeeStart(spill, done))
            .map_err(|_| StoreError::Closed)?;
        rx.blocking_recv().map_err(|_| StoreError::Closed)??;
        let mut out = snapshot::Counting {
            inner: out,
            bytes: 0,
        };
        // The tree is copied while writes go on; the tee is stopped whatever happens.
        let copied = snapshot::tree_format(&self.tree).and_then(|format| {
            snapshot::write_header(&mut out, format).map_err(snapshot::io_err)?;
            Ok((format, snapshot::copy_tree(&self.tree, &mut out, progress)?))
        });
        let (done, rx) = oneshot::channel();
        self.tx
            .blocking_send(Msg::TeeStop(done))
            .map_err(|_| StoreError::Closed)?;
        let (head, teed) = rx.blocking_recv().map_err(|_| StoreError::Closed)??;
        let (format, copied) = copied?;
        use std::io::Seek;
        spilled
            .seek(std::io::SeekFrom::Start(0))
            .map_err(snapshot::io_err)?;
        std::io::copy(&mut spilled, &mut out).map_err(snapshot::io_err)?;
        let entries = copied + teed;
        snapshot::write_trailer(&mut out, head, entries).map_err(snapshot::io_err)?;
        std::io::Write::flush(&mut out).map_err(snapshot::io_err)?;
        progress(out.bytes);
        Ok(SnapshotInfo {
            head: Seq(head),
            format,
            entries,
            bytes: out.bytes,
        })
    }

    fn head(&self) -> Seq {
        Seq(self.head.load(Ordering::Acquire))
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.events.subscribe()
    }

    fn shutdown(&self) -> BoxFuture<'static, ()> {
        let tx = self.tx.clone();
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        Box::pin(async move {
            let (done, rx) = oneshot::channel();
            if tx.send(Msg::Shutdown(done)).await.is_ok() {
                let _ = rx.await;
            }
            if let Some(h) = handle {
                let _ = tokio::task::spawn_blocking(move || h.join()).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordData;
    use crate::store::{Expect, WriteOp};

    fn create(id: &str) -> WriteOp {
        let mut data = RecordData::new();
        data.insert("id".into(), id.into());
        WriteOp::PutRecord {
            collection: CollectionId::from("pbc_1"),
            id: RecordId::from(id),
            data,
            expect: Expect::Absent,
            indexes: Arc::from(Vec::new()),
            relations: Arc::from(Vec::new()),
        }
    }

    #[test]
    fn open_waits_for_a_closing_store_and_names_a_held_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions::default();
        // A store still closing (sled's threads let go of the lock a little after the close).
        let closing = sled_config(dir.path(), &options)
            .open()
            .expect("first open");
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            drop(closing);
        });
        let db = open_db(dir.path(), &options).expect("reopen once the lock is free");
        release.join().expect("release");
        // A dir held for good (another process) is refused with a clear error, not waited on.
        let started = std::time::Instant::now();
        let err = open_db(dir.path(), &options).expect_err("held");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        assert!(started.elapsed() >= LOCK_WAIT);
        drop(db);
    }

    #[tokio::test]
    async fn checkpoint_needs_the_dir_free_and_keeps_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions::default();
        let store = SledStore::open(dir.path(), options.clone()).expect("open");
        store.commit(vec![create("a")]).await.expect("create");
        // While a store holds the dir, sled's lock refuses a second open.
        assert!(SledStore::checkpoint(dir.path(), &options).is_err());
        store.shutdown().await;
        drop(store);
        SledStore::checkpoint(dir.path(), &options).expect("checkpoint");
        let store = SledStore::open(dir.path(), options).expect("reopen");
        assert_eq!(store.head(), Seq(1));
        let rec = store
            .get_record(&CollectionId::from("pbc_1"), &RecordId::from("a"))
            .expect("get");
        assert!(rec.is_some());
        store.shutdown().await;
    }
}

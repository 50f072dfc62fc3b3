//! Consistent online snapshots of the `data` tree as a logical dump, and building a fresh data
//! dir from one.
//!
//! A snapshot never stops writes: it is a *fuzzy copy plus a redo tee*. The writer is asked (a
//! control message handled between groups) to tee every later group's raw writes to a spill
//! file; the whole tree is then copied while writes go on; the writer is asked to stop teeing
//! (again between groups), answering with the head seq at that point — the snapshot point; the
//! teed writes are appended after the copy. Restoring applies the dump in order, so a key no one
//! wrote during the copy keeps its copied value, and one written during it ends with the value
//! of the last teed write: every key has its value as of the snapshot point, and every
//! transaction acknowledged with a seq ≤ that head is in the dump.
//!
//! The dump is engine-independent: a header (magic, dump version, data-dir format), then entries
//! (`1 u32 klen key u32 vlen value` = put, `2 u32 klen key` = remove), then a trailer
//! (`0 u64 head u64 entries`). The request log (`request_logs`) is not part of it.

use super::keys;
use super::sled_store::{sled_config, DATA_TREE};
use super::types::StoreError;
use super::upgrade::{CURRENT_FORMAT, META_FORMAT};
use super::StoreOptions;
use crate::ids::Seq;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"FBDUMP\0\x01";
const TAG_END: u8 = 0;
const TAG_PUT: u8 = 1;
const TAG_DEL: u8 = 2;
/// Largest key or value a dump may hold (a guard against reading a corrupt length).
const MAX_LEN: u32 = 512 * 1024 * 1024;
/// Entries applied per sled batch while restoring.
const RESTORE_BATCH: usize = 10_000;
/// How often (in entries) progress is reported.
const PROGRESS_EVERY: u64 = 4096;

/// What a snapshot wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot point: every transaction with a seq ≤ head is in the dump.
    pub head: Seq,
    /// The data-dir format the dump's keys are in.
    pub format: u64,
    /// Entries in the dump (copied + teed).
    pub entries: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// What a restore built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreInfo {
    pub head: Seq,
    pub format: u64,
    pub entries: u64,
}

/// Counts the bytes written through it.
pub(super) struct Counting<'a> {
    pub inner: &'a mut dyn Write,
    pub bytes: u64,
}

impl Write for Counting<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn len32(n: usize) -> io::Result<[u8; 4]> {
    u32::try_from(n)
        .ok()
        .filter(|&n| n <= MAX_LEN)
        .map(u32::to_be_bytes)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "dump entry too large"))
}

/// Writes one put (`Some`) or remove (`None`) entry.
pub(super) fn write_entry(out: &mut dyn Write, key: &[u8], value: Option<&[u8]>) -> io::Result<()> {
    match value {
        Some(v) => {
            out.write_all(&[TAG_PUT])?;
            out.write_all(&len32(key.len())?)?;
            out.write_all(key)?;
            out.write_all(&len32(v.len())?)?;
            out.write_all(v)
        }
        None => {
            out.write_all(&[TAG_DEL])?;
            out.write_all(&len32(key.len())?)?;
            out.write_all(key)
        }
    }
}

pub(super) fn write_header(out: &mut dyn Write, format: u64) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&format.to_be_bytes())
}

pub(super) fn write_trailer(out: &mut dyn Write, head: u64, entries: u64) -> io::Result<()> {
    out.write_all(&[TAG_END])?;
    out.write_all(&head.to_be_bytes())?;
    out.write_all(&entries.to_be_bytes())
}

/// The data-dir format recorded in `tree` (absent: the current one for an empty tree, else 1).
pub(super) fn tree_format(tree: &sled::Tree) -> Result<u64, StoreError> {
    match tree.get(keys::meta(META_FORMAT))? {
        Some(v) => Ok(<[u8; 8]>::try_from(v.as_ref()).map_or(1, u64::from_be_bytes)),
        None if tree.is_empty() => Ok(CURRENT_FORMAT),
        None => Ok(1),
    }
}

/// The writer's spill file of teed writes during a snapshot.
pub(crate) struct Tee {
    out: BufWriter<std::fs::File>,
    entries: u64,
    error: Option<String>,
}

impl Tee {
    pub(crate) fn new(file: std::fs::File) -> Self {
        Self {
            out: BufWriter::with_capacity(256 * 1024, file),
            entries: 0,
            error: None,
        }
    }

    /// Records one write of a group about to be applied.
    pub(crate) fn record(&mut self, key: &[u8], value: Option<&[u8]>) {
        if self.error.is_some() {
            return;
        }
        match write_entry(&mut self.out, key, value) {
            Ok(()) => self.entries += 1,
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The group just teed could not be applied: the snapshot cannot be trusted.
    pub(crate) fn fail(&mut self, why: String) {
        self.error.get_or_insert(why);
    }

    /// Flushes the spill file; returns how many entries it holds.
    pub(crate) fn finish(mut self) -> Result<u64, StoreError> {
        if let Some(e) = self.error {
            return Err(StoreError::Io(format!("snapshot tee failed: {e}")));
        }
        self.out
            .flush()
            .map_err(|e| StoreError::Io(format!("snapshot tee failed: {e}")))?;
        Ok(self.entries)
    }
}

/// A spill file in `dir` that is unlinked at once (it vanishes with the process, whatever
/// happens): one handle for the writer, one to read it back.
pub(super) fn spill_file(dir: &Path) -> Result<(std::fs::File, std::fs::File), StoreError> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".snapshot-tee-{}-{n}", std::process::id()));
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| StoreError::Io(format!("snapshot spill file: {e}")))?;
    let _ = std::fs::remove_file(&path);
    let reader = file
        .try_clone()
        .map_err(|e| StoreError::Io(e.to_string()))?;
    Ok((file, reader))
}

/// Copies every entry of `tree` (fuzzy: writes may go on) as put entries.
pub(super) fn copy_tree(
    tree: &sled::Tree,
    out: &mut Counting<'_>,
    progress: &dyn Fn(u64),
) -> Result<u64, StoreError> {
    let mut n = 0u64;
    for kv in tree.iter() {
        let (k, v) = kv?;
        write_entry(out, &k, Some(&v)).map_err(io_err)?;
        n += 1;
        if n % PROGRESS_EVERY == 0 {
            progress(out.bytes);
        }
    }
    Ok(n)
}

pub(super) fn io_err(e: io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn read_u32(r: &mut dyn Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_u64(r: &mut dyn Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

fn read_bytes(r: &mut dyn Read) -> io::Result<Vec<u8>> {
    let n = read_u32(r)?;
    if n > MAX_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "dump entry too large",
        ));
    }
    let mut v = Vec::new();
    r.take(u64::from(n)).read_to_end(&mut v)?;
    if v.len() != n as usize {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(v)
}

fn dump_err(e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        StoreError::Io("the dump is truncated".into())
    } else {
        StoreError::Io(format!("cannot read the dump: {e}"))
    }
}

/// Reads a dump's header; returns its data-dir format (refusing one newer than this build's).
pub fn read_dump_header(dump: &mut dyn Read) -> Result<u64, StoreError> {
    let mut magic = [0u8; 8];
    dump.read_exact(&mut magic).map_err(dump_err)?;
    if &magic != MAGIC {
        return Err(StoreError::Io("not a Ferrobase data dump".into()));
    }
    let format = read_u64(dump).map_err(dump_err)?;
    if format > CURRENT_FORMAT {
        return Err(StoreError::Io(format!(
            "the dump is of data-dir format {format}, newer than this Ferrobase understands \
             ({CURRENT_FORMAT}); upgrade Ferrobase"
        )));
    }
    Ok(format)
}

/// Builds a FRESH store in `dir` (which must not hold one yet) from `dump`, flushed to disk.
/// A dump of an older data-dir format is upgraded when the store next opens. `progress` gets
/// the entries applied so far. Blocking.
pub fn restore_dump(
    dump: &mut dyn Read,
    dir: &Path,
    options: &StoreOptions,
    progress: &dyn Fn(u64),
) -> Result<RestoreInfo, StoreError> {
    if dir.join(super::sled_store::SLED_DIR).exists() {
        return Err(StoreError::Io(format!(
            "{} already holds a store; restore builds a fresh one",
            dir.display()
        )));
    }
    let format = read_dump_header(dump)?;
    std::fs::create_dir_all(dir).map_err(io_err)?;
    let db = sled_config(dir, options).open()?;
    let tree = db.open_tree(DATA_TREE)?;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0usize;
    let mut entries = 0u64;
    let head = loop {
        let mut tag = [0u8; 1];
        dump.read_exact(&mut tag).map_err(dump_err)?;
        match tag[0] {
            TAG_PUT => {
                let k = read_bytes(dump).map_err(dump_err)?;
                let v = read_bytes(dump).map_err(dump_err)?;
                batch.insert(k, v);
            }
            TAG_DEL => {
                let k = read_bytes(dump).map_err(dump_err)?;
                batch.remove(k);
            }
            TAG_END => {
                let head = read_u64(dump).map_err(dump_err)?;
                let count = read_u64(dump).map_err(dump_err)?;
                if count != entries {
                    return Err(StoreError::Io(format!(
                        "the dump is corrupt: {entries} entries, its trailer says {count}"
                    )));
                }
                break head;
            }
            other => {
                return Err(StoreError::Io(format!(
                    "the dump is corrupt (entry tag {other})"
                )))
            }
        }
        entries += 1;
        in_batch += 1;
        if in_batch == RESTORE_BATCH {
            tree.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
            progress(entries);
        }
    };
    tree.apply_batch(batch)?;
    drop_log_holes(&tree)?;
    // The head survives even if the log was trimmed to nothing.
    let stored = super::writer::read_head(&tree)?;
    if stored < head {
        tree.insert(keys::meta(keys::META_SEQ_HEAD), &head.to_be_bytes())?;
    }
    db.flush()?;
    progress(entries);
    Ok(RestoreInfo {
        head: Seq(head),
        format,
        entries,
    })
}

/// The change log must be gapless above its oldest entry. A trim that ran outside the writer
/// during the copy can leave older entries copied and younger ones gone: keep only the
/// contiguous run ending at the newest entry.
fn drop_log_holes(tree: &sled::Tree) -> Result<(), StoreError> {
    let mut expect: Option<u64> = None;
    let mut cut: Option<Vec<u8>> = None;
    for k in tree.scan_prefix(keys::LOG).keys().rev() {
        let k = k?;
        let Some(seq) = keys::seq_of_log(&k) else {
            continue;
        };
        if expect.is_some_and(|e| e != seq.0) {
            cut = Some(k.to_vec());
            break;
        }
        expect = seq.0.checked_sub(1);
    }
    if let Some(cut) = cut {
        let mut batch = sled::Batch::default();
        for k in tree.range(keys::LOG.to_vec()..=cut).keys() {
            batch.remove(k?);
        }
        tree.apply_batch(batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CollectionId, RecordData, RecordId};
    use crate::store::{Expect, SledStore, Store, WriteOp};
    use std::sync::Arc;

    fn create(id: &str, n: u64) -> WriteOp {
        let mut data = RecordData::new();
        data.insert("id".into(), id.into());
        data.insert("n".into(), n.into());
        WriteOp::PutRecord {
            collection: CollectionId::from("pbc_1"),
            id: RecordId::from(id),
            data,
            expect: Expect::Absent,
            indexes: Arc::from(Vec::new()),
            relations: Arc::from(Vec::new()),
        }
    }

    fn snapshot_of(store: &Arc<SledStore>) -> (Vec<u8>, SnapshotInfo) {
        let mut dump = Vec::new();
        let info = store.snapshot(&mut dump, &|_| {}).expect("snapshot");
        (dump, info)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_restores_everything_committed_before_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path(), StoreOptions::default()).expect("open");
        for i in 0..50 {
            store
                .commit(vec![create(&format!("r{i}"), i)])
                .await
                .expect("create");
        }
        let s = store.clone();
        let (dump, info) = tokio::task::spawn_blocking(move || snapshot_of(&s))
            .await
            .expect("join");
        assert_eq!(info.head, Seq(50));
        assert_eq!(info.format, CURRENT_FORMAT);
        assert_eq!(info.bytes, dump.len() as u64);
        // Writes after the snapshot are not in it.
        store.commit(vec![create("late", 0)]).await.expect("late");
        store.shutdown().await;

        let target = tempfile::tempdir().expect("tempdir");
        let restored = restore_dump(
            &mut dump.as_slice(),
            target.path(),
            &StoreOptions::default(),
            &|_| {},
        )
        .expect("restore");
        assert_eq!(restored.head, Seq(50));
        assert_eq!(restored.entries, info.entries);
        let back = SledStore::open(target.path(), StoreOptions::default()).expect("reopen");
        let coll = CollectionId::from("pbc_1");
        assert_eq!(back.head(), Seq(50));
        assert_eq!(back.count_records(&coll).expect("count"), 50);
        let r = back
            .get_record(&coll, &RecordId::from("r7"))
            .expect("get")
            .expect("r7");
        assert_eq!(r.record.fields()["n"], 7);
        assert!(back
            .get_record(&coll, &RecordId::from("late"))
            .expect("get")
            .is_none());
        assert_eq!(back.changes_since(Seq(0), 100).expect("log").len(), 50);
        assert_eq!(
            back.rowid(&coll, &RecordId::from("r7")).expect("rowid"),
            Some(8)
        );
        // The restored store goes on from the snapshot's head.
        let c = back.commit(vec![create("next", 0)]).await.expect("next");
        assert_eq!(c.events[0].seq, Seq(51));
        back.shutdown().await;
        // A second restore into a dir holding a store is refused.
        let err = restore_dump(
            &mut dump.as_slice(),
            target.path(),
            &StoreOptions::default(),
            &|_| {},
        )
        .expect_err("not fresh");
        assert!(err.to_string().contains("already holds a store"), "{err}");
    }

    /// Writers commit continuously while the snapshot copies; every transaction acknowledged
    /// with a seq ≤ the snapshot's head is in the restored store, none after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_under_write_load_loses_nothing_acknowledged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions {
            fsync: false,
            ..StoreOptions::default()
        };
        let store = SledStore::open(dir.path(), options.clone()).expect("open");
        // Some data to copy, so the copy overlaps the writes.
        for chunk in 0..20 {
            let txn = (0..500)
                .map(|i| create(&format!("base{chunk}_{i}"), i))
                .collect();
            store.commit(txn).await.expect("base");
        }
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4 {
            let (store, stop) = (store.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut i = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let id = format!("w{w}_{i}");
                    let c = store.commit(vec![create(&id, i)]).await.expect("write");
                    acked.push((id, c.events[0].seq));
                    i += 1;
                }
                acked
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let s = store.clone();
        let (dump, info) = tokio::task::spawn_blocking(move || snapshot_of(&s))
            .await
            .expect("join");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut acked = Vec::new();
        for w in writers {
            acked.extend(w.await.expect("writer"));
        }
        store.shutdown().await;
        let before: Vec<_> = acked.iter().filter(|(_, s)| *s <= info.head).collect();
        let after = acked.len() - before.len();
        assert!(
            !before.is_empty() && after > 0,
            "{} / {after}",
            before.len()
        );

        let target = tempfile::tempdir().expect("tempdir");
        restore_dump(&mut dump.as_slice(), target.path(), &options, &|_| {}).expect("restore");
        let back = SledStore::open(target.path(), options).expect("reopen");
        let coll = CollectionId::from("pbc_1");
        for (id, _) in &before {
            assert!(
                back.get_record(&coll, &RecordId::from(id.as_str()))
                    .expect("get")
                    .is_some(),
                "{id} acknowledged before the snapshot point is missing"
            );
        }
        for (id, _) in acked.iter().filter(|(_, s)| *s > info.head) {
            assert!(back
                .get_record(&coll, &RecordId::from(id.as_str()))
                .expect("get")
                .is_none());
        }
        let expected = 10_000 + before.len();
        assert_eq!(back.count_records(&coll).expect("count"), expected);
        assert_eq!(back.scan_records(&coll).count(), expected);
        assert_eq!(back.scan_insertion_order(&coll, false).count(), expected);
        assert_eq!(back.head(), info.head);
        back.shutdown().await;
    }

    #[tokio::test]
    async fn bad_dumps_are_refused() {
        let options = StoreOptions::default();
        let target = tempfile::tempdir().expect("tempdir");
        let err = restore_dump(
            &mut &b"garbage!garbage!"[..],
            target.path(),
            &options,
            &|_| {},
        )
        .expect_err("garbage");
        assert!(
            err.to_string().contains("not a Ferrobase data dump"),
            "{err}"
        );

        let mut newer = Vec::new();
        write_header(&mut newer, CURRENT_FORMAT + 1).expect("header");
        write_trailer(&mut newer, 0, 0).expect("trailer");
        let err = restore_dump(&mut newer.as_slice(), target.path(), &options, &|_| {})
            .expect_err("newer");
        assert!(
            err.to_string().contains("newer than this Ferrobase"),
            "{err}"
        );

        let mut cut = Vec::new();
        write_header(&mut cut, CURRENT_FORMAT).expect("header");
        write_entry(&mut cut, b"m/x", Some(b"1")).expect("entry");
        cut.truncate(cut.len() - 1);
        let err = restore_dump(&mut cut.as_slice(), target.path(), &options, &|_| {})
            .expect_err("truncated");
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[tokio::test]
    async fn a_dump_of_an_older_format_is_upgraded_when_the_store_opens() {
        let mut dump = Vec::new();
        write_header(&mut dump, 2).expect("header");
        write_entry(
            &mut dump,
            &keys::meta(META_FORMAT),
            Some(&2u64.to_be_bytes()),
        )
        .expect("put");
        write_entry(&mut dump, &keys::meta("x"), Some(b"1")).expect("put");
        write_trailer(&mut dump, 0, 2).expect("trailer");
        let target = tempfile::tempdir().expect("tempdir");
        let options = StoreOptions::default();
        let info =
            restore_dump(&mut dump.as_slice(), target.path(), &options, &|_| {}).expect("restore");
        assert_eq!(info.format, 2);
        let store = SledStore::open(target.path(), options).expect("open upgrades");
        assert_eq!(
            store.get_meta(META_FORMAT).expect("format"),
            Some(CURRENT_FORMAT.to_be_bytes().to_vec())
        );
        assert_eq!(store.get_meta("x").expect("x"), Some(b"1".to_vec()));
        store.shutdown().await;
    }

    #[test]
    fn holes_in_the_change_log_keep_only_the_newest_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::Config::new().path(dir.path()).open().expect("open");
        let tree = db.open_tree("t").expect("tree");
        for s in [1u64, 2, 3, 7, 8, 9] {
            tree.insert(keys::log(Seq(s)), &b"x"[..]).expect("insert");
        }
        drop_log_holes(&tree).expect("holes");
        let left: Vec<u64> = tree
            .scan_prefix(keys::LOG)
            .keys()
            .filter_map(|k| keys::seq_of_log(&k.expect("key")).map(|s| s.0))
            .collect();
        assert_eq!(left, vec![7, 8, 9]);
    }
}

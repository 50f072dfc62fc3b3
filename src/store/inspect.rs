//! Measuring a stopped data dir (`ferrobase inspect`): entries and bytes per key kind and per
//! collection, and what sled makes of them on disk.
//!
//! [`Inspector`] opens sled with the server's settings but starts no writer thread and writes
//! nothing itself (sled may still replay its log on open). sled's file lock makes it refuse a dir
//! a running server holds.

use super::keys;
use super::sled_store::{open_db, scan_meta, StoreOptions, DATA_TREE, SLED_DIR};
use super::types::StoreError;
use crate::ids::CollectionId;
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::collections::BTreeMap;
use std::path::Path;

/// Entries and their logical bytes (keys and values as stored, before sled's own overhead).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub entries: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
}

impl Usage {
    fn add(&mut self, key: usize, value: usize) {
        self.entries += 1;
        self.key_bytes += key as u64;
        self.value_bytes += value as u64;
    }

    /// Key plus value bytes.
    pub fn bytes(&self) -> u64 {
        self.key_bytes + self.value_bytes
    }

    /// Mean key plus value bytes per entry (0 without entries).
    pub fn avg_entry_bytes(&self) -> f64 {
        if self.entries == 0 {
            0.0
        } else {
            self.bytes() as f64 / self.entries as f64
        }
    }
}

impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("Usage", 5)?;
        m.serialize_field("entries", &self.entries)?;
        m.serialize_field("key_bytes", &self.key_bytes)?;
        m.serialize_field("value_bytes", &self.value_bytes)?;
        m.serialize_field("bytes", &self.bytes())?;
        let avg = (self.avg_entry_bytes() * 10.0).round() / 10.0;
        m.serialize_field("avg_entry_bytes", &avg)?;
        m.end()
    }
}

/// One key kind of the data tree (`keys::KINDS`), or `other` for keys of no known kind.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KindStats {
    pub kind: &'static str,
    /// The key prefix, e.g. `r/` (empty for `other`).
    pub prefix: String,
    #[serde(flatten)]
    pub usage: Usage,
}

/// The records (`r/`) of one collection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CollectionStats {
    pub collection: CollectionId,
    #[serde(flatten)]
    pub records: Usage,
}

/// One top-level entry of the data dir with the disk space it takes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiskEntry {
    pub name: String,
    /// Allocated blocks, as `du` counts them.
    pub bytes: u64,
    /// File lengths (what `ls` shows).
    pub apparent_bytes: u64,
}

/// Disk space of the data dir, measured before sled opened it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DiskUsage {
    /// The sled directory (`data.sled`).
    pub sled_bytes: u64,
    /// Every top-level entry, the sled directory included.
    pub entries: Vec<DiskEntry>,
    pub total_bytes: u64,
}

/// What a data dir holds, by key kind and collection, and what it costs on disk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreStats {
    /// Every kind of `keys::KINDS` in that order (also when empty), then `other` if any.
    pub kinds: Vec<KindStats>,
    /// All entries of the data tree: the logical size.
    pub logical: Usage,
    /// Records per collection id, in id order.
    pub collections: Vec<CollectionStats>,
    /// Entries of sled trees other than the data tree (sled's default tree), if any.
    pub other_trees: Usage,
    pub disk: DiskUsage,
    /// sled's bytes on disk per logical byte (`disk.sled_bytes / logical.bytes`).
    pub sled_overhead: Option<f64>,
}

/// A data dir opened for measuring; see the module docs.
pub struct Inspector {
    db: sled::Db,
    tree: sled::Tree,
    disk: DiskUsage,
}

impl Inspector {
    /// Opens `dir` with the server's sled settings (`options`; its flush timer is not started).
    /// Refuses a dir without a store (it is not created) and one a running server holds.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Self, StoreError> {
        if !dir.join(SLED_DIR).is_dir() {
            return Err(StoreError::Io(format!(
                "no Ferrobase data in {} ({SLED_DIR} not found)",
                dir.display()
            )));
        }
        let disk = disk_usage(dir)?;
        let options = StoreOptions {
            fsync: true, // no background flush timer: nothing of ours to flush
            ..options.clone()
        };
        let db = open_db(dir, &options)?;
        let tree = db.open_tree(DATA_TREE)?;
        Ok(Self { db, tree, disk })
    }

    /// Scans every entry once. Takes time proportional to the data (seconds at a million
    /// records).
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut kinds: Vec<KindStats> = keys::KINDS
            .iter()
            .map(|(prefix, kind)| KindStats {
                kind,
                prefix: String::from_utf8_lossy(prefix).into_owned(),
                usage: Usage::default(),
            })
            .collect();
        let mut other = Usage::default();
        let mut logical = Usage::default();
        let mut records: BTreeMap<Vec<u8>, Usage> = BTreeMap::new();
        for kv in self.tree.iter() {
            let (k, v) = kv?;
            logical.add(k.len(), v.len());
            match keys::KINDS.iter().position(|(p, _)| k.starts_with(p)) {
                Some(i) => kinds[i].usage.add(k.len(), v.len()),
                None => other.add(k.len(), v.len()),
            }
            if k.starts_with(keys::RECORD) {
                if let Some(c) = keys::collection_of(&k) {
                    records.entry(c.to_vec()).or_default().add(k.len(), v.len());
                }
            }
        }
        if other.entries > 0 {
            kinds.push(KindStats {
                kind: "other",
                prefix: String::new(),
                usage: other,
            });
        }
        let mut other_trees = Usage::default();
        for name in self.db.tree_names() {
            if name.as_ref() == DATA_TREE.as_bytes() {
                continue;
            }
            for kv in self.db.open_tree(&name)?.iter() {
                let (k, v) = kv?;
                other_trees.add(k.len(), v.len());
            }
        }
        let collections = records
            .into_iter()
            .map(|(c, records)| CollectionStats {
                collection: CollectionId(String::from_utf8_lossy(&c).into_owned()),
                records,
            })
            .collect();
        let all = logical.bytes() + other_trees.bytes();
        Ok(StoreStats {
            kinds,
            logical,
            collections,
            other_trees,
            sled_overhead: (all > 0).then(|| self.disk.sled_bytes as f64 / all as f64),
            disk: self.disk.clone(),
        })
    }

    /// Metadata entries under `prefix` (e.g. stored collection definitions).
    pub fn scan_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        scan_meta(&self.tree, prefix)
    }
}

fn disk_usage(dir: &Path) -> Result<DiskUsage, StoreError> {
    let io = |e: std::io::Error| StoreError::Io(format!("reading {}: {e}", dir.display()));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let (bytes, apparent_bytes) = tree_size(&entry.path());
        entries.push(DiskEntry {
            name: entry.file_name().to_string_lossy().into_owned(),
            bytes,
            apparent_bytes,
        });
    }
    entries.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(DiskUsage {
        sled_bytes: entries
            .iter()
            .find(|e| e.name == SLED_DIR)
            .map_or(0, |e| e.bytes),
        total_bytes: entries.iter().map(|e| e.bytes).sum(),
        entries,
    })
}

/// (allocated, apparent) bytes of a file or directory tree; unreadable parts count as 0.
fn tree_size(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, 0);
    };
    let mut size = (allocated(&meta), meta.len());
    if meta.is_dir() {
        size.1 = 0;
        for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
            let (a, b) = tree_size(&entry.path());
            size = (size.0 + a, size.1 + b);
        }
    }
    size
}

#[cfg(unix)]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(meta: &std::fs::Metadata) -> u64 {
    meta.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RecordData, RecordId};
    use crate::store::{Expect, IndexSpec, SledStore, Store, WriteOp};
    use serde_json::json;
    use std::sync::Arc;

    fn coll(name: &str) -> CollectionId {
        CollectionId::from(name)
    }

    fn put(c: &str, id: &str, cat: &str) -> WriteOp {
        let data: RecordData = match json!({"id": id, "cat": cat, "body": "x".repeat(50)}) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        WriteOp::PutRecord {
            collection: coll(c),
            id: RecordId::from(id),
            data,
            expect: Expect::Absent,
            indexes: Arc::from(vec![IndexSpec {
                name: "idx_cat".into(),
                unique: false,
                fields: vec!["cat".into()],
                skip_empty: vec![],
            }]),
            relations: Arc::from(Vec::new()),
        }
    }

    /// Writes 3 records into `pbc_a`, 1 into `pbc_b` and one metadata entry, then stops.
    /// Returns the records' stored bytes per collection (key + value).
    async fn fill(dir: &Path) -> BTreeMap<&'static str, (u64, u64)> {
        let store = SledStore::open(dir, StoreOptions::default()).expect("open");
        let writes = [
            ("pbc_a", "r1", "x"),
            ("pbc_a", "r2", "x"),
            ("pbc_a", "r3", "y"),
        ];
        for (c, id, cat) in writes.into_iter().chain([("pbc_b", "r1", "x")]) {
            store.commit(vec![put(c, id, cat)]).await.expect("commit");
        }
        store
            .commit(vec![WriteOp::PutMeta {
                key: "settings".into(),
                value: b"{}".to_vec(),
            }])
            .await
            .expect("meta");
        let mut sizes = BTreeMap::new();
        for c in ["pbc_a", "pbc_b"] {
            let mut bytes = (0, 0);
            for r in store.scan_records(&coll(c)) {
                let r = r.expect("scan");
                let id = r.record.id().clone();
                bytes.0 += keys::record(&coll(c), &id).len() as u64;
                // The stored value: the format header plus the JSON payload.
                bytes.1 += crate::store::codec::encode_record(r.record.fields(), 0).len() as u64;
            }
            sizes.insert(c, bytes);
        }
        store.shutdown().await;
        sizes
    }

    #[tokio::test]
    async fn stats_count_every_entry_once_by_kind_and_collection() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sizes = fill(dir.path()).await;
        std::fs::write(dir.path().join("notes.txt"), vec![b'n'; 10_000]).expect("write");
        let inspector = Inspector::open(dir.path(), &StoreOptions::default()).expect("inspect");
        let stats = inspector.stats().expect("stats");

        let kind = |name: &str| {
            stats
                .kinds
                .iter()
                .find(|k| k.kind == name)
                .map(|k| k.usage)
                .expect("kind listed")
        };
        let records = kind("records");
        assert_eq!(records.entries, 4);
        assert_eq!(
            (records.key_bytes, records.value_bytes),
            (
                sizes["pbc_a"].0 + sizes["pbc_b"].0,
                sizes["pbc_a"].1 + sizes["pbc_b"].1
            )
        );
        assert_eq!(kind("indexes").entries, 4);
        assert!(kind("metadata").entries >= 1);
        assert_eq!(stats.kinds.len(), keys::KINDS.len()); // no key of an unknown kind
        let sum = |f: fn(&Usage) -> u64| stats.kinds.iter().map(|k| f(&k.usage)).sum::<u64>();
        assert_eq!(sum(|u| u.entries), stats.logical.entries);
        assert_eq!(sum(|u| u.bytes()), stats.logical.bytes());
        // The data tree is the store: scanning it raw gives the same totals.
        let raw = inspector.tree.iter().map(|kv| kv.expect("kv")).fold(
            Usage::default(),
            |mut u, (k, v)| {
                u.add(k.len(), v.len());
                u
            },
        );
        assert_eq!(raw, stats.logical);

        let per: Vec<_> = stats
            .collections
            .iter()
            .map(|c| (c.collection.as_str(), c.records.entries, c.records.bytes()))
            .collect();
        assert_eq!(
            per,
            vec![
                ("pbc_a", 3, sizes["pbc_a"].0 + sizes["pbc_a"].1),
                ("pbc_b", 1, sizes["pbc_b"].0 + sizes["pbc_b"].1),
            ]
        );

        let disk = &stats.disk;
        let names: Vec<_> = disk.entries.iter().map(|e| e.name.as_str()).collect();
        assert!(
            names.contains(&SLED_DIR) && names.contains(&"notes.txt"),
            "{names:?}"
        );
        let notes = disk.entries.iter().find(|e| e.name == "notes.txt");
        assert_eq!(notes.map(|e| e.apparent_bytes), Some(10_000));
        assert!(disk.sled_bytes > 0);
        assert_eq!(
            disk.total_bytes,
            disk.entries.iter().map(|e| e.bytes).sum::<u64>()
        );
        let overhead = stats.sled_overhead.expect("overhead");
        let expected =
            disk.sled_bytes as f64 / (stats.logical.bytes() + stats.other_trees.bytes()) as f64;
        assert!((overhead - expected).abs() < 1e-9);

        let json = serde_json::to_value(&stats).expect("json");
        assert_eq!(json["kinds"][0]["kind"], "records");
        assert_eq!(json["kinds"][0]["prefix"], "r/");
        assert_eq!(json["kinds"][0]["entries"], 4);
        assert_eq!(json["collections"][0]["collection"], "pbc_a");
        assert_eq!(
            json["logical"]["bytes"],
            json["logical"]["key_bytes"].as_u64().expect("n")
                + json["logical"]["value_bytes"].as_u64().expect("n")
        );
    }

    #[tokio::test]
    async fn refuses_a_dir_a_store_holds_and_a_dir_without_a_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path(), StoreOptions::default()).expect("open");
        let err = Inspector::open(dir.path(), &StoreOptions::default())
            .err()
            .expect("refused while the store is open");
        assert!(err.to_string().contains("in use"), "{err}");
        store.shutdown().await;
        drop(store);
        assert!(Inspector::open(dir.path(), &StoreOptions::default()).is_ok());

        let empty = tempfile::tempdir().expect("tempdir");
        let err = Inspector::open(empty.path(), &StoreOptions::default())
            .err()
            .expect("refused without a store");
        assert!(err.to_string().contains("no Ferrobase data"), "{err}");
        assert!(!empty.path().join(SLED_DIR).exists(), "nothing created");
    }
}

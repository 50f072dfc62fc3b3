//! Data-dir format upgrades, run by `SledStore::open` before the writer starts, so a data dir
//! written by an older Ferrobase opens with the current binary. Each step is idempotent and
//! applied in batches (a crash mid-way resumes where it stopped); the format number is written
//! last.
//!
//! - Format 1 → 2: a record's rowid moves from its `w/<collection>/<id>` key into the record
//!   value's header (`codec::encode_record`); the `w/` keys go.
//! - Format 2 → 3: reverse-relation entries (`x/…`) lose their value (the referrer as JSON,
//!   ~85 bytes): the key already names it (`keys::referrer_of_key`).

use super::codec;
use super::keys;
use super::types::StoreError;

/// Metadata key holding the data-dir format (u64 BE); absent means format 1 (or a new dir).
pub const META_FORMAT: &str = "_format";
pub const CURRENT_FORMAT: u64 = 3;
/// `w/` entries converted per batch.
const CHUNK: usize = 10_000;

/// Brings `tree` to [`CURRENT_FORMAT`]; returns how many records were rewritten.
pub fn run(db: &sled::Db, tree: &sled::Tree) -> Result<u64, StoreError> {
    let stored = tree
        .get(keys::meta(META_FORMAT))?
        .map(|v| <[u8; 8]>::try_from(v.as_ref()).map_or(1, u64::from_be_bytes));
    let format = match stored {
        Some(f) => f,
        // A brand-new (empty) dir starts at the current format.
        None if tree.is_empty() => CURRENT_FORMAT,
        None => 1,
    };
    if format > CURRENT_FORMAT {
        return Err(StoreError::Io(format!(
            "data dir format {format} is newer than this Ferrobase understands ({CURRENT_FORMAT}); \
             upgrade Ferrobase"
        )));
    }
    let mut rewritten = 0;
    if format < 2 {
        rewritten += rowids_into_records(tree)?;
    }
    if format < 3 {
        rewritten += empty_referrer_values(tree)?;
    }
    if stored != Some(CURRENT_FORMAT) {
        tree.insert(keys::meta(META_FORMAT), &CURRENT_FORMAT.to_be_bytes())?;
        db.flush()?;
    }
    Ok(rewritten)
}

/// Format 1 → 2: every `w/` entry's rowid goes into its record's header; the entry goes.
fn rowids_into_records(tree: &sled::Tree) -> Result<u64, StoreError> {
    let mut rewritten = 0;
    loop {
        let chunk: Vec<(sled::IVec, sled::IVec)> = tree
            .scan_prefix(keys::ROWID)
            .take(CHUNK)
            .collect::<Result<_, _>>()?;
        if chunk.is_empty() {
            break;
        }
        let mut batch = sled::Batch::default();
        for (wkey, rowid) in &chunk {
            let rkey = keys::record_key_of_rowid_key(wkey);
            if let (Some(raw), Ok(rowid)) = (tree.get(&rkey)?, <[u8; 8]>::try_from(rowid.as_ref()))
            {
                if codec::record_rowid(&raw).is_none() {
                    let data = codec::decode_record(&raw)?;
                    batch.insert(rkey, codec::encode_record(&data, u64::from_be_bytes(rowid)));
                    rewritten += 1;
                }
            }
            batch.remove(wkey);
        }
        tree.apply_batch(batch)?;
        if rewritten > 0 && rewritten % 100_000 < CHUNK as u64 {
            tracing::info!(records = rewritten, "upgrading data dir to format 2");
        }
    }
    Ok(rewritten)
}

/// Format 2 → 3: every non-empty `x/` value becomes empty (resumable: done entries are skipped).
fn empty_referrer_values(tree: &sled::Tree) -> Result<u64, StoreError> {
    let mut rewritten = 0;
    let mut from: Vec<u8> = keys::REFERRER.to_vec();
    loop {
        let mut batch = sled::Batch::default();
        let mut seen = 0;
        let mut last = None;
        for kv in tree.range(from.clone()..).take(CHUNK) {
            let (k, v) = kv?;
            if !k.starts_with(keys::REFERRER) {
                break;
            }
            seen += 1;
            if !v.is_empty() {
                batch.insert(k.clone(), sled::IVec::default());
                rewritten += 1;
            }
            last = Some(k);
        }
        tree.apply_batch(batch)?;
        match last {
            Some(k) if seen == CHUNK => {
                from = k.to_vec();
                from.push(0);
            }
            _ => break,
        }
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CollectionId, RecordData, RecordId};
    use crate::store::{SledStore, Store, StoreOptions};
    use serde_json::json;

    fn data(id: &str, n: i64) -> RecordData {
        match json!({"id": id, "n": n}) {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// A data dir as format 1 wrote it: plain JSON records, rowids under `w/`, no format key.
    fn write_format_1(dir: &std::path::Path, coll: &CollectionId, ids: &[&str]) {
        let db = sled::open(dir.join("data.sled")).expect("sled");
        let tree = db.open_tree("data").expect("tree");
        for (i, id) in ids.iter().enumerate() {
            let rid = RecordId::from(*id);
            let rowid = (i as u64 + 1) * 10;
            tree.insert(
                keys::record(coll, &rid),
                codec::encode_record_json(&data(id, i as i64)),
            )
            .expect("record");
            tree.insert(keys::rowid(coll, &rid), &rowid.to_be_bytes())
                .expect("rowid");
            tree.insert(keys::order(coll, rowid), id.as_bytes())
                .expect("order");
        }
        tree.insert(keys::count(coll), &(ids.len() as u64).to_be_bytes())
            .expect("count");
        // A reverse-relation entry with its referrer as JSON in the value, as formats 1–2 wrote.
        let source = crate::store::Referrer {
            collection: coll.clone(),
            field: "parent".into(),
            id: RecordId::from(ids[0]),
        };
        tree.insert(
            keys::referrer(coll, &RecordId::from(ids[1]), &source),
            serde_json::to_vec(&source).expect("json"),
        )
        .expect("referrer");
        tree.insert(
            keys::meta(keys::META_SEQ_HEAD),
            &(ids.len() as u64 * 10).to_be_bytes(),
        )
        .expect("head");
        db.flush().expect("flush");
    }

    #[tokio::test]
    async fn a_format_1_dir_is_upgraded_on_open_and_keeps_every_record_and_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let coll = CollectionId::from("pbc_1");
        // Ids in an order that differs from their insertion order.
        write_format_1(dir.path(), &coll, &["zz", "aa", "mm"]);
        let store = SledStore::open(dir.path(), StoreOptions::default()).expect("open");
        for (id, rowid) in [("zz", 10), ("aa", 20), ("mm", 30)] {
            let rid = RecordId::from(id);
            assert_eq!(store.rowid(&coll, &rid).expect("rowid"), Some(rowid));
            let rec = store.get_record(&coll, &rid).expect("get").expect("kept");
            assert_eq!(rec.record.fields()["id"], json!(id));
        }
        let order: Vec<String> = store
            .scan_insertion_order(&coll, false)
            .map(|r| r.expect("id").0)
            .collect();
        assert_eq!(order, ["zz", "aa", "mm"]);
        assert_eq!(store.count_records(&coll).expect("count"), 3);
        let refs: Vec<_> = store
            .scan_referrers(&coll, &RecordId::from("aa"))
            .map(|r| r.expect("referrer").id)
            .collect();
        assert_eq!(refs, vec![RecordId::from("zz")]);
        assert_eq!(store.head(), crate::ids::Seq(30));
        store.shutdown().await;
        drop(store);

        // No `w/` key is left, every record has its header, the format is recorded; reopening
        // is a no-op.
        let db = sled::open(dir.path().join("data.sled")).expect("sled");
        let tree = db.open_tree("data").expect("tree");
        assert_eq!(tree.scan_prefix(keys::ROWID).count(), 0);
        let refs: Vec<_> = tree
            .scan_prefix(keys::REFERRER)
            .map(|kv| kv.expect("kv"))
            .collect();
        assert_eq!(refs.len(), 1);
        assert!(refs[0].1.is_empty(), "referrer values are emptied");
        assert_eq!(
            keys::referrer_of_key(&refs[0].0).map(|r| r.id),
            Some(RecordId::from("zz"))
        );
        for kv in tree.scan_prefix(keys::records_prefix(&coll)) {
            assert!(codec::record_rowid(&kv.expect("kv").1).is_some());
        }
        assert_eq!(run(&db, &tree).expect("again"), 0);
        assert_eq!(
            tree.get(keys::meta(META_FORMAT)).expect("get").as_deref(),
            Some(&CURRENT_FORMAT.to_be_bytes()[..])
        );
    }

    #[test]
    fn a_dir_from_a_newer_format_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = sled::open(dir.path().join("data.sled")).expect("sled");
        let tree = db.open_tree("data").expect("tree");
        tree.insert(keys::meta(META_FORMAT), &99u64.to_be_bytes())
            .expect("format");
        let err = run(&db, &tree).expect_err("refused");
        assert!(err.to_string().contains("newer"), "{err}");
    }
}

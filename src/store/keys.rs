//! Key layout of the single data tree. Every key starts with a one-byte kind prefix so one sled
//! batch can atomically touch records, index entries, change-log entries and metadata.
//!
//! - `r/<collection>/<record id>`              → encoded record (`[2][rowid u64 BE][JSON]`)
//! - `i/<collection>/<index name><values>`     → record id (unique index)
//! - `i/<collection>/<index name><values><rowid: u64 BE><id>` → record id (non-unique index:
//!   equal values list in insertion order)
//! - `k/<collection>/<index name><values>`     → u64 BE count of a non-unique index's entries
//!   with exactly these values (O(1) totals for equality filters)
//! - `l/<seq: u64 big-endian>`                 → encoded change event
//! - `o/<collection>/<rowid: u64 BE>`          → record id (insertion order)
//! - `w/<collection>/<record id>`              → rowid of that record (format 1 only; format 2
//!   keeps the rowid in the record value's header, see `codec.rs` and `upgrade.rs`)
//! - `m/<key>`                                 → metadata (collections, secrets, record counts
//!   under `m/_count/<collection>`, the head seq under `m/_seq_head`)
//! - `x/<target coll>/<target id><source coll><field><source id>` → empty (reverse-relation
//!   index; the id, collection and field parts are memcomparable strings, read back with
//!   [`referrer_of_key`]; format 2 stored the referrer again as JSON in the value)
//!
//! A record's rowid is the seq of the change event that created it, so insertion order survives
//! client-chosen ids (PocketBase lists in rowid order when no sort is given).
//!
//! Collection ids never contain `/`; index names and values are memcomparable-encoded so they are
//! self-delimiting.

use super::memcmp;
use super::types::{Referrer, StoreError};
use crate::ids::{CollectionId, RecordId, Seq};

pub const RECORD: &[u8] = b"r/";
pub const INDEX: &[u8] = b"i/";
pub const LOG: &[u8] = b"l/";
pub const META: &[u8] = b"m/";
pub const ORDER: &[u8] = b"o/";
/// `k/<collection>/<index name><values>` → number of records with exactly these values
/// (non-unique indexes), so covered equality filters are counted with one read.
pub const INDEX_COUNT: &[u8] = b"k/";
pub const ROWID: &[u8] = b"w/";
pub const REFERRER: &[u8] = b"x/";

/// Every key kind with a short name, for measuring the store (`ferrobase inspect`).
pub const KINDS: &[(&[u8], &str)] = &[
    (RECORD, "records"),
    (INDEX, "indexes"),
    (INDEX_COUNT, "index counts"),
    (LOG, "change log"),
    (ORDER, "insertion order"),
    (ROWID, "rowids"),
    (REFERRER, "reverse relations"),
    (META, "metadata"),
];

/// Metadata flag: present once every collection's reverse-relation entries have been built
/// (data dirs from before the index get them on first open).
pub const META_RELATIONS_INDEXED: &str = "_relations_indexed";

/// Metadata prefix of change-log consumer cursors: `m/_cursor/<consumer>` → the last seq that
/// consumer has processed (u64 BE). Trimming never removes an entry above the lowest cursor.
pub const META_CURSOR: &str = "_cursor/";

/// Metadata key holding the last committed seq (survives change-log trimming).
pub const META_SEQ_HEAD: &str = "_seq_head";
/// Metadata key of a collection's record count (maintained by the writer, so totals are O(1)).
pub fn count(collection: &CollectionId) -> Vec<u8> {
    meta(&format!("_count/{collection}"))
}

/// Metadata prefix of stored collection definitions.
pub const META_COLLECTION: &str = "collection/";

fn with_collection(prefix: &[u8], collection: &CollectionId) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + collection.0.len() + 1 + 16);
    k.extend_from_slice(prefix);
    k.extend_from_slice(collection.0.as_bytes());
    k.push(b'/');
    k
}

/// The collection segment of a collection-scoped key (`<kind><collection>/…`; every kind
/// prefix is two bytes).
pub fn collection_of(key: &[u8]) -> Option<&[u8]> {
    let rest = key.get(RECORD.len()..)?;
    rest.iter().position(|&b| b == b'/').map(|end| &rest[..end])
}

/// Prefix of all records of a collection.
pub fn records_prefix(collection: &CollectionId) -> Vec<u8> {
    with_collection(RECORD, collection)
}

pub fn record(collection: &CollectionId, id: &RecordId) -> Vec<u8> {
    let mut k = records_prefix(collection);
    k.extend_from_slice(id.0.as_bytes());
    k
}

/// The record id at the end of a record key.
pub fn record_id_of(key: &[u8], collection: &CollectionId) -> Option<RecordId> {
    let prefix_len = RECORD.len() + collection.0.len() + 1;
    let rest = key.get(prefix_len..)?;
    std::str::from_utf8(rest).ok().map(RecordId::from)
}

/// Prefix of all index entries of a collection.
pub fn indexes_prefix(collection: &CollectionId) -> Vec<u8> {
    with_collection(INDEX, collection)
}

/// Prefix of all index-value counters of a collection.
pub fn index_counts_prefix(collection: &CollectionId) -> Vec<u8> {
    with_collection(INDEX_COUNT, collection)
}

/// Prefix of all entries of one index.
pub fn index_prefix(collection: &CollectionId, index: &str) -> Vec<u8> {
    let mut k = indexes_prefix(collection);
    memcmp::encode_str(&mut k, index);
    k
}

/// Prefix of a collection's insertion-order entries.
pub fn order_prefix(collection: &CollectionId) -> Vec<u8> {
    with_collection(ORDER, collection)
}

pub fn order(collection: &CollectionId, rowid: u64) -> Vec<u8> {
    let mut k = order_prefix(collection);
    k.extend_from_slice(&rowid.to_be_bytes());
    k
}

/// Prefix of a collection's record → rowid entries.
pub fn rowids_prefix(collection: &CollectionId) -> Vec<u8> {
    with_collection(ROWID, collection)
}

pub fn rowid(collection: &CollectionId, id: &RecordId) -> Vec<u8> {
    let mut k = rowids_prefix(collection);
    k.extend_from_slice(id.0.as_bytes());
    k
}

/// The record key a `w/<collection>/<id>` key (format 1) belongs to.
pub fn record_key_of_rowid_key(rowid_key: &[u8]) -> Vec<u8> {
    let mut k = RECORD.to_vec();
    k.extend_from_slice(rowid_key.get(ROWID.len()..).unwrap_or_default());
    k
}

/// [`referrer_of_key`], with a malformed key as a store error.
pub fn referrer_in(key: &[u8]) -> Result<Referrer, StoreError> {
    referrer_of_key(key).ok_or_else(|| StoreError::Io("corrupt reverse-relation key".into()))
}

/// The first seq a consumer with this stored cursor value (its last processed seq, u64 BE)
/// still needs; a malformed value needs everything.
pub fn cursor_need(value: &[u8]) -> u64 {
    cursor_seq(value).saturating_add(1)
}

/// The last seq a stored cursor value says was processed (0 if malformed).
pub fn cursor_seq(value: &[u8]) -> u64 {
    <[u8; 8]>::try_from(value).map_or(0, u64::from_be_bytes)
}

/// The referrer a reverse-relation key names (`x/<target>/<target id><coll><field><id>`), read
/// from the key alone: the entry's value is empty from format 3 on.
pub fn referrer_of_key(key: &[u8]) -> Option<Referrer> {
    let rest = key.strip_prefix(REFERRER)?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (_target_id, rest) = memcmp::decode_str(&rest[slash + 1..])?;
    let (collection, rest) = memcmp::decode_str(rest)?;
    let (field, rest) = memcmp::decode_str(rest)?;
    let (id, rest) = memcmp::decode_str(rest)?;
    rest.is_empty().then(|| Referrer {
        collection: CollectionId::from(collection),
        field,
        id: RecordId::from(id),
    })
}

/// Prefix of the reverse-relation entries pointing into `target`.
pub fn referrers_prefix(target: &CollectionId) -> Vec<u8> {
    with_collection(REFERRER, target)
}

/// Prefix of the reverse-relation entries pointing at one record.
pub fn referrers_of(target: &CollectionId, id: &RecordId) -> Vec<u8> {
    let mut k = referrers_prefix(target);
    memcmp::encode_str(&mut k, &id.0);
    k
}

/// The reverse-relation entry of `source` (whose `field` holds `id`) under target record `id`.
pub fn referrer(target: &CollectionId, id: &RecordId, source: &Referrer) -> Vec<u8> {
    let mut k = referrers_of(target, id);
    memcmp::encode_str(&mut k, &source.collection.0);
    memcmp::encode_str(&mut k, &source.field);
    memcmp::encode_str(&mut k, &source.id.0);
    k
}

pub fn log(seq: Seq) -> Vec<u8> {
    let mut k = Vec::with_capacity(LOG.len() + 8);
    k.extend_from_slice(LOG);
    k.extend_from_slice(&seq.0.to_be_bytes());
    k
}

pub fn seq_of_log(key: &[u8]) -> Option<Seq> {
    let bytes: [u8; 8] = key.get(LOG.len()..)?.try_into().ok()?;
    Some(Seq(u64::from_be_bytes(bytes)))
}

pub fn meta(key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(META.len() + key.len());
    k.extend_from_slice(META);
    k.extend_from_slice(key.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_round_trip_and_do_not_overlap() {
        let a = CollectionId::from("x");
        let b = CollectionId::from("x2");
        let k = record(&a, &RecordId::from("abc"));
        assert_eq!(record_id_of(&k, &a), Some(RecordId::from("abc")));
        assert!(k.starts_with(&records_prefix(&a)));
        assert!(!k.starts_with(&records_prefix(&b)));
        assert!(!record(&b, &RecordId::from("abc")).starts_with(&records_prefix(&a)));
    }

    #[test]
    fn referrer_keys_of_one_target_share_its_prefix_only() {
        let (t, u) = (CollectionId::from("t"), CollectionId::from("t2"));
        let src = Referrer {
            collection: CollectionId::from("s"),
            field: "f".into(),
            id: RecordId::from("r/1"),
        };
        let k = referrer(&t, &RecordId::from("a"), &src);
        assert_eq!(referrer_of_key(&k), Some(src.clone()));
        assert_eq!(referrer_of_key(&k[..k.len() - 1]), None);
        assert!(k.starts_with(&referrers_of(&t, &RecordId::from("a"))));
        assert!(!k.starts_with(&referrers_of(&t, &RecordId::from("ab"))));
        assert!(!referrer(&t, &RecordId::from("ab"), &src)
            .starts_with(&referrers_of(&t, &RecordId::from("a"))));
        assert!(!k.starts_with(&referrers_prefix(&u)));
    }

    #[test]
    fn kinds_cover_every_prefix_once_and_collections_parse() {
        let prefixes: Vec<&[u8]> = KINDS.iter().map(|(p, _)| *p).collect();
        assert!(prefixes.iter().all(|p| p.len() == RECORD.len()));
        for p in [
            RECORD,
            INDEX,
            INDEX_COUNT,
            LOG,
            ORDER,
            ROWID,
            REFERRER,
            META,
        ] {
            assert_eq!(prefixes.iter().filter(|k| **k == p).count(), 1);
        }
        let c = CollectionId::from("pbc_9");
        let id = RecordId::from("abc");
        for k in [
            record(&c, &id),
            rowid(&c, &id),
            order(&c, 7),
            index_prefix(&c, "i"),
        ] {
            assert_eq!(collection_of(&k), Some(&b"pbc_9"[..]));
        }
        assert_eq!(collection_of(b"r/"), None);
    }

    #[test]
    fn log_keys_sort_by_seq() {
        assert!(log(Seq(2)) < log(Seq(10)));
        assert!(log(Seq(255)) < log(Seq(256)));
        assert_eq!(seq_of_log(&log(Seq(77))), Some(Seq(77)));
    }
}

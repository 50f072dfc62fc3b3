//! The only module that touches sled: key layout, record encoding, the single writer task with
//! group commit, the change log and index maintenance. Knows nothing about HTTP or schemas.
//!
//! [`Store`] is the seam for other engines (its docs are the contract a backend must meet, and
//! `conformance` checks it); [`SledStore`] is the embedded default. No sled type appears in the
//! trait: [`Version`] is our own bytes type and `sled::IVec` stays in `sled_store.rs`/`writer/`.
//! [`Inspector`] measures a stopped data dir per key kind (`ferrobase inspect`).

mod codec;
mod index;
mod inspect;
mod keys;
mod memcmp;
mod sled_store;
mod snapshot;
mod types;
mod upgrade;
mod writer;

#[cfg(test)]
mod conformance;

pub use inspect::{CollectionStats, DiskEntry, DiskUsage, Inspector, KindStats, StoreStats, Usage};
pub use keys::{META_COLLECTION, META_CURSOR, META_RELATIONS_INDEXED};
pub use sled_store::{SledStore, StoreOptions};
pub use snapshot::{read_dump_header, restore_dump, RestoreInfo, SnapshotInfo};
pub use types::*;
pub use upgrade::CURRENT_FORMAT;

use crate::ids::{CollectionId, RecordId, Seq};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The write that records `consumer` has processed every change up to and including `seq`.
pub fn cursor_op(consumer: &str, seq: Seq) -> WriteOp {
    WriteOp::PutMeta {
        key: format!("{META_CURSOR}{consumer}"),
        value: seq.0.to_be_bytes().to_vec(),
    }
}

/// Every consumer cursor, by consumer name (a malformed value reads as 0: keep everything).
pub fn cursors(store: &dyn Store) -> Result<Vec<(String, Seq)>, StoreError> {
    Ok(store
        .scan_meta(META_CURSOR)?
        .into_iter()
        .map(|(k, v)| {
            let name = k.strip_prefix(META_CURSOR).unwrap_or(&k).to_string();
            (name, Seq(keys::cursor_seq(&v)))
        })
        .collect())
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Typed access to durable state. Reads never wait for the writer; `commit` resolves only once
/// the transaction is on disk (or refused as a whole).
///
/// # Contract
///
/// Every backend must meet these guarantees; the rest of the server relies on them and
/// `store::conformance` checks them (run it against a new backend before wiring it in).
///
/// - **Transactions.** [`Store::commit`] applies a `Vec<WriteOp>` all or nothing. Its ops see the
///   writes of the ops before them in the same transaction, and transactions see each other in
///   commit order: preconditions ([`Expect`], `AssertExists`, `AssertMeta`, unique indexes, the
///   referenced-record check of `DeleteRecord`) are evaluated atomically with the writes, against
///   committed state plus every transaction ordered before it, so no two concurrent transactions
///   can both pass a check the other one breaks (exactly one of N racing unique creates wins). A
///   refused transaction leaves no trace: no record, index, counter, log entry or seq.
/// - **Group atomicity.** A backend may commit many transactions together (one batch, one flush),
///   but each keeps its own outcome: one refused transaction never fails or changes the others.
///   Bulk ops (`Migrate`, `DropData`) see everything committed before them.
/// - **Durability on ack.** With fsync durability, `commit` resolves `Ok` only after the
///   transaction's writes, its change-log entries and the head seq survive a crash; with
///   relaxed durability the newest acknowledged writes may be lost, but never partially
///   (a transaction is still all or nothing). [`Store::shutdown`] commits everything queued
///   before it and flushes.
/// - **Change log.** Every record create/update/delete gets the next seq: seqs start at 1 and
///   are gapless and strictly increasing in commit order (refused transactions consume none;
///   metadata-only transactions consume none). A transaction's events are contiguous.
///   [`Store::changes_since`] returns them in seq order with no holes above
///   [`Store::oldest_retained`]; [`Store::head`] is the last committed seq and never goes back,
///   not across restarts nor after [`Store::trim_changelog`] removed every entry.
///   [`Store::subscribe`] delivers committed events in seq order after the commit is durable; a
///   receiver that lags catches up from `changes_since`.
/// - **Ordering.** `scan_records` lists in id order; `scan_insertion_order` in rowid order, where
///   a record's rowid is the seq of its create event and survives updates; index scans list in
///   memcomparable order of the indexed values (null < false < true < numbers < text < other
///   JSON, numbers by value, text bytewise; see `memcmp.rs`), equal values of a non-unique
///   index in rowid order; range scans stay within the bounds' type;
///   `reverse` lists exactly the reverse.
/// - **Indexes and counts.** Index entries, per-value counters ([`Store::count_index`] with
///   `full`) and [`Store::count_records`] always agree with the records, in the same commit.
///   Partial indexes leave out rows whose `skip_empty` fields are empty; a unique index admits
///   one record per value.
/// - **Reverse relations.** For every id a record's relation field (per the write's
///   [`RelationSpec`]s) holds, [`Store::scan_referrers`] lists that record under the target,
///   updated in the same commit as the record; `Migrate` rebuilds a collection's outgoing
///   entries and `DropData` drops both directions.
/// - **Consumers.** A consumer (a webhook dispatcher) that must see every event keeps its
///   cursor with [`cursor_op`] in the same kind of transaction as anything else; trimming keeps
///   every entry above the lowest cursor, whatever the retention says.
/// - **Versions.** A record's [`Version`] equals its stored JSON payload (not the backend's
///   header), a metadata version the stored bytes; `Expect::Unchanged(v)` and `AssertMeta`
///   compare byte for byte.
pub trait Store: Send + Sync + 'static {
    /// Record `id` of `collection`. A record read back is a [`crate::ids::Record`] whose id is
    /// the one of its key (reads never take it from the stored fields).
    fn get_record(
        &self,
        collection: &CollectionId,
        id: &RecordId,
    ) -> Result<Option<StoredRecord>, StoreError>;
    /// All records of a collection in id order.
    fn scan_records<'a>(
        &'a self,
        collection: &CollectionId,
    ) -> Box<dyn Iterator<Item = Result<StoredRecord, StoreError>> + 'a>;
    fn count_records(&self, collection: &CollectionId) -> Result<usize, StoreError>;
    /// Record ids of index entries whose leading fields equal `equal`, in index order.
    fn scan_index<'a>(
        &'a self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a>;
    /// Record ids in insertion order (PocketBase's rowid order).
    fn scan_insertion_order<'a>(
        &'a self,
        collection: &CollectionId,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a>;
    /// The insertion rank of a record (its creation seq).
    fn rowid(&self, collection: &CollectionId, id: &RecordId) -> Result<Option<u64>, StoreError>;
    /// Record ids of index entries whose leading fields equal `equal` and whose next field lies
    /// in `range` (values of the bounds' type only), in index order.
    fn scan_index_range<'a>(
        &'a self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        range: &ValueRange,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 'a>;
    /// How many index entries have leading fields equal to `equal`: one counter read when
    /// `full` (a non-unique index with every field given), else a key-only scan.
    fn count_index(
        &self,
        collection: &CollectionId,
        index: &str,
        equal: &[Value],
        full: bool,
    ) -> Result<usize, StoreError>;
    /// The records whose relation fields hold `id` of `collection` (reverse-relation index), in
    /// (collection, field, id) order.
    fn scan_referrers<'a>(
        &'a self,
        collection: &CollectionId,
        id: &RecordId,
    ) -> Box<dyn Iterator<Item = Result<Referrer, StoreError>> + 'a>;
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn scan_meta(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Metadata keys under `prefix`, in key order (descending with `reverse`), strictly after
    /// (before, with `reverse`) the full key `from` when given, at most `limit` of them: pages
    /// over large metadata sets (webhook deliveries) without reading them all.
    fn scan_meta_page(
        &self,
        prefix: &str,
        from: Option<&str>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Commits all ops atomically (all or none), durably, in one group commit.
    fn commit(&self, txn: Vec<WriteOp>) -> BoxFuture<'static, Result<Commit, StoreError>>;
    /// Up to `limit` change events with seq > `after`, in order.
    fn changes_since(&self, after: Seq, limit: usize) -> Result<Vec<ChangeEvent>, StoreError>;
    /// The oldest seq still in the change log.
    fn oldest_retained(&self) -> Result<Option<Seq>, StoreError>;
    /// Deletes the oldest change-log entries beyond the retention: entries beyond the newest
    /// `retain_entries`, and entries older than `retain_age` (when non-zero), but never an entry
    /// a consumer has not processed yet (seq above the lowest cursor under [`META_CURSOR`]).
    /// Returns how many went. Never changes [`Store::head`] and leaves the retained entries
    /// gapless. Blocking: call it off the async workers.
    fn trim_changelog(&self) -> Result<u64, StoreError>;
    /// Writes a consistent logical dump of the data (not the request log) to `out` without
    /// stopping writes: every transaction acknowledged with a seq ≤ the returned head is in it,
    /// and restoring it ([`restore_dump`]) gives every key its value as of that head. One
    /// snapshot at a time (a second one is refused). `progress` gets the bytes written so far.
    /// Blocking: call it off the async workers.
    fn snapshot(
        &self,
        out: &mut dyn std::io::Write,
        progress: &dyn Fn(u64),
    ) -> Result<SnapshotInfo, StoreError>;
    /// The last committed seq.
    fn head(&self) -> Seq;
    /// Committed change events as they happen.
    fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>>;
    /// Drains queued writes, flushes, and stops the writer.
    fn shutdown(&self) -> BoxFuture<'static, ()>;
}

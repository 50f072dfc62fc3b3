//! The only module that touches sled: key layout, record encoding, the single writer task with
//! group commit, the change log and index maintenance. Knows nothing about HTTP or schemas.
//!
//! [`Store`] is the seam for other engines; [`SledStore`] is the embedded default.

mod codec;
mod index;
mod keys;
mod memcmp;
mod sled_store;
mod types;
mod writer;

#[cfg(test)]
mod tests;

pub use keys::{META_COLLECTION, META_RELATIONS_INDEXED};
pub use sled_store::{SledStore, StoreOptions};
pub use types::*;

use crate::ids::{CollectionId, RecordId, Seq};
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Typed access to durable state. Reads never wait for the writer; `commit` resolves only once
/// the transaction is on disk (or refused as a whole).
pub trait Store: Send + Sync + 'static {
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
    /// Commits all ops atomically (all or none), durably, in one group commit.
    fn commit(&self, txn: Vec<WriteOp>) -> BoxFuture<'static, Result<Commit, StoreError>>;
    /// Up to `limit` change events with seq > `after`, in order.
    fn changes_since(&self, after: Seq, limit: usize) -> Result<Vec<ChangeEvent>, StoreError>;
    /// The oldest seq still in the change log.
    fn oldest_retained(&self) -> Result<Option<Seq>, StoreError>;
    /// The last committed seq.
    fn head(&self) -> Seq;
    /// Committed change events as they happen.
    fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>>;
    /// Drains queued writes, flushes, and stops the writer.
    fn shutdown(&self) -> BoxFuture<'static, ()>;
}

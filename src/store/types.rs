//! Plain data exchanged with the store: write operations, change events, index descriptions.

use crate::ids::{CollectionId, Record, RecordData, RecordId, Seq};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One secondary index of a collection, as the writer maintains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSpec {
    /// The index name from `CREATE INDEX <name>`; unique within a collection.
    pub name: String,
    pub unique: bool,
    /// Indexed field names, in key order.
    pub fields: Vec<String>,
    /// Partial index `WHERE f != ''` for each listed field: rows where any of them is empty
    /// (`""`, null, missing) are left out of the index (PocketBase's auth email index does this).
    pub skip_empty: Vec<String>,
}

/// A relation field of a collection: the writer keeps a reverse-relation entry for every record
/// id the field holds, so deleting a target finds its referrers without scanning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationSpec {
    pub field: String,
    /// The collection the field's ids point into.
    pub target: CollectionId,
}

/// A record whose relation `field` holds the id of a given target record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Referrer {
    pub collection: CollectionId,
    pub field: String,
    pub id: RecordId,
}

/// Bounds on one index field (the field right after an equality prefix) for range scans.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueRange {
    pub lower: std::ops::Bound<serde_json::Value>,
    pub upper: std::ops::Bound<serde_json::Value>,
}

/// What a record write requires of the current state; checked by the writer against committed
/// data plus everything queued before it, so concurrent requests cannot race past it.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Create: the id must be free.
    Absent,
    /// Update/delete: the record must exist and still be byte-identical to what the caller read
    /// (optimistic concurrency; the caller retries on [`StoreError::Conflict`]).
    Unchanged(Version),
    /// The record must exist, whatever its content.
    Present,
    /// Anything goes (used by upsert-style internal writes).
    Any,
}

/// One mutation inside a transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    PutRecord {
        collection: CollectionId,
        id: RecordId,
        data: RecordData,
        expect: Expect,
        indexes: Arc<[IndexSpec]>,
        relations: Arc<[RelationSpec]>,
    },
    /// Also fails with [`StoreError::Conflict`] while another record still references this one
    /// (a cascade that missed a referrer committed concurrently retries instead of leaving a
    /// dangling relation).
    DeleteRecord {
        collection: CollectionId,
        id: RecordId,
        expect: Expect,
        indexes: Arc<[IndexSpec]>,
        relations: Arc<[RelationSpec]>,
    },
    /// Fails the transaction with [`StoreError::Missing`] unless the record exists (relation targets).
    AssertExists {
        collection: CollectionId,
        id: RecordId,
    },
    /// Fails with [`StoreError::Conflict`] unless metadata `key` still holds exactly `version`'s
    /// bytes: a record write prepared against one schema cannot commit after the schema changed.
    AssertMeta {
        key: String,
        expected: Version,
    },
    /// Store a metadata value (collections, settings, secrets) under `m/<key>`.
    PutMeta {
        key: String,
        value: Vec<u8>,
    },
    DeleteMeta {
        key: String,
    },
    /// Rewrite every record of a collection (schema change): rename/drop keys, then rebuild all of
    /// its indexes and its outgoing reverse-relation entries. Runs alone, after everything queued
    /// before it has committed.
    Migrate {
        collection: CollectionId,
        renames: Vec<(String, String)>,
        drops: Vec<String>,
        /// Keys set on records that lack them (new fields get their zero value so indexes agree).
        fills: Vec<(String, serde_json::Value)>,
        indexes: Arc<[IndexSpec]>,
        relations: Arc<[RelationSpec]>,
    },
    /// Drop every record, index and reverse-relation entry of a collection (delete or truncate).
    DropData {
        collection: CollectionId,
    },
}

impl WriteOp {
    /// Bulk operations scan whole collections and are committed in a group of their own.
    pub fn is_bulk(&self) -> bool {
        matches!(self, WriteOp::Migrate { .. } | WriteOp::DropData { .. })
    }
}

/// The exact stored form of a record (or metadata value) as a caller read it; opaque outside
/// the store. Backends compare versions byte for byte, so two versions are equal exactly when
/// the stored values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version(Bytes);

impl Version {
    /// The version a record will have once `data` is stored (for writes staged in a batch).
    pub fn of(data: &RecordData) -> Self {
        Version(Bytes::from(super::codec::encode_record_json(data)))
    }

    /// The version of a stored record value a backend already owns: its JSON payload (the
    /// format header is not part of it), without a copy.
    pub fn of_record(raw: impl AsRef<[u8]> + Send + 'static) -> Self {
        let at = super::codec::payload_offset(raw.as_ref());
        Version(Bytes::from_owner(raw).slice(at..))
    }

    /// The version of raw stored bytes (metadata, or a record as a backend read it).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Version(Bytes::copy_from_slice(bytes))
    }

    /// The stored bytes this version stands for.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A record as read from the store: its id is the one in the record's key.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub record: Record,
    pub version: Version,
}

/// The outcome of a committed transaction.
#[derive(Debug, Clone, Default)]
pub struct Commit {
    /// Change events in seq order (empty for metadata-only transactions).
    pub events: Vec<Arc<ChangeEvent>>,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// A committed record mutation, as stored in the change log and broadcast after commit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub seq: Seq,
    /// Commit time, Unix milliseconds.
    pub ts: i64,
    pub collection: CollectionId,
    pub record: RecordId,
    pub action: Action,
    pub before: Option<RecordData>,
    pub after: Option<RecordData>,
}

/// Why a transaction was refused or failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum StoreError {
    #[error("unique index {index} violated on ({}) by {collection}/{id}", fields.join(", "))]
    Unique {
        collection: CollectionId,
        id: RecordId,
        index: String,
        fields: Vec<String>,
    },
    #[error("record {collection}/{id} already exists")]
    Exists {
        collection: CollectionId,
        id: RecordId,
    },
    #[error("record {collection}/{id} does not exist")]
    Missing {
        collection: CollectionId,
        id: RecordId,
    },
    #[error("record {collection}/{id} changed concurrently")]
    Conflict {
        collection: CollectionId,
        id: RecordId,
    },
    #[error("store is shutting down")]
    Closed,
    #[error("storage failure: {0}")]
    Io(String),
}

impl From<StoreError> for crate::error::ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Closed => crate::error::ApiError::Unavailable,
            other => crate::error::ApiError::internal(other),
        }
    }
}

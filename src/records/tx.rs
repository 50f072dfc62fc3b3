//! A record transaction being prepared: reads see the writes staged before them (so a batch can
//! create a record and then update it), and commit maps store refusals to PocketBase errors.

use super::RecordService;
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::ids::{CollectionId, RecordData, RecordId};
use crate::schema::{Collection, Snapshot};
use crate::store::{Commit, IndexSpec, RelationSpec, StoreError, StoredRecord, Version, WriteOp};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// Which request of a batch (0 for single requests) and which field staged an op, for errors.
#[derive(Debug, Clone)]
struct Origin {
    request: usize,
    message: &'static str,
}

pub struct Tx<'a> {
    pub app: &'a RecordService,
    /// The schema every op of this transaction was validated against.
    pub schema: Arc<Snapshot>,
    /// Collections whose records are written: their schema must not change before commit.
    touched: BTreeSet<CollectionId>,
    staged: HashMap<(CollectionId, RecordId), Option<StoredRecord>>,
    ops: Vec<WriteOp>,
    /// (collection, record) written by each request, for attributing commit errors.
    writes: Vec<(CollectionId, RecordId, Origin)>,
    /// Relation targets asserted: (target collection, target id, field, request).
    asserts: Vec<(CollectionId, RecordId, String, usize)>,
    pub request: usize,
    /// The HTTP request's query, headers, method and context, for `@request.*` in rules.
    pub meta: crate::query::RequestInfo,
}

/// A commit failure attributed to one request of the transaction.
pub struct TxError {
    pub request: usize,
    pub error: ApiError,
}

impl<'a> Tx<'a> {
    pub fn new(app: &'a RecordService) -> Self {
        Self {
            app,
            schema: app.schema.snapshot(),
            touched: BTreeSet::new(),
            staged: HashMap::new(),
            ops: Vec::new(),
            writes: Vec::new(),
            asserts: Vec::new(),
            request: 0,
            meta: crate::query::RequestInfo::default(),
        }
    }

    /// A collection as of this transaction's schema snapshot.
    pub fn collection(&self, id_or_name: &str) -> Result<Arc<Collection>, ApiError> {
        self.schema.require(id_or_name)
    }

    pub fn indexes(&self, col: &CollectionId) -> Arc<[IndexSpec]> {
        self.schema.indexes(col)
    }

    /// The relation fields of a collection, for the store's reverse-relation index.
    pub fn relations(&self, col: &CollectionId) -> Arc<[RelationSpec]> {
        self.schema.relations(col)
    }

    /// Records of `col` staged by this transaction so far (not yet in the store).
    pub fn staged_in<'s>(
        &'s self,
        col: &'s CollectionId,
    ) -> impl Iterator<Item = (&'s RecordId, &'s StoredRecord)> + 's {
        self.staged
            .iter()
            .filter(move |((c, _), _)| c == col)
            .filter_map(|((_, id), r)| r.as_ref().map(|r| (id, r)))
    }

    /// The record as it will be after the ops staged so far.
    pub fn get(&self, col: &CollectionId, id: &RecordId) -> Result<Option<StoredRecord>, ApiError> {
        match self.staged.get(&(col.clone(), id.clone())) {
            Some(r) => Ok(r.clone()),
            None => Ok(self.app.store.get_record(col, id)?),
        }
    }

    pub fn put(&mut self, op: WriteOp, message: &'static str) {
        match &op {
            WriteOp::PutRecord {
                collection,
                id,
                data,
                ..
            } => {
                self.note(collection, id, Some(data), message);
            }
            WriteOp::DeleteRecord { collection, id, .. } => {
                self.note(collection, id, None, message)
            }
            _ => {}
        }
        self.ops.push(op);
    }

    fn note(
        &mut self,
        col: &CollectionId,
        id: &RecordId,
        data: Option<&RecordData>,
        message: &'static str,
    ) {
        self.touched.insert(col.clone());
        let staged = data.map(|d| StoredRecord {
            data: d.clone(),
            version: Version::of(d),
        });
        self.staged.insert((col.clone(), id.clone()), staged);
        self.writes.push((
            col.clone(),
            id.clone(),
            Origin {
                request: self.request,
                message,
            },
        ));
    }

    /// Stages a check that a relation target exists when the transaction commits.
    pub fn assert_exists(&mut self, col: &CollectionId, id: &RecordId, field: &str) {
        self.asserts
            .push((col.clone(), id.clone(), field.to_string(), self.request));
        self.ops.push(WriteOp::AssertExists {
            collection: col.clone(),
            id: id.clone(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Commits everything atomically. `Err(None)` = a concurrent change; the caller retries.
    pub async fn commit(self) -> Result<Commit, Option<TxError>> {
        let Tx {
            app,
            schema,
            touched,
            mut ops,
            writes,
            asserts,
            ..
        } = self;
        if ops.is_empty() {
            return Ok(Commit::default());
        }
        ops.extend(touched.iter().map(|c| schema.assert_unchanged(c)));
        match app.store.commit(ops).await {
            Ok(c) => Ok(c),
            Err(StoreError::Conflict { .. }) => Err(None),
            Err(e) => Err(Some(map_error(e, &writes, &asserts))),
        }
    }
}

fn origin_of<'w>(
    writes: &'w [(CollectionId, RecordId, Origin)],
    col: &CollectionId,
    id: &RecordId,
) -> Option<&'w Origin> {
    writes
        .iter()
        .rev()
        .find(|(c, i, _)| c == col && i == id)
        .map(|(_, _, o)| o)
}

fn map_error(
    e: StoreError,
    writes: &[(CollectionId, RecordId, Origin)],
    asserts: &[(CollectionId, RecordId, String, usize)],
) -> TxError {
    match e {
        StoreError::Unique {
            collection,
            id,
            fields,
            ..
        } => {
            let origin = origin_of(writes, &collection, &id);
            let mut errors = FieldErrors::new();
            for f in &fields {
                errors.add(
                    f.clone(),
                    FieldError::new("validation_not_unique", "Value must be unique."),
                );
            }
            TxError {
                request: origin.map_or(0, |o| o.request),
                error: ApiError::validation(
                    origin.map_or("Failed to create record.", |o| o.message),
                    errors,
                ),
            }
        }
        StoreError::Exists { collection, id } => {
            let origin = origin_of(writes, &collection, &id);
            TxError {
                request: origin.map_or(0, |o| o.request),
                error: ApiError::bad_field(
                    origin.map_or("Failed to create record.", |o| o.message),
                    "id",
                    FieldError::new("validation_not_unique", "Value must be unique."),
                ),
            }
        }
        StoreError::Missing { collection, id } => {
            if let Some((_, _, field, request)) = asserts
                .iter()
                .find(|(c, i, _, _)| *c == collection && *i == id)
            {
                let message = writes
                    .iter()
                    .find(|(_, _, o)| o.request == *request)
                    .map_or("Failed to create record.", |(_, _, o)| o.message);
                return TxError {
                    request: *request,
                    error: ApiError::bad_field(
                        message,
                        field,
                        FieldError::new(
                            "validation_missing_rel_records",
                            "Failed to find all relation records with the provided ids.",
                        ),
                    ),
                };
            }
            let origin = origin_of(writes, &collection, &id);
            TxError {
                request: origin.map_or(0, |o| o.request),
                error: ApiError::not_found(),
            }
        }
        other => TxError {
            request: 0,
            error: other.into(),
        },
    }
}

//! A record transaction being prepared: reads see the writes staged before them (so a batch can
//! create a record and then update it), and commit maps store refusals to PocketBase errors.

use super::files::Upload;
use super::RecordService;
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::ids::{CollectionId, Record, RecordData, RecordId};
use crate::schema::{Collection, Snapshot};
use crate::store::{Commit, IndexSpec, RelationSpec, StoreError, StoredRecord, Version, WriteOp};
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
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
    /// Uploads to place in file storage before the commit.
    places: Vec<(CollectionId, RecordId, Upload)>,
    /// Files to remove after the commit: one name, or every file of the record (`None`).
    drops: Vec<(CollectionId, RecordId, Option<String>)>,
}

/// A commit failure attributed to one request of the transaction.
pub struct TxError {
    pub request: usize,
    pub error: ApiError,
}

/// Why a transaction did not commit.
pub enum CommitError {
    /// A concurrent change won the race (a precondition no longer holds): stage it again.
    Conflict,
    /// The store refused the writes (a unique value taken, a relation target gone…).
    Refused(TxError),
}

/// The future of one staging attempt, borrowing the transaction it stages into.
pub type Staging<'t, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 't>>;

/// Optimistic-concurrency attempts before giving up with an internal error.
const MAX_ATTEMPTS: usize = 16;

/// Stages a fresh transaction with `stage` and commits it, staging again after a short random
/// backoff whenever a concurrent change wins the race (a cascade or batch touching the same
/// record). A staging error is returned as is; a refusal is mapped by `refused`.
pub async fn commit_with_retries<'a, T>(
    app: &'a RecordService,
    mut stage: impl for<'t> FnMut(&'t mut Tx<'a>) -> Staging<'t, T>,
    refused: impl Fn(TxError) -> ApiError,
) -> Result<T, ApiError> {
    for _ in 0..MAX_ATTEMPTS {
        let mut tx = Tx::new(app);
        let out = stage(&mut tx).await?;
        match tx.commit().await {
            Ok(_) => return Ok(out),
            Err(CommitError::Conflict) => {
                let jitter = rand::random::<u64>() % 2000;
                tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
            }
            Err(CommitError::Refused(e)) => return Err(refused(e)),
        }
    }
    Err(ApiError::internal("too many concurrent modifications"))
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
            places: Vec::new(),
            drops: Vec::new(),
        }
    }

    /// Stages an upload to be placed as a file of a record before the commit.
    pub fn place_file(&mut self, col: &CollectionId, id: &RecordId, upload: Upload) {
        self.places.push((col.clone(), id.clone(), upload));
    }

    /// Stages the removal of a record's file (`None`: all its files) after the commit.
    pub fn drop_file(&mut self, col: &CollectionId, id: &RecordId, name: Option<String>) {
        self.drops.push((col.clone(), id.clone(), name));
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
    pub fn staged_in<'s>(&'s self, col: &'s CollectionId) -> impl Iterator<Item = &'s Record> + 's {
        self.staged
            .iter()
            .filter(move |((c, _), _)| c == col)
            .filter_map(|(_, r)| r.as_ref().map(|r| &r.record))
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
                let has_files = self.schema.by_id(collection).is_some_and(|c| {
                    c.fields
                        .iter()
                        .any(|f| matches!(f.kind, crate::schema::FieldKind::File(_)))
                });
                if has_files {
                    self.drops.push((collection.clone(), id.clone(), None));
                }
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
        // The staged record's id is the op's, as the store's is its key.
        let staged = data.map(|d| StoredRecord {
            record: Record::new(id.clone(), d.clone()),
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

    /// Commits everything atomically; see [`commit_with_retries`] for retrying conflicts.
    pub async fn commit(self) -> Result<Commit, CommitError> {
        let Tx {
            app,
            schema,
            touched,
            mut ops,
            writes,
            asserts,
            places,
            drops,
            ..
        } = self;
        if ops.is_empty() {
            return Ok(Commit::default());
        }
        ops.extend(touched.iter().map(|c| schema.assert_unchanged(c)));
        // Files first: a committed record never names a file that is not on disk.
        let placed = Arc::new(places);
        if !placed.is_empty() {
            let (files, todo) = (app.files.clone(), placed.clone());
            let put = tokio::task::spawn_blocking(move || {
                todo.iter()
                    .try_for_each(|(c, r, u)| files.put(c.as_str(), r.as_str(), &u.name, &u.file))
            })
            .await;
            if let Err(e) | Ok(Err(e)) = put.map_err(std::io::Error::other) {
                unplace(app, placed).await;
                return Err(CommitError::Refused(TxError {
                    request: 0,
                    error: ApiError::internal(format!("cannot store an uploaded file: {e}")),
                }));
            }
        }
        match app.store.commit(ops).await {
            Ok(c) => {
                remove_files(app, drops).await;
                Ok(c)
            }
            Err(e) => {
                unplace(app, placed).await;
                match e {
                    StoreError::Conflict { .. } => Err(CommitError::Conflict),
                    e => Err(CommitError::Refused(map_error(e, &writes, &asserts))),
                }
            }
        }
    }
}

/// Removes files placed for a transaction that did not commit (best effort: a leftover is an
/// orphan the start-up sweep collects, never a dangling name).
async fn unplace(app: &RecordService, placed: Arc<Vec<(CollectionId, RecordId, Upload)>>) {
    if placed.is_empty() {
        return;
    }
    let files = app.files.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for (c, r, u) in placed.iter() {
            if let Err(e) = files.remove(c.as_str(), r.as_str(), &u.name) {
                tracing::warn!(error = %e, file = %u.name, "cannot remove an uncommitted upload");
            }
        }
    })
    .await;
}

/// Removes the files a committed transaction dropped.
async fn remove_files(app: &RecordService, drops: Vec<(CollectionId, RecordId, Option<String>)>) {
    if drops.is_empty() {
        return;
    }
    let files = app.files.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for (c, r, name) in &drops {
            let done = match name {
                Some(n) => files.remove(c.as_str(), r.as_str(), n),
                None => files.remove_record(c.as_str(), r.as_str()),
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, record = %r.as_str(), "cannot remove a dropped file");
            }
        }
    })
    .await;
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

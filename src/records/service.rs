//! [`RecordService`]: everything the record operations need, passed explicitly (no `App`).

use super::access::{self, Op};
use super::batch::BatchItem;
use super::hooks::WriteHooks;
use super::list::{ListParams, ListResult};
use super::locks::RecordLocks;
use super::shape::Shape;
use super::write::{self, Request};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::files::Files;
use crate::ids::RecordData;
use crate::query::{ColumnCache, RequestInfo, Rule, RuleCache};
use crate::schema::{Collection, Registry, Snapshot};
use crate::store::Store;
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// Bounds the record operations apply to one request.
#[derive(Debug, Clone, Copy)]
pub struct RecordLimits {
    /// Most records one request may expand (`[server] max_expanded_records`).
    pub max_expanded_records: usize,
}

/// The record service: create, view, update, delete, list and batch records of the
/// collections in `schema`, stored in `store`. Built once by `App`; shared by the HTTP
/// handlers, the account flows and the realtime hub.
pub struct RecordService {
    pub store: Arc<dyn Store>,
    pub schema: Arc<Registry>,
    /// Serializes writes to the same record (see [`RecordLocks`]).
    pub locks: RecordLocks,
    /// In-memory columns for unindexed filtered/sorted lists (see `query::ColumnCache`).
    pub columns: ColumnCache,
    /// The collections' compiled rules, once per schema version (see `query::RuleCache`).
    pub rules: RuleCache,
    pub limits: RecordLimits,
    /// Storage of file fields' files (see `files::Files`).
    pub files: Arc<Files>,
    /// Before-write hooks (plugins), installed once at start (see [`WriteHooks`]).
    pub(super) hooks: OnceLock<Arc<dyn WriteHooks>>,
}

impl RecordService {
    /// Resolves a file token (`?token=` of downloads) to its caller (a guest if invalid).
    pub fn file_caller(&self, raw: &str) -> Caller {
        Caller::from_file_token(self.store.as_ref(), &self.schema.snapshot(), raw)
    }

    /// Finds a downloadable file (see [`super::files::locate`]).
    pub fn locate_file(
        &self,
        c: &str,
        rid: &str,
        name: &str,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<super::Located> {
        super::files::locate(self, c, rid, name, caller, meta)
    }

    /// Resolves a bearer token to its caller against the current schema (a guest if invalid).
    pub fn caller(&self, raw: &str) -> Caller {
        Caller::from_token(self.store.as_ref(), &self.schema.snapshot(), raw)
    }

    pub fn new(
        store: Arc<dyn Store>,
        schema: Arc<Registry>,
        columns: ColumnCache,
        limits: RecordLimits,
        files: Arc<Files>,
    ) -> Self {
        Self {
            files,
            store,
            schema,
            locks: RecordLocks::default(),
            columns,
            rules: RuleCache::default(),
            limits,
            hooks: OnceLock::new(),
        }
    }

    /// Installs the before-write hooks; only the first call takes effect (`false` after).
    pub fn set_hooks(&self, hooks: Arc<dyn WriteHooks>) -> bool {
        self.hooks.set(hooks).is_ok()
    }
}

/// The operations, one per endpoint: each checks `caller`'s access itself, so a handler cannot
/// forget it. `meta` is the HTTP request's query, headers and method for `@request.*` in rules.
impl RecordService {
    pub async fn create(
        &self,
        collection: &str,
        req: &Request,
        shape: &Shape,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<Value> {
        write::create(self, collection, req, shape, caller, meta).await
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        collection: &str,
        id: &str,
        req: &Request,
        shape: &Shape,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<Value> {
        write::update(self, collection, id, req, shape, caller, meta).await
    }

    pub async fn delete(
        &self,
        collection: &str,
        id: &str,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<()> {
        write::delete(self, collection, id, caller, meta).await
    }

    pub fn view(
        &self,
        collection: &str,
        id: &str,
        shape: &Shape,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<Value> {
        write::view(self, collection, id, shape, caller, meta)
    }

    pub fn list(
        &self,
        collection: &str,
        params: &ListParams,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<ListResult> {
        super::list::list(self, collection, params, caller, meta)
    }

    /// Runs `items` as one transaction (all or nothing).
    /// Runs a batch of at most `max_requests` requests (settings `batch.maxRequests`).
    pub async fn batch(
        &self,
        items: &[BatchItem],
        max_requests: usize,
        caller: &Caller,
        meta: &RequestInfo,
    ) -> ApiResult<Value> {
        super::batch::batch(self, items, max_requests, caller, meta).await
    }

    /// Whether `caller` may read `record` of `col` through `op` (see [`access::can_read`]).
    pub fn can_read(&self, col: &Collection, op: Op, record: &RecordData, caller: &Caller) -> bool {
        access::can_read(self, col, op, record, caller)
    }

    /// Whether `caller` passes `rule` for `record` with request `info` (superusers always).
    pub fn eval_rule(
        &self,
        schema: &Snapshot,
        rule: &Rule,
        record: &RecordData,
        caller: &Caller,
        info: &RequestInfo,
    ) -> bool {
        access::eval(self, schema, rule, record, caller, info)
    }
}

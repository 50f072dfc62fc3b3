//! The evaluation environment: request data for `@request.*`, macro values, and a per-request
//! cache of related records loaded from the store.

use super::compile::Visibility;
use super::funcs::MacroValues;
use super::RuleCache;
use crate::ids::{CollectionId, Record, RecordData, RecordId};
use crate::schema::{names, Collection, Snapshot};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde_json::Map;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Request data visible to `@request.*`.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The authenticated record (`None` for guests: every `@request.auth.*` is then `""`).
    pub auth: Option<Record>,
    pub auth_collection: Option<Arc<Collection>>,
    pub body: Map<String, Value>,
    pub query: BTreeMap<String, String>,
    /// Lower-cased names with `-` replaced by `_`.
    pub headers: BTreeMap<String, String>,
    pub method: String,
    /// `"default"` for ordinary requests.
    pub context: String,
}

/// Why an evaluation failed (never the filter's fault: it compiled).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the filter's joins need more than {0} row combinations for one record")]
    TooExpensive(u64),
    /// The request's budget ran out or it was cancelled (`crate::work::check`).
    #[error(transparent)]
    Interrupted(#[from] crate::work::Interrupted),
}

impl From<EvalError> for crate::error::ApiError {
    fn from(e: EvalError) -> Self {
        match e {
            EvalError::Store(s) => s.into(),
            EvalError::Interrupted(i) => i.into(),
            EvalError::TooExpensive(_) => crate::error::ApiError::bad_field(
                crate::error::MSG_GENERIC,
                "filter",
                crate::error::FieldError::new("validation_invalid_filter", e.to_string()),
            ),
        }
    }
}

/// `?` comparisons sharing joins may try at most this many row combinations per record.
pub(super) const MAX_COMBINATIONS: u64 = 1_000_000;
/// Cached related records per environment before the cache is reset.
const MAX_CACHED_RECORDS: usize = 50_000;

#[derive(Default)]
struct Cache {
    records: HashMap<(CollectionId, RecordId), Option<Arc<RecordData>>>,
    /// Whole collections, for back-relations and `@collection` joins. Loading them is O(n) per
    /// request: acceptable until back-relation indexes exist.
    collections: HashMap<CollectionId, Arc<Vec<Arc<RecordData>>>>,
}

/// Everything evaluation reads besides the record itself. Create one per request (or per batch
/// of evaluations): it caches related records.
pub struct EvalEnv<'a> {
    pub store: &'a dyn Store,
    pub schema: &'a Snapshot,
    /// Where `schema`'s compiled rules come from (join visibility, email visibility).
    pub rules: &'a RuleCache,
    pub request: RequestInfo,
    pub(super) macros: MacroValues,
    cache: Mutex<Cache>,
}

impl<'a> EvalEnv<'a> {
    /// An environment at instant `now` (macros are computed once, in UTC).
    pub fn new(
        store: &'a dyn Store,
        schema: &'a Snapshot,
        rules: &'a RuleCache,
        request: RequestInfo,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            store,
            schema,
            rules,
            request,
            macros: MacroValues::at(now),
            cache: Mutex::new(Cache::default()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        match self.cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub(super) fn load(
        &self,
        col: &CollectionId,
        id: &str,
    ) -> Result<Option<Arc<RecordData>>, EvalError> {
        let key = (col.clone(), RecordId::from(id));
        if let Some(hit) = self.cache().records.get(&key) {
            return Ok(hit.clone());
        }
        let rec = self
            .store
            .get_record(col, &key.1)?
            .map(|r| Arc::new(r.record.into_fields()));
        let mut cache = self.cache();
        if cache.records.len() >= MAX_CACHED_RECORDS {
            cache.records.clear();
        }
        cache.records.insert(key, rec.clone());
        Ok(rec)
    }

    pub(super) fn collection(
        &self,
        col: &CollectionId,
    ) -> Result<Arc<Vec<Arc<RecordData>>>, EvalError> {
        if let Some(hit) = self.cache().collections.get(col) {
            return Ok(hit.clone());
        }
        let all = self
            .store
            .scan_records(col)
            .map(|r| r.map(|r| Arc::new(r.record.into_fields())))
            .collect::<Result<Vec<_>, _>>()?;
        let all = Arc::new(all);
        self.cache().collections.insert(col.clone(), all.clone());
        Ok(all)
    }
}

/// Whether a record reached through a relation hop of a non-superuser client filter is visible:
/// the target collection's listRule, evaluated with the same request (rules are compiled in
/// `Mode::Rule`, whose hops are unrestricted, so this never recurses).
fn join_rule_allows(target: &Collection, record: &RecordData, env: &EvalEnv<'_>) -> bool {
    match &env.rules.get(env.schema, &target.id).list {
        super::Rule::Everyone => true,
        super::Rule::Superusers => false,
        super::Rule::Expr(rule) => rule.matches(record, env).unwrap_or(false),
    }
}

pub(super) fn visible(v: &Visibility, rec: &RecordData, env: &EvalEnv<'_>) -> bool {
    match v {
        Visibility::All => true,
        Visibility::Nobody => false,
        Visibility::Rule(col) => join_rule_allows(col, rec, env),
    }
}

/// Whether the caller of a client filter may see `rec`'s email in auth collection `col`: the
/// record shows it (`emailVisibility`), it is the caller's own record, or the caller passes
/// the collection's manageRule for it (compiled in `Mode::Rule`, so this never recurses).
pub(super) fn email_visible(col: &CollectionId, rec: &RecordData, env: &EvalEnv<'_>) -> bool {
    if rec.get("emailVisibility") == Some(&Value::Bool(true)) {
        return true;
    }
    let req = &env.request;
    // The evaluator sees records as field maps (filters address `id` as a field); `Record`
    // keeps a stored record's `id` field equal to its id.
    let own = req.auth_collection.as_ref().is_some_and(|c| c.id == *col)
        && req
            .auth
            .as_ref()
            .is_some_and(|a| rec.get(names::ID).and_then(Value::as_str) == Some(a.id().as_str()));
    own || match &env.rules.get(env.schema, col).manage {
        super::Rule::Everyone => true,
        super::Rule::Superusers => false,
        super::Rule::Expr(rule) => rule.matches(rec, env).unwrap_or(false),
    }
}

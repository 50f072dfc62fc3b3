//! Collection rules for each operation, evaluated with the query engine (compiled once per
//! schema snapshot). PocketBase semantics: a null rule is superusers-only (403 for others), `""`
//! is everyone, an expression is evaluated per record; superusers bypass every rule.

use super::RecordService;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, MSG_SUPERUSERS_ONLY};
use crate::ids::RecordData;
use crate::query::{Compiled, EvalEnv, RequestInfo, Rule, RuleCache, RuleSet};
use crate::schema::{Collection, Snapshot};
use serde_json::{Map, Value};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    List,
    View,
    Create,
    Update,
    Delete,
}

fn rule(rules: &RuleSet, op: Op) -> &Rule {
    match op {
        Op::List => &rules.list,
        Op::View => &rules.view,
        Op::Create => &rules.create,
        Op::Update => &rules.update,
        Op::Delete => &rules.delete,
    }
}

fn raw_rule(col: &Collection, op: Op) -> &Option<String> {
    match op {
        Op::List => &col.list_rule,
        Op::View => &col.view_rule,
        Op::Create => &col.create_rule,
        Op::Update => &col.update_rule,
        Op::Delete => &col.delete_rule,
    }
}

/// Whether `caller` may attempt `op` on `col` at all (PocketBase: 403 for a null rule). An
/// expression rule passes here and is evaluated per record.
pub fn check(col: &Collection, op: Op, caller: &Caller) -> ApiResult<()> {
    if caller.is_superuser() || raw_rule(col, op).is_some() {
        return Ok(());
    }
    Err(ApiError::Forbidden(MSG_SUPERUSERS_ONLY.into()))
}

/// `meta` (the HTTP request's query, headers, method, context) with the caller's auth record
/// and the submitted `body`: everything `@request.*` reads.
pub fn request_info(meta: &RequestInfo, caller: &Caller, body: &Map<String, Value>) -> RequestInfo {
    let mut info = meta.clone();
    info.auth = caller.auth().map(|a| a.record.clone());
    info.auth_collection = caller.auth().map(|a| a.collection.clone());
    info.body = body.clone();
    if info.context.is_empty() {
        info.context = "default".into();
    }
    info
}

/// Evaluates `rule` for `record`; store failures deny (fail closed) and are logged.
pub fn eval(
    app: &RecordService,
    schema: &Snapshot,
    rule: &Rule,
    record: &RecordData,
    caller: &Caller,
    info: &RequestInfo,
) -> bool {
    if caller.is_superuser() {
        return true;
    }
    match rule {
        Rule::Everyone => true,
        Rule::Superusers => false,
        Rule::Expr(c) => {
            let env = EvalEnv::new(
                app.store.as_ref(),
                schema,
                &app.rules,
                info.clone(),
                chrono::Utc::now(),
            );
            c.matches(record, &env).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "rule evaluation failed; denying");
                false
            })
        }
    }
}

/// Whether `caller` passes `op`'s rule of `col` for `record` with request `info`.
pub fn allows(
    app: &RecordService,
    schema: &Snapshot,
    col: &Collection,
    op: Op,
    record: &RecordData,
    caller: &Caller,
    info: &RequestInfo,
) -> bool {
    eval(
        app,
        schema,
        rule(&app.rules.get(schema, &col.id), op),
        record,
        caller,
        info,
    )
}

/// Whether `caller` passes `col`'s manageRule for `record` (superusers always; false for
/// base collections).
pub fn manages(
    app: &RecordService,
    schema: &Snapshot,
    col: &Collection,
    record: &RecordData,
    caller: &Caller,
    info: &RequestInfo,
) -> bool {
    col.is_auth()
        && eval(
            app,
            schema,
            &app.rules.get(schema, &col.id).manage,
            record,
            caller,
            info,
        )
}

/// Whether `caller` may read `record` of `col` through `op` (`List` for `coll/*` subscriptions
/// and list results, `View` for single records and expands). The one visibility check shared by
/// REST, realtime and webhooks.
pub fn can_read(
    app: &RecordService,
    col: &Collection,
    op: Op,
    record: &RecordData,
    caller: &Caller,
) -> bool {
    if check(col, op, caller).is_err() {
        return false;
    }
    let info = request_info(&RequestInfo::default(), caller, &Map::new());
    allows(app, &app.schema.snapshot(), col, op, record, caller, &info)
}

/// The listRule as a filter to AND into a list query (`None`: no restriction for `caller`).
pub fn list_filter(
    rules: &RuleCache,
    schema: &Snapshot,
    col: &Collection,
    caller: &Caller,
) -> ApiResult<Option<Arc<Compiled>>> {
    if caller.is_superuser() {
        return Ok(None);
    }
    match &rules.get(schema, &col.id).list {
        Rule::Expr(c) => Ok(Some(c.clone())),
        Rule::Everyone => Ok(None),
        Rule::Superusers => Err(ApiError::Forbidden(MSG_SUPERUSERS_ONLY.into())),
    }
}

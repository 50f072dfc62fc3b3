//! Create, update, delete and view: validation against the schema, auth-collection rules for
//! passwords and emails, relation checks and delete cascades, staged into a [`Tx`].

use super::access::{allows, check, request_info, Op};
use super::auth_fields::{
    is_secret_auth_field, manages, password_input, revoke_if_auth_rule_fails, stage_auth_create,
    stage_auth_update,
};
use super::cascade::stage_delete;
use super::files::{self, Upload};
use super::hooks;
use super::id::new_id;
use super::modifiers::{self, split_key};
use super::shape::Shape;
use super::tx::{commit_with_retries, Tx};
use super::RecordService;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::ids::{Record, RecordData, RecordId};
use crate::query::RequestInfo;
use crate::schema::{names, now_string, Collection, Field, FieldKind};
use crate::store::{Expect, WriteOp};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

pub const MSG_CREATE: &str = "Failed to create record.";
pub const MSG_UPDATE: &str = "Failed to update record.";
/// A parsed request body.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub data: Map<String, Value>,
    /// Values came from a form (multipart/urlencoded) and are strings to be parsed.
    pub from_form: bool,
    /// Uploaded files (multipart parts named after file fields), staged on disk.
    pub uploads: Vec<Upload>,
}

pub async fn create(
    app: &RecordService,
    collection: &str,
    req: &Request,
    shape: &Shape,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<Value> {
    let target = app.schema.require(collection)?;
    shape.check(app, &target, caller)?;
    let req = hooks::before_create(app, &target, req, caller).await?;
    let req = &*req;
    let (col, rec) = commit_with_retries(
        app,
        |tx| {
            Box::pin(async move {
                tx.meta = meta.clone();
                let col = tx.collection(collection)?;
                let rec = stage_create(tx, &col, req, caller).await?;
                Ok((col, rec))
            })
        },
        |e| e.error,
    )
    .await?;
    shape.render_one(app, &col, &rec, caller)
}

pub async fn update(
    app: &RecordService,
    collection: &str,
    id: &str,
    req: &Request,
    shape: &Shape,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<Value> {
    let target = app.schema.require(collection)?;
    shape.check(app, &target, caller)?;
    let id = RecordId::from(id);
    let req = hooks::before_update(app, &target, &id, req, caller).await?;
    let req = &*req;
    let _locked = app.locks.lock(&target.id, &id).await;
    let id = &id;
    let (col, rec) = commit_with_retries(
        app,
        |tx| {
            Box::pin(async move {
                tx.meta = meta.clone();
                let col = tx.collection(collection)?;
                let rec = stage_update(tx, &col, id, req, caller).await?;
                Ok((col, rec))
            })
        },
        |e| e.error,
    )
    .await?;
    shape.render_one(app, &col, &rec, caller)
}

pub async fn delete(
    app: &RecordService,
    collection: &str,
    id: &str,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<()> {
    let id = RecordId::from(id);
    let target = app.schema.require(collection)?;
    hooks::before_delete(app, &target, &id, caller).await?;
    let _locked = app.locks.lock(&target.id, &id).await;
    let id = &id;
    commit_with_retries(
        app,
        |tx| {
            Box::pin(async move {
                tx.meta = meta.clone();
                let col = tx.collection(collection)?;
                stage_delete(tx, &col, id, caller)
            })
        },
        |e| e.error,
    )
    .await
}

pub fn view(
    app: &RecordService,
    collection: &str,
    id: &str,
    shape: &Shape,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<Value> {
    let schema = app.schema.snapshot();
    let col = schema.require(collection)?;
    check(&col, Op::View, caller)?;
    let rec = app
        .store
        .get_record(&col.id, &RecordId::from(id))?
        .ok_or_else(ApiError::not_found)?
        .record;
    let info = request_info(meta, caller, &Map::new());
    if !allows(app, &schema, &col, Op::View, rec.fields(), caller, &info) {
        return Err(ApiError::not_found());
    }
    shape.render_one(app, &col, &rec, caller)
}

/// The coerced value a request assigns to `f` (plain key then modifiers), or `None` if untouched.
fn assigned(f: &Field, req: &Request, current: Value) -> Option<Result<Value, FieldError>> {
    let touched = req.data.contains_key(&f.name)
        || req.data.keys().any(|k| {
            let (name, m) = split_key(k);
            !m.is_empty() && name == f.name
        });
    if !touched {
        return None;
    }
    let base = match req.data.get(&f.name) {
        Some(raw) => match coerce_input(f, raw, req.from_form) {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        },
        None => current,
    };
    Some(modifiers::apply(f, base, &req.data))
}

/// `@request.body` as rules see it (PocketBase's `ReplaceModifiers`): every key that touches a
/// field (`f`, `f+`, `+f`, `f-`) is replaced by the field's resolved new value under its plain
/// name, so a rule on `@request.body.f` cannot be sidestepped with a modifier. Keys that fail to
/// coerce stay as sent (the request then fails validation); other keys are kept unchanged.
fn rule_body(col: &Collection, req: &Request, current: Option<&RecordData>) -> Map<String, Value> {
    let mut body = req.data.clone();
    for f in col.fields.iter().filter(|f| f.name != "id") {
        if is_secret_auth_field(col, f)
            || matches!(
                f.kind,
                FieldKind::Password { .. } | FieldKind::Autodate { .. }
            )
        {
            continue;
        }
        let cur = current
            .and_then(|c| c.get(&f.name))
            .cloned()
            .unwrap_or_else(|| f.zero_value());
        if let Some(Ok(v)) = assigned(f, req, cur) {
            body.retain(|k, _| split_key(k).0 != f.name);
            body.insert(f.name.clone(), v);
        }
    }
    body
}

/// Form values are strings: each kind says how it reads them.
fn coerce_input(f: &Field, raw: &Value, from_form: bool) -> Result<Value, FieldError> {
    if from_form {
        f.coerce_form(raw)
    } else {
        f.coerce(raw)
    }
}

pub(crate) async fn stage_create(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    req: &Request,
    caller: &Caller,
) -> ApiResult<Record> {
    check(col, Op::Create, caller)?;
    let mut errors = FieldErrors::new();
    let id = new_id(col, req, &mut errors);
    let now = now_string();
    // The would-be record holds its id already: the create rule may read `id`.
    let mut data = RecordData::new();
    data.insert(names::ID.into(), Value::String(id.0.clone()));
    let mut uploads = Vec::new();
    for f in col.fields.iter().filter(|f| f.name != "id") {
        let value = match &f.kind {
            FieldKind::Autodate { on_create, .. } => Value::String(if *on_create {
                now.clone()
            } else {
                String::new()
            }),
            _ if is_secret_auth_field(col, f) => continue,
            FieldKind::Password { .. } => match password_input(f, req, &mut errors).await {
                Some(h) => Value::String(h),
                None => Value::String(String::new()),
            },
            FieldKind::File(o) => {
                let zero = f.zero_value();
                match files::resolve(f, o, req, &zero, assigned(f, req, zero.clone())) {
                    None => zero,
                    Some(Ok(r)) => {
                        uploads.push(r.uploads);
                        r.value
                    }
                    Some(Err(e)) => {
                        errors.add(f.name.clone(), e);
                        continue;
                    }
                }
            }
            _ => match assigned(f, req, f.zero_value()) {
                None => f.zero_value(),
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    errors.add(f.name.clone(), e);
                    continue;
                }
            },
        };
        data.insert(f.name.clone(), value);
    }
    let info = request_info(&tx.meta, caller, &rule_body(col, req, None));
    if !allows(tx.app, &tx.schema, col, Op::Create, &data, caller, &info) {
        return Err(ApiError::bad_request(MSG_CREATE));
    }
    if col.auth.is_some() {
        let manager = manages(tx, col, &data, caller, &info);
        stage_auth_create(col, req, manager, &mut data, &mut errors).await;
    }
    validate_all(col, &data, &mut errors, None);
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_CREATE, errors));
    }
    assert_relations(tx, col, &data, None);
    for u in uploads.into_iter().flatten() {
        tx.place_file(&col.id, &id, u);
    }
    let rec = Record::new(id, data);
    tx.put(
        WriteOp::PutRecord {
            collection: col.id.clone(),
            id: rec.id().clone(),
            data: rec.fields().clone(),
            expect: Expect::Absent,
            indexes: tx.indexes(&col.id),
            relations: tx.relations(&col.id),
        },
        MSG_CREATE,
    );
    Ok(rec)
}

fn validate_all(
    col: &Collection,
    data: &RecordData,
    errors: &mut FieldErrors,
    only: Option<&HashSet<String>>,
) {
    for f in &col.fields {
        if f.name == "id" || is_secret_auth_field(col, f) || errors.get(&f.name).is_some() {
            continue;
        }
        if matches!(
            f.kind,
            FieldKind::Password { .. } | FieldKind::Autodate { .. }
        ) {
            continue; // validated on input (plain text) / server-set
        }
        if only.is_some_and(|o| !o.contains(&f.name)) {
            continue;
        }
        let v = data.get(&f.name).cloned().unwrap_or_else(|| f.zero_value());
        if let Err(e) = f.validate(&v) {
            errors.add(f.name.clone(), e);
        }
    }
}

pub(super) fn relation_ids(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Stages existence checks for relation ids that are new compared with `before`.
fn assert_relations(
    tx: &mut Tx<'_>,
    col: &Collection,
    data: &RecordData,
    before: Option<&RecordData>,
) {
    for f in &col.fields {
        let FieldKind::Relation { collection_id, .. } = &f.kind else {
            continue;
        };
        let old: HashSet<String> = before
            .and_then(|b| b.get(&f.name))
            .map(relation_ids)
            .unwrap_or_default()
            .into_iter()
            .collect();
        for rid in data.get(&f.name).map(relation_ids).unwrap_or_default() {
            if !old.contains(&rid) {
                tx.assert_exists(collection_id, &RecordId(rid), &f.name);
            }
        }
    }
}

pub(crate) async fn stage_update(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    id: &RecordId,
    req: &Request,
    caller: &Caller,
) -> ApiResult<Record> {
    check(col, Op::Update, caller)?;
    let cur = tx.get(&col.id, id)?.ok_or_else(ApiError::not_found)?;
    let before = cur.record.fields();
    // The rule sees the stored record; `@request.body.*` the submitted body, modifiers resolved.
    let info = request_info(&tx.meta, caller, &rule_body(col, req, Some(before)));
    if !allows(tx.app, &tx.schema, col, Op::Update, before, caller, &info) {
        return Err(ApiError::not_found());
    }
    let mut errors = FieldErrors::new();
    if let Some(new_id) = req.data.get(names::ID) {
        if new_id.as_str() != Some(id.as_str()) {
            errors.add(
                names::ID,
                FieldError::new(
                    "validation_pk_change",
                    "The record primary key cannot be changed.",
                ),
            );
        }
    }
    let now = now_string();
    let mut data = before.clone();
    let mut touched = HashSet::new();
    let (mut uploads, mut drops) = (Vec::new(), Vec::new());
    for f in col.fields.iter().filter(|f| f.name != "id") {
        if let FieldKind::Autodate {
            on_update: true, ..
        } = f.kind
        {
            data.insert(f.name.clone(), Value::String(now.clone()));
            continue;
        }
        if is_secret_auth_field(col, f) || matches!(f.kind, FieldKind::Autodate { .. }) {
            continue;
        }
        if let FieldKind::Password { .. } = f.kind {
            if let Some(h) = password_input(f, req, &mut errors).await {
                data.insert(f.name.clone(), Value::String(h));
            }
            continue;
        }
        let current = before
            .get(&f.name)
            .cloned()
            .unwrap_or_else(|| f.zero_value());
        if let FieldKind::File(o) = &f.kind {
            match files::resolve(f, o, req, &current, assigned(f, req, current.clone())) {
                None => {}
                Some(Ok(r)) => {
                    for name in files::dropped(&current, &r.value) {
                        drops.push(name);
                    }
                    uploads.extend(r.uploads);
                    data.insert(f.name.clone(), r.value);
                    touched.insert(f.name.clone());
                }
                Some(Err(e)) => errors.add(f.name.clone(), e),
            }
            continue;
        }
        match assigned(f, req, current) {
            None => {}
            Some(Ok(v)) => {
                data.insert(f.name.clone(), v);
                touched.insert(f.name.clone());
            }
            Some(Err(e)) => errors.add(f.name.clone(), e),
        }
    }
    if col.auth.is_some() {
        let manager = manages(tx, col, before, caller, &info);
        stage_auth_update(col, req, manager, before, &mut data, &mut errors).await;
        revoke_if_auth_rule_fails(tx, col, &cur.record, &mut data);
    }
    // Every field is validated: a schema change may have made stored values invalid, and an
    // update must not persist them silently.
    validate_all(col, &data, &mut errors, None);
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_UPDATE, errors));
    }
    assert_relations(tx, col, &data, Some(before));
    for u in uploads {
        tx.place_file(&col.id, id, u);
    }
    for name in drops {
        tx.drop_file(&col.id, id, Some(name));
    }
    let rec = Record::new(id.clone(), data);
    tx.put(
        WriteOp::PutRecord {
            collection: col.id.clone(),
            id: id.clone(),
            data: rec.fields().clone(),
            expect: Expect::Unchanged(cur.version),
            indexes: tx.indexes(&col.id),
            relations: tx.relations(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(rec)
}

//! Create, update, delete and view: validation against the schema, auth-collection rules for
//! passwords and emails, relation checks and delete cascades, staged into a [`Tx`].

use super::access::{allows, check, eval, request_info, Op};
use super::modifiers::{self, split_key};
use super::shape::Shape;
use super::tx::Tx;
use crate::app::App;
use crate::auth::{password, Caller};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::ids::{CollectionId, RecordData, RecordId};
use crate::query::RequestInfo;
use crate::schema::{now_string, random_alphanumeric, Collection, Field, FieldKind};
use crate::store::{Expect, WriteOp};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

pub const MSG_CREATE: &str = "Failed to create record.";
pub const MSG_UPDATE: &str = "Failed to update record.";
const MSG_REQUIRED_REF: &str =
    "Failed to delete record. Make sure that the record is not part of a required relation reference.";
/// Optimistic-concurrency retries before giving up with a 409-free internal error.
const MAX_ATTEMPTS: usize = 16;
/// Deepest cascade followed when deleting (guards against pathological relation graphs).
const MAX_CASCADE_DEPTH: usize = 16;

/// A parsed request body.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub data: Map<String, Value>,
    /// Values came from a form (multipart/urlencoded) and are strings to be parsed.
    pub from_form: bool,
}

/// Runs `$stage` (an expression using the transaction `$tx`) in fresh transactions until it
/// commits without a concurrent conflict.
macro_rules! with_retries {
    ($app:expr, $meta:expr, |$tx:ident| $stage:expr) => {{
        let mut outcome = Err(ApiError::internal("too many concurrent modifications"));
        for _ in 0..MAX_ATTEMPTS {
            let mut $tx = Tx::new($app);
            $tx.meta = $meta.clone();
            let staged = $stage;
            match staged {
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
                Ok(out) => match $tx.commit().await {
                    Ok(_) => {
                        outcome = Ok(out);
                        break;
                    }
                    Err(None) => {
                        // Lost a race (cascade or batch touching the same record): back off a little.
                        tokio::time::sleep(std::time::Duration::from_micros(rand::random::<u64>() % 2000)).await;
                        continue;
                    }
                    Err(Some(e)) => {
                        outcome = Err(e.error);
                        break;
                    }
                },
            }
        }
        outcome
    }};
}

pub async fn create(
    app: &App,
    collection: &str,
    req: &Request,
    shape: &Shape,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<Value> {
    shape.check(app, &*app.schema.require(collection)?, caller)?;
    let (col, data) = with_retries!(app, meta, |tx| {
        match tx.collection(collection) {
            Ok(col) => stage_create(&mut tx, &col, req, caller)
                .await
                .map(|d| (col, d)),
            Err(e) => Err(e),
        }
    })?;
    shape.render_one(app, &col, &data, caller)
}

pub async fn update(
    app: &App,
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
    let _locked = app.record_locks.lock(&target.id, &id).await;
    let (col, data) = with_retries!(app, meta, |tx| {
        match tx.collection(collection) {
            Ok(col) => stage_update(&mut tx, &col, &id, req, caller)
                .await
                .map(|d| (col, d)),
            Err(e) => Err(e),
        }
    })?;
    shape.render_one(app, &col, &data, caller)
}

pub async fn delete(
    app: &App,
    collection: &str,
    id: &str,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<()> {
    let id = RecordId::from(id);
    let target = app.schema.require(collection)?;
    let _locked = app.record_locks.lock(&target.id, &id).await;
    with_retries!(app, meta, |tx| {
        match tx.collection(collection) {
            Ok(col) => stage_delete(&mut tx, &col, &id, caller),
            Err(e) => Err(e),
        }
    })
}

pub fn view(
    app: &App,
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
        .ok_or_else(ApiError::not_found)?;
    let info = request_info(meta, caller, &Map::new());
    if !allows(app, &schema, &col, Op::View, &rec.data, caller, &info) {
        return Err(ApiError::not_found());
    }
    shape.render_one(app, &col, &rec.data, caller)
}

/// A new record id: 8 base36 chars of milliseconds since 2020 then 7 random ones, so ids sort
/// (and lists default to) roughly in creation order while keeping PocketBase's 15-char format.
pub fn ordered_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let epoch_2020 = 1_577_836_800_000_i64;
    let mut ms = (chrono::Utc::now().timestamp_millis() - epoch_2020).max(0) as u64;
    let mut head = [b'0'; 8];
    for slot in head.iter_mut().rev() {
        *slot = ALPHABET[(ms % 36) as usize];
        ms /= 36;
    }
    let mut id = String::from_utf8_lossy(&head).into_owned();
    id.push_str(&crate::schema::random_id()[..7]);
    id
}

fn new_id(col: &Collection, req: &Request, errors: &mut FieldErrors) -> RecordId {
    let id_field = col.field("id");
    match req.data.get("id") {
        Some(Value::String(s)) if !s.is_empty() => {
            if let Some(f) = id_field {
                if let Err(e) = f.validate(&Value::String(s.clone())) {
                    errors.add("id", e);
                }
            }
            RecordId::from(s.as_str())
        }
        Some(Value::String(_)) | Some(Value::Null) | None => {
            let pattern = id_field.and_then(|f| match &f.kind {
                FieldKind::Text(t) => Some(t.autogenerate_pattern.clone()),
                _ => None,
            });
            match pattern.as_deref() {
                Some("[a-z0-9]{15}") | None | Some("") => RecordId(ordered_id()),
                Some(p) => {
                    RecordId(crate::schema::generate_from_pattern(p).unwrap_or_else(ordered_id))
                }
            }
        }
        Some(_) => {
            errors.add(
                "id",
                FieldError::new("validation_invalid_format", "Invalid value format."),
            );
            RecordId(String::new())
        }
    }
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

/// Form values are strings: JSON fields parse them when they are valid JSON (PocketBase does).
fn coerce_input(f: &Field, raw: &Value, from_form: bool) -> Result<Value, FieldError> {
    if from_form {
        if let (FieldKind::Json { .. }, Value::String(s)) = (&f.kind, raw) {
            return Ok(serde_json::from_str(s).unwrap_or_else(|_| raw.clone()));
        }
    }
    f.coerce(raw)
}

fn is_secret_auth_field(col: &Collection, f: &Field) -> bool {
    col.auth.is_some() && (f.name == "tokenKey" || matches!(f.kind, FieldKind::Password { .. }))
}

pub(crate) async fn stage_create(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    req: &Request,
    caller: &Caller,
) -> ApiResult<RecordData> {
    check(col, Op::Create, caller)?;
    let mut errors = FieldErrors::new();
    let id = new_id(col, req, &mut errors);
    let now = now_string();
    let mut data = RecordData::new();
    data.insert("id".into(), Value::String(id.0.clone()));
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
    let info = request_info(&tx.meta, caller, &req.data);
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
    tx.put(
        WriteOp::PutRecord {
            collection: col.id.clone(),
            id,
            data: data.clone(),
            expect: Expect::Absent,
            indexes: tx.indexes(&col.id),
        },
        MSG_CREATE,
    );
    Ok(data)
}

/// Hashes a plain `password`-type field value (non-auth collections).
async fn password_input(f: &Field, req: &Request, errors: &mut FieldErrors) -> Option<String> {
    let plain = req
        .data
        .get(&f.name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    if let Err(e) = f.validate(&Value::String(plain.to_string())) {
        errors.add(f.name.clone(), e);
        return None;
    }
    password::hash(plain.to_string()).await.ok()
}

/// Whether `caller` passes the auth collection's manageRule for `record` (superusers always).
fn manages(
    tx: &Tx<'_>,
    col: &Collection,
    record: &RecordData,
    caller: &Caller,
    info: &RequestInfo,
) -> bool {
    let rules = tx.schema.rules(&col.id);
    eval(tx.app, &tx.schema, &rules.manage, record, caller, info)
}

async fn stage_auth_create(
    col: &Collection,
    req: &Request,
    manager: bool,
    data: &mut RecordData,
    errors: &mut FieldErrors,
) {
    data.insert("tokenKey".into(), Value::String(random_alphanumeric(50)));
    lowercase_email(data);
    if !manager && data.get("verified") == Some(&Value::Bool(true)) {
        errors.add(
            "verified",
            FieldError::new(
                "validation_values_mismatch",
                "Only superusers and managers can set this field.",
            ),
        );
    }
    if let Some(hash) = new_password(col, req, errors, true).await {
        data.insert("password".into(), Value::String(hash));
    }
}

fn lowercase_email(data: &mut RecordData) {
    // Emails are compared case-insensitively: ALICE@x.io and alice@x.io are one account.
    if let Some(Value::String(e)) = data.get_mut("email") {
        *e = e.to_lowercase();
    }
}

/// Validates `password` + `passwordConfirm` of an auth record and returns the new hash.
async fn new_password(
    col: &Collection,
    req: &Request,
    errors: &mut FieldErrors,
    required: bool,
) -> Option<String> {
    let plain = req
        .data
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or("");
    if plain.is_empty() {
        if required {
            errors.add("password", FieldError::required());
            if req
                .data
                .get("passwordConfirm")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                errors.add("passwordConfirm", FieldError::required());
            }
        }
        return None;
    }
    let confirm = req
        .data
        .get("passwordConfirm")
        .and_then(Value::as_str)
        .unwrap_or("");
    if confirm.is_empty() {
        errors.add("passwordConfirm", FieldError::required());
    } else if confirm != plain {
        errors.add(
            "passwordConfirm",
            FieldError::new("validation_values_mismatch", "Values don't match."),
        );
    }
    if let Some(f) = col.field("password") {
        if let Err(e) = f.validate(&Value::String(plain.to_string())) {
            errors.add("password", e);
        }
    }
    if !errors.is_empty() {
        return None;
    }
    match password::hash(plain.to_string()).await {
        Ok(h) => Some(h),
        Err(_) => {
            errors.add(
                "password",
                FieldError::new(
                    "validation_invalid_password",
                    "Failed to hash the password.",
                ),
            );
            None
        }
    }
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

fn relation_ids(v: &Value) -> Vec<String> {
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
) -> ApiResult<RecordData> {
    check(col, Op::Update, caller)?;
    let cur = tx.get(&col.id, id)?.ok_or_else(ApiError::not_found)?;
    // The rule sees the stored record; `@request.body.*` the submitted body.
    let info = request_info(&tx.meta, caller, &req.data);
    if !allows(
        tx.app,
        &tx.schema,
        col,
        Op::Update,
        &cur.data,
        caller,
        &info,
    ) {
        return Err(ApiError::not_found());
    }
    let mut errors = FieldErrors::new();
    if let Some(new_id) = req.data.get("id") {
        if new_id.as_str() != Some(id.as_str()) {
            errors.add(
                "id",
                FieldError::new(
                    "validation_pk_change",
                    "The record primary key cannot be changed.",
                ),
            );
        }
    }
    let now = now_string();
    let mut data = cur.data.clone();
    let mut touched = HashSet::new();
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
        let current = cur
            .data
            .get(&f.name)
            .cloned()
            .unwrap_or_else(|| f.zero_value());
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
        let manager = manages(tx, col, &cur.data, caller, &info);
        stage_auth_update(col, req, manager, &cur.data, &mut data, &mut errors).await;
    }
    // Every field is validated: a schema change may have made stored values invalid, and an
    // update must not persist them silently.
    validate_all(col, &data, &mut errors, None);
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_UPDATE, errors));
    }
    assert_relations(tx, col, &data, Some(&cur.data));
    tx.put(
        WriteOp::PutRecord {
            collection: col.id.clone(),
            id: id.clone(),
            data: data.clone(),
            expect: Expect::Unchanged(cur.version),
            indexes: tx.indexes(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(data)
}

async fn stage_auth_update(
    col: &Collection,
    req: &Request,
    manager: bool,
    before: &RecordData,
    data: &mut RecordData,
    errors: &mut FieldErrors,
) {
    lowercase_email(data);
    if !manager {
        for key in ["email", "verified"] {
            if data.get(key) != before.get(key) {
                errors.add(
                    key,
                    FieldError::new(
                        "validation_values_mismatch",
                        "Only superusers and managers can change this field.",
                    ),
                );
            }
        }
    }
    let changing = req
        .data
        .get("password")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if changing && !manager {
        let old = req
            .data
            .get("oldPassword")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let stored = before
            .get("password")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if old.is_empty() {
            errors.add("oldPassword", FieldError::required());
        } else if !password::verify(old, stored).await {
            errors.add(
                "oldPassword",
                FieldError::new(
                    "validation_invalid_old_password",
                    "Missing or invalid old password.",
                ),
            );
        }
    }
    if let Some(hash) = new_password(col, req, errors, false).await {
        data.insert("password".into(), Value::String(hash));
        // A new password revokes every token issued before it.
        data.insert("tokenKey".into(), Value::String(random_alphanumeric(50)));
    }
    if data.get("email") != before.get("email") {
        // So does a new email (and it makes email-change tokens single-use).
        data.insert("tokenKey".into(), Value::String(random_alphanumeric(50)));
    }
}

/// Stages the deletion of `id` and its relation consequences (cascade, clear, or refuse).
pub(crate) fn stage_delete(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    id: &RecordId,
    caller: &Caller,
) -> ApiResult<()> {
    check(col, Op::Delete, caller)?;
    let cur = tx.get(&col.id, id)?.ok_or_else(ApiError::not_found)?;
    let info = request_info(&tx.meta, caller, &Map::new());
    if !allows(
        tx.app,
        &tx.schema,
        col,
        Op::Delete,
        &cur.data,
        caller,
        &info,
    ) {
        return Err(ApiError::not_found());
    }
    let mut visited = HashSet::new();
    delete_rec(tx, col, id, &mut visited, 0)
}

fn delete_rec(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    id: &RecordId,
    visited: &mut HashSet<(CollectionId, RecordId)>,
    depth: usize,
) -> ApiResult<()> {
    if !visited.insert((col.id.clone(), id.clone())) {
        return Ok(());
    }
    if depth > MAX_CASCADE_DEPTH {
        return Err(ApiError::bad_request(
            "Failed to delete record: the relation cascade is too deep.",
        ));
    }
    let cur = tx.get(&col.id, id)?.ok_or_else(ApiError::not_found)?;
    let snapshot = tx.schema.clone();
    for other in snapshot.all() {
        let refs: Vec<&Field> = other
            .fields
            .iter()
            .filter(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if *collection_id == col.id))
            .collect();
        if refs.is_empty() {
            continue;
        }
        let referencing: Vec<RecordId> = tx
            .app
            .store
            .scan_records(&other.id)
            .filter_map(Result::ok)
            .filter(|r| {
                refs.iter().any(|f| {
                    r.data
                        .get(&f.name)
                        .map(relation_ids)
                        .unwrap_or_default()
                        .iter()
                        .any(|x| x == id.as_str())
                })
            })
            .filter_map(|r| r.data.get("id").and_then(Value::as_str).map(RecordId::from))
            .collect();
        for rid in referencing {
            if visited.contains(&(other.id.clone(), rid.clone())) {
                continue;
            }
            unlink(tx, other, &rid, &refs, id, visited, depth)?;
        }
    }
    tx.put(
        WriteOp::DeleteRecord {
            collection: col.id.clone(),
            id: id.clone(),
            expect: Expect::Unchanged(cur.version),
            indexes: tx.indexes(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(())
}

/// Removes references to `target` from record `rid` of `col`: cascade-delete, clear, or refuse.
fn unlink(
    tx: &mut Tx<'_>,
    col: &Arc<Collection>,
    rid: &RecordId,
    refs: &[&Field],
    target: &RecordId,
    visited: &mut HashSet<(CollectionId, RecordId)>,
    depth: usize,
) -> ApiResult<()> {
    let Some(cur) = tx.get(&col.id, rid)? else {
        return Ok(());
    };
    let mut data = cur.data.clone();
    for f in refs {
        let FieldKind::Relation { cascade_delete, .. } = &f.kind else {
            continue;
        };
        let ids = data.get(&f.name).map(relation_ids).unwrap_or_default();
        if !ids.iter().any(|x| x == target.as_str()) {
            continue;
        }
        if *cascade_delete {
            return delete_rec(tx, col, rid, visited, depth + 1);
        }
        let remaining: Vec<Value> = ids
            .into_iter()
            .filter(|x| x != target.as_str())
            .map(Value::String)
            .collect();
        if f.required && remaining.is_empty() {
            return Err(ApiError::bad_request(MSG_REQUIRED_REF));
        }
        let v = if f.is_multi() {
            Value::Array(remaining)
        } else {
            remaining
                .into_iter()
                .next()
                .unwrap_or(Value::String(String::new()))
        };
        data.insert(f.name.clone(), v);
    }
    tx.put(
        WriteOp::PutRecord {
            collection: col.id.clone(),
            id: rid.clone(),
            data,
            expect: Expect::Unchanged(cur.version),
            indexes: tx.indexes(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_ids_have_pocketbase_shape_and_sort_by_time() {
        let a = ordered_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ordered_id();
        assert_eq!(a.len(), 15);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()));
        assert!(a[..8] < b[..8], "{a} {b}");
    }
}

//! Deleting a record and its relation consequences: cascade-delete dependents, clear optional
//! references, or refuse when a required relation still points at it.

use super::access::{allows, check, request_info, Op};
use super::tx::Tx;
use super::write::{relation_ids, MSG_UPDATE};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ids::{CollectionId, RecordId};
use crate::schema::{Collection, Field, FieldKind};
use crate::store::{Expect, WriteOp};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;

const MSG_REQUIRED_REF: &str =
    "Failed to delete record. Make sure that the record is not part of a required relation reference.";
/// Deepest cascade followed when deleting (guards against pathological relation graphs).
const MAX_CASCADE_DEPTH: usize = 16;

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

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
use std::collections::{BTreeSet, HashSet};
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
        cur.record.fields(),
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
    for (other_id, rid) in referrers(tx, col, id)? {
        let Some(other) = snapshot.by_id(&other_id) else {
            continue;
        };
        let refs = relation_fields(other, &col.id);
        if refs.is_empty() || visited.contains(&(other.id.clone(), rid.clone())) {
            continue;
        }
        unlink(tx, other, &rid, &refs, id, visited, depth)?;
    }
    tx.put(
        WriteOp::DeleteRecord {
            collection: col.id.clone(),
            id: id.clone(),
            expect: Expect::Unchanged(cur.version),
            indexes: tx.indexes(&col.id),
            relations: tx.relations(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(())
}

/// The relation fields of `col` that point into `target`.
fn relation_fields<'c>(col: &'c Collection, target: &CollectionId) -> Vec<&'c Field> {
    col.fields
        .iter()
        .filter(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if collection_id == target))
        .collect()
}

/// Records that may reference `id` of `col`: the store's reverse-relation index plus records
/// staged earlier in this transaction. `unlink` re-checks each against its current data.
fn referrers(
    tx: &Tx<'_>,
    col: &Collection,
    id: &RecordId,
) -> ApiResult<BTreeSet<(CollectionId, RecordId)>> {
    let mut out = BTreeSet::new();
    for r in tx.app.store.scan_referrers(&col.id, id) {
        let r = r?;
        out.insert((r.collection, r.id));
    }
    for other in tx.schema.all() {
        let refs = relation_fields(other, &col.id);
        if refs.is_empty() {
            continue;
        }
        for rec in tx.staged_in(&other.id) {
            let holds = refs.iter().any(|f| {
                rec.fields()
                    .get(&f.name)
                    .map(relation_ids)
                    .unwrap_or_default()
                    .iter()
                    .any(|x| x == id.as_str())
            });
            if holds {
                out.insert((other.id.clone(), rec.id().clone()));
            }
        }
    }
    Ok(out)
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
    let mut data = cur.record.into_fields();
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
            relations: tx.relations(&col.id),
        },
        MSG_UPDATE,
    );
    Ok(())
}

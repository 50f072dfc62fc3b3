//! Plans of collection changes: the collections after the change and the store ops that make
//! it, validated against every other collection being saved.

use super::{meta_key, put_meta, RuleCheck, Snapshot};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use crate::ids::CollectionId;
use crate::schema::{Collection, FieldKind};
use crate::store::WriteOp;
use serde_json::Value;
use std::sync::Arc;

pub(super) fn plan_create(
    working: &mut Vec<Arc<Collection>>,
    input: &Value,
    rule_check: RuleCheck,
) -> ApiResult<(Arc<Collection>, Vec<WriteOp>)> {
    let col = Arc::new(Collection::from_create_input(input, working)?);
    working.push(col.clone());
    check_rules(&col, working, "Failed to create collection.", rule_check)?;
    Ok((col.clone(), vec![put_meta(&col)]))
}

pub(super) fn plan_update(
    working: &mut Vec<Arc<Collection>>,
    id_or_name: &str,
    patch: &Value,
    rule_check: RuleCheck,
) -> ApiResult<(Arc<Collection>, Vec<WriteOp>)> {
    let old = find(working, id_or_name).ok_or_else(ApiError::not_found)?;
    let (mut new, change) = old.apply_update(patch, working)?;
    if let (Some(before), Some(after)) = (&old.auth, &mut new.auth) {
        after.revoke_tokens_if_auth_changed(before);
    }
    let new = Arc::new(new);
    let fills = added_fields(&old, &new);
    let mut txn = Vec::new();
    let relations = new.relation_specs();
    if change.needs_migration() || !fills.is_empty() || relations != old.relation_specs() {
        txn.push(WriteOp::Migrate {
            collection: new.id.clone(),
            renames: change.renamed.clone(),
            drops: change.dropped.clone(),
            fills,
            indexes: Arc::from(new.index_specs()),
            relations: Arc::from(relations),
        });
    }
    txn.push(put_meta(&new));
    working.retain(|c| c.id != new.id);
    working.push(new.clone());
    check_rules(&new, working, "Failed to update collection.", rule_check)?;
    Ok((new, txn))
}

/// Deletes one collection; references from collections in `also_deleted` do not block it.
pub(super) fn plan_delete(
    working: &mut Vec<Arc<Collection>>,
    id_or_name: &str,
    also_deleted: &[CollectionId],
) -> ApiResult<Vec<WriteOp>> {
    let col = find(working, id_or_name).ok_or_else(ApiError::not_found)?;
    if col.system {
        return Err(ApiError::bad_request("Failed to delete collection."));
    }
    let referrers: Vec<&str> = working
        .iter()
        .filter(|c| {
            c.id != col.id
                && !also_deleted.contains(&c.id)
                && c.fields
                    .iter()
                    .any(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if *collection_id == col.id))
        })
        .map(|c| c.name.as_str())
        .collect();
    if !referrers.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Failed to delete collection probably due to existing reference in {}.",
            referrers.join(", ")
        )));
    }
    working.retain(|c| c.id != col.id);
    Ok(vec![
        WriteOp::DropData {
            collection: col.id.clone(),
        },
        WriteOp::DeleteMeta {
            key: meta_key(&col.id),
        },
    ])
}

/// Refuses rules of `col` that do not compile against the collections being saved.
fn check_rules(
    col: &Arc<Collection>,
    working: &[Arc<Collection>],
    message: &str,
    rule_check: RuleCheck,
) -> ApiResult<()> {
    let snapshot = Snapshot::build(working.to_vec(), 0);
    let mut errors = FieldErrors::new();
    for (key, reason) in rule_check(col, &snapshot) {
        errors.add(
            key,
            FieldError::new(
                "validation_invalid_rule",
                format!("Invalid rule. Raw error: {reason}."),
            ),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(message, errors))
    }
}

fn find(working: &[Arc<Collection>], id_or_name: &str) -> Option<Arc<Collection>> {
    working
        .iter()
        .find(|c| c.id.as_str() == id_or_name)
        .or_else(|| {
            working
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(id_or_name))
        })
        .cloned()
}

/// New fields with their zero values, written into existing records so indexes agree.
fn added_fields(old: &Collection, new: &Collection) -> Vec<(String, Value)> {
    new.fields
        .iter()
        .filter(|f| !old.fields.iter().any(|o| o.id == f.id))
        .map(|f| (f.name.clone(), f.zero_value()))
        .collect()
}

//! Turning a client's `fields` array into a collection's field list: parse each field, reconcile
//! it with the previous schema (matched by field id), add the system fields the client left out,
//! and check what needs the whole list (duplicates, relation targets).

use super::collection::Collection;
use super::field::{Field, FieldKind, Pattern};
use super::system::{auth_system_field, id_field, AUTH_SYSTEM_FIELDS, ID_PATTERN};
use crate::error::{echo, FieldError, FieldErrors};
use serde_json::{json, Value};
use std::sync::Arc;

/// The resolved field list and what it means for stored records.
pub(crate) struct FieldPlan {
    pub fields: Vec<Field>,
    pub renamed: Vec<(String, String)>,
    pub dropped: Vec<String>,
}

/// A field of the new list with the `fields.<n>` label its errors go under (`None` for system
/// fields re-added by the server, which the client never saw at that position).
struct Entry {
    label: Option<String>,
    field: Field,
}

fn add(errs: &mut FieldErrors, label: &str, option: &str, err: FieldError) {
    if option.is_empty() {
        errs.add_nested(&["fields", label], err);
    } else {
        errs.add_nested(&["fields", label, option], err);
    }
}

/// Builds the field list of `draft` (whose id, name and type are already set) from `input`.
/// `old` is the collection before a PATCH (`None` on create).
pub(crate) fn build_fields(
    draft: &Collection,
    old: Option<&Collection>,
    input: &[Value],
    existing: &[Arc<Collection>],
    errs: &mut FieldErrors,
) -> FieldPlan {
    let has_id = input
        .iter()
        .any(|v| v.get("name").and_then(Value::as_str) == Some("id"));
    let offset = usize::from(!has_id);
    let mut entries = Vec::with_capacity(input.len() + 6);
    let mut renamed = Vec::new();
    for (i, raw) in input.iter().enumerate() {
        let label = (i + offset).to_string();
        match Field::from_json(raw) {
            Err(option_errors) => {
                for (option, e) in option_errors {
                    add(errs, &label, option, e);
                }
            }
            Ok(mut field) => {
                if let Some(pair) = reconcile(&mut field, draft, old, &label, errs) {
                    renamed.push(pair);
                }
                enforce_system_shape(&mut field, draft, &label, errs);
                entries.push(Entry {
                    label: Some(label),
                    field,
                });
            }
        }
    }
    readd_system_fields(&mut entries, draft, old, has_id);
    check_list(&entries, draft, existing, errs);
    let fields: Vec<Field> = entries.into_iter().map(|e| e.field).collect();
    let dropped = old
        .map(|o| {
            o.fields
                .iter()
                .filter(|f| !fields.iter().any(|n| n.id == f.id))
                .filter(|f| !renamed.iter().any(|(_, to)| *to == f.name))
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default();
    FieldPlan {
        fields,
        renamed,
        dropped,
    }
}

/// Matches `field` with the old field of the same id; returns `(old, new)` on a rename.
fn reconcile(
    field: &mut Field,
    draft: &Collection,
    old: Option<&Collection>,
    label: &str,
    errs: &mut FieldErrors,
) -> Option<(String, String)> {
    let Some(prev) = old.and_then(|o| o.fields.iter().find(|f| f.id == field.id)) else {
        // System status is the server's to give, never the client's.
        field.system = field.name == "id"
            || (draft.is_auth() && AUTH_SYSTEM_FIELDS.contains(&field.name.as_str()));
        return None;
    };
    field.system = prev.system;
    if prev.type_name() != field.type_name() {
        let msg = format!(
            "The type of field {} cannot be changed from {}.",
            prev.name,
            prev.type_name()
        );
        add(
            errs,
            label,
            "",
            FieldError::new("validation_field_type_change", msg),
        );
        return None;
    }
    if let Some((option, err)) =
        super::fields::of(&field.kind).change_error(&prev.kind, &field.kind)
    {
        add(errs, label, option, err);
    }
    if prev.name == field.name {
        return None;
    }
    if prev.system {
        let msg = "System fields cannot be renamed.";
        add(
            errs,
            label,
            "name",
            FieldError::new("validation_system_field_name_change", msg),
        );
        return None;
    }
    Some((prev.name.clone(), field.name.clone()))
}

/// The `id` field and auth system fields keep their type and the flags the server relies on.
fn enforce_system_shape(
    field: &mut Field,
    draft: &Collection,
    label: &str,
    errs: &mut FieldErrors,
) {
    if field.name == "id" {
        let FieldKind::Text(t) = &mut field.kind else {
            let err = FieldError::new(
                "validation_in_invalid",
                "The id field must be of type text.",
            );
            return add(errs, label, "type", err);
        };
        t.primary_key = true;
        if t.pattern.is_empty() {
            t.pattern = Pattern::new(ID_PATTERN).unwrap_or_default();
        }
        if t.max == 0 || t.max > 255 {
            let err = FieldError::new(
                "validation_max_less_equal_than_required",
                "Must be between 1 and 255.",
            )
            .with_params(json!({"threshold": 255}));
            add(errs, label, "max", err);
        }
        field.system = true;
        field.required = true;
        field.hidden = false;
        return;
    }
    if !draft.is_auth() {
        return;
    }
    let Some(template) = auth_system_field(&field.name) else {
        return;
    };
    if template.type_name() != field.type_name() {
        let msg = format!(
            "The system field {} must be of type {}.",
            field.name,
            template.type_name()
        );
        return add(
            errs,
            label,
            "type",
            FieldError::new("validation_in_invalid", msg),
        );
    }
    field.system = true;
    if template.hidden {
        // password and tokenKey: never shown, always set.
        field.hidden = true;
        field.required = true;
    }
}

/// Puts back what the client may not remove: the `id` field (first), the old system fields and
/// the auth system fields (appended).
fn readd_system_fields(
    entries: &mut Vec<Entry>,
    draft: &Collection,
    old: Option<&Collection>,
    has_id: bool,
) {
    let present = |entries: &Vec<Entry>, f: &Field| {
        entries
            .iter()
            .any(|e| e.field.id == f.id || e.field.name == f.name)
    };
    if !has_id {
        let id = old
            .and_then(|o| o.field("id"))
            .cloned()
            .unwrap_or_else(id_field);
        entries.insert(
            0,
            Entry {
                label: None,
                field: id,
            },
        );
    }
    for prev in old.map(|o| o.fields.as_slice()).unwrap_or_default() {
        if prev.system && !entries.iter().any(|e| e.field.id == prev.id) {
            entries.push(Entry {
                label: None,
                field: prev.clone(),
            });
        }
    }
    if draft.is_auth() {
        for name in AUTH_SYSTEM_FIELDS {
            if let Some(f) = auth_system_field(name).filter(|f| !present(entries, f)) {
                entries.push(Entry {
                    label: None,
                    field: f,
                });
            }
        }
    }
}

/// Checks over the whole list: unique names and ids, relation targets.
fn check_list(
    entries: &[Entry],
    draft: &Collection,
    existing: &[Arc<Collection>],
    errs: &mut FieldErrors,
) {
    for (i, e) in entries.iter().enumerate() {
        let earlier = &entries[..i];
        // Report on the field the client wrote (a re-added system field has no label).
        let dup_label = |pred: &dyn Fn(&Entry) -> bool| {
            earlier
                .iter()
                .find(|x| pred(x))
                .and_then(|x| e.label.clone().or_else(|| x.label.clone()))
        };
        if let Some(label) = dup_label(&|x| x.field.name.eq_ignore_ascii_case(&e.field.name)) {
            let err = FieldError::new(
                "validation_duplicated_field_name",
                format!("Duplicated field name {}.", echo(&e.field.name)),
            )
            .with_params(json!({"fieldName": e.field.name}));
            add(errs, &label, "name", err);
        } else if let Some(label) = dup_label(&|x| x.field.id == e.field.id) {
            let err = FieldError::new(
                "validation_duplicated_field_id",
                format!("Duplicated field id {}.", echo(&e.field.id)),
            )
            .with_params(json!({"fieldId": e.field.id}));
            add(errs, &label, "id", err);
        }
        if let (FieldKind::Relation { collection_id, .. }, Some(label)) = (&e.field.kind, &e.label)
        {
            let known =
                *collection_id == draft.id || existing.iter().any(|c| c.id == *collection_id);
            if !known {
                let err = FieldError::new(
                    "validation_invalid_collection",
                    "The relation collection doesn't exist.",
                );
                add(errs, label, "collectionId", err);
            }
        }
    }
}

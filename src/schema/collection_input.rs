//! Building collections from client input: `POST /api/collections` (create) and
//! `PATCH /api/collections/{c}` (update), with PocketBase's validation codes keyed like
//! PocketBase keys them (`name`, `fields.1.values`, `indexes.0`, `passwordAuth.identityFields`).

use super::auth_options::AuthOptions;
use super::collection::{Collection, CollectionType, SchemaChange, RULE_KEYS};
use super::datetime::now_string;
use super::field_parse::is_valid_name;
use super::fields_build::{build_fields, FieldPlan};
use super::idgen::collection_id;
use super::indexes_build::{check_identity_fields, resolve_indexes};
use crate::error::{ApiError, FieldError, FieldErrors};
use crate::ids::CollectionId;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const MSG_CREATE: &str = "Failed to create collection.";
const MSG_UPDATE: &str = "Failed to update collection.";
const MSG_BAD_BODY: &str = "Failed to load the submitted data due to invalid formatting.";
/// Longest rule accepted (rules are parsed later; this bounds the work).
pub const MAX_RULE_LEN: usize = 4000;

/// A rule value: `null` (superusers only) or a string (`""` = everyone).
pub(crate) fn parse_rule(v: &Value) -> Result<Option<String>, FieldError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= MAX_RULE_LEN => Ok(Some(s.clone())),
        Value::String(_) => Err(FieldError::new(
            "validation_length_too_long",
            format!("Must be no more than {MAX_RULE_LEN} characters."),
        )
        .with_params(json!({"max": MAX_RULE_LEN}))),
        _ => Err(FieldError::new(
            "validation_invalid_rule",
            "Invalid rule. A rule must be null or a string.",
        )),
    }
}

fn object(input: &Value) -> Result<&Map<String, Value>, ApiError> {
    input
        .as_object()
        .ok_or_else(|| ApiError::bad_request(MSG_BAD_BODY))
}

impl Collection {
    /// Validates a `POST /api/collections` body against the existing collections.
    pub fn from_create_input(
        input: &Value,
        existing: &[Arc<Collection>],
    ) -> Result<Collection, ApiError> {
        let o = object(input)?;
        let mut errs = FieldErrors::new();
        let kind = match o.get("type") {
            None | Some(Value::Null) => CollectionType::Base,
            Some(v) => match v.as_str().and_then(CollectionType::parse) {
                Some(CollectionType::View) => {
                    let msg = "View collections are not supported yet.";
                    errs.add(
                        "type",
                        FieldError::new("validation_unsupported_collection_type", msg),
                    );
                    CollectionType::Base
                }
                Some(k) => k,
                None => {
                    errs.add(
                        "type",
                        FieldError::new("validation_in_invalid", "Must be one of base, auth."),
                    );
                    CollectionType::Base
                }
            },
        };
        let name = check_name(o.get("name"), existing, None, &mut errs);
        let id = create_id(o.get("id"), kind, &name, existing, &mut errs);
        let now = now_string();
        let mut c = Collection {
            id,
            name,
            kind,
            system: false,
            list_rule: None,
            view_rule: None,
            create_rule: None,
            update_rule: None,
            delete_rule: None,
            fields: Vec::new(),
            indexes: Vec::new(),
            created: now.clone(),
            updated: now,
            auth: (kind == CollectionType::Auth).then(AuthOptions::default),
        };
        apply_rules(&mut c, o, &mut errs);
        if let Some(auth) = c.auth.as_mut() {
            auth.apply_patch(o, &mut errs);
        }
        let fields = list_input(o, "fields", &mut errs).unwrap_or_default();
        c.fields = build_fields(&c, None, &fields, existing, &mut errs).fields;
        let indexes = list_input(o, "indexes", &mut errs);
        c.indexes = resolve_indexes(&c, indexes, None, &[], &mut errs);
        check_identity_fields(&c, &mut errs);
        if errs.is_empty() {
            Ok(c)
        } else {
            Err(ApiError::validation(MSG_CREATE, errs))
        }
    }

    /// Validates a `PATCH /api/collections/{c}` body: any subset of keys; `fields` replaces the
    /// list (fields matched by id), `indexes` replaces the indexes.
    pub fn apply_update(
        &self,
        patch: &Value,
        existing: &[Arc<Collection>],
    ) -> Result<(Collection, SchemaChange), ApiError> {
        let o = object(patch)?;
        let mut errs = FieldErrors::new();
        let mut c = self.clone();
        if o.get("id")
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(self.id.as_str()))
        {
            errs.add(
                "id",
                FieldError::new(
                    "validation_collection_id_change",
                    "The collection id cannot be changed.",
                ),
            );
        }
        if o.get("type")
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(self.kind.as_str()))
        {
            let msg = "The collection type cannot be changed.";
            errs.add(
                "type",
                FieldError::new("validation_collection_type_change", msg),
            );
        }
        if let Some(v) = o.get("name") {
            let name = check_name(Some(v), existing, Some(&self.id), &mut errs);
            if self.system && name != self.name {
                let msg = "System collections cannot be renamed.";
                errs.add(
                    "name",
                    FieldError::new("validation_system_collection_name_change", msg),
                );
            }
            c.name = name;
        }
        apply_rules(&mut c, o, &mut errs);
        if let Some(auth) = c.auth.as_mut() {
            auth.apply_patch(o, &mut errs);
        }
        let plan = match list_input(o, "fields", &mut errs) {
            Some(fields) => build_fields(&c, Some(self), &fields, existing, &mut errs),
            None => FieldPlan {
                fields: self.fields.clone(),
                renamed: Vec::new(),
                dropped: Vec::new(),
            },
        };
        c.fields = plan.fields;
        if let Some(auth) = c.auth.as_mut() {
            for id_field in &mut auth.password_auth.identity_fields {
                if let Some((_, to)) = plan.renamed.iter().find(|(from, _)| from == id_field) {
                    *id_field = to.clone();
                }
            }
        }
        let indexes = list_input(o, "indexes", &mut errs);
        c.indexes = resolve_indexes(&c, indexes, Some(self), &plan.renamed, &mut errs);
        check_identity_fields(&c, &mut errs);
        if !errs.is_empty() {
            return Err(ApiError::validation(MSG_UPDATE, errs));
        }
        c.updated = now_string();
        let change = SchemaChange {
            indexes_changed: self.index_specs() != c.index_specs(),
            renamed: plan.renamed,
            dropped: plan.dropped,
        };
        Ok((c, change))
    }
}

fn check_name(
    v: Option<&Value>,
    existing: &[Arc<Collection>],
    own_id: Option<&CollectionId>,
    errs: &mut FieldErrors,
) -> String {
    let name = match v {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            errs.add(
                "name",
                FieldError::new("validation_invalid_value", "Must be a string."),
            );
            return String::new();
        }
    };
    if name.is_empty() {
        errs.add("name", FieldError::required());
    } else if !is_valid_name(&name) {
        let err = FieldError::new(
            "validation_match_invalid",
            "Must contain only letters, digits and _.",
        )
        .with_params(json!({"pattern": "^[A-Za-z0-9_]+$"}));
        errs.add("name", err);
    } else if name.len() > 255 {
        let err = FieldError::new(
            "validation_length_out_of_range",
            "The length must be between 1 and 255.",
        )
        .with_params(json!({"min": 1, "max": 255}));
        errs.add("name", err);
    } else if existing
        .iter()
        .any(|c| Some(&c.id) != own_id && c.name.eq_ignore_ascii_case(&name))
    {
        let msg = "Collection name must be unique (case insensitive).";
        errs.add(
            "name",
            FieldError::new("validation_collection_name_exists", msg),
        );
    } else if existing
        .iter()
        .any(|c| Some(&c.id) != own_id && c.id.as_str().eq_ignore_ascii_case(&name))
    {
        // Lookups try ids first, so such a name would be shadowed by the other collection.
        errs.add(
            "name",
            name_id_duplicate("The name must not match an existing collection id."),
        );
    }
    name
}

fn name_id_duplicate(msg: &str) -> FieldError {
    FieldError::new("validation_collection_name_id_duplicate", msg)
}

fn create_id(
    v: Option<&Value>,
    kind: CollectionType,
    name: &str,
    existing: &[Arc<Collection>],
    errs: &mut FieldErrors,
) -> CollectionId {
    let taken = |id: &str| {
        existing
            .iter()
            .any(|c| c.id.as_str().eq_ignore_ascii_case(id))
    };
    // An id equal to another collection's name would shadow that collection in lookups.
    let names_other = |id: &str| existing.iter().any(|c| c.name.eq_ignore_ascii_case(id));
    match v {
        Some(Value::String(s)) if !s.is_empty() => {
            if s.len() > 100 || !is_valid_name(s) {
                let err = FieldError::new(
                    "validation_match_invalid",
                    "Must be 1 to 100 letters, digits or _.",
                )
                .with_params(json!({"pattern": "^[A-Za-z0-9_]{1,100}$"}));
                errs.add("id", err);
            } else if taken(s) {
                errs.add(
                    "id",
                    FieldError::new(
                        "validation_collection_id_exists",
                        "The collection id is already in use.",
                    ),
                );
            } else if names_other(s) {
                errs.add(
                    "id",
                    name_id_duplicate("The id must not match an existing collection name."),
                );
            }
            CollectionId(s.clone())
        }
        None | Some(Value::Null) | Some(Value::String(_)) => {
            let mut id = collection_id(kind.as_str(), name);
            // A rename keeps the id, so a new collection may reuse an old name: derive another.
            let mut n = 1;
            while taken(id.as_str()) || names_other(id.as_str()) {
                id = collection_id(kind.as_str(), &format!("{name}_{n}"));
                n += 1;
            }
            id
        }
        Some(_) => {
            errs.add(
                "id",
                FieldError::new("validation_invalid_value", "Must be a string."),
            );
            CollectionId(String::new())
        }
    }
}

fn apply_rules(c: &mut Collection, o: &Map<String, Value>, errs: &mut FieldErrors) {
    for key in RULE_KEYS {
        let (Some(v), Some(slot)) = (o.get(key), c.rule_mut(key)) else {
            continue;
        };
        match parse_rule(v) {
            Ok(rule) => *slot = rule,
            Err(e) => errs.add(key, e),
        }
    }
}

/// An array-valued key: `None` when absent or null (an error is recorded for other types).
fn list_input(o: &Map<String, Value>, key: &str, errs: &mut FieldErrors) -> Option<Vec<Value>> {
    match o.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => {
            errs.add(
                key,
                FieldError::new("validation_invalid_value", "Must be an array."),
            );
            None
        }
    }
}

#[cfg(test)]
#[path = "collection_input_tests.rs"]
mod tests;

//! Building collections from client input: `POST /api/collections` (create) and
//! `PATCH /api/collections/{c}` (update), with PocketBase's validation codes keyed like
//! PocketBase keys them (`name`, `fields.1.values`, `indexes.0`, `passwordAuth.identityFields`).

use super::auth_options::AuthOptions;
use super::collection::{Collection, CollectionType, SchemaChange, RULE_KEYS};
use super::datetime::now_string;
use super::field_parse::is_valid_name;
use super::fields_build::{build_fields, FieldPlan};
use super::idgen::collection_id;
use super::index::parse_index_sql;
use super::system::auth_default_indexes;
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
    }
    name
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
            }
            CollectionId(s.clone())
        }
        None | Some(Value::Null) | Some(Value::String(_)) => {
            let mut id = collection_id(kind.as_str(), name);
            // A rename keeps the id, so a new collection may reuse an old name: derive another.
            let mut n = 1;
            while taken(id.as_str()) {
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

fn bad_index(msg: String) -> FieldError {
    FieldError::new("validation_invalid_index_expression", msg)
}

/// Validates the index statements (`input`, or the old ones when absent), following a collection
/// or field rename, and adds the auth collections' default unique indexes when missing.
fn resolve_indexes(
    c: &Collection,
    input: Option<Vec<Value>>,
    old: Option<&Collection>,
    renamed: &[(String, String)],
    errs: &mut FieldErrors,
) -> Vec<String> {
    let raw = input.unwrap_or_else(|| {
        old.map(|o| o.indexes.iter().map(|s| json!(s)).collect())
            .unwrap_or_default()
    });
    let mut out: Vec<String> = Vec::with_capacity(raw.len() + 2);
    let mut names: Vec<String> = Vec::new();
    for (i, v) in raw.iter().enumerate() {
        let key = i.to_string();
        let Some(sql) = v.as_str() else {
            errs.add_nested(
                &["indexes", &key],
                FieldError::new("validation_invalid_value", "Must be a string."),
            );
            continue;
        };
        let mut p = match parse_index_sql(sql) {
            Ok(p) => p,
            Err(e) => {
                errs.add_nested(
                    &["indexes", &key],
                    bad_index(format!("Invalid index expression: {e}.")),
                );
                continue;
            }
        };
        let mut changed = false;
        if old.is_some_and(|o| o.name != c.name && p.table.eq_ignore_ascii_case(&o.name)) {
            p.table.clone_from(&c.name);
            changed = true;
        }
        let follow = |n: &mut String, changed: &mut bool| {
            if c.field_ci(n).is_none() {
                if let Some((_, to)) = renamed
                    .iter()
                    .find(|(from, _)| from.eq_ignore_ascii_case(n))
                {
                    n.clone_from(to);
                    *changed = true;
                }
            }
        };
        p.columns
            .iter_mut()
            .for_each(|col| follow(&mut col.name, &mut changed));
        p.skip_empty
            .iter_mut()
            .for_each(|f| follow(f, &mut changed));
        let problem = if !p.table.eq_ignore_ascii_case(&c.name) {
            Some(format!(
                "the index is on `{}` instead of `{}`",
                p.table, c.name
            ))
        } else if let Some(f) = p
            .columns
            .iter()
            .map(|c| &c.name)
            .chain(&p.skip_empty)
            .find(|f| c.field_ci(f).is_none())
        {
            Some(format!("no such field: {f}"))
        } else if names.iter().any(|n| n.eq_ignore_ascii_case(&p.name)) {
            Some(format!("duplicated index name {}", p.name))
        } else {
            None
        };
        if let Some(problem) = problem {
            errs.add_nested(
                &["indexes", &key],
                bad_index(format!("Failed to create index {} - {problem}.", p.name)),
            );
            continue;
        }
        names.push(p.name.clone());
        out.push(if changed { p.to_sql() } else { sql.to_string() });
    }
    if c.is_auth() {
        for (field, default) in ["tokenKey", "email"]
            .into_iter()
            .zip(auth_default_indexes(&c.id, &c.name))
        {
            if !has_unique_index(c, &out, field) {
                out.push(default);
            }
        }
    }
    out
}

/// Whether one of `indexes` is a UNIQUE index on exactly `field`.
fn has_unique_index(c: &Collection, indexes: &[String], field: &str) -> bool {
    indexes
        .iter()
        .filter_map(|s| parse_index_sql(s).ok())
        .any(|p| {
            p.unique
                && p.columns.len() == 1
                && c.field_ci(&p.columns[0].name)
                    .is_some_and(|f| f.name == field)
        })
}

/// Every identity field of an auth collection needs its own UNIQUE index.
fn check_identity_fields(c: &Collection, errs: &mut FieldErrors) {
    let Some(auth) = &c.auth else { return };
    let path = ["passwordAuth", "identityFields"];
    if auth.password_auth.enabled && auth.password_auth.identity_fields.is_empty() {
        errs.add_nested(&path, FieldError::required());
    }
    for f in &auth.password_auth.identity_fields {
        if !has_unique_index(c, &c.indexes, f) {
            let msg = format!("The field {f} doesn't have a UNIQUE constraint.");
            errs.add_nested(
                &path,
                FieldError::new("validation_missing_unique_constraint", msg),
            );
        }
    }
}

#[cfg(test)]
#[path = "collection_input_tests.rs"]
mod tests;

//! Resolving a collection's `indexes`: parse and check each statement against the new field
//! list (errors keyed `indexes.<i>`), follow collection and field renames, add the auth default
//! unique indexes, and check that every auth identity field has a UNIQUE index.

use super::collection::Collection;
use super::index::parse_index_sql;
use super::system::auth_default_indexes;
use crate::error::{FieldError, FieldErrors};
use serde_json::{json, Value};

fn bad_index(msg: String) -> FieldError {
    FieldError::new("validation_invalid_index_expression", msg)
}

/// Validates the index statements (`input`, or the old ones when absent), following a collection
/// or field rename, and adds the auth collections' default unique indexes when missing.
pub(crate) fn resolve_indexes(
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
pub(crate) fn check_identity_fields(c: &Collection, errs: &mut FieldErrors) {
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

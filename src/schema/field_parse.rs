//! Reading a field definition from client JSON: the keys every field has (name, id, flags) and the
//! checks on them; the options of each kind are read by `fields/<kind>.rs`.

use super::field::{Field, FieldKind, OptionErrors, RESERVED_FIELD_NAMES};
use super::fields::{self, invalid, Reader};
use super::idgen::field_id;
use crate::error::FieldError;
use serde_json::{json, Value};

#[cfg(test)]
use super::field::TextOptions;

/// Whether `name` is a valid field or collection name (`^[A-Za-z0-9_]+$`).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn parse_field(v: &Value) -> Result<Field, OptionErrors> {
    let Some(o) = v.as_object() else {
        return Err(vec![("", invalid("Must be an object."))]);
    };
    let mut r = Reader::new(o);
    let type_name = r.string("type");
    let name = r.string("name");
    check_name(&mut r, &name);
    let kind = fields::parse_kind(&mut r, &type_name, &name);
    let mut id = r.string("id");
    if id.is_empty() {
        id = field_id(&type_name, &name);
    } else if id.chars().count() > 100 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        r.fail(
            "id",
            FieldError::new(
                "validation_match_invalid",
                "Must be at most 100 characters without spaces.",
            ),
        );
    }
    let mut field = Field {
        id,
        name,
        system: r.boolean("system"),
        hidden: r.boolean("hidden"),
        presentable: r.boolean("presentable"),
        required: r.boolean("required"),
        help: r.string("help"),
        kind: kind.unwrap_or(FieldKind::Bool),
    };
    let handler = fields::of(&field.kind);
    if !handler.has_required() {
        field.required = false;
        field.help.clear();
    }
    handler.check(&field, &mut r);
    if r.errs.is_empty() {
        Ok(field)
    } else {
        Err(r.errs)
    }
}

fn check_name(r: &mut Reader, name: &str) {
    if name.is_empty() {
        r.fail("name", FieldError::required());
    } else if !is_valid_name(name) || name.len() > 100 {
        r.fail(
            "name",
            FieldError::new(
                "validation_match_invalid",
                "Must contain only letters, digits and _ (at most 100).",
            )
            .with_params(json!({"pattern": "^\\w+$"})),
        );
    } else if RESERVED_FIELD_NAMES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
    {
        let msg = format!(
            "The name is reserved ({}).",
            RESERVED_FIELD_NAMES.join(", ")
        );
        r.fail("name", FieldError::new("validation_not_in_invalid", msg));
    }
}

#[cfg(test)]
#[path = "field_parse_tests.rs"]
mod tests;

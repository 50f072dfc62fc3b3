//! Field kinds as JSON Schema: the value a record carries (`output`), what a create/update body
//! may send (`input`, with the kind's constraints) and its multipart form (`form`). Outputs carry
//! no length or range constraints: a value stored before an option changed keeps its old shape.

use crate::schema::{
    Field, FieldKind, DEFAULT_EDITOR_MAX_SIZE, DEFAULT_PASSWORD_MAX, DEFAULT_TEXT_MAX,
};
use serde_json::{json, Value};

/// PocketBase's datetime form (`2006-01-02 15:04:05.000Z`) or the empty string of an unset date.
pub const DATETIME_PATTERN: &str = r"^$|^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$";

/// A record id as PocketBase generates and accepts it.
pub const ID_PATTERN: &str = "^[a-zA-Z0-9_]+$";

fn multi(kind: &FieldKind) -> bool {
    match kind {
        FieldKind::Select { max_select, .. } | FieldKind::Relation { max_select, .. } => {
            *max_select >= 2
        }
        FieldKind::File(o) => o.max_select >= 2,
        _ => false,
    }
}

fn described(mut schema: Value, field: &Field) -> Value {
    if !field.help.is_empty() {
        schema["description"] = json!(field.help);
    }
    schema
}

fn one_or_many(kind: &FieldKind, one: Value) -> Value {
    if multi(kind) {
        json!({"type": "array", "items": one})
    } else {
        one
    }
}

fn geo_point() -> Value {
    json!({
        "type": "object",
        "properties": {"lon": {"type": "number"}, "lat": {"type": "number"}},
        "required": ["lon", "lat"],
    })
}

/// The schema of the field's value in record JSON.
pub fn output(field: &Field) -> Value {
    let schema = match &field.kind {
        FieldKind::Text(_)
        | FieldKind::Email { .. }
        | FieldKind::Url { .. }
        | FieldKind::Editor { .. }
        | FieldKind::Password { .. } => json!({"type": "string"}),
        FieldKind::Number { .. } => json!({"type": "number"}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Date { .. } | FieldKind::Autodate { .. } => {
            json!({"type": "string", "pattern": DATETIME_PATTERN})
        }
        FieldKind::Select { .. } | FieldKind::Relation { .. } | FieldKind::File(_) => {
            one_or_many(&field.kind, json!({"type": "string"}))
        }
        FieldKind::Json { .. } => json!({}),
        FieldKind::GeoPoint => geo_point(),
    };
    described(schema, field)
}

/// The schema of the field's value in a JSON create/update body, or `None` when clients do not
/// send it (autodate fields are set by the server).
pub fn input(field: &Field) -> Option<Value> {
    let schema = match &field.kind {
        FieldKind::Text(o) => {
            let mut s = json!({"type": "string", "maxLength": nonzero(o.max, DEFAULT_TEXT_MAX)});
            if o.min > 0 {
                s["minLength"] = json!(o.min);
            }
            if !o.pattern.is_empty() {
                s["pattern"] = json!(o.pattern.as_str());
            }
            if o.primary_key {
                s["pattern"] = json!(ID_PATTERN);
                s["description"] = json!("The record id; generated when absent.");
            }
            s
        }
        FieldKind::Email { .. } => json!({"type": "string", "format": "email"}),
        FieldKind::Url { .. } => json!({"type": "string", "format": "uri"}),
        FieldKind::Editor { max_size, .. } => {
            json!({"type": "string", "maxLength": nonzero(*max_size, DEFAULT_EDITOR_MAX_SIZE)})
        }
        FieldKind::Password { min, max, .. } => json!({
            "type": "string",
            "minLength": min,
            "maxLength": nonzero(*max, DEFAULT_PASSWORD_MAX),
        }),
        FieldKind::Number { min, max, only_int } => {
            let mut s = json!({"type": if *only_int { "integer" } else { "number" }});
            if let Some(min) = min {
                s["minimum"] = json!(min);
            }
            if let Some(max) = max {
                s["maximum"] = json!(max);
            }
            s
        }
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Date { .. } => json!({
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "`2006-01-02 15:04:05.000Z` (UTC), or empty for none.",
        }),
        FieldKind::Autodate { .. } => return None,
        FieldKind::Select { values, .. } => one_or_many(&field.kind, json!({"enum": values})),
        FieldKind::Relation { .. } => one_or_many(
            &field.kind,
            json!({"type": "string", "pattern": ID_PATTERN}),
        ),
        FieldKind::File(_) => one_or_many(
            &field.kind,
            json!({"type": "string", "description": "A name of a file the record holds."}),
        ),
        FieldKind::Json { .. } => json!({}),
        FieldKind::GeoPoint => geo_point(),
    };
    Some(described(schema, field))
}

/// The field in a `multipart/form-data` body: files as binary parts, everything else as text
/// (which the server reads like the JSON value).
pub fn form(field: &Field) -> Option<Value> {
    match &field.kind {
        FieldKind::File(_) => Some(one_or_many(
            &field.kind,
            json!({"type": "string", "format": "binary"}),
        )),
        FieldKind::Autodate { .. } => None,
        _ => Some(described(json!({"type": "string"}), field)),
    }
}

/// The update modifiers the field takes, as `(key, schema)`: `n+`/`n-` on numbers, `+f`/`f+`/`f-`
/// on multi-value selects, relations and files.
pub fn modifiers(field: &Field) -> Vec<(String, Value)> {
    let n = &field.name;
    match &field.kind {
        FieldKind::Number { .. } => vec![
            (
                format!("{n}+"),
                json!({"type": "number", "description": "Adds to the value."}),
            ),
            (
                format!("{n}-"),
                json!({"type": "number", "description": "Subtracts from the value."}),
            ),
        ],
        FieldKind::Select { values, .. } if multi(&field.kind) => {
            let v =
                json!({"oneOf": [{"enum": values}, {"type": "array", "items": {"enum": values}}]});
            list_modifiers(n, v)
        }
        FieldKind::Relation { .. } if multi(&field.kind) => {
            let id = json!({"type": "string", "pattern": ID_PATTERN});
            list_modifiers(n, json!({"oneOf": [id, {"type": "array", "items": id}]}))
        }
        FieldKind::File(_) if multi(&field.kind) => {
            let name = json!({"type": "string"});
            vec![(
                format!("{n}-"),
                json!({"oneOf": [name, {"type": "array", "items": name}], "description": "Removes these files."}),
            )]
        }
        _ => Vec::new(),
    }
}

fn list_modifiers(n: &str, v: Value) -> Vec<(String, Value)> {
    let with = |d: &str| {
        let mut s = v.clone();
        s["description"] = json!(d);
        s
    };
    vec![
        (format!("+{n}"), with("Prepends these values.")),
        (format!("{n}+"), with("Appends these values.")),
        (format!("{n}-"), with("Removes these values.")),
    ]
}

fn nonzero<T: PartialEq + Default + Into<u64>>(v: T, default: T) -> u64 {
    if v == T::default() {
        default.into()
    } else {
        v.into()
    }
}

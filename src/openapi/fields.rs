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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{FileOptions, TextOptions};

    fn field(kind: FieldKind) -> Field {
        Field::new("f", kind)
    }

    #[test]
    fn dates_are_patterns_in_pocketbase_form_not_date_time() {
        let re = regex::Regex::new(DATETIME_PATTERN).unwrap();
        assert!(re.is_match("2024-01-02 03:04:05.678Z"));
        assert!(re.is_match(""));
        assert!(!re.is_match("2024-01-02T03:04:05Z"));
        let date = field(FieldKind::Date {
            min: String::new(),
            max: String::new(),
        });
        assert_eq!(output(&date)["pattern"], DATETIME_PATTERN);
        assert!(output(&date).get("format").is_none());
        let auto = field(FieldKind::Autodate {
            on_create: true,
            on_update: true,
        });
        assert_eq!(output(&auto)["pattern"], DATETIME_PATTERN);
        assert!(input(&auto).is_none(), "autodate is set by the server");
    }

    #[test]
    fn lists_are_arrays_only_from_max_select_two() {
        let select = |max_select| {
            field(FieldKind::Select {
                values: vec!["a".into(), "b".into()],
                max_select,
            })
        };
        assert_eq!(input(&select(1)).unwrap(), json!({"enum": ["a", "b"]}));
        assert_eq!(
            input(&select(2)).unwrap(),
            json!({"type": "array", "items": {"enum": ["a", "b"]}})
        );
        let file = |max_select| {
            field(FieldKind::File(FileOptions {
                max_select,
                ..Default::default()
            }))
        };
        assert_eq!(form(&file(1)).unwrap()["format"], "binary");
        assert_eq!(form(&file(3)).unwrap()["items"]["format"], "binary");
        assert_eq!(output(&file(3))["type"], "array");
        assert!(modifiers(&file(1)).is_empty());
        let keys: Vec<String> = modifiers(&select(2)).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["+f", "f+", "f-"]);
    }

    #[test]
    fn inputs_carry_the_constraints() {
        let text = field(FieldKind::Text(TextOptions {
            min: 2,
            max: 0,
            pattern: crate::schema::Pattern::new("^[a-z]+$").unwrap(),
            ..Default::default()
        }));
        assert_eq!(
            input(&text).unwrap(),
            json!({"type": "string", "minLength": 2, "maxLength": DEFAULT_TEXT_MAX, "pattern": "^[a-z]+$"})
        );
        let n = field(FieldKind::Number {
            min: Some(1.0),
            max: None,
            only_int: true,
        });
        assert_eq!(
            input(&n).unwrap(),
            json!({"type": "integer", "minimum": 1.0})
        );
        assert_eq!(output(&n), json!({"type": "number"}));
        let keys: Vec<String> = modifiers(&n).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["f+", "f-"]);
        let geo = output(&field(FieldKind::GeoPoint));
        assert_eq!(geo["required"], json!(["lon", "lat"]));
    }
}

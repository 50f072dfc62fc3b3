//! PocketBase's update modifiers: `field+` (append / add), `+field` (prepend), `field-` (remove /
//! subtract), applied after plain assignments in that order. What a modifier does to a value is
//! the field kind's (`schema/fields/<kind>.rs`).

use crate::error::FieldError;
#[cfg(test)]
use crate::schema::FieldKind;
use crate::schema::{Field, Modifier};
use serde_json::{Map, Value};

/// Splits `key` into (field name, modifier) where modifier is one of `""`, `"+"`, `"+prefix"`, `"-"`.
pub fn split_key(key: &str) -> (&str, &'static str) {
    if let Some(name) = key.strip_suffix('+') {
        (name, "+")
    } else if let Some(name) = key.strip_prefix('+') {
        (name, "+prefix")
    } else if let Some(name) = key.strip_suffix('-') {
        (name, "-")
    } else {
        (key, "")
    }
}

/// Applies the modifiers found in `input` for `field` to `current` (already assigned value).
pub fn apply(
    field: &Field,
    current: Value,
    input: &Map<String, Value>,
) -> Result<Value, FieldError> {
    let name = &field.name;
    let mut value = current;
    for (modifier, key) in [
        (Modifier::Prepend, format!("+{name}")),
        (Modifier::Append, format!("{name}+")),
        (Modifier::Remove, format!("{name}-")),
    ] {
        let Some(raw) = input.get(&key) else { continue };
        value = field.modify(value, modifier, raw)?;
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn multi_select() -> Field {
        Field::new(
            "sm",
            FieldKind::Select {
                values: vec!["a".into(), "b".into(), "c".into()],
                max_select: 3,
            },
        )
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn multi_select_set_prepend_remove() {
        let f = multi_select();
        let out =
            apply(&f, json!(["c", "a"]), &obj(json!({"+sm": "b", "sm-": "c"}))).expect("apply");
        assert_eq!(out, json!(["b", "a"]));
        let out = apply(&f, json!(["a"]), &obj(json!({"sm+": ["a", "b"]}))).expect("apply");
        assert_eq!(out, json!(["a", "b"]));
    }

    #[test]
    fn numbers_add_and_subtract() {
        let f = Field::new(
            "n",
            FieldKind::Number {
                min: None,
                max: None,
                only_int: false,
            },
        );
        assert_eq!(
            apply(&f, json!(1), &obj(json!({"n+": 1}))).expect("apply"),
            json!(2)
        );
        assert_eq!(
            apply(&f, json!(5), &obj(json!({"n-": 2.5}))).expect("apply"),
            json!(2.5)
        );
        assert!(apply(&f, json!(5), &obj(json!({"n-": "abc"}))).is_err());
    }

    #[test]
    fn single_select_set_and_clear() {
        let f = Field::new(
            "s",
            FieldKind::Select {
                values: vec!["a".into()],
                max_select: 1,
            },
        );
        assert_eq!(
            apply(&f, json!(""), &obj(json!({"s+": "a"}))).expect("apply"),
            json!("a")
        );
        assert_eq!(
            apply(&f, json!("a"), &obj(json!({"s-": "a"}))).expect("apply"),
            json!("")
        );
    }

    #[test]
    fn keys_split() {
        assert_eq!(split_key("n+"), ("n", "+"));
        assert_eq!(split_key("+n"), ("n", "+prefix"));
        assert_eq!(split_key("n-"), ("n", "-"));
        assert_eq!(split_key("n"), ("n", ""));
    }
}

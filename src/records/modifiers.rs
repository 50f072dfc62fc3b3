//! PocketBase's update modifiers: `field+` (append / add), `+field` (prepend), `field-` (remove /
//! subtract), applied after plain assignments in that order.

use crate::error::FieldError;
use crate::schema::{Field, FieldKind};
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
    for (suffix, key) in [
        ("+prefix", format!("+{name}")),
        ("+", format!("{name}+")),
        ("-", format!("{name}-")),
    ] {
        let Some(raw) = input.get(&key) else { continue };
        value = match &field.kind {
            FieldKind::Number { .. } => {
                let delta = field.coerce(raw)?.as_f64().unwrap_or(0.0);
                let cur = value.as_f64().unwrap_or(0.0);
                let next = if suffix == "-" {
                    cur - delta
                } else {
                    cur + delta
                };
                number_value(next)
            }
            FieldKind::Select { .. } | FieldKind::Relation { .. } if field.is_multi() => {
                let mut cur: Vec<Value> = value.as_array().cloned().unwrap_or_default();
                let items = field.coerce(&Value::Array(as_list(raw)))?;
                let items = items.as_array().cloned().unwrap_or_default();
                match suffix {
                    "-" => cur.retain(|v| !items.contains(v)),
                    "+" => {
                        for it in items {
                            if !cur.contains(&it) {
                                cur.push(it);
                            }
                        }
                    }
                    _ => {
                        let mut front: Vec<Value> =
                            items.into_iter().filter(|it| !cur.contains(it)).collect();
                        front.append(&mut cur);
                        cur = front;
                    }
                }
                Value::Array(cur)
            }
            FieldKind::Select { .. } | FieldKind::Relation { .. } => {
                let item = field.coerce(raw)?;
                match suffix {
                    "-" if item == value => Value::String(String::new()),
                    "-" => value,
                    _ => item,
                }
            }
            // PocketBase ignores modifiers on other types.
            _ => value,
        };
    }
    Ok(value)
}

/// A number as JSON, integral values without a fraction (`2`, not `2.0`) like PocketBase.
pub fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::from(0))
    }
}

fn as_list(raw: &Value) -> Vec<Value> {
    match raw {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
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

//! Values shared by the list kinds (`select`, `relation`): one string, or an array of unique
//! strings when `maxSelect >= 2`, with PocketBase's coercion and `+`/`-` modifiers.

use super::{invalid_value, scalar_text, Modifier};
use crate::error::FieldError;
use crate::schema::field::Field;
use serde_json::{json, Value};

/// PocketBase's `ToUniqueStringSlice`: null/"" → [], a JSON-array string is decoded, scalars
/// become one element; empty strings and duplicates are dropped, order kept.
fn string_list(raw: &Value) -> Option<Vec<String>> {
    let items: Vec<String> = match raw {
        Value::Null => Vec::new(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => a.iter().map(scalar_text).collect::<Option<_>>()?,
                _ => vec![s.clone()],
            }
        }
        Value::String(_) | Value::Number(_) => vec![scalar_text(raw)?],
        Value::Array(a) => a.iter().map(scalar_text).collect::<Option<_>>()?,
        Value::Bool(_) | Value::Object(_) => return None,
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for s in items {
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    Some(out)
}

/// The stored value of a list field: an array when multi, else the last item (or `""`).
pub(super) fn coerce(field: &Field, raw: &Value) -> Result<Value, FieldError> {
    let list = string_list(raw).ok_or_else(invalid_value)?;
    if field.is_multi() {
        Ok(json!(list))
    } else {
        Ok(json!(list.last().cloned().unwrap_or_default()))
    }
}

/// The non-empty string items of a stored value (scalar or array per `is_multi`).
pub(super) fn items<'a>(field: &Field, v: &'a Value) -> Result<Vec<&'a String>, FieldError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) if field.is_multi() => a.iter().collect(),
        Value::String(_) if !field.is_multi() => vec![v],
        _ => return Err(invalid_value()),
    };
    items
        .into_iter()
        .map(|x| match x {
            Value::String(s) if !s.is_empty() => Ok(s),
            _ => Err(invalid_value()),
        })
        .collect()
}

/// `+f` puts new items first, `f+` appends new items, `f-` removes items; a single value is
/// replaced by `+`, cleared by `-` when it is the one removed.
pub(super) fn modify(
    field: &Field,
    current: Value,
    modifier: Modifier,
    raw: &Value,
) -> Result<Value, FieldError> {
    if !field.is_multi() {
        let item = field.coerce(raw)?;
        return Ok(match modifier {
            Modifier::Remove if item == current => Value::String(String::new()),
            Modifier::Remove => current,
            _ => item,
        });
    }
    let mut cur: Vec<Value> = current.as_array().cloned().unwrap_or_default();
    let items = field.coerce(&Value::Array(as_list(raw)))?;
    let items = items.as_array().cloned().unwrap_or_default();
    match modifier {
        Modifier::Remove => cur.retain(|v| !items.contains(v)),
        Modifier::Append => {
            for it in items {
                if !cur.contains(&it) {
                    cur.push(it);
                }
            }
        }
        Modifier::Prepend => {
            let mut front: Vec<Value> = items.into_iter().filter(|it| !cur.contains(it)).collect();
            front.append(&mut cur);
            cur = front;
        }
    }
    Ok(Value::Array(cur))
}

fn as_list(raw: &Value) -> Vec<Value> {
    match raw {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// `[]` for a multi-value field, `""` for a single one (select and relation alike).
pub(super) fn zero_value(field: &Field) -> Value {
    if field.is_multi() {
        json!([])
    } else {
        json!("")
    }
}

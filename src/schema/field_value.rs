//! Record values: PocketBase's input coercion (stricter where PocketBase silently loses data),
//! zero values, and per-field validation of a coerced value.

use super::checks::{check_count, check_domain, check_length, check_size};
use super::datetime::normalize_date;
use super::field::{Field, FieldKind};
use crate::error::{echo, FieldError};
use serde_json::{json, Value};

/// Text-like fields without an explicit `max` accept at most this many characters.
pub const DEFAULT_TEXT_MAX: u32 = 5000;
/// Editor fields without `maxSize` accept this many bytes (5 MiB).
pub const DEFAULT_EDITOR_MAX_SIZE: u64 = 5 << 20;
/// JSON fields without `maxSize` accept this many bytes of serialized JSON (1 MiB).
pub const DEFAULT_JSON_MAX_SIZE: u64 = 1 << 20;
/// JSON values may nest this deep. Stored change-log entries wrap a record two levels deeper,
/// and every reader of them must stay within serde_json's recursion limit of 128.
pub const MAX_JSON_DEPTH: usize = 64;
/// Password fields without `max` accept this many characters (bcrypt's input limit).
pub const DEFAULT_PASSWORD_MAX: u32 = 71;

/// A JSON number for `f`, written without a fraction when it is whole (`12`, not `12.0`).
pub(crate) fn number_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        json!(f as i64)
    } else {
        json!(f)
    }
}

fn number_text(f: f64) -> String {
    number_value(f).to_string()
}

fn invalid_value() -> FieldError {
    FieldError::new("validation_invalid_value", "Invalid value.")
}

/// A scalar as text the way PocketBase casts it (numbers without `.0`, bools as words).
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(number_text),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

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

impl Field {
    /// Select and relation fields with `maxSelect >= 2` hold arrays; everything else a scalar.
    pub fn is_multi(&self) -> bool {
        match &self.kind {
            FieldKind::Select { max_select, .. } | FieldKind::Relation { max_select, .. } => {
                *max_select >= 2
            }
            _ => false,
        }
    }

    /// The value an unset field has in record JSON.
    pub fn zero_value(&self) -> Value {
        match &self.kind {
            FieldKind::Number { .. } => json!(0),
            FieldKind::Bool => json!(false),
            FieldKind::Json { .. } => Value::Null,
            _ if self.is_multi() => json!([]),
            _ => json!(""),
        }
    }

    /// Whether `v` counts as blank for `required` (and skips the other checks when optional).
    pub fn is_empty_value(&self, v: &Value) -> bool {
        if matches!(self.kind, FieldKind::Json { .. }) {
            // PocketBase's blank JSON values; `false` and `0` are real values here.
            return match v {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                Value::Bool(_) | Value::Number(_) => false,
            };
        }
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(b) => !b,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }

    /// Converts a client value to the field's stored form (PocketBase's coercion). Where
    /// PocketBase would silently store a zero value for garbage, this returns an error instead.
    pub fn coerce(&self, raw: &Value) -> Result<Value, FieldError> {
        if raw.is_null() {
            return Ok(self.zero_value());
        }
        match &self.kind {
            FieldKind::Text(_)
            | FieldKind::Email { .. }
            | FieldKind::Url { .. }
            | FieldKind::Editor { .. }
            | FieldKind::Password { .. } => scalar_text(raw)
                .map(Value::String)
                .ok_or_else(invalid_value),
            FieldKind::Number { .. } => coerce_number(raw),
            FieldKind::Bool => coerce_bool(raw),
            FieldKind::Date { .. } | FieldKind::Autodate { .. } => coerce_date(raw),
            FieldKind::Json { .. } => Ok(raw.clone()),
            FieldKind::Select { .. } | FieldKind::Relation { .. } => {
                let list = string_list(raw).ok_or_else(invalid_value)?;
                if self.is_multi() {
                    Ok(json!(list))
                } else {
                    Ok(json!(list.last().cloned().unwrap_or_default()))
                }
            }
        }
    }

    /// Checks a coerced value against the field's options; blank optional values always pass.
    pub fn validate(&self, v: &Value) -> Result<(), FieldError> {
        let primary = matches!(&self.kind, FieldKind::Text(t) if t.primary_key);
        if self.is_empty_value(v) {
            let needs =
                (self.required || primary) && !matches!(self.kind, FieldKind::Autodate { .. });
            return if needs {
                Err(FieldError::required())
            } else {
                Ok(())
            };
        }
        match &self.kind {
            FieldKind::Text(t) => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                check_length(
                    s,
                    t.min,
                    if t.max == 0 { DEFAULT_TEXT_MAX } else { t.max },
                    true,
                )?;
                if !t.pattern.is_match(s) {
                    return Err(FieldError::new(
                        "validation_invalid_format",
                        "Invalid value format.",
                    ));
                }
                Ok(())
            }
            FieldKind::Password {
                min, max, pattern, ..
            } => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                check_length(
                    s,
                    *min,
                    if *max == 0 {
                        DEFAULT_PASSWORD_MAX
                    } else {
                        *max
                    },
                    false,
                )?;
                if !pattern.is_match(s) {
                    return Err(FieldError::new(
                        "validation_invalid_format",
                        "Invalid value format.",
                    ));
                }
                Ok(())
            }
            FieldKind::Number { min, max, only_int } => {
                let n = v.as_f64().ok_or_else(invalid_value)?;
                if *only_int && n.fract() != 0.0 {
                    return Err(FieldError::new(
                        "validation_only_int_constraint",
                        "Decimal numbers are not allowed.",
                    ));
                }
                if let Some(lo) = min.filter(|lo| n < *lo) {
                    let msg = format!("Must be greater or equal than {}.", number_text(lo));
                    return Err(FieldError::new("validation_min_number_constraint", msg)
                        .with_params(json!({"min": number_value(lo)})));
                }
                if let Some(hi) = max.filter(|hi| n > *hi) {
                    let msg = format!("Must be less or equal than {}.", number_text(hi));
                    return Err(FieldError::new("validation_max_number_constraint", msg)
                        .with_params(json!({"max": number_value(hi)})));
                }
                Ok(())
            }
            FieldKind::Bool => v.as_bool().map(|_| ()).ok_or_else(invalid_value),
            FieldKind::Email {
                except_domains,
                only_domains,
            } => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                let domain = super::checks::email_domain(s).ok_or_else(|| {
                    FieldError::new("validation_is_email", "Must be a valid email address.")
                })?;
                check_domain(
                    domain,
                    except_domains,
                    only_domains,
                    "validation_email_domain_not_allowed",
                    "Email",
                )
            }
            FieldKind::Url {
                except_domains,
                only_domains,
            } => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                let host = super::checks::url_host(s).ok_or_else(|| {
                    FieldError::new("validation_invalid_url", "Must be a valid url.")
                })?;
                check_domain(
                    host,
                    except_domains,
                    only_domains,
                    "validation_url_domain_not_allowed",
                    "Url",
                )
            }
            FieldKind::Editor { max_size, .. } => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                let limit = if *max_size == 0 {
                    DEFAULT_EDITOR_MAX_SIZE
                } else {
                    *max_size
                };
                check_size(s.len(), limit, "validation_content_size_limit", "content")
            }
            FieldKind::Json { max_size } => {
                let limit = if *max_size == 0 {
                    DEFAULT_JSON_MAX_SIZE
                } else {
                    *max_size
                };
                if json_depth(v) > MAX_JSON_DEPTH {
                    return Err(FieldError::new(
                        "validation_json_depth_limit",
                        format!("The JSON value is nested more than {MAX_JSON_DEPTH} levels deep."),
                    )
                    .with_params(json!({ "max": MAX_JSON_DEPTH })));
                }
                check_size(
                    v.to_string().len(),
                    limit,
                    "validation_json_size_limit",
                    "JSON",
                )
            }
            FieldKind::Date { min, max } => {
                let s = v.as_str().ok_or_else(invalid_value)?;
                super::checks::date_range(s, min, max)
            }
            FieldKind::Autodate { .. } => Ok(()),
            FieldKind::Select { values, max_select } => {
                let list = self.value_list(v)?;
                if let Some(bad) = list.iter().find(|x| !values.contains(x)) {
                    let bad = echo(bad);
                    return Err(FieldError::new(
                        "validation_invalid_value",
                        format!("Invalid value {bad}."),
                    )
                    .with_params(json!({ "value": bad })));
                }
                check_count(list.len(), 0, *max_select)
            }
            FieldKind::Relation {
                min_select,
                max_select,
                ..
            } => {
                let list = self.value_list(v)?;
                check_count(list.len(), *min_select, *max_select)
            }
        }
    }

    /// The non-empty string items of a select/relation value (scalar or array per `is_multi`).
    fn value_list<'a>(&self, v: &'a Value) -> Result<Vec<&'a String>, FieldError> {
        let items: Vec<&Value> = match v {
            Value::Array(a) if self.is_multi() => a.iter().collect(),
            Value::String(_) if !self.is_multi() => vec![v],
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
}

/// Nesting depth of `v` (a scalar is 0, `[1]` is 1), without recursion.
fn json_depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, depth + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    deepest
}

fn coerce_number(raw: &Value) -> Result<Value, FieldError> {
    let bad = || FieldError::new("validation_invalid_number", "Must be a valid number.");
    let f = match raw {
        Value::Number(n) => n.as_f64().ok_or_else(bad)?,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => {
            let t = s.trim();
            // Rust also parses "inf"/"NaN"; only plain decimal notation is a number here.
            if !t
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            {
                return Err(bad());
            }
            t.parse::<f64>().map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    if f.is_finite() {
        Ok(number_value(f))
    } else {
        Err(bad())
    }
}

fn coerce_bool(raw: &Value) -> Result<Value, FieldError> {
    let b = match raw {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Some(true),
            "false" | "f" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    };
    b.map(Value::Bool)
        .ok_or_else(|| FieldError::new("validation_invalid_bool", "Must be a valid boolean."))
}

fn coerce_date(raw: &Value) -> Result<Value, FieldError> {
    raw.as_str()
        .and_then(normalize_date)
        .map(Value::String)
        .ok_or_else(|| FieldError::new("validation_invalid_date", "Must be a valid date."))
}

#[cfg(test)]
#[path = "field_value_tests.rs"]
mod tests;

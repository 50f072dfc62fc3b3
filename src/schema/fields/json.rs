//! `json`: any JSON value, bounded in serialized size and nesting depth.

use super::{or_default, IndexKey, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::check_size;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

/// JSON fields without `maxSize` accept this many bytes of serialized JSON (1 MiB).
pub const DEFAULT_JSON_MAX_SIZE: u64 = 1 << 20;
/// JSON values may nest this deep. Stored change-log entries wrap a record two levels deeper,
/// and every reader of them must stay within serde_json's recursion limit of 128.
pub const MAX_JSON_DEPTH: usize = 64;

pub(crate) struct Json;

impl Kind for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        FieldKind::Json {
            max_size: r.uint("maxSize", u64::MAX >> 11),
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Json { max_size } = kind else {
            return json!({});
        };
        json!({"maxSize": max_size})
    }

    fn zero_value(&self, _field: &Field) -> Value {
        Value::Null
    }

    /// PocketBase's blank JSON values; `false` and `0` are real values here.
    fn is_empty_value(&self, v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(_) | Value::Number(_) => false,
        }
    }

    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
        Ok(raw.clone())
    }

    /// Form values are strings: they are parsed when they are valid JSON (PocketBase does).
    fn coerce_form(&self, field: &Field, raw: &Value) -> Result<Value, FieldError> {
        match raw {
            Value::String(s) => Ok(serde_json::from_str(s).unwrap_or_else(|_| raw.clone())),
            _ => field.coerce(raw),
        }
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Json { max_size } = field.kind else {
            return Ok(());
        };
        let limit = or_default(max_size, DEFAULT_JSON_MAX_SIZE);
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

    fn index_key(&self) -> IndexKey {
        IndexKey::None
    }
}

/// Nesting depth of `v` (a scalar is 0, `[1]` is 1), without recursion.
pub(crate) fn json_depth(v: &Value) -> usize {
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

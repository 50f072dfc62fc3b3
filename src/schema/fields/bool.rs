//! `bool`: true or false, from PocketBase's loose spellings (`"t"`, `1`, `"false"`, …).

use super::{invalid_value, IndexKey, Kind, Reader};
use crate::error::FieldError;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Bool;

impl Kind for Bool {
    fn name(&self) -> &'static str {
        "bool"
    }

    fn parse(&self, _r: &mut Reader, _field_name: &str) -> FieldKind {
        FieldKind::Bool
    }

    fn options_json(&self, _kind: &FieldKind) -> Value {
        json!({})
    }

    fn zero_value(&self, _field: &Field) -> Value {
        json!(false)
    }

    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
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

    fn validate(&self, _field: &Field, v: &Value) -> Result<(), FieldError> {
        v.as_bool().map(|_| ()).ok_or_else(invalid_value)
    }

    fn index_key(&self) -> IndexKey {
        IndexKey::Bool
    }
}

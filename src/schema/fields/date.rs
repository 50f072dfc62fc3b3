//! `date`: a datetime stored as `2024-01-02 03:04:05.000Z`, optionally bounded by `min`/`max`.

use super::{min_over_max, text_of, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::date_range;
use crate::schema::datetime::{format_rfc3339, normalize_date, parse_datetime};
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Date;

/// A client's date in the stored format (shared with `autodate`).
pub(super) fn coerce_date(raw: &Value) -> Result<Value, FieldError> {
    raw.as_str()
        .and_then(normalize_date)
        .map(Value::String)
        .ok_or_else(|| FieldError::new("validation_invalid_date", "Must be a valid date."))
}

impl Kind for Date {
    fn name(&self) -> &'static str {
        "date"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let (min, max) = (r.date("min"), r.date("max"));
        if !min.is_empty() && !max.is_empty() && min > max {
            let threshold = parse_datetime(&min).map(format_rfc3339).unwrap_or_default();
            r.fail("max", min_over_max(threshold));
        }
        FieldKind::Date { min, max }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Date { min, max } = kind else {
            return json!({});
        };
        json!({"min": min, "max": max})
    }

    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
        coerce_date(raw)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Date { min, max } = &field.kind else {
            return Ok(());
        };
        date_range(text_of(v)?, min, max)
    }
}

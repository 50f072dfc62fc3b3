//! `number`: a finite float with optional bounds and an integers-only flag; `+`/`-` add and
//! subtract.

use super::{
    invalid_value, min_over_max, number_text, number_value, IndexKey, Kind, Modifier, Reader,
};
use crate::error::FieldError;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Number;

fn opts(kind: &FieldKind) -> (Option<f64>, Option<f64>, bool) {
    match kind {
        FieldKind::Number { min, max, only_int } => (*min, *max, *only_int),
        _ => (None, None, false),
    }
}

impl Kind for Number {
    fn name(&self) -> &'static str {
        "number"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let (min, max, only_int) = (r.float("min"), r.float("max"), r.boolean("onlyInt"));
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                r.fail("max", min_over_max(number_value(lo)));
            }
        }
        FieldKind::Number { min, max, only_int }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let (min, max, only_int) = opts(kind);
        json!({
            "min": min.map(number_value),
            "max": max.map(number_value),
            "onlyInt": only_int,
        })
    }

    fn zero_value(&self, _field: &Field) -> Value {
        json!(0)
    }

    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
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

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let (min, max, only_int) = opts(&field.kind);
        let n = v.as_f64().ok_or_else(invalid_value)?;
        if only_int && n.fract() != 0.0 {
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

    fn modify(
        &self,
        field: &Field,
        current: Value,
        modifier: Modifier,
        raw: &Value,
    ) -> Result<Value, FieldError> {
        let delta = field.coerce(raw)?.as_f64().unwrap_or(0.0);
        let cur = current.as_f64().unwrap_or(0.0);
        let next = if modifier == Modifier::Remove {
            cur - delta
        } else {
            cur + delta
        };
        Ok(sum_value(next))
    }

    fn index_key(&self) -> IndexKey {
        IndexKey::Number
    }
}

/// A sum as JSON, integral values without a fraction; an overflow to infinity stores 0.
fn sum_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::from(0))
    }
}

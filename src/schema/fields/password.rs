//! `password`: plain text on input (length and pattern checked here), stored as a bcrypt hash
//! by the record layer; never rendered.

use super::{invalid, min_over_max, or_default, text_of, IndexKey, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::check_length;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

/// Password fields without `max` accept this many characters (bcrypt's input limit).
pub const DEFAULT_PASSWORD_MAX: u32 = 71;

pub(crate) struct Password;

impl Kind for Password {
    fn name(&self) -> &'static str {
        "password"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let (min, max, pattern, cost) = (
            r.u32("min"),
            r.u32("max"),
            r.pattern("pattern"),
            r.u32("cost"),
        );
        if max > 0 && min > max {
            r.fail("max", min_over_max(min));
        }
        if cost != 0 && !(4..=31).contains(&cost) {
            r.fail("cost", invalid("Must be 0 (default) or between 4 and 31."));
        }
        FieldKind::Password {
            min,
            max,
            pattern,
            cost,
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Password {
            min,
            max,
            pattern,
            cost,
        } = kind
        else {
            return json!({});
        };
        json!({"min": min, "max": max, "pattern": pattern.as_str(), "cost": cost})
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Password {
            min, max, pattern, ..
        } = &field.kind
        else {
            return Ok(());
        };
        let s = text_of(v)?;
        check_length(s, *min, or_default(*max, DEFAULT_PASSWORD_MAX), false)?;
        if !pattern.is_match(s) {
            return Err(FieldError::new(
                "validation_invalid_format",
                "Invalid value format.",
            ));
        }
        Ok(())
    }

    fn index_key(&self) -> IndexKey {
        IndexKey::TextEqOnly
    }
}

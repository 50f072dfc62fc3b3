//! `text`: a string with length bounds, a pattern, an optional autogenerate pattern, and the
//! primary-key flag of the `id` field.

use super::{invalid, min_over_max, or_default, text_of, Kind, Reader};
use crate::error::FieldError;
use crate::schema::checks::check_length;
use crate::schema::field::{Field, FieldKind, TextOptions};
use crate::schema::idgen::generate_from_pattern;
use serde_json::{json, Value};

/// Text-like fields without an explicit `max` accept at most this many characters.
pub const DEFAULT_TEXT_MAX: u32 = 5000;

pub(crate) struct Text;

fn opts(kind: &FieldKind) -> Option<&TextOptions> {
    match kind {
        FieldKind::Text(t) => Some(t),
        _ => None,
    }
}

impl Kind for Text {
    fn name(&self) -> &'static str {
        "text"
    }

    fn parse(&self, r: &mut Reader, field_name: &str) -> FieldKind {
        let t = TextOptions {
            min: r.u32("min"),
            max: r.u32("max"),
            pattern: r.pattern("pattern"),
            autogenerate_pattern: r.string("autogeneratePattern"),
            primary_key: r.boolean("primaryKey"),
        };
        if t.max > 0 && t.min > t.max {
            r.fail("max", min_over_max(t.min));
        }
        if t.primary_key && field_name != "id" {
            r.fail(
                "primaryKey",
                invalid("Only the id field can be the primary key."),
            );
        }
        FieldKind::Text(t)
    }

    /// Refuses autogenerate patterns Ferrobase cannot generate from, and ones whose output would
    /// fail the field's own constraints (every generated value would be rejected).
    fn check(&self, field: &Field, r: &mut Reader) {
        let Some(t) = opts(&field.kind) else { return };
        if t.autogenerate_pattern.is_empty() {
            return;
        }
        match generate_from_pattern(&t.autogenerate_pattern) {
            None => r.fail(
                "autogeneratePattern",
                FieldError::new(
                    "validation_unsupported_pattern",
                    "Only sequences of character classes or letters with a count, such as [a-z0-9]{15}, are supported.",
                ),
            ),
            Some(sample) => {
                if field.validate(&Value::String(sample)).is_err() {
                    let msg = "Generated values would not satisfy the field's min, max or pattern.";
                    r.fail("autogeneratePattern", invalid(msg));
                }
            }
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let Some(t) = opts(kind) else {
            return json!({});
        };
        json!({
            "min": t.min, "max": t.max, "pattern": t.pattern.as_str(),
            "autogeneratePattern": t.autogenerate_pattern, "primaryKey": t.primary_key,
        })
    }

    fn needs_value(&self, field: &Field) -> bool {
        field.required || opts(&field.kind).is_some_and(|t| t.primary_key)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let Some(t) = opts(&field.kind) else {
            return Ok(());
        };
        let s = text_of(v)?;
        check_length(s, t.min, or_default(t.max, DEFAULT_TEXT_MAX), true)?;
        if !t.pattern.is_match(s) {
            return Err(FieldError::new(
                "validation_invalid_format",
                "Invalid value format.",
            ));
        }
        Ok(())
    }
}

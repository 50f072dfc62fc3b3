//! `autodate`: a datetime the server sets on create and/or update; never required, no `help`.

use super::{date::coerce_date, Kind, Reader};
use crate::error::FieldError;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Autodate;

impl Kind for Autodate {
    fn name(&self) -> &'static str {
        "autodate"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        FieldKind::Autodate {
            on_create: r.boolean("onCreate"),
            on_update: r.boolean("onUpdate"),
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Autodate {
            on_create,
            on_update,
        } = kind
        else {
            return json!({});
        };
        json!({"onCreate": on_create, "onUpdate": on_update})
    }

    fn has_required(&self) -> bool {
        false
    }

    fn needs_value(&self, _field: &Field) -> bool {
        false
    }

    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
        coerce_date(raw)
    }

    fn validate(&self, _field: &Field, _v: &Value) -> Result<(), FieldError> {
        Ok(())
    }
}

//! `select`: one or more of a fixed list of values.

use super::{invalid, list, Kind, Modifier, Reader};
use crate::error::{echo, FieldError};
use crate::schema::checks::check_count;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Select;

impl Kind for Select {
    fn name(&self) -> &'static str {
        "select"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let values = r.strings("values");
        let max_select = r.u32("maxSelect");
        if values.is_empty() {
            r.fail("values", FieldError::required());
        } else if values.iter().any(String::is_empty) {
            r.fail("values", invalid("Values cannot be empty strings."));
        } else if max_select as usize > values.len() {
            let n = values.len();
            let msg = format!("Must be no greater than {n}.");
            r.fail(
                "maxSelect",
                FieldError::new("validation_max_less_equal_than_required", msg)
                    .with_params(json!({"threshold": n})),
            );
        }
        FieldKind::Select { values, max_select }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Select { values, max_select } = kind else {
            return json!({});
        };
        json!({"values": values, "maxSelect": max_select})
    }

    fn is_multi(&self, kind: &FieldKind) -> bool {
        matches!(kind, FieldKind::Select { max_select, .. } if *max_select >= 2)
    }

    fn zero_value(&self, field: &Field) -> Value {
        list::zero_value(field)
    }

    fn coerce(&self, field: &Field, raw: &Value) -> Result<Value, FieldError> {
        list::coerce(field, raw)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Select { values, max_select } = &field.kind else {
            return Ok(());
        };
        let items = list::items(field, v)?;
        if let Some(bad) = items.iter().find(|x| !values.contains(x)) {
            let bad = echo(bad);
            return Err(FieldError::new(
                "validation_invalid_value",
                format!("Invalid value {bad}."),
            )
            .with_params(json!({ "value": bad })));
        }
        check_count(items.len(), 0, *max_select)
    }

    fn modify(
        &self,
        field: &Field,
        current: Value,
        modifier: Modifier,
        raw: &Value,
    ) -> Result<Value, FieldError> {
        list::modify(field, current, modifier, raw)
    }
}

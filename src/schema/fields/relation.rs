//! `relation`: ids of records in another collection (whose existence the record layer checks).

use super::{list, min_over_max, Kind, Modifier, Reader};
use crate::error::FieldError;
use crate::ids::CollectionId;
use crate::schema::checks::check_count;
use crate::schema::field::{Field, FieldKind};
use serde_json::{json, Value};

pub(crate) struct Relation;

impl Kind for Relation {
    fn name(&self) -> &'static str {
        "relation"
    }

    fn parse(&self, r: &mut Reader, _field_name: &str) -> FieldKind {
        let collection_id = r.string("collectionId");
        let (min_select, max_select) = (r.u32("minSelect"), r.u32("maxSelect"));
        if collection_id.is_empty() {
            r.fail("collectionId", FieldError::required());
        }
        if min_select > max_select.max(1) {
            r.fail("maxSelect", min_over_max(min_select));
        }
        FieldKind::Relation {
            collection_id: CollectionId(collection_id),
            cascade_delete: r.boolean("cascadeDelete"),
            min_select,
            max_select,
        }
    }

    fn options_json(&self, kind: &FieldKind) -> Value {
        let FieldKind::Relation {
            collection_id,
            cascade_delete,
            min_select,
            max_select,
        } = kind
        else {
            return json!({});
        };
        json!({
            "collectionId": collection_id.as_str(), "cascadeDelete": cascade_delete,
            "minSelect": min_select, "maxSelect": max_select,
        })
    }

    fn is_multi(&self, kind: &FieldKind) -> bool {
        matches!(kind, FieldKind::Relation { max_select, .. } if *max_select >= 2)
    }

    fn zero_value(&self, field: &Field) -> Value {
        list::zero_value(field)
    }

    fn coerce(&self, field: &Field, raw: &Value) -> Result<Value, FieldError> {
        list::coerce(field, raw)
    }

    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError> {
        let FieldKind::Relation {
            min_select,
            max_select,
            ..
        } = field.kind
        else {
            return Ok(());
        };
        check_count(list::items(field, v)?.len(), min_select, max_select)
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

    fn change_error(&self, old: &FieldKind, new: &FieldKind) -> Option<(&'static str, FieldError)> {
        let (
            FieldKind::Relation {
                collection_id: a, ..
            },
            FieldKind::Relation {
                collection_id: b, ..
            },
        ) = (old, new)
        else {
            return None;
        };
        if a == b {
            return None;
        }
        let msg = "The collection of an existing relation field cannot be changed.";
        Some((
            "collectionId",
            FieldError::new("validation_field_relation_change", msg),
        ))
    }
}

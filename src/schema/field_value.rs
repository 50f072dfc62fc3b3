//! Record values: coercion, zero values and validation of one field's value, dispatched to the
//! field's kind (`fields/<kind>.rs`). Only the rules shared by every kind live here.

use super::field::Field;
use super::fields::{self, IndexKey, Modifier};
use crate::error::FieldError;
use serde_json::Value;

#[cfg(test)]
use super::{
    field::FieldKind,
    fields::{json_depth, MAX_JSON_DEPTH},
};

impl Field {
    /// Select and relation fields with `maxSelect >= 2` hold arrays; everything else a scalar.
    pub fn is_multi(&self) -> bool {
        fields::of(&self.kind).is_multi(&self.kind)
    }

    /// The value an unset field has in record JSON.
    pub fn zero_value(&self) -> Value {
        fields::of(&self.kind).zero_value(self)
    }

    /// Whether `v` counts as blank for `required` (and skips the other checks when optional).
    pub fn is_empty_value(&self, v: &Value) -> bool {
        fields::of(&self.kind).is_empty_value(v)
    }

    /// Converts a client value to the field's stored form (PocketBase's coercion). Where
    /// PocketBase would silently store a zero value for garbage, this returns an error instead.
    pub fn coerce(&self, raw: &Value) -> Result<Value, FieldError> {
        if raw.is_null() {
            return Ok(self.zero_value());
        }
        fields::of(&self.kind).coerce(self, raw)
    }

    /// `coerce` for a value sent in a multipart form.
    pub fn coerce_form(&self, raw: &Value) -> Result<Value, FieldError> {
        fields::of(&self.kind).coerce_form(self, raw)
    }

    /// Checks a coerced value against the field's options; blank optional values always pass.
    pub fn validate(&self, v: &Value) -> Result<(), FieldError> {
        let kind = fields::of(&self.kind);
        if kind.is_empty_value(v) {
            return if kind.needs_value(self) {
                Err(FieldError::required())
            } else {
                Ok(())
            };
        }
        kind.validate(self, v)
    }

    /// Applies one update modifier (`+f`, `f+`, `f-`) with client value `raw` to `current`.
    pub fn modify(
        &self,
        current: Value,
        modifier: Modifier,
        raw: &Value,
    ) -> Result<Value, FieldError> {
        fields::of(&self.kind).modify(self, current, modifier, raw)
    }

    /// How this field's values compare with filter constants in index keys.
    pub fn index_key(&self) -> IndexKey {
        fields::of(&self.kind).index_key()
    }
}

#[cfg(test)]
#[path = "field_value_tests.rs"]
mod tests;

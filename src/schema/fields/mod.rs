//! One file per field kind: each holds that kind's options (from and to PocketBase's flat field
//! JSON), value coercion, zero value, validation, update modifiers and index-key class, behind
//! the `Kind` trait. A new kind is one new file, its options variant in `FieldKind`, and one line
//! in `kinds!` below. Shared helpers (option reading, list values) live beside them.

mod autodate;
mod bool;
mod date;
mod editor;
mod email;
mod file;
mod geo_point;
mod json;
mod list;
mod number;
mod options;
mod password;
mod relation;
mod select;
mod text;
mod url;

pub use editor::DEFAULT_EDITOR_MAX_SIZE;
pub(crate) use file::too_many_files;
pub use file::{valid_thumb, FileOptions, DEFAULT_FILE_MAX_SIZE};
pub use json::DEFAULT_JSON_MAX_SIZE;
#[cfg(test)]
pub(crate) use json::{json_depth, MAX_JSON_DEPTH};
pub use password::DEFAULT_PASSWORD_MAX;
pub use text::DEFAULT_TEXT_MAX;

pub(crate) use options::{invalid, min_over_max, Reader};

use super::field::{Field, FieldKind};
use crate::error::{echo, FieldError};
use serde_json::{json, Value};

/// An update modifier on a field key: `+field`, `field+`, `field-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modifier {
    Prepend,
    Append,
    Remove,
}

/// How a field's stored values compare with filter constants in index keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKey {
    /// Numbers: `=` and ranges against numeric constants.
    Number,
    /// Booleans: `=` against 0 and 1 only.
    Bool,
    /// Strings ordered like their encoding: `=` and ranges against text.
    Text,
    /// Strings answered by `=` only, never by a range (password hashes).
    TextEqOnly,
    /// Never answered from index keys (JSON values).
    None,
}

/// Everything Ferrobase knows about one field type. Methods taking `&FieldKind` or `&Field` are
/// only called with the variant this kind owns (see `of`).
pub(crate) trait Kind: Sync {
    /// The PocketBase type name (`text`, `number`, …).
    fn name(&self) -> &'static str;

    /// Reads this kind's options from a field object, in the order PocketBase reports errors.
    fn parse(&self, r: &mut Reader, field_name: &str) -> FieldKind;

    /// Checks needing the whole parsed field (run after `parse`).
    fn check(&self, _field: &Field, _r: &mut Reader) {}

    /// The option keys and values of the flat field JSON, as an object.
    fn options_json(&self, kind: &FieldKind) -> Value;

    /// Whether the field JSON carries `required` and `help` (autodate does not).
    fn has_required(&self) -> bool {
        true
    }

    /// Whether values are arrays.
    fn is_multi(&self, _kind: &FieldKind) -> bool {
        false
    }

    /// The value an unset field has in record JSON.
    fn zero_value(&self, _field: &Field) -> Value {
        json!("")
    }

    /// Whether `v` counts as blank for `required`.
    fn is_empty_value(&self, v: &Value) -> bool {
        match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::Bool(b) => !b,
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }
    }

    /// Whether a blank value is refused.
    fn needs_value(&self, field: &Field) -> bool {
        field.required
    }

    /// Converts a non-null client value to the stored form (text-like kinds by default).
    fn coerce(&self, _field: &Field, raw: &Value) -> Result<Value, FieldError> {
        scalar_text(raw)
            .map(Value::String)
            .ok_or_else(invalid_value)
    }

    /// Converts a multipart form value (always text, or a list of texts): like `coerce` unless
    /// the kind reads text another way.
    fn coerce_form(&self, field: &Field, raw: &Value) -> Result<Value, FieldError> {
        field.coerce(raw)
    }

    /// Checks a coerced, non-blank value against the options.
    fn validate(&self, field: &Field, v: &Value) -> Result<(), FieldError>;

    /// Applies one update modifier to the current value; PocketBase ignores modifiers on most kinds.
    fn modify(
        &self,
        _field: &Field,
        current: Value,
        _modifier: Modifier,
        _raw: &Value,
    ) -> Result<Value, FieldError> {
        Ok(current)
    }

    /// Why a schema change from `old` to `new` options is refused: (option, error).
    fn change_error(
        &self,
        _old: &FieldKind,
        _new: &FieldKind,
    ) -> Option<(&'static str, FieldError)> {
        None
    }

    /// How values compare in index keys.
    fn index_key(&self) -> IndexKey {
        IndexKey::Text
    }
}

/// The registry: one line per kind, `Variant => implementation`.
macro_rules! kinds {
    ($($variant:ident => $imp:expr,)*) => {
        const KINDS: &[&dyn Kind] = &[$(&$imp),*];

        /// The implementation owning `kind`'s variant.
        pub(crate) fn of(kind: &FieldKind) -> &'static dyn Kind {
            match kind {
                $(FieldKind::$variant { .. } => &$imp,)*
            }
        }
    };
}

kinds! {
    Text => text::Text,
    Number => number::Number,
    Bool => bool::Bool,
    Email => email::Email,
    Url => url::Url,
    Editor => editor::Editor,
    Date => date::Date,
    Autodate => autodate::Autodate,
    Select => select::Select,
    Json => json::Json,
    Relation => relation::Relation,
    Password => password::Password,
    GeoPoint => geo_point::GeoPoint,
    File => file::File,
}

/// Reads the options of the kind named `type_name`; `None` (with the error recorded on `type`)
/// for an unknown or unsupported type.
pub(crate) fn parse_kind(r: &mut Reader, type_name: &str, field_name: &str) -> Option<FieldKind> {
    if let Some(k) = KINDS.iter().find(|k| k.name() == type_name) {
        return Some(k.parse(r, field_name));
    }
    let err = match type_name {
        "" => FieldError::required(),
        other => {
            let msg = format!("Unknown field type \"{}\".", echo(other));
            FieldError::new("validation_in_invalid", msg)
        }
    };
    r.fail("type", err);
    None
}

/// A JSON number for `f`, written without a fraction when it is whole (`12`, not `12.0`).
pub(crate) fn number_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
        json!(f as i64)
    } else {
        json!(f)
    }
}

/// `number_value` as text.
pub(crate) fn number_text(f: f64) -> String {
    number_value(f).to_string()
}

pub(crate) fn invalid_value() -> FieldError {
    FieldError::new("validation_invalid_value", "Invalid value.")
}

/// A scalar as text the way PocketBase casts it (numbers without `.0`, bools as words).
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(number_text),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string value of a text-like kind (anything else is invalid).
pub(crate) fn text_of(v: &Value) -> Result<&str, FieldError> {
    v.as_str().ok_or_else(invalid_value)
}

/// `limit`, or `default` when it is 0 (unset).
pub(crate) fn or_default<T: PartialEq + Default>(limit: T, default: T) -> T {
    if limit == T::default() {
        default
    } else {
        limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Pattern, TextOptions};

    #[test]
    fn every_variant_is_registered_once_under_its_name() {
        let samples = [
            FieldKind::Text(TextOptions::default()),
            FieldKind::Number {
                min: None,
                max: None,
                only_int: false,
            },
            FieldKind::Bool,
            FieldKind::Email {
                except_domains: vec![],
                only_domains: vec![],
            },
            FieldKind::Url {
                except_domains: vec![],
                only_domains: vec![],
            },
            FieldKind::Editor {
                max_size: 0,
                convert_urls: false,
            },
            FieldKind::Date {
                min: String::new(),
                max: String::new(),
            },
            FieldKind::Autodate {
                on_create: false,
                on_update: false,
            },
            FieldKind::Select {
                values: vec![],
                max_select: 0,
            },
            FieldKind::Json { max_size: 0 },
            FieldKind::Relation {
                collection_id: "c".into(),
                cascade_delete: false,
                min_select: 0,
                max_select: 0,
            },
            FieldKind::Password {
                min: 0,
                max: 0,
                pattern: Pattern::default(),
                cost: 0,
            },
            FieldKind::GeoPoint,
            FieldKind::File(FileOptions::default()),
        ];
        assert_eq!(samples.len(), KINDS.len());
        for kind in &samples {
            let name = of(kind).name();
            assert_eq!(KINDS.iter().filter(|k| k.name() == name).count(), 1);
        }
    }
}

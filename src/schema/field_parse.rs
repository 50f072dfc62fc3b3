//! Reading a field definition from client JSON: types of option values, defaults, and the checks
//! that concern one field alone (name format, option consistency, patterns).

use super::datetime::{format_rfc3339, parse_datetime};
use super::field::{Field, FieldKind, OptionErrors, Pattern, TextOptions, RESERVED_FIELD_NAMES};
use super::idgen::{field_id, generate_from_pattern};
use crate::error::{echo, FieldError};
use crate::ids::CollectionId;
use serde_json::{json, Map, Value};

/// Reads typed option values, recording an error (and using the default) on a type mismatch.
struct Reader<'a> {
    o: &'a Map<String, Value>,
    errs: OptionErrors,
}

fn invalid(msg: &str) -> FieldError {
    FieldError::new("validation_invalid_value", msg)
}

impl Reader<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.o.get(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &'static str) -> String {
        match self.get(key) {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => {
                self.errs.push((key, invalid("Must be a string.")));
                String::new()
            }
        }
    }

    fn boolean(&mut self, key: &'static str) -> bool {
        match self.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.errs.push((key, invalid("Must be a boolean.")));
                false
            }
        }
    }

    fn uint(&mut self, key: &'static str, limit: u64) -> u64 {
        let Some(v) = self.get(key) else { return 0 };
        match v.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= limit as f64 => f as u64,
            _ => {
                let msg = format!("Must be a whole number between 0 and {limit}.");
                self.errs.push((key, invalid(&msg)));
                0
            }
        }
    }

    fn u32(&mut self, key: &'static str) -> u32 {
        u32::try_from(self.uint(key, u64::from(u32::MAX))).unwrap_or(0)
    }

    fn float(&mut self, key: &'static str) -> Option<f64> {
        let v = self.get(key)?;
        let f = v.as_f64().filter(|f| f.is_finite());
        if f.is_none() {
            self.errs.push((key, invalid("Must be a number or null.")));
        }
        f
    }

    fn strings(&mut self, key: &'static str) -> Vec<String> {
        let Some(v) = self.get(key) else {
            return Vec::new();
        };
        match v
            .as_array()
            .and_then(|a| a.iter().map(|x| x.as_str().map(String::from)).collect())
        {
            Some(list) => list,
            None => {
                self.errs.push((key, invalid("Must be a list of strings.")));
                Vec::new()
            }
        }
    }

    fn pattern(&mut self, key: &'static str) -> Pattern {
        let src = self.string(key);
        Pattern::new(&src).unwrap_or_else(|e| {
            let msg = format!("Invalid regular expression: {e}");
            self.errs
                .push((key, FieldError::new("validation_invalid_regex", msg)));
            Pattern::default()
        })
    }

    fn date(&mut self, key: &'static str) -> String {
        let raw = self.string(key);
        if raw.is_empty() {
            return raw;
        }
        match parse_datetime(&raw) {
            Some(dt) => super::datetime::format_datetime(dt),
            None => {
                self.errs.push((
                    key,
                    FieldError::new("validation_invalid_date", "Must be a valid date."),
                ));
                String::new()
            }
        }
    }

    fn fail(&mut self, key: &'static str, err: FieldError) {
        self.errs.push((key, err));
    }
}

/// `max` must not be below `min` (PocketBase reports it on `max`).
fn min_over_max(min: impl Into<Value>) -> FieldError {
    let min = min.into();
    FieldError::new(
        "validation_min_greater_equal_than_required",
        format!("Must be no less than {min}."),
    )
    .with_params(json!({ "threshold": min }))
}

/// Whether `name` is a valid field or collection name (`^[A-Za-z0-9_]+$`).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn parse_field(v: &Value) -> Result<Field, OptionErrors> {
    let Some(o) = v.as_object() else {
        return Err(vec![("", invalid("Must be an object."))]);
    };
    let mut r = Reader {
        o,
        errs: Vec::new(),
    };
    let type_name = r.string("type");
    let name = r.string("name");
    check_name(&mut r, &name);
    let kind = parse_kind(&mut r, &type_name, &name);
    let mut id = r.string("id");
    if id.is_empty() {
        id = field_id(&type_name, &name);
    } else if id.chars().count() > 100 || id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        r.fail(
            "id",
            FieldError::new(
                "validation_match_invalid",
                "Must be at most 100 characters without spaces.",
            ),
        );
    }
    let mut field = Field {
        id,
        name,
        system: r.boolean("system"),
        hidden: r.boolean("hidden"),
        presentable: r.boolean("presentable"),
        required: r.boolean("required"),
        help: r.string("help"),
        kind: kind.unwrap_or(FieldKind::Bool),
    };
    if matches!(field.kind, FieldKind::Autodate { .. }) {
        field.required = false;
        field.help.clear();
    }
    if let FieldKind::Text(t) = &field.kind {
        check_autogenerate(&mut r, &field, t);
    }
    if r.errs.is_empty() {
        Ok(field)
    } else {
        Err(r.errs)
    }
}

fn check_name(r: &mut Reader, name: &str) {
    if name.is_empty() {
        r.fail("name", FieldError::required());
    } else if !is_valid_name(name) || name.len() > 100 {
        r.fail(
            "name",
            FieldError::new(
                "validation_match_invalid",
                "Must contain only letters, digits and _ (at most 100).",
            )
            .with_params(json!({"pattern": "^\\w+$"})),
        );
    } else if RESERVED_FIELD_NAMES
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
    {
        let msg = format!(
            "The name is reserved ({}).",
            RESERVED_FIELD_NAMES.join(", ")
        );
        r.fail("name", FieldError::new("validation_not_in_invalid", msg));
    }
}

fn parse_kind(r: &mut Reader, type_name: &str, name: &str) -> Option<FieldKind> {
    let kind = match type_name {
        "text" => {
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
            if t.primary_key && name != "id" {
                r.fail(
                    "primaryKey",
                    invalid("Only the id field can be the primary key."),
                );
            }
            FieldKind::Text(t)
        }
        "number" => {
            let (min, max, only_int) = (r.float("min"), r.float("max"), r.boolean("onlyInt"));
            if let (Some(lo), Some(hi)) = (min, max) {
                if lo > hi {
                    r.fail("max", min_over_max(super::field_value::number_value(lo)));
                }
            }
            FieldKind::Number { min, max, only_int }
        }
        "bool" => FieldKind::Bool,
        "email" | "url" => {
            let except_domains = r.strings("exceptDomains");
            let only_domains = r.strings("onlyDomains");
            if !except_domains.is_empty() && !only_domains.is_empty() {
                let msg = "Must be blank when onlyDomains is set.";
                r.fail("exceptDomains", FieldError::new("validation_empty", msg));
            }
            if type_name == "email" {
                FieldKind::Email {
                    except_domains,
                    only_domains,
                }
            } else {
                FieldKind::Url {
                    except_domains,
                    only_domains,
                }
            }
        }
        "editor" => FieldKind::Editor {
            max_size: r.uint("maxSize", u64::MAX >> 11),
            convert_urls: r.boolean("convertURLs"),
        },
        "date" => {
            let (min, max) = (r.date("min"), r.date("max"));
            if !min.is_empty() && !max.is_empty() && min > max {
                let threshold = parse_datetime(&min).map(format_rfc3339).unwrap_or_default();
                r.fail("max", min_over_max(threshold));
            }
            FieldKind::Date { min, max }
        }
        "autodate" => FieldKind::Autodate {
            on_create: r.boolean("onCreate"),
            on_update: r.boolean("onUpdate"),
        },
        "select" => {
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
        "json" => FieldKind::Json {
            max_size: r.uint("maxSize", u64::MAX >> 11),
        },
        "relation" => {
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
        "password" => {
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
        "file" | "geoPoint" => {
            let what = if type_name == "file" {
                "File"
            } else {
                "GeoPoint"
            };
            let msg = format!("{what} fields are not supported yet.");
            r.fail(
                "type",
                FieldError::new("validation_unsupported_field_type", msg),
            );
            return None;
        }
        "" => {
            r.fail("type", FieldError::required());
            return None;
        }
        other => {
            let msg = format!("Unknown field type \"{}\".", echo(other));
            r.fail("type", FieldError::new("validation_in_invalid", msg));
            return None;
        }
    };
    Some(kind)
}

/// Refuses autogenerate patterns Ferrobase cannot generate from, and ones whose output would
/// fail the field's own constraints (every generated value would be rejected).
fn check_autogenerate(r: &mut Reader, field: &Field, t: &TextOptions) {
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

#[cfg(test)]
#[path = "field_parse_tests.rs"]
mod tests;

//! Field definitions: the `Field` type, its kinds and options, and PocketBase's flat field JSON in
//! both directions. What each kind means lives in `fields/<kind>.rs`.

use super::names;
use crate::error::FieldError;
use crate::ids::CollectionId;
use regex::Regex;
use serde_json::{json, Map, Value};
use std::fmt;
use std::sync::Arc;

/// A compiled regular expression that remembers its source; equality compares the source.
#[derive(Clone, Default)]
pub struct Pattern {
    source: String,
    regex: Option<Arc<Regex>>,
}

impl Pattern {
    /// Compiles `source`; the empty pattern matches everything.
    pub fn new(source: &str) -> Result<Self, String> {
        if source.is_empty() {
            return Ok(Self::default());
        }
        let regex = regex::RegexBuilder::new(source)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            source: source.to_string(),
            regex: Some(Arc::new(regex)),
        })
    }

    /// The pattern as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether no pattern is set.
    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }

    /// Whether `s` matches (always true for the empty pattern).
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.as_ref().is_none_or(|r| r.is_match(s))
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.source)
    }
}

/// Options of a `text` field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextOptions {
    pub min: u32,
    /// 0 means the default limit of 5000 characters.
    pub max: u32,
    pub pattern: Pattern,
    pub autogenerate_pattern: String,
    pub primary_key: bool,
}

/// A field's type together with its type-specific options.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    Text(TextOptions),
    Number {
        min: Option<f64>,
        max: Option<f64>,
        only_int: bool,
    },
    Bool,
    Email {
        except_domains: Vec<String>,
        only_domains: Vec<String>,
    },
    Url {
        except_domains: Vec<String>,
        only_domains: Vec<String>,
    },
    Editor {
        max_size: u64,
        convert_urls: bool,
    },
    /// Bounds in output format (`2030-01-01 00:00:00.000Z`) or `""` when unset.
    Date {
        min: String,
        max: String,
    },
    Autodate {
        on_create: bool,
        on_update: bool,
    },
    Select {
        values: Vec<String>,
        max_select: u32,
    },
    Json {
        max_size: u64,
    },
    Relation {
        collection_id: CollectionId,
        cascade_delete: bool,
        min_select: u32,
        max_select: u32,
    },
    Password {
        min: u32,
        max: u32,
        pattern: Pattern,
        cost: u32,
    },
    /// `{"lon": x, "lat": y}`; no options.
    GeoPoint,
    File(super::fields::FileOptions),
}

impl FieldKind {
    /// The PocketBase type name (`text`, `number`, …).
    pub fn type_name(&self) -> &'static str {
        super::fields::of(self).name()
    }
}

/// One field of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub id: String,
    pub name: String,
    pub system: bool,
    pub hidden: bool,
    pub presentable: bool,
    pub required: bool,
    pub help: String,
    pub kind: FieldKind,
}

/// Errors found while reading one field definition, keyed by option name (`""` = the field itself).
pub type OptionErrors = Vec<(&'static str, FieldError)>;

/// Names a record cannot use for a field because they collide with keys of the record JSON.
pub const RESERVED_FIELD_NAMES: [&str; 3] =
    [names::EXPAND, names::COLLECTION_ID, names::COLLECTION_NAME];

impl Field {
    /// A field with PocketBase's default id and flags.
    pub fn new(name: &str, kind: FieldKind) -> Self {
        Self {
            id: super::idgen::field_id(kind.type_name(), name),
            name: name.to_string(),
            system: false,
            hidden: false,
            presentable: false,
            required: false,
            help: String::new(),
            kind,
        }
    }

    /// The PocketBase type name of this field.
    pub fn type_name(&self) -> &'static str {
        self.kind.type_name()
    }

    /// PocketBase's flat field object with every option key of the type and its value.
    pub fn to_json(&self) -> Value {
        let kind = super::fields::of(&self.kind);
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(kind.name()));
        m.insert("system".into(), json!(self.system));
        m.insert("hidden".into(), json!(self.hidden));
        m.insert("presentable".into(), json!(self.presentable));
        if kind.has_required() {
            m.insert("required".into(), json!(self.required));
            m.insert("help".into(), json!(self.help));
        }
        if let Value::Object(o) = kind.options_json(&self.kind) {
            m.extend(o);
        }
        Value::Object(m)
    }

    /// Reads a field definition sent by a client (or stored): missing options take their defaults,
    /// and option values are checked on their own (cross-field checks belong to the collection).
    pub fn from_json(v: &Value) -> Result<Field, OptionErrors> {
        super::field_parse::parse_field(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_compiles_once_and_compares_by_source() {
        let p = Pattern::new("^[a-z]+$").unwrap();
        assert!(p.is_match("abc"));
        assert!(!p.is_match("aBc"));
        assert_eq!(p, Pattern::new("^[a-z]+$").unwrap());
        assert!(Pattern::new("").unwrap().is_match("anything"));
        assert!(Pattern::new("(").is_err());
        assert_eq!(format!("{p:?}"), "Pattern(\"^[a-z]+$\")");
    }

    #[test]
    fn text_json_has_pocketbase_keys() {
        let f = Field::new("title", FieldKind::Text(TextOptions::default()));
        let keys: Vec<String> = f.to_json().as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "autogeneratePattern",
                "help",
                "hidden",
                "id",
                "max",
                "min",
                "name",
                "pattern",
                "presentable",
                "primaryKey",
                "required",
                "system",
                "type"
            ]
        );
        assert_eq!(f.to_json()["id"], json!("text724990059"));
    }

    #[test]
    fn autodate_json_has_no_required_or_help() {
        let f = Field::new(
            "created",
            FieldKind::Autodate {
                on_create: true,
                on_update: false,
            },
        );
        assert_eq!(
            f.to_json(),
            json!({"hidden":false,"id":"autodate2990389176","name":"created","onCreate":true,
                   "onUpdate":false,"presentable":false,"system":false,"type":"autodate"})
        );
    }

    #[test]
    fn number_bounds_render_as_null_or_plain_numbers() {
        let f = Field::new(
            "n",
            FieldKind::Number {
                min: None,
                max: None,
                only_int: false,
            },
        );
        assert_eq!(f.to_json()["min"], Value::Null);
        let f = Field::new(
            "n",
            FieldKind::Number {
                min: Some(5.0),
                max: Some(2.5),
                only_int: true,
            },
        );
        assert_eq!(f.to_json()["min"].to_string(), "5");
        assert_eq!(f.to_json()["max"].to_string(), "2.5");
        assert_eq!(f.to_json()["onlyInt"], json!(true));
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        let kinds = vec![
            FieldKind::Text(TextOptions {
                min: 1,
                max: 9,
                pattern: Pattern::new("^[a-z]+$").unwrap(),
                autogenerate_pattern: "[a-z]{3}".into(),
                primary_key: false,
            }),
            FieldKind::Number {
                min: Some(-1.5),
                max: Some(10.0),
                only_int: false,
            },
            FieldKind::Bool,
            FieldKind::Email {
                except_domains: vec!["x.io".into()],
                only_domains: vec![],
            },
            FieldKind::Url {
                except_domains: vec![],
                only_domains: vec!["y.io".into()],
            },
            FieldKind::Editor {
                max_size: 10,
                convert_urls: true,
            },
            FieldKind::Date {
                min: "2024-01-01 00:00:00.000Z".into(),
                max: String::new(),
            },
            FieldKind::Autodate {
                on_create: true,
                on_update: true,
            },
            FieldKind::Select {
                values: vec!["a".into(), "b".into()],
                max_select: 2,
            },
            FieldKind::Json { max_size: 5 },
            FieldKind::Relation {
                collection_id: "pbc_1".into(),
                cascade_delete: true,
                min_select: 1,
                max_select: 3,
            },
            FieldKind::Password {
                min: 8,
                max: 20,
                pattern: Pattern::default(),
                cost: 10,
            },
        ];
        for kind in kinds {
            let mut f = Field::new("f", kind);
            f.hidden = true;
            f.presentable = true;
            if !matches!(f.kind, FieldKind::Autodate { .. }) {
                f.help = "some help".into();
                f.required = true;
            }
            let back = Field::from_json(&f.to_json()).unwrap();
            assert_eq!(back, f, "{}", f.type_name());
        }
    }
}

//! The `Collection` type: lookups, PocketBase's API JSON and the lossless storage form.
//! Building one from client input (create/update) lives in `collection_input.rs`.

use super::auth_options::AuthOptions;
use super::field::{Field, FieldKind};
use super::index::parse_index_sql;
use crate::error::FieldErrors;
use crate::ids::CollectionId;
use crate::store::{IndexSpec, RelationSpec};
use serde_json::{json, Map, Value};

/// The three PocketBase collection types (`view` is modelled but not creatable yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionType {
    Base,
    Auth,
    View,
}

impl CollectionType {
    /// The wire name: `base`, `auth` or `view`.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionType::Base => "base",
            CollectionType::Auth => "auth",
            CollectionType::View => "view",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "base" => Some(CollectionType::Base),
            "auth" => Some(CollectionType::Auth),
            "view" => Some(CollectionType::View),
            _ => None,
        }
    }
}

/// A collection definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub id: CollectionId,
    pub name: String,
    pub kind: CollectionType,
    pub system: bool,
    pub list_rule: Option<String>,
    pub view_rule: Option<String>,
    pub create_rule: Option<String>,
    pub update_rule: Option<String>,
    pub delete_rule: Option<String>,
    pub fields: Vec<Field>,
    pub indexes: Vec<String>,
    pub created: String,
    pub updated: String,
    /// Present exactly for auth collections.
    pub auth: Option<AuthOptions>,
}

/// What a schema update means for stored records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaChange {
    /// `(old, new)` field names; apply all renames at once (swaps are possible).
    pub renamed: Vec<(String, String)>,
    /// Old names of dropped fields (never a rename target, so drop and rename order is free).
    pub dropped: Vec<String>,
    /// The parsed index specs differ: rebuild the collection's indexes.
    pub indexes_changed: bool,
}

impl SchemaChange {
    /// Whether the store has to rewrite records or rebuild indexes.
    pub fn needs_migration(&self) -> bool {
        !self.renamed.is_empty() || !self.dropped.is_empty() || self.indexes_changed
    }
}

/// The JSON keys of the five CRUD rules.
pub const RULE_KEYS: [&str; 5] = [
    "listRule",
    "viewRule",
    "createRule",
    "updateRule",
    "deleteRule",
];

impl Collection {
    /// The field with exactly this name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The field whose name matches case-insensitively (SQL-style lookups such as indexes).
    pub fn field_ci(&self, name: &str) -> Option<&Field> {
        self.field(name).or_else(|| {
            self.fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name))
        })
    }

    /// Whether this is an auth collection.
    pub fn is_auth(&self) -> bool {
        self.kind == CollectionType::Auth
    }

    /// The relation fields, in schema order.
    pub fn relation_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Relation { .. }))
    }

    /// The CRUD rule stored under a `RULE_KEYS` entry.
    pub fn rule(&self, key: &str) -> Option<&Option<String>> {
        match key {
            "listRule" => Some(&self.list_rule),
            "viewRule" => Some(&self.view_rule),
            "createRule" => Some(&self.create_rule),
            "updateRule" => Some(&self.update_rule),
            "deleteRule" => Some(&self.delete_rule),
            _ => None,
        }
    }

    pub(crate) fn rule_mut(&mut self, key: &str) -> Option<&mut Option<String>> {
        match key {
            "listRule" => Some(&mut self.list_rule),
            "viewRule" => Some(&mut self.view_rule),
            "createRule" => Some(&mut self.create_rule),
            "updateRule" => Some(&mut self.update_rule),
            "deleteRule" => Some(&mut self.delete_rule),
            _ => None,
        }
    }

    /// The store's view of `indexes` with field names in their schema spelling. Indexes were
    /// validated when the collection was saved; an unparsable one is skipped.
    pub fn index_specs(&self) -> Vec<IndexSpec> {
        let canonical = |n: &String| {
            self.field_ci(n)
                .map_or_else(|| n.clone(), |f| f.name.clone())
        };
        self.indexes
            .iter()
            .filter_map(|sql| parse_index_sql(sql).ok())
            .map(|p| {
                let mut spec = p.spec();
                spec.fields = spec.fields.iter().map(canonical).collect();
                spec.skip_empty = spec.skip_empty.iter().map(canonical).collect();
                spec
            })
            .collect()
    }

    /// The relation fields the store keeps reverse-relation entries for.
    pub fn relation_specs(&self) -> Vec<RelationSpec> {
        self.fields
            .iter()
            .filter_map(|f| match &f.kind {
                FieldKind::Relation { collection_id, .. } => Some(RelationSpec {
                    field: f.name.clone(),
                    target: collection_id.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// PocketBase's collection JSON (no token secrets).
    pub fn to_api_json(&self) -> Value {
        Value::Object(self.to_json_map(false))
    }

    fn to_json_map(&self, with_secrets: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("id".into(), json!(self.id.as_str()));
        m.insert("name".into(), json!(self.name));
        m.insert("type".into(), json!(self.kind.as_str()));
        m.insert("system".into(), json!(self.system));
        for key in RULE_KEYS {
            m.insert(key.into(), json!(self.rule(key).cloned().flatten()));
        }
        m.insert(
            "fields".into(),
            Value::Array(self.fields.iter().map(Field::to_json).collect()),
        );
        m.insert("indexes".into(), json!(self.indexes));
        m.insert("created".into(), json!(self.created));
        m.insert("updated".into(), json!(self.updated));
        if self.kind == CollectionType::View {
            // Views cannot be created yet, so there is never a query to show.
            m.insert("viewQuery".into(), json!(""));
        }
        if let Some(auth) = &self.auth {
            m.extend(auth.to_json(with_secrets));
        }
        m
    }

    /// Bytes for the store, including token secrets.
    pub fn to_storage(&self) -> Vec<u8> {
        let mut m = self.to_json_map(true);
        m.insert("storageVersion".into(), json!(1));
        Value::Object(m).to_string().into_bytes()
    }

    /// Reads what `to_storage` wrote.
    pub fn from_storage(bytes: &[u8]) -> Result<Self, String> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| format!("collection JSON: {e}"))?;
        let o = v.as_object().ok_or("collection JSON is not an object")?;
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(String::from);
        let kind_name = text("type").unwrap_or_default();
        let kind = CollectionType::parse(&kind_name)
            .ok_or_else(|| format!("unknown collection type {kind_name:?}"))?;
        let mut c = Collection {
            id: CollectionId(text("id").ok_or("collection without id")?),
            name: text("name").ok_or("collection without name")?,
            kind,
            system: o.get("system").and_then(Value::as_bool).unwrap_or(false),
            list_rule: None,
            view_rule: None,
            create_rule: None,
            update_rule: None,
            delete_rule: None,
            fields: Vec::new(),
            indexes: Vec::new(),
            created: text("created").unwrap_or_default(),
            updated: text("updated").unwrap_or_default(),
            auth: None,
        };
        for key in RULE_KEYS {
            if let Some(slot) = c.rule_mut(key) {
                *slot = text(key);
            }
        }
        for (i, f) in o
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let field = Field::from_json(f).map_err(|e| format!("field {i}: {e:?}"))?;
            c.fields.push(field);
        }
        c.indexes = o
            .get("indexes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect();
        if kind == CollectionType::Auth {
            let mut auth = AuthOptions::default();
            let mut errs = FieldErrors::new();
            auth.apply_patch(o, &mut errs);
            if !errs.is_empty() {
                return Err(format!("auth options: {}", errs.into_value()));
            }
            c.auth = Some(auth);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::system::superusers_collection;

    #[test]
    fn type_names() {
        for t in [
            CollectionType::Base,
            CollectionType::Auth,
            CollectionType::View,
        ] {
            assert_eq!(CollectionType::parse(t.as_str()), Some(t));
        }
        assert_eq!(CollectionType::parse("Base"), None);
    }

    #[test]
    fn api_json_has_exact_keys_and_no_secrets() {
        let c = superusers_collection();
        let v = c.to_api_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "id",
            "name",
            "type",
            "system",
            "listRule",
            "viewRule",
            "createRule",
            "updateRule",
            "deleteRule",
            "fields",
            "indexes",
            "created",
            "updated",
            "authRule",
            "manageRule",
            "authAlert",
            "oauth2",
            "passwordAuth",
            "mfa",
            "otp",
            "authToken",
            "passwordResetToken",
            "emailChangeToken",
            "verificationToken",
            "fileToken",
            "verificationTemplate",
            "resetPasswordTemplate",
            "confirmEmailChangeTemplate",
        ];
        want.sort_unstable();
        assert_eq!(keys, want);
        let auth = c.auth.as_ref().unwrap();
        assert!(!v.to_string().contains(&auth.auth_token.secret));

        let mut base = c.clone();
        base.kind = CollectionType::Base;
        base.auth = None;
        assert_eq!(base.to_api_json().as_object().unwrap().len(), 13);
        base.kind = CollectionType::View;
        assert_eq!(base.to_api_json()["viewQuery"], json!(""));
    }

    #[test]
    fn storage_is_lossless() {
        let mut c = superusers_collection();
        c.list_rule = Some("id = @request.auth.id".into());
        c.indexes
            .push("CREATE INDEX `idx_x` ON `_superusers` (`verified`)".into());
        let bytes = c.to_storage();
        assert!(
            String::from_utf8_lossy(&bytes).contains(&c.auth.as_ref().unwrap().auth_token.secret)
        );
        assert_eq!(Collection::from_storage(&bytes), Ok(c));
        assert!(Collection::from_storage(b"[]").is_err());
        assert!(Collection::from_storage(br#"{"id":"x","name":"y","type":"weird"}"#).is_err());
        assert!(Collection::from_storage(b"not json").is_err());
    }

    #[test]
    fn lookups() {
        let c = superusers_collection();
        assert_eq!(c.field("email").map(|f| f.type_name()), Some("email"));
        assert!(c.field("Email").is_none());
        assert_eq!(c.field_ci("EMAIL").map(|f| f.name.as_str()), Some("email"));
        assert!(c.is_auth());
        assert_eq!(c.relation_fields().count(), 0);
        let specs = c.index_specs();
        assert_eq!(specs.len(), 2);
        assert!(specs.iter().all(|s| s.unique));
        assert_eq!(specs[1].skip_empty, ["email"]);
    }

    #[test]
    fn schema_change_needs_migration() {
        assert!(!SchemaChange::default().needs_migration());
        let renamed = SchemaChange {
            renamed: vec![("a".into(), "b".into())],
            ..Default::default()
        };
        assert!(renamed.needs_migration());
        let dropped = SchemaChange {
            dropped: vec!["a".into()],
            ..Default::default()
        };
        assert!(dropped.needs_migration());
        assert!(SchemaChange {
            indexes_changed: true,
            ..Default::default()
        }
        .needs_migration());
    }
}

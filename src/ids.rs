//! Identifier newtypes shared by every module, so ids of different kinds cannot be mixed up, and
//! the typed [`Record`] (an id plus its fields) that crosses module boundaries.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
    };
}

string_id!(
    /// A collection id such as `pbc_3142635823` (never contains `/`).
    CollectionId
);
string_id!(
    /// A record id, 15 chars `[a-z0-9]` unless the collection's id field says otherwise.
    RecordId
);

/// Position in the change log: gapless and strictly increasing, starting at 1.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Seq(pub u64);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A record's stored fields, keyed by field name (sorted, like PocketBase's JSON output).
pub type RecordData = serde_json::Map<String, serde_json::Value>;

/// The key under which a record's fields hold its id (`schema::names::ID` is this constant;
/// it lives here because the store, below the schema, builds records too).
pub const ID_FIELD: &str = "id";

/// A record: its id and its fields.
///
/// Invariant: `fields["id"]` is the string `id`. PocketBase renders `id` as an ordinary field
/// and filters and sorts address it as one, so the map keeps it for rendering and evaluation;
/// [`Record::new`] is the only constructor and sets it, and the map is never handed out
/// mutably, so the two cannot drift. Code that means "this record's id" reads [`Record::id`],
/// never the map. The id itself comes from the store key (reads) or the write op (staged
/// writes), never from the stored fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    id: RecordId,
    fields: RecordData,
}

impl Record {
    /// A record `id` with `fields`; `fields["id"]` is set to `id` (the id wins over whatever
    /// the map held: on reads it is the store key, on writes the op's id).
    pub fn new(id: RecordId, mut fields: RecordData) -> Self {
        // Compare first: on reads the stored map already agrees, and this is the hot path.
        if fields.get(ID_FIELD).and_then(serde_json::Value::as_str) != Some(id.as_str()) {
            fields.insert(ID_FIELD.into(), serde_json::Value::String(id.0.clone()));
        }
        Self { id, fields }
    }

    pub fn id(&self) -> &RecordId {
        &self.id
    }

    /// The field values, `id` included (for rendering and rule/filter evaluation).
    pub fn fields(&self) -> &RecordData {
        &self.fields
    }

    pub fn into_fields(self) -> RecordData {
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn map(v: Value) -> RecordData {
        match v {
            Value::Object(m) => m,
            _ => RecordData::new(),
        }
    }

    #[test]
    fn new_keeps_a_map_that_already_holds_the_id() {
        let fields = map(json!({"id": "abc", "title": "x"}));
        let rec = Record::new(RecordId::from("abc"), fields.clone());
        assert_eq!(rec.id(), &RecordId::from("abc"));
        assert_eq!(rec.fields(), &fields);
    }

    #[test]
    fn new_adds_a_missing_id_field() {
        let rec = Record::new(RecordId::from("abc"), map(json!({"title": "x"})));
        assert_eq!(rec.fields()["id"], json!("abc"));
        assert_eq!(rec.fields()["title"], json!("x"));
        assert_eq!(rec.fields().len(), 2);
    }

    #[test]
    fn the_given_id_wins_over_a_different_or_non_string_id_field() {
        for stale in [json!("other"), json!(7), Value::Null] {
            let rec = Record::new(RecordId::from("abc"), map(json!({"id": stale, "n": 1})));
            assert_eq!(rec.id().as_str(), "abc");
            assert_eq!(rec.fields()["id"], json!("abc"));
            assert_eq!(rec.into_fields()["n"], json!(1));
        }
    }

    proptest::proptest! {
        /// Whatever the map held, the record's `id` field is its id and every other field is
        /// kept as given.
        #[test]
        fn fields_id_always_equals_the_record_id(
            id in "[a-z0-9]{1,15}",
            stale in proptest::option::of("[a-z0-9]{0,15}"),
            others in proptest::collection::btree_map("[a-z]{1,8}", 0i64..100, 0..6),
        ) {
            let mut fields: RecordData =
                others.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            if let Some(s) = &stale {
                fields.insert("id".into(), json!(s));
            }
            let rec = Record::new(RecordId::from(id.as_str()), fields);
            proptest::prop_assert_eq!(rec.id().as_str(), id.as_str());
            proptest::prop_assert_eq!(&rec.fields()["id"], &json!(id));
            for (k, v) in others.iter().filter(|(k, _)| k.as_str() != "id") {
                proptest::prop_assert_eq!(&rec.fields()[k.as_str()], &json!(v));
            }
        }
    }
}

//! Index planning: find equality conditions in the top-level AND of a compiled filter that a
//! declared index can answer, so listing scans a few index prefixes instead of the collection.
//! The caller still evaluates the whole filter on each candidate.

use super::compile::{Compiled, Node, Src};
use super::value::Val;
use crate::ids::{CollectionId, RecordData};
use crate::schema::{Collection, FieldKind};
use crate::store::{IndexSpec, Store, StoreError};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// At most this many index prefixes are scanned for one query (`a = 1 || a = 2 …` chains).
const MAX_PREFIXES: usize = 64;

/// The index values a `field = literal` comparison can match, exactly as the store encodes them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EqKey {
    pub field: String,
    pub values: Vec<Value>,
}

/// Which index to scan and with which equal-prefix values.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexPlan {
    pub index: String,
    /// The leading index fields the prefixes cover.
    pub fields: Vec<String>,
    /// One scan per prefix; each has `fields.len()` values.
    pub prefixes: Vec<Vec<Value>>,
    /// The filter is exactly these equalities: the index entries ARE the matches, so they can be
    /// counted without reading records.
    pub covered: bool,
    /// The prefixes give every field of a non-unique index: counts come from its counters.
    pub full: bool,
}

impl fmt::Display for IndexPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefixes: Vec<String> = self
            .prefixes
            .iter()
            .map(|p| Value::Array(p.clone()).to_string())
            .collect();
        write!(
            f,
            "index {} ({}) in [{}]",
            self.index,
            self.fields.join(", "),
            prefixes.join(", ")
        )
    }
}

impl IndexPlan {
    /// Number of matches when [`IndexPlan::covered`]: the prefixes are distinct, so their entry
    /// sets are disjoint.
    pub fn count(&self, store: &dyn Store, collection: &CollectionId) -> Result<usize, StoreError> {
        let mut n = 0;
        for p in &self.prefixes {
            n += store.count_index(collection, &self.index, p, self.full)?;
        }
        Ok(n)
    }

    /// The candidate records: every prefix scanned in index order, each record once.
    pub fn records<'a>(
        &'a self,
        store: &'a dyn Store,
        collection: &'a CollectionId,
    ) -> impl Iterator<Item = Result<RecordData, StoreError>> + 'a {
        let mut seen = HashSet::new();
        self.prefixes
            .iter()
            .flat_map(move |p| store.scan_index(collection, &self.index, p, false))
            .filter_map(move |id| {
                let id = match id {
                    Ok(id) => id,
                    Err(e) => return Some(Err(e)),
                };
                if !seen.insert(id.clone()) {
                    return None;
                }
                // An entry whose record vanished meanwhile is skipped.
                store
                    .get_record(collection, &id)
                    .map(|r| r.map(|r| r.data))
                    .transpose()
            })
    }
}

/// The index values equal to `right` for a plain field on the left (or mirrored), when the
/// filter's `=` and the index agree exactly on which records match.
pub(super) fn eq_key(col: &Collection, left: &Src, right: &Src) -> Option<EqKey> {
    let (path, lit) = match (left, right) {
        (Src::Path(p), Src::Const(v)) | (Src::Const(v), Src::Path(p)) => (p, v),
        _ => return None,
    };
    if !path.hops.is_empty() || !path.json.is_empty() || path.modifier.is_some() {
        return None;
    }
    let field = col.field(&path.field)?;
    if field.is_multi() {
        return None;
    }
    let values = match (&field.kind, lit) {
        (FieldKind::Number { .. }, Val::Num(n)) => vec![serde_json::json!(n)],
        (FieldKind::Bool, Val::Num(n)) if *n == 0.0 || *n == 1.0 => vec![Value::Bool(*n == 1.0)],
        (FieldKind::Json { .. } | FieldKind::Number { .. } | FieldKind::Bool, _) => return None,
        // Text-like fields: `""` and null both match empty values, stored as "" (or missing).
        (_, Val::Null) => vec![Value::from(""), Value::Null],
        (_, Val::Text(t)) if t.is_empty() => vec![Value::from(""), Value::Null],
        (_, Val::Text(t)) => vec![Value::from(t.as_ref())],
        (_, Val::Num(_)) => return None,
    };
    Some(EqKey {
        field: path.field.clone(),
        values,
    })
}

/// The equality set a top-level conjunct puts on one field.
fn conjunct_key(n: &Node) -> Option<EqKey> {
    match n {
        Node::Cmp(c) => c.eq.clone(),
        Node::Or(items) => {
            let mut acc: Option<EqKey> = None;
            for i in items {
                let k = conjunct_key(i)?;
                match &mut acc {
                    None => acc = Some(k),
                    Some(a) if a.field == k.field => {
                        for v in k.values {
                            if !a.values.contains(&v) {
                                a.values.push(v);
                            }
                        }
                    }
                    Some(_) => return None,
                }
            }
            acc
        }
        Node::And(_) => None,
    }
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("")
}

impl Compiled {
    /// The best index for this filter: the one whose leading fields are fixed by equalities in
    /// the top-level AND (most fields first, then unique, then fewest scans), if any.
    pub fn index_plan(&self, indexes: &[IndexSpec]) -> Option<IndexPlan> {
        let conjuncts: Vec<&Node> = match &self.root {
            Node::And(items) => items.iter().collect(),
            other => vec![other],
        };
        let keys: Vec<EqKey> = conjuncts.iter().filter_map(|n| conjunct_key(n)).collect();
        let mut best: Option<(IndexPlan, bool)> = None;
        for spec in indexes {
            let mut fields = Vec::new();
            let mut prefixes: Vec<Vec<Value>> = vec![Vec::new()];
            for f in &spec.fields {
                let Some(k) = keys.iter().find(|k| &k.field == f) else {
                    break;
                };
                let mut values = k.values.clone();
                if spec.skip_empty.contains(f) {
                    values.retain(|v| !is_empty(v));
                    if values.len() != k.values.len() {
                        break; // the partial index leaves out rows that would match
                    }
                }
                if prefixes.len() * values.len() > MAX_PREFIXES {
                    break;
                }
                prefixes = prefixes
                    .iter()
                    .flat_map(|p| {
                        values.iter().map(move |v| {
                            let mut p = p.clone();
                            p.push(v.clone());
                            p
                        })
                    })
                    .collect();
                fields.push(f.clone());
            }
            // Rows with an empty value in a partial index's other fields are not indexed.
            if fields.is_empty() || spec.skip_empty.iter().any(|s| !fields.contains(s)) {
                continue;
            }
            let unique = spec.unique && fields.len() == spec.fields.len();
            let better = match &best {
                None => true,
                Some((b, bu)) => {
                    (fields.len(), unique, std::cmp::Reverse(prefixes.len()))
                        > (b.fields.len(), *bu, std::cmp::Reverse(b.prefixes.len()))
                }
            };
            if better {
                let covered = keys.len() == conjuncts.len()
                    && keys.len() == fields.len()
                    && keys.iter().all(|k| fields.contains(&k.field));
                let full = !spec.unique && fields.len() == spec.fields.len();
                let plan = IndexPlan {
                    index: spec.name.clone(),
                    fields,
                    prefixes,
                    covered,
                    full,
                };
                best = Some((plan, unique));
            }
        }
        best.map(|(p, _)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_fixture::Fixture;
    use super::super::Mode;
    use crate::store::Store;
    use std::collections::BTreeSet;

    #[test]
    fn plans_equalities_on_leading_index_fields() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fx = rt.block_on(Fixture::new());
        let col = fx.schema.get("posts").unwrap().clone();
        let indexes = fx.schema.indexes(&col.id);
        let plan = |src: &str| {
            let c = fx
                .compile_as("posts", src, true, Mode::ClientFilter)
                .unwrap();
            c.index_plan(&indexes).map(|p| p.to_string())
        };
        let cases: [(&str, Option<&str>); 12] = [
            ("views = 10", Some("index idx_views (views) in [[10.0]]")),
            (
                "10 = views && published = true",
                Some("index idx_views (views) in [[10.0]]"),
            ),
            (
                "views = 10 || views = 3",
                Some("index idx_views (views) in [[10.0], [3.0]]"),
            ),
            (
                "title = 'Hello World' && views = 10",
                Some("index idx_title_views (title, views) in [[\"Hello World\",10.0]]"),
            ),
            (
                "title = 'a' || title = 'b'",
                Some("index idx_title_views (title) in [[\"a\"], [\"b\"]]"),
            ),
            (
                "secret = 's1'",
                Some("index idx_secret (secret) in [[\"s1\"]]"),
            ),
            ("secret = ''", None),
            ("views > 5", None),
            ("views = '10'", None),
            ("views = 1 || title = 'x'", None),
            (
                "views = 1 && (title = 'x' || views = 2)",
                Some("index idx_views (views) in [[1.0]]"),
            ),
            ("author.name = 'x'", None),
        ];
        for (src, want) in cases {
            assert_eq!(plan(src).as_deref(), want, "{src}");
        }
        // Scanning the planned prefixes finds exactly what a full scan finds.
        let env = fx.env(Default::default());
        for src in [
            "views = 10",
            "views = 10 || views = 3",
            "title = 'Hello World' && views = 10",
            "secret = 's4'",
            "title = ''",
        ] {
            let c = fx
                .compile_as("posts", src, true, Mode::ClientFilter)
                .unwrap();
            let Some(p) = c.index_plan(&indexes) else {
                continue;
            };
            let mut found = BTreeSet::new();
            for prefix in &p.prefixes {
                for id in fx.store.scan_index(&col.id, &p.index, prefix, false) {
                    let rec = fx.store.get_record(&col.id, &id.unwrap()).unwrap().unwrap();
                    if c.matches(&rec.data, &env).unwrap() {
                        found.insert(rec.data["id"].as_str().unwrap().to_string());
                    }
                }
            }
            let want: BTreeSet<String> = fx.posts(src).into_iter().collect();
            assert_eq!(found, want, "{src}");
        }
    }
}

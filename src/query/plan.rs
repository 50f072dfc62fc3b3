//! Index planning: find equality conditions in the top-level AND of a compiled filter that a
//! declared index can answer, so listing scans a few index prefixes instead of the collection.
//! The caller still evaluates the whole filter on each candidate.

use super::ast::CmpOp;
use super::compile::{Compiled, Node, Src};
use super::value::Val;
use crate::ids::{CollectionId, Record};
use crate::schema::{Collection, IndexKey};
use crate::store::{IndexSpec, Store, StoreError, ValueRange};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;
use std::ops::Bound;

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
    /// Bounds on the index field after the prefixes (`n > 5 && n <= 9`), if any.
    pub range: Option<(String, ValueRange)>,
}

impl fmt::Display for IndexPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefixes: Vec<String> = self
            .prefixes
            .iter()
            .map(|p| Value::Array(p.clone()).to_string())
            .collect();
        write!(f, "index {}", self.index)?;
        if !self.fields.is_empty() {
            write!(
                f,
                " ({}) in [{}]",
                self.fields.join(", "),
                prefixes.join(", ")
            )?;
        }
        if let Some((field, r)) = &self.range {
            let lower = match &r.lower {
                Bound::Included(v) => format!("[{v}"),
                Bound::Excluded(v) => format!("({v}"),
                Bound::Unbounded => "(-inf".to_string(),
            };
            let upper = match &r.upper {
                Bound::Included(v) => format!("{v}]"),
                Bound::Excluded(v) => format!("{v})"),
                Bound::Unbounded => "+inf)".to_string(),
            };
            write!(f, " range {field} {lower}, {upper}")?;
        }
        Ok(())
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
    ) -> impl Iterator<Item = Result<Record, StoreError>> + 'a {
        let mut seen = HashSet::new();
        self.prefixes
            .iter()
            .flat_map(move |p| match &self.range {
                Some((_, r)) => store.scan_index_range(collection, &self.index, p, r, false),
                None => store.scan_index(collection, &self.index, p, false),
            })
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
                    .map(|r| r.map(|r| r.record))
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
    // A guarded email must be checked per record, never answered from index keys.
    if !path.hops.is_empty()
        || !path.json.is_empty()
        || path.modifier.is_some()
        || path.email_of.is_some()
    {
        return None;
    }
    let field = col.field(&path.field)?;
    if field.is_multi() {
        return None;
    }
    let values = match (field.index_key(), lit) {
        (IndexKey::Number, Val::Num(n)) => vec![serde_json::json!(n)],
        (IndexKey::Bool, Val::Num(n)) if *n == 0.0 || *n == 1.0 => vec![Value::Bool(*n == 1.0)],
        (IndexKey::None | IndexKey::Number | IndexKey::Bool, _) => return None,
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

/// The tightest bounds the top-level conjuncts put on `field`, when its type orders like its index
/// encoding against the constants (numbers with numbers, text-like fields with strings).
fn range_on(col: &Collection, field: &str, conjuncts: &[&Node]) -> Option<ValueRange> {
    let f = col.field(field)?;
    if f.is_multi() {
        return None;
    }
    let numeric = f.index_key() == IndexKey::Number;
    let textual = f.index_key() == IndexKey::Text;
    let (mut lower, mut upper) = (Bound::Unbounded, Bound::Unbounded);
    for n in conjuncts {
        let Node::Cmp(c) = n else { continue };
        let (path, lit, op) = match (&c.left, &c.right) {
            (Src::Path(p), Src::Const(v)) => (p, v, c.op),
            (Src::Const(v), Src::Path(p)) => (p, v, mirror(c.op)),
            _ => continue,
        };
        if c.any
            || path.field != field
            || !path.hops.is_empty()
            || !path.json.is_empty()
            || path.modifier.is_some()
        {
            continue;
        }
        let value = match lit {
            Val::Num(x) if numeric => serde_json::json!(x),
            Val::Text(t) if textual => Value::from(t.as_ref()),
            _ => continue,
        };
        match op {
            CmpOp::Gt if matches!(lower, Bound::Unbounded) => lower = Bound::Excluded(value),
            CmpOp::Gte if matches!(lower, Bound::Unbounded) => lower = Bound::Included(value),
            CmpOp::Lt if matches!(upper, Bound::Unbounded) => upper = Bound::Excluded(value),
            CmpOp::Lte if matches!(upper, Bound::Unbounded) => upper = Bound::Included(value),
            _ => {}
        }
    }
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return None;
    }
    Some(ValueRange { lower, upper })
}

/// `5 < n` is `n > 5`.
fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Gte => CmpOp::Lte,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Lte => CmpOp::Gte,
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    v.is_null() || v.as_str() == Some("")
}

/// The leading fields of `spec` that `keys` fix, and every combination of their values (at most
/// [`MAX_PREFIXES`]); stops at the first field without an equality.
fn equal_prefixes(spec: &IndexSpec, keys: &[EqKey]) -> (Vec<String>, Vec<Vec<Value>>) {
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
    (fields, prefixes)
}

impl Compiled {
    /// The best index for this filter: the one whose leading fields are fixed by equalities in
    /// the top-level AND (most fields first, then unique, then fewest scans), if any.
    pub fn index_plan(&self, indexes: &[IndexSpec]) -> Option<IndexPlan> {
        self.plan(indexes, None)
    }

    /// Like [`Compiled::index_plan`], and also plans ranges (`>`, `>=`, `<`, `<=` against a
    /// constant) on the index field after the equality prefix when `col` shows the field's type
    /// matches the constant's, so index order equals the filter's comparison order.
    pub fn index_plan_for(&self, col: &Collection, indexes: &[IndexSpec]) -> Option<IndexPlan> {
        self.plan(indexes, Some(col))
    }

    fn plan(&self, indexes: &[IndexSpec], col: Option<&Collection>) -> Option<IndexPlan> {
        let conjuncts: Vec<&Node> = match &self.root {
            Node::And(items) => items.iter().collect(),
            other => vec![other],
        };
        let keys: Vec<EqKey> = conjuncts.iter().filter_map(|n| conjunct_key(n)).collect();
        let mut best: Option<(IndexPlan, bool)> = None;
        for spec in indexes {
            let (fields, prefixes) = equal_prefixes(spec, &keys);
            let range = match (col, spec.fields.get(fields.len())) {
                (Some(col), Some(next)) => {
                    range_on(col, next, &conjuncts).map(|r| (next.clone(), r))
                }
                _ => None,
            };
            if fields.is_empty() && range.is_none() {
                continue;
            }
            // Rows with an empty value in a partial index's fields are not indexed: usable only
            // when equalities fix those fields to non-empty values.
            if spec.skip_empty.iter().any(|s| !fields.contains(s)) {
                continue;
            }
            let unique = spec.unique && fields.len() == spec.fields.len();
            let score = |n: usize, r: bool, u: bool, p: usize| (n, r, u, std::cmp::Reverse(p));
            let better = match &best {
                None => true,
                Some((b, bu)) => {
                    score(fields.len(), range.is_some(), unique, prefixes.len())
                        > score(b.fields.len(), b.range.is_some(), *bu, b.prefixes.len())
                }
            };
            if better {
                let covered = range.is_none()
                    && keys.len() == conjuncts.len()
                    && keys.len() == fields.len()
                    && keys.iter().all(|k| fields.contains(&k.field));
                let full = !spec.unique && fields.len() == spec.fields.len();
                let plan = IndexPlan {
                    index: spec.name.clone(),
                    fields,
                    prefixes,
                    covered,
                    full,
                    range,
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
                    if c.matches(rec.record.fields(), &env).unwrap() {
                        found.insert(rec.record.id().0.clone());
                    }
                }
            }
            let want: BTreeSet<String> = fx.posts(src).into_iter().collect();
            assert_eq!(found, want, "{src}");
        }
    }

    #[test]
    fn plans_ranges_on_typed_fields_and_finds_the_same_records() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fx = rt.block_on(Fixture::new());
        let col = fx.schema.get("posts").unwrap().clone();
        let indexes = fx.schema.indexes(&col.id);
        let env = fx.env(Default::default());
        for (src, planned) in [
            ("views > 3", true),
            ("views >= 3 && views < 11", true),
            ("3 < views", true),
            ("views > '3'", false),
            ("views ?> 3", false),
            ("title = 'Hello World' && views <= 10", true),
        ] {
            let c = fx
                .compile_as("posts", src, true, Mode::ClientFilter)
                .unwrap();
            let plan = c.index_plan_for(&col, &indexes);
            assert_eq!(
                plan.as_ref()
                    .is_some_and(|p| p.range.is_some() || !p.prefixes[0].is_empty()),
                planned,
                "{src}: {plan:?}"
            );
            let Some(plan) = plan else { continue };
            let mut found = BTreeSet::new();
            for rec in plan.records(fx.store.as_ref(), &col.id) {
                let rec = rec.unwrap();
                if c.matches(rec.fields(), &env).unwrap() {
                    found.insert(rec.id().0.clone());
                }
            }
            let want: BTreeSet<String> = fx.posts(src).into_iter().collect();
            assert_eq!(found, want, "{src} via {plan}");
        }
    }
}

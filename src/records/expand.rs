//! `expand`: inline related records (`author`, `cats.owner`, back-relations `comments_via_post`)
//! up to 6 levels, each checked against the related collection's view rule. Unlike PocketBase,
//! unknown names and paths deeper than the limit are errors, not silently dropped, and one
//! request expands at most `server.max_expanded_records` records in total (records linking each
//! other would otherwise multiply to millions). Back-relations expand at most
//! [`MAX_BACK_EXPAND`] records per record, as in PocketBase.

use super::access::{allows, check, request_info, Op};
use super::render;
use super::RecordService;
use crate::auth::Caller;
use crate::error::{echo, ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::{CollectionId, Record, RecordData, RecordId};
use crate::query::RequestInfo;
use crate::schema::{Collection, FieldKind, Snapshot};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const MAX_EXPAND_DEPTH: usize = 6;
const MAX_EXPAND_PATHS: usize = 32;
/// Most records one back-relation expands per record (PocketBase's limit).
pub const MAX_BACK_EXPAND: usize = 1000;

/// Parsed `expand` parameter: a tree of relation names.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExpandTree(BTreeMap<String, ExpandTree>);

fn bad(message: String) -> ApiError {
    ApiError::bad_field(
        MSG_GENERIC,
        "expand",
        FieldError::new("validation_invalid_expand", message),
    )
}

impl ExpandTree {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let mut tree = ExpandTree::default();
        let paths: Vec<&str> = raw
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if paths.len() > MAX_EXPAND_PATHS {
            return Err(bad(format!(
                "At most {MAX_EXPAND_PATHS} expand paths are allowed."
            )));
        }
        for path in paths {
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() > MAX_EXPAND_DEPTH {
                return Err(bad(format!(
                    "Expand path {:?} is deeper than {MAX_EXPAND_DEPTH} levels.",
                    echo(path)
                )));
            }
            let mut node = &mut tree;
            for p in parts {
                if p.is_empty() {
                    return Err(bad(format!("Invalid expand path {:?}.", echo(path))));
                }
                node = node.0.entry(p.to_string()).or_default();
            }
        }
        Ok(tree)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How one expand name resolves from a collection.
enum Link {
    /// A relation field of the record (single or multi).
    Forward {
        field: String,
        target: Arc<Collection>,
        multi: bool,
    },
    /// `<collection>_via_<field>` (or the older `<collection>(<field>)`): records of another
    /// collection pointing here; `single` when a one-column unique index on the source field
    /// allows at most one, which PocketBase then expands as a record, not a list.
    Back {
        source: Arc<Collection>,
        field: String,
        single: bool,
    },
}

/// The collection and field of a back-relation name: `comments_via_post`, or the older
/// `comments(post)` PocketBase still accepts (the expand key keeps the name as written).
fn back_relation_name(name: &str) -> Option<(&str, &str)> {
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let (coll, field) = match name.strip_suffix(')').and_then(|n| n.split_once('(')) {
        Some(legacy) => legacy,
        None => name.split_once("_via_")?,
    };
    (word(coll) && word(field)).then_some((coll, field))
}

/// Whether a one-column unique index on `field` of `source` allows one referrer per record.
fn unique_back_relation(source: &Collection, field: &str) -> bool {
    source
        .index_specs()
        .iter()
        .any(|s| s.unique && s.fields.len() == 1 && s.fields[0].eq_ignore_ascii_case(field))
}

fn resolve(snap: &Snapshot, col: &Collection, name: &str) -> ApiResult<Link> {
    if let Some(f) = col.field(name) {
        if let FieldKind::Relation { collection_id, .. } = &f.kind {
            let target = snap
                .by_id(collection_id)
                .cloned()
                .ok_or_else(|| bad(format!("Unknown relation target of {:?}.", echo(name))))?;
            return Ok(Link::Forward {
                field: name.to_string(),
                target,
                multi: f.is_multi(),
            });
        }
        return Err(bad(format!(
            "{:?} is not a relation field of {}.",
            echo(name),
            col.name
        )));
    }
    if let Some((coll, field)) = back_relation_name(name) {
        if let Some(source) = snap.get(coll) {
            let points_here = source
                .field(field)
                .is_some_and(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if *collection_id == col.id));
            if points_here {
                return Ok(Link::Back {
                    single: unique_back_relation(source, field),
                    source: source.clone(),
                    field: field.to_string(),
                });
            }
        }
    }
    Err(bad(format!(
        "Unknown expand relation {:?} in {}.",
        echo(name),
        col.name
    )))
}

fn ids_of(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

/// Ids of the records of one (source, field) back-relation, by the id they point to. Only ids
/// are kept: the records themselves are loaded when expanded, so a request holds at most its
/// expansion budget of them rather than the whole source collection.
type BackIndex = HashMap<String, Arc<[String]>>;

/// Expands `tree` into every rendered record of `records` (parallel slices: stored data and
/// rendered JSON). Related records the caller may not view are left out.
pub struct Expander<'a> {
    app: &'a RecordService,
    snap: Arc<Snapshot>,
    caller: &'a Caller,
    /// `@request.*` for the related collections' view rules.
    info: RequestInfo,
    cache: HashMap<(CollectionId, String), Option<Record>>,
    /// Back-relation indexes built once per request: (source, field) → target id → record ids.
    back: HashMap<(CollectionId, String), BackIndex>,
    /// Records expanded so far, against `max_expanded`.
    expanded: usize,
    max_expanded: usize,
}

impl<'a> Expander<'a> {
    pub fn new(app: &'a RecordService, caller: &'a Caller) -> Self {
        Self {
            app,
            snap: app.schema.snapshot(),
            caller,
            info: request_info(&RequestInfo::default(), caller, &Map::new()),
            cache: HashMap::new(),
            back: HashMap::new(),
            expanded: 0,
            max_expanded: app.limits.max_expanded_records,
        }
    }

    /// Counts one more expanded record against the request's budget.
    fn spend(&mut self) -> ApiResult<()> {
        self.expanded += 1;
        if self.expanded > self.max_expanded {
            let max = self.max_expanded;
            return Err(ApiError::bad_field(
                MSG_GENERIC,
                "expand",
                FieldError::new(
                    "validation_expand_limit",
                    format!(
                        "The expand needs more than {max} related records; expand fewer \
                         relations or levels, or ask for fewer records per page."
                    ),
                )
                .with_params(json!({ "max": max })),
            ));
        }
        Ok(())
    }

    /// Validates the whole tree against the schema before touching data.
    pub fn validate(&self, col: &Collection, tree: &ExpandTree) -> ApiResult<()> {
        for (name, sub) in &tree.0 {
            let next = match resolve(&self.snap, col, name)? {
                Link::Forward { target, .. } => target,
                Link::Back { source, .. } => source,
            };
            self.validate(&next, sub)?;
        }
        Ok(())
    }

    fn load(&mut self, col: &CollectionId, id: &str) -> ApiResult<Option<Record>> {
        let key = (col.clone(), id.to_string());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let rec = self
            .app
            .store
            .get_record(col, &RecordId::from(id))?
            .map(|r| r.record);
        self.cache.insert(key, rec.clone());
        Ok(rec)
    }

    fn back_refs(
        &mut self,
        source: &Collection,
        field: &str,
        id: &str,
    ) -> ApiResult<Arc<[String]>> {
        let key = (source.id.clone(), field.to_string());
        if !self.back.contains_key(&key) {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for r in self.app.store.scan_records(&source.id) {
                crate::work::check()?;
                let r = r?.record;
                for target in ids_of(r.fields().get(field)) {
                    map.entry(target).or_default().push(r.id().0.clone());
                }
            }
            let map = map.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
            self.back.insert(key.clone(), map);
        }
        Ok(self
            .back
            .get(&key)
            .and_then(|m| m.get(id))
            .cloned()
            .unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn visible(&self, col: &Collection) -> bool {
        check(col, Op::View, self.caller).is_ok()
    }

    /// The target's viewRule for one related record.
    fn may_view(&self, col: &Collection, rec: &RecordData) -> bool {
        allows(
            self.app,
            &self.snap,
            col,
            Op::View,
            rec,
            self.caller,
            &self.info,
        )
    }

    /// Adds `"expand": {…}` to `out` (the rendered form of `rec`).
    pub fn expand(
        &mut self,
        col: &Collection,
        rec: &Record,
        out: &mut Value,
        tree: &ExpandTree,
    ) -> ApiResult<()> {
        let mut expanded = Map::new();
        for (name, sub) in &tree.0 {
            crate::work::check()?;
            match resolve(&self.snap, col, name)? {
                Link::Forward {
                    field,
                    target,
                    multi,
                } => {
                    if !self.visible(&target) {
                        continue;
                    }
                    let mut items = Vec::new();
                    for id in ids_of(rec.fields().get(&field)) {
                        if let Some(rel) = self.load(&target.id, &id)? {
                            if self.may_view(&target, rel.fields()) {
                                self.spend()?;
                                items.push(self.render(&target, &rel, sub)?);
                            }
                        }
                    }
                    if multi {
                        expanded.insert(name.clone(), Value::Array(items));
                    } else if let Some(one) = items.into_iter().next() {
                        expanded.insert(name.clone(), one);
                    }
                }
                Link::Back {
                    source,
                    field,
                    single,
                } => {
                    if !self.visible(&source) {
                        continue;
                    }
                    let mut items = Vec::new();
                    for rel_id in self.back_refs(&source, &field, rec.id().as_str())?.iter() {
                        if items.len() == MAX_BACK_EXPAND {
                            break;
                        }
                        let Some(rel) = self.load(&source.id, rel_id)? else {
                            continue;
                        };
                        if self.may_view(&source, rel.fields()) {
                            self.spend()?;
                            items.push(self.render(&source, &rel, sub)?);
                        }
                    }
                    if single {
                        if let Some(one) = items.into_iter().next() {
                            expanded.insert(name.clone(), one);
                        }
                    } else if !items.is_empty() {
                        expanded.insert(name.clone(), Value::Array(items));
                    }
                }
            }
        }
        if let Value::Object(m) = out {
            m.insert("expand".into(), Value::Object(expanded));
        }
        Ok(())
    }

    fn render(&mut self, col: &Collection, rec: &Record, sub: &ExpandTree) -> ApiResult<Value> {
        let manager = super::shape::shows_email(self.app, col, rec.fields(), self.caller);
        let mut v = render::record_for(col, rec, self.caller, manager);
        if !sub.is_empty() {
            self.expand(col, rec, &mut v, sub)?;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_paths() {
        let t = ExpandTree::parse("author, cats.owner ,cats").expect("parse");
        assert_eq!(t.0.len(), 2);
        assert_eq!(t.0["cats"].0.len(), 1);
    }

    #[test]
    fn rejects_too_deep_and_empty_segments() {
        assert!(ExpandTree::parse("a.b.c.d.e.f.g").is_err());
        assert!(ExpandTree::parse("a..b").is_err());
        assert!(ExpandTree::parse("a.b.c.d.e.f").is_ok());
    }
}

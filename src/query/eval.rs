//! Evaluation of a [`Compiled`] filter against one record: PocketBase's any/all semantics for
//! multi-valued paths, relation hops through the store (cached per environment) and
//! `@request.*` / `@collection.*` values.

use super::compile::{CmpNode, Compiled, Hop, Node, PathSrc, Src};
use super::env::{visible, EvalEnv, EvalError, MAX_COMBINATIONS};
use super::funcs::{geo_distance, strftime};
use super::value::{equals, sql_cmp, LikePattern, Val};
use super::{ast::CmpOp, ast::Func};
use crate::ids::RecordData;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// The values of one operand: `multi` ones are combined with any/all semantics.
struct Vals<'r> {
    items: Vec<Val<'r>>,
    never: bool,
}

impl<'r> Vals<'r> {
    fn one(v: Val<'r>) -> Self {
        Self {
            items: vec![v],
            never: false,
        }
    }
}

fn borrow<'r>(v: &'r Val<'_>) -> Val<'r> {
    match v {
        Val::Null => Val::Null,
        Val::Num(n) => Val::Num(*n),
        Val::Text(t) => Val::Text(Cow::Borrowed(t)),
    }
}

fn record_id(rec: &RecordData) -> &str {
    rec.get("id").and_then(Value::as_str).unwrap_or("")
}

/// The ids a relation value holds (single string or array).
fn ids_of(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl Compiled {
    /// Whether `record` (of the compiled collection) matches.
    pub fn matches(&self, record: &RecordData, env: &EvalEnv<'_>) -> Result<bool, EvalError> {
        if self.groups.is_empty() {
            return Ev { env, bound: &[] }.node(&self.root, record);
        }
        let mut rows = Vec::with_capacity(self.groups.len());
        let mut combos: u64 = 1;
        for g in &self.groups {
            let all = env.collection(g)?;
            combos = combos.saturating_mul(all.len().max(1) as u64);
            rows.push(all);
        }
        if combos > MAX_COMBINATIONS {
            return Err(EvalError::TooExpensive(MAX_COMBINATIONS));
        }
        let mut bound = vec![None; rows.len()];
        self.bind(0, &rows, &mut bound, record, env)
    }

    fn bind(
        &self,
        i: usize,
        rows: &[Arc<Vec<Arc<RecordData>>>],
        bound: &mut Vec<Option<Arc<RecordData>>>,
        record: &RecordData,
        env: &EvalEnv<'_>,
    ) -> Result<bool, EvalError> {
        let Some(group) = rows.get(i) else {
            return Ev { env, bound }.node(&self.root, record);
        };
        if group.is_empty() {
            bound[i] = None;
            return self.bind(i + 1, rows, bound, record, env);
        }
        for r in group.iter() {
            bound[i] = Some(r.clone());
            if self.bind(i + 1, rows, bound, record, env)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// One evaluation: the environment plus the rows bound to aliased `@collection` joins.
struct Ev<'e, 'a> {
    env: &'e EvalEnv<'a>,
    bound: &'e [Option<Arc<RecordData>>],
}

impl<'e> Ev<'e, '_> {
    fn node(&self, n: &Node, rec: &RecordData) -> Result<bool, EvalError> {
        match n {
            Node::And(items) => {
                for i in items {
                    if !self.node(i, rec)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for i in items {
                    if self.node(i, rec)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Node::Cmp(c) => self.cmp(c, rec),
        }
    }

    fn cmp(&self, c: &CmpNode, rec: &RecordData) -> Result<bool, EvalError> {
        let mut l = self.src(&c.left, rec)?;
        let mut r = self.src(&c.right, rec)?;
        if l.never || r.never {
            return Ok(false);
        }
        // An empty set behaves like the NULL row of PocketBase's LEFT JOIN.
        for v in [&mut l, &mut r] {
            if v.items.is_empty() {
                v.items.push(Val::Null);
            }
        }
        let test = |a: &Val<'_>, b: &Val<'_>| compare(c, a, b);
        Ok(if c.any {
            l.items.iter().any(|a| r.items.iter().any(|b| test(a, b)))
        } else {
            l.items.iter().all(|a| r.items.iter().all(|b| test(a, b)))
        })
    }

    fn src<'r>(&self, s: &'r Src, rec: &'r RecordData) -> Result<Vals<'r>, EvalError>
    where
        'e: 'r,
    {
        let req = &self.env.request;
        let text =
            |v: Option<&'r String>| Vals::one(v.map_or(Val::Null, |s| Val::Text(Cow::Borrowed(s))));
        Ok(match s {
            Src::Const(v) => Vals::one(borrow(v)),
            Src::Macro(m) => Vals::one(borrow(self.env.macros.get(*m))),
            Src::Never => Vals {
                items: Vec::new(),
                never: true,
            },
            Src::Path(p) => self.path(p, rec)?,
            Src::Collection {
                group: Some(g),
                path,
                ..
            } => match self.bound.get(*g).cloned().flatten() {
                Some(row) => owned(self.path(path, &row)?),
                None => Vals::one(Val::Null),
            },
            Src::Collection {
                collection,
                group: None,
                path,
            } => {
                let mut items = Vec::new();
                for row in self.env.collection(collection)?.iter() {
                    items.extend(owned(self.path(path, row)?).items);
                }
                Vals {
                    items,
                    never: false,
                }
            }
            Src::Auth(segs, modifier) => self.auth(segs, *modifier)?,
            Src::Body {
                key,
                json,
                modifier,
            } => Vals {
                items: super::read::body(req, rec, key, json, *modifier),
                never: false,
            },
            Src::Query(k) => text(req.query.get(k)),
            Src::Header(k) => text(req.headers.get(k)),
            Src::Method => Vals::one(Val::Text(Cow::Borrowed(&req.method))),
            Src::Context => Vals::one(Val::Text(Cow::Borrowed(&req.context))),
            Src::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(
                        self.src(a, rec)?
                            .items
                            .into_iter()
                            .next()
                            .unwrap_or(Val::Null),
                    );
                }
                let arg = |i: usize| vals.get(i).unwrap_or(&Val::Null);
                Vals::one(match f {
                    Func::Strftime if vals.len() == 1 => {
                        strftime(arg(0), &Val::Text(Cow::Borrowed("now")))
                    }
                    Func::Strftime => strftime(arg(0), arg(1)),
                    Func::GeoDistance => geo_distance(&vals),
                })
            }
        })
    }

    fn auth<'r>(
        &self,
        segs: &[String],
        modifier: Option<super::ast::Modifier>,
    ) -> Result<Vals<'r>, EvalError> {
        let req = &self.env.request;
        let (Some(auth), Some(col)) = (&req.auth, &req.auth_collection) else {
            return Ok(Vals::one(Val::Text(Cow::Borrowed(""))));
        };
        let special = match segs {
            [s] if s == "collectionId" => Some(col.id.to_string()),
            [s] if s == "collectionName" => Some(col.name.clone()),
            _ => None,
        };
        if let Some(v) = special {
            return Ok(Vals::one(Val::Text(Cow::Owned(v))));
        }
        match super::resolve::auth_path(col, self.env.schema, segs, modifier) {
            Some(src) => Ok(owned(self.src(&src, auth)?)),
            None => Ok(Vals::one(Val::Null)),
        }
    }

    fn path<'r>(&self, p: &'r PathSrc, rec: &'r RecordData) -> Result<Vals<'r>, EvalError> {
        let mut items: Vec<Val<'r>> = Vec::new();
        if p.hops.is_empty() {
            super::read::read(rec.get(&p.field), &p.json, p.modifier, &mut items);
            return Ok(Vals {
                items,
                never: false,
            });
        }
        // One entry per joined row; `None` is the NULL row PocketBase's LEFT JOIN yields when a
        // hop finds nothing (no ids, a dangling id, an invisible record, no back-relation).
        // It stays NULL through the later hops and reads as NULL.
        let mut cur: Vec<Option<Arc<RecordData>>> = Vec::new();
        for (i, hop) in p.hops.iter().enumerate() {
            let from: Vec<Option<&RecordData>> = if i == 0 {
                vec![Some(rec)]
            } else {
                cur.iter().map(|r| r.as_deref()).collect()
            };
            let mut next: Vec<Option<Arc<RecordData>>> = Vec::with_capacity(from.len());
            match hop {
                Hop::Forward {
                    field,
                    target,
                    visible: vis,
                } => {
                    for r in &from {
                        let ids = r.map(|r| ids_of(r.get(field))).unwrap_or_default();
                        if ids.is_empty() {
                            next.push(None);
                        }
                        for id in ids {
                            let t = self.env.load(target, id)?;
                            next.push(t.filter(|t| visible(vis, t, self.env)));
                        }
                    }
                }
                Hop::Back {
                    source,
                    field,
                    visible: vis,
                } => {
                    let mut by_id: HashMap<&str, Vec<Arc<RecordData>>> = from
                        .iter()
                        .flatten()
                        .map(|r| (record_id(r), Vec::new()))
                        .collect();
                    let all = self.env.collection(source)?;
                    for r in all.iter() {
                        for id in ids_of(r.get(field)) {
                            if let Some(list) = by_id.get_mut(id) {
                                if visible(vis, r, self.env) {
                                    list.push(r.clone());
                                }
                            }
                        }
                    }
                    for r in &from {
                        match r.and_then(|r| by_id.get(record_id(r))) {
                            Some(list) if !list.is_empty() => {
                                next.extend(list.iter().cloned().map(Some));
                            }
                            _ => next.push(None),
                        }
                    }
                }
            }
            cur = next;
        }
        for r in &cur {
            match r {
                Some(r) => {
                    let mut tmp = Vec::new();
                    super::read::read(r.get(&p.field), &p.json, p.modifier, &mut tmp);
                    if tmp.is_empty() {
                        // `:each` over an empty array: json_each's LEFT JOIN NULL row.
                        items.push(Val::Null);
                    }
                    items.extend(tmp.into_iter().map(|v| -> Val<'r> { v.into_owned() }));
                }
                None => items.push(Val::Null),
            }
        }
        Ok(Vals {
            items,
            never: false,
        })
    }
}

fn owned(v: Vals<'_>) -> Vals<'static> {
    Vals {
        items: v.items.into_iter().map(Val::into_owned).collect(),
        never: v.never,
    }
}

/// One comparison of two scalar values with `c`'s operator (also used by the column cache, so
/// both evaluators share PocketBase's semantics exactly).
pub(super) fn compare(c: &CmpNode, a: &Val<'_>, b: &Val<'_>) -> bool {
    let ord = || sql_cmp(a, b);
    match c.op {
        CmpOp::Eq => equals(a, b, c.strict),
        CmpOp::Neq => !equals(a, b, c.strict),
        CmpOp::Gt => ord() == Some(Ordering::Greater),
        CmpOp::Gte => matches!(ord(), Some(Ordering::Greater | Ordering::Equal)),
        CmpOp::Lt => ord() == Some(Ordering::Less),
        CmpOp::Lte => matches!(ord(), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Like | CmpOp::NotLike => {
            let (Some(text), Some(pat)) = (a.text(), b.text()) else {
                return false;
            };
            let hit = match &c.like {
                Some(p) => p.matches(&text),
                None => LikePattern::from_column(&pat).matches(&text),
            };
            hit == (c.op == CmpOp::Like)
        }
    }
}

impl EvalEnv<'_> {
    /// The values of a source that does not read the filtered record (constants, macros,
    /// `@request.*`), and whether it never matches: what a comparison sees on that side.
    pub(super) fn constant_values(
        &self,
        src: &Src,
    ) -> Result<(Vec<Val<'static>>, bool), EvalError> {
        let empty = RecordData::new();
        let ev = Ev {
            env: self,
            bound: &[],
        };
        let vals = ev.src(src, &empty)?;
        Ok((
            vals.items.into_iter().map(Val::into_owned).collect(),
            vals.never,
        ))
    }

    /// The first value a source yields for `rec` (NULL when it yields none): sort keys.
    pub(super) fn first_value(
        &self,
        src: &Src,
        rec: &RecordData,
    ) -> Result<Val<'static>, EvalError> {
        let ev = Ev {
            env: self,
            bound: &[],
        };
        let vals = ev.src(src, rec)?;
        Ok(vals
            .items
            .into_iter()
            .next()
            .map_or(Val::Null, Val::into_owned))
    }
}

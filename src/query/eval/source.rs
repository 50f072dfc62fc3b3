//! The values of an operand for one record: constants, macros, record paths (relation hops
//! forward and back, through bound join rows), `@request.*`, `@collection.*` and functions.

use super::{borrow, owned, row_of, Ev, Vals};
use crate::ids::RecordData;
use crate::query::ast::Func;
use crate::query::compile::{Hop, PathSrc, Src};
use crate::query::env::{email_visible, visible, EvalError};
use crate::query::funcs::{geo_distance, strftime};
use crate::query::value::Val;
use crate::schema::names;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The `id` field of a record the evaluator holds. Evaluation works on field maps: a
/// back-relation hop joins the source's relation values against this field, as PocketBase's SQL
/// joins on the `id` column; a stored `Record` keeps this field equal to its id.
fn record_id(rec: &RecordData) -> &str {
    rec.get(names::ID).and_then(Value::as_str).unwrap_or("")
}

/// The ids a relation value holds (single string or array).
fn ids_of(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

impl<'e> Ev<'e, '_> {
    /// The values of `s` for `rec`; paths through a bound join group read its bound row only.
    pub(super) fn src<'r>(
        &self,
        s: &'r Src,
        rec: &'r RecordData,
        bound: &[Option<usize>],
    ) -> Result<Vals<'r>, EvalError>
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
                hidden: false,
            },
            Src::Path(p) => self.path(p, Some(rec), bound)?,
            Src::Collection {
                collection,
                group,
                path,
            } => {
                let all = self.env.collection(collection)?;
                // An empty collection joins as one NULL row.
                let rows: Vec<Option<&RecordData>> = match row_of(bound, Some(*group)) {
                    _ if all.is_empty() => vec![None],
                    Some(k) => vec![all.get(k).map(|r| &**r)],
                    None => all.iter().map(|r| Some(&**r)).collect(),
                };
                let mut all_rows = Vals::of(Vec::new());
                for row in rows {
                    let v = owned(self.path(path, row, bound)?);
                    all_rows.items.extend(v.items);
                    all_rows.hidden |= v.hidden;
                }
                all_rows
            }
            Src::Auth(segs, modifier) => self.auth(segs, *modifier)?,
            Src::Body {
                key,
                json,
                modifier,
            } => Vals::of(crate::query::read::body(req, rec, key, json, *modifier)),
            Src::Query(k) => text(req.query.get(k)),
            Src::Header(k) => text(req.headers.get(k)),
            Src::Method => Vals::one(Val::Text(Cow::Borrowed(&req.method))),
            Src::Context => Vals::one(Val::Text(Cow::Borrowed(&req.context))),
            Src::Call(f, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    let v = self.src(a, rec, bound)?;
                    if v.hidden && v.items.is_empty() {
                        // A function of a withheld value is withheld too.
                        return Ok(Vals {
                            hidden: true,
                            ..Vals::of(Vec::new())
                        });
                    }
                    vals.push(v.items.into_iter().next().unwrap_or(Val::Null));
                }
                let arg = |i: usize| vals.get(i).unwrap_or(&Val::Null);
                let now = self.env.macros.now();
                Vals::one(match f {
                    Func::Strftime if vals.len() == 1 => {
                        strftime(arg(0), &Val::Text(Cow::Borrowed("now")), now)
                    }
                    Func::Strftime => strftime(arg(0), arg(1), now),
                    Func::GeoDistance => geo_distance(&vals),
                })
            }
        })
    }

    fn auth<'r>(
        &self,
        segs: &[String],
        modifier: Option<crate::query::ast::Modifier>,
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
        match crate::query::resolve::auth_path(col, self.env.schema, segs, modifier) {
            Some(src) => Ok(owned(self.src(&src, auth.fields(), &[])?)),
            None => Ok(Vals::one(Val::Null)),
        }
    }

    /// The values of path `p` from `start` (`None`: a NULL row). A hop through a bound join
    /// group keeps the bound one of each row's related records only.
    fn path<'r>(
        &self,
        p: &'r PathSrc,
        start: Option<&'r RecordData>,
        bound: &[Option<usize>],
    ) -> Result<Vals<'r>, EvalError> {
        let each = row_of(bound, p.each);
        let mut items: Vec<Val<'r>> = Vec::new();
        let mut hidden = false;
        let withheld = |rec: &RecordData| {
            p.email_of
                .as_ref()
                .is_some_and(|col| !email_visible(col, rec, self.env))
        };
        if p.hops.is_empty() {
            match start {
                Some(rec) if withheld(rec) => hidden = true,
                Some(rec) => {
                    crate::query::read::read(rec.get(&p.field), &p.json, p.modifier, &mut items);
                    if let Some(k) = each {
                        items = vec![items.into_iter().nth(k).unwrap_or(Val::Null)];
                    }
                }
                None => items.push(Val::Null),
            }
            return Ok(Vals {
                items,
                never: false,
                hidden,
            });
        }
        // One entry per joined row; `None` is the NULL row PocketBase's LEFT JOIN yields when a
        // hop finds nothing (no ids, a dangling id, an invisible record, no back-relation).
        // It stays NULL through the later hops and reads as NULL.
        let mut cur: Vec<Option<Arc<RecordData>>> = Vec::new();
        for (i, hop) in p.hops.iter().enumerate() {
            let from: Vec<Option<&RecordData>> = if i == 0 {
                vec![start]
            } else {
                cur.iter().map(|r| r.as_deref()).collect()
            };
            let row = row_of(bound, p.nodes.get(i).copied().flatten());
            let mut next: Vec<Option<Arc<RecordData>>> = Vec::with_capacity(from.len());
            match hop {
                Hop::Forward {
                    field,
                    target,
                    visible: vis,
                } => {
                    for r in &from {
                        let mut ids = r.map(|r| ids_of(r.get(field))).unwrap_or_default();
                        if let Some(k) = row {
                            ids = ids.get(k).copied().into_iter().collect();
                        }
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
                            Some(list) if !list.is_empty() => match row {
                                Some(k) => next.push(list.get(k).cloned()),
                                None => next.extend(list.iter().cloned().map(Some)),
                            },
                            _ => next.push(None),
                        }
                    }
                }
            }
            cur = next;
        }
        for r in &cur {
            match r {
                Some(r) if withheld(r) => hidden = true,
                Some(r) => {
                    let mut tmp = Vec::new();
                    crate::query::read::read(r.get(&p.field), &p.json, p.modifier, &mut tmp);
                    if let Some(k) = each {
                        tmp = tmp.into_iter().nth(k).into_iter().collect();
                    }
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
            hidden,
        })
    }
}

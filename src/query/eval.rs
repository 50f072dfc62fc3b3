//! Evaluation of a [`Compiled`] filter against one record: PocketBase's any/all semantics for
//! multi-valued paths, relation hops through the store (cached per environment) and
//! `@request.*` / `@collection.*` values.

use super::compile::{used_groups, CmpNode, Compiled, Hop, JoinGroup, Node, PathSrc, Src};
use super::env::{email_visible, visible, EvalEnv, EvalError, MAX_COMBINATIONS};
use super::funcs::{geo_distance, strftime};
use super::value::{equals, sql_cmp_as, LikePattern, Val};
use super::{ast::CmpOp, ast::Func};
use crate::ids::RecordData;
use serde_json::Value;
use std::borrow::Cow;
use std::cell::Cell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// The values of one operand: `multi` ones are combined with any/all semantics.
struct Vals<'r> {
    items: Vec<Val<'r>>,
    never: bool,
    /// Some rows' values were withheld (emails the caller cannot see): those rows match
    /// nothing, so only a `?` comparison can still hold, through the remaining values.
    hidden: bool,
}

impl<'r> Vals<'r> {
    fn one(v: Val<'r>) -> Self {
        Self::of(vec![v])
    }

    fn of(items: Vec<Val<'r>>) -> Self {
        Self {
            items,
            never: false,
            hidden: false,
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
        let ev = Ev {
            env,
            groups: &self.groups,
            shares: self.shares,
            tried: Cell::new(0),
        };
        let mut bound = if self.shares {
            vec![None; self.groups.len()]
        } else {
            Vec::new()
        };
        ev.node(&self.root, record, &mut bound)
    }
}

/// The row each join group is bound to (its index among the rows of the parent's row), `None`
/// for a free group: a `?` comparison then looks for any row.
type Bound = Vec<Option<usize>>;

fn row_of(bound: &[Option<usize>], group: Option<usize>) -> Option<usize> {
    group.and_then(|g| bound.get(g).copied().flatten())
}

/// One evaluation: the environment plus the filter's join groups.
struct Ev<'e, 'a> {
    env: &'e EvalEnv<'a>,
    groups: &'e [JoinGroup],
    /// Whether some `&&` binds join rows (else every `&&` is a plain conjunction).
    shares: bool,
    /// Row combinations tried for this record.
    tried: Cell<u64>,
}

impl<'e> Ev<'e, '_> {
    fn node(&self, n: &Node, rec: &RecordData, bound: &mut Bound) -> Result<bool, EvalError> {
        match n {
            Node::And(items) if self.shares => self.and(items, rec, bound),
            Node::And(items) => {
                for i in items {
                    if !self.node(i, rec, bound)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Node::Or(items) => {
                for i in items {
                    if self.node(i, rec, bound)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            // Both sides of a `?` comparison reading the same join compare within one row.
            Node::Cmp(c)
                if c.any
                    && c.self_join
                        .iter()
                        .any(|g| row_of(bound, Some(*g)).is_none()) =>
            {
                let free: Vec<usize> = c
                    .self_join
                    .iter()
                    .copied()
                    .filter(|g| row_of(bound, Some(*g)).is_none())
                    .collect();
                self.exists(&free, &[n], rec, bound)
            }
            // Without `?` a comparison holds for every row, whatever row is bound.
            Node::Cmp(c) if c.any => self.cmp(c, rec, bound),
            Node::Cmp(c) => self.cmp(c, rec, &[]),
        }
    }

    /// A conjunction: operands whose `?` comparisons read the same free join group must hold
    /// for one shared row of it (PocketBase's joined row), so such operands are evaluated once
    /// per combination of rows of the groups they share; the others once.
    fn and(&self, items: &[Node], rec: &RecordData, bound: &mut Bound) -> Result<bool, EvalError> {
        // Union-find over the operands, linked by the free groups they share.
        let mut link: Vec<usize> = (0..items.len()).collect();
        fn root(link: &[usize], mut i: usize) -> usize {
            while let Some(&up) = link.get(i).filter(|&&up| up != i) {
                i = up;
            }
            i
        }
        let mut owner: HashMap<usize, usize> = HashMap::new();
        let mut shared: Vec<usize> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut mine = Vec::new();
            used_groups(item, &mut mine);
            mine.retain(|g| row_of(bound, Some(*g)).is_none());
            mine.sort_unstable();
            mine.dedup();
            for g in mine {
                match owner.get(&g) {
                    Some(&o) => {
                        let (a, b) = (root(&link, o), root(&link, i));
                        if let Some(l) = link.get_mut(b) {
                            *l = a;
                        }
                        if !shared.contains(&g) {
                            shared.push(g);
                        }
                    }
                    None => {
                        owner.insert(g, i);
                    }
                }
            }
        }
        if shared.is_empty() {
            for i in items {
                if !self.node(i, rec, bound)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        // Parents are registered before their children: ascending ids bind parents first.
        shared.sort_unstable();
        let comp = |i: usize| -> Option<usize> {
            let r = root(&link, i);
            shared
                .iter()
                .any(|g| owner.get(g).is_some_and(|&o| root(&link, o) == r))
                .then_some(r)
        };
        // Operands that share nothing first: they are cheaper and may settle the result.
        for (i, item) in items.iter().enumerate() {
            if comp(i).is_none() && !self.node(item, rec, bound)? {
                return Ok(false);
            }
        }
        let mut done: Vec<usize> = Vec::new();
        for i in 0..items.len() {
            let Some(r) = comp(i) else { continue };
            if done.contains(&r) {
                continue;
            }
            done.push(r);
            let members: Vec<&Node> = items
                .iter()
                .enumerate()
                .filter(|(j, _)| comp(*j) == Some(r))
                .map(|(_, n)| n)
                .collect();
            let groups: Vec<usize> = shared
                .iter()
                .copied()
                .filter(|g| owner.get(g).is_some_and(|&o| root(&link, o) == r))
                .collect();
            // Refuse up front when the groups whose rows do not depend on each other already
            // need too many combinations; nested ones are counted while enumerating.
            let mut combos: u64 = 1;
            for &g in &groups {
                let Some(group) = self.groups.get(g) else {
                    continue;
                };
                if group.parent.is_some_and(|p| groups.contains(&p)) {
                    continue;
                }
                let rows = self.src(&group.rows, rec, bound)?.items.len().max(1);
                combos = combos.saturating_mul(rows as u64);
                if combos > MAX_COMBINATIONS {
                    return Err(EvalError::TooExpensive(MAX_COMBINATIONS));
                }
            }
            if !self.exists(&groups, &members, rec, bound)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether some binding of `groups` (in order, each to one of its rows) makes every node of
    /// `members` true.
    fn exists(
        &self,
        groups: &[usize],
        members: &[&Node],
        rec: &RecordData,
        bound: &mut Bound,
    ) -> Result<bool, EvalError> {
        let Some((&g, rest)) = groups.split_first() else {
            let tried = self.tried.get() + 1;
            self.tried.set(tried);
            if tried > MAX_COMBINATIONS {
                return Err(EvalError::TooExpensive(MAX_COMBINATIONS));
            }
            for n in members {
                if !self.node(n, rec, bound)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        };
        let Some(group) = self.groups.get(g) else {
            return self.exists(rest, members, rec, bound);
        };
        // The rows of the group under the bound parent rows (at least the NULL row).
        let rows = self.src(&group.rows, rec, bound)?.items.len().max(1);
        let mut hit = false;
        for k in 0..rows {
            if let Some(b) = bound.get_mut(g) {
                *b = Some(k);
            }
            if self.exists(rest, members, rec, bound)? {
                hit = true;
                break;
            }
        }
        if let Some(b) = bound.get_mut(g) {
            *b = None;
        }
        Ok(hit)
    }

    fn cmp(
        &self,
        c: &CmpNode,
        rec: &RecordData,
        bound: &[Option<usize>],
    ) -> Result<bool, EvalError> {
        let mut l = self.src(&c.left, rec, bound)?;
        let mut r = self.src(&c.right, rec, bound)?;
        if l.never || r.never {
            return Ok(false);
        }
        // A withheld value matches nothing (PocketBase ANDs `emailVisibility = TRUE` to the
        // comparison): without `?` every row must match, and with it some visible row must.
        if (l.hidden || r.hidden) && (!c.any || l.items.is_empty() || r.items.is_empty()) {
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

    /// The values of `s` for `rec`; paths through a bound join group read its bound row only.
    fn src<'r>(
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
            } => Vals::of(super::read::body(req, rec, key, json, *modifier)),
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
            Some(src) => Ok(owned(self.src(&src, auth, &[])?)),
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
                    super::read::read(rec.get(&p.field), &p.json, p.modifier, &mut items);
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
                    super::read::read(r.get(&p.field), &p.json, p.modifier, &mut tmp);
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

fn owned(v: Vals<'_>) -> Vals<'static> {
    Vals {
        items: v.items.into_iter().map(Val::into_owned).collect(),
        never: v.never,
        hidden: v.hidden,
    }
}

/// One comparison of two scalar values with `c`'s operator (also used by the column cache, so
/// both evaluators share PocketBase's semantics exactly).
pub(super) fn compare(c: &CmpNode, a: &Val<'_>, b: &Val<'_>) -> bool {
    // A JSON operand against a literal: neither side has affinity (SQLite's json_extract).
    let affinity =
        !(c.strict && (matches!(c.left, Src::Const(_)) || matches!(c.right, Src::Const(_))));
    let ord = || sql_cmp_as(a, b, affinity);
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
            groups: &[],
            shares: false,
            tried: Cell::new(0),
        };
        let vals = ev.src(src, &empty, &[])?;
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
            groups: &[],
            shares: false,
            tried: Cell::new(0),
        };
        let vals = ev.src(src, rec, &[])?;
        Ok(vals
            .items
            .into_iter()
            .next()
            .map_or(Val::Null, Val::into_owned))
    }
}

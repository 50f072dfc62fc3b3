//! Name resolution: turns an [`Expr`] into a [`Compiled`] filter bound to one collection of one
//! schema snapshot. Unknown names, hidden fields and superuser-only syntax fail here, once, so
//! evaluation never has to.

use super::ast::{CmpOp, Expr, Func, Ident, Macro, Modifier, Operand, Root};
use super::value::{LikePattern, Val};
use super::{Forbidden, Limits, ParseError, QueryError};
use crate::ids::CollectionId;
use crate::schema::{Collection, Snapshot};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// Whether the filter comes from a client (`?filter=`) or is a collection rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A client filter: non-superusers may not use `@request`/`@collection` or hidden fields, and
    /// their relation hops obey the target's listRule.
    ClientFilter,
    /// A collection rule written by a superuser: everything is allowed.
    Rule,
}

/// What compilation needs to know.
pub struct CompileCtx<'a> {
    pub collection: &'a Arc<Collection>,
    pub schema: &'a Snapshot,
    pub superuser: bool,
    pub mode: Mode,
    pub limits: Limits,
}

impl<'a> CompileCtx<'a> {
    /// A client filter context with default limits.
    pub fn filter(collection: &'a Arc<Collection>, schema: &'a Snapshot, superuser: bool) -> Self {
        Self {
            collection,
            schema,
            superuser,
            mode: Mode::ClientFilter,
            limits: Limits::default(),
        }
    }

    pub(super) fn restricted(&self) -> bool {
        self.mode == Mode::ClientFilter && !self.superuser
    }
}

/// A filter resolved against the schema, ready to evaluate against many records.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(super) root: Node,
    /// The filter's multi-row joins, by group id.
    pub(super) groups: Vec<JoinGroup>,
    /// Whether some `&&` has two operands whose `?` comparisons read the same join, so
    /// evaluation has to bind that join to one row at a time.
    pub(super) shares: bool,
    /// The canonical source text.
    pub(super) source: String,
}

impl fmt::Display for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// One multi-row join of a filter: a multi relation or back-relation hop, `:each` over a multi
/// field, or an `@collection` reference. PocketBase joins each path prefix once per query (one
/// SQL alias), and its WHERE clause sees one joined row at a time: every `?` comparison of one
/// `&&` that reads the join must hold for the SAME row (`cats.name ?= 'a' && cats.name ?= 'b'`
/// needs one category named both). Comparisons without `?` hold for every row anyway
/// (PocketBase adds a `NOT EXISTS` over all rows), so only `?` comparisons bind rows.
#[derive(Debug, Clone)]
pub(super) struct JoinGroup {
    /// What identifies the join: its path prefix (`cats`, `posts_via_author.cats`,
    /// `@collection.x:a`); `cats:each` and `cats.name` share the join of `cats`.
    pub key: String,
    /// The join this one hangs off: its rows are those of the parent's current row.
    pub parent: Option<usize>,
    /// Yields one value per row of the join (evaluation counts the rows through it).
    pub rows: Src,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Cmp(Box<CmpNode>),
}

#[derive(Debug, Clone)]
pub(super) struct CmpNode {
    pub left: Src,
    pub op: CmpOp,
    pub any: bool,
    pub right: Src,
    /// A JSON operand: `=` uses `IS` semantics instead of coalescing null to `''`.
    pub strict: bool,
    /// The precompiled pattern when the right side of `~`/`!~` is a literal.
    pub like: Option<LikePattern>,
    /// `field = literal` on a plain top-level field, as the index values it can match.
    pub eq: Option<super::plan::EqKey>,
    /// The join groups whose current row a `?` comparison reads (sorted, with their parents);
    /// empty without `?`: such a comparison reads every row.
    pub binds: Vec<usize>,
    /// The groups of `binds` read by BOTH sides (`cats.name ?!~ cats.name`): PocketBase compares
    /// the two sides within one joined row, so evaluation binds these before comparing.
    pub self_join: Vec<usize>,
}

/// Where a compared value comes from.
#[derive(Debug, Clone)]
pub(super) enum Src {
    Const(Val<'static>),
    Macro(Macro),
    /// A path from the filtered record.
    Path(PathSrc),
    /// `@collection.<name>[:alias]…`: `group` is the join of the collection's rows.
    Collection {
        collection: CollectionId,
        group: usize,
        path: PathSrc,
    },
    /// `@request.auth.<path>`, resolved against the caller's collection at evaluation.
    Auth(Vec<String>, Option<Modifier>),
    /// `@request.body.<key>[.json…]`.
    Body {
        key: String,
        json: Vec<String>,
        modifier: Option<Modifier>,
    },
    Query(String),
    Header(String),
    Method,
    Context,
    Call(Func, Vec<Src>),
    /// Something PocketBase accepts but never matches (`meta.arr:length`): every comparison false.
    Never,
}

/// Who may see the records a hop reaches.
#[derive(Debug, Clone)]
pub(super) enum Visibility {
    All,
    Nobody,
    /// The target's listRule expression; checked by [`super::eval`]'s `join_rule_allows` hook.
    Rule(Arc<Collection>),
}

/// One step from a record to related records.
#[derive(Debug, Clone)]
pub(super) enum Hop {
    /// The relation `field` pointing into `target`.
    Forward {
        field: String,
        target: CollectionId,
        visible: Visibility,
    },
    /// Records of `source` whose relation `field` contains the current id.
    Back {
        source: CollectionId,
        field: String,
        visible: Visibility,
    },
}

/// A resolved field path.
#[derive(Debug, Clone)]
pub(super) struct PathSrc {
    pub hops: Vec<Hop>,
    /// The join group of each hop that can reach several records (parallel to `hops`).
    pub nodes: Vec<Option<usize>>,
    /// The join group of `:each` on a multi field.
    pub each: Option<usize>,
    pub field: String,
    /// Segments into a json field.
    pub json: Vec<String>,
    pub modifier: Option<Modifier>,
    /// Whether the path can yield several values (multi relation, back-relation, `:each`).
    pub multi: bool,
    /// A json field: strict null semantics.
    pub is_json: bool,
    /// `email` of this auth collection read by a non-superuser client filter: a record whose
    /// email the caller cannot see yields no value and no comparison on it matches
    /// ([`super::env::email_visible`]).
    pub email_of: Option<CollectionId>,
}

/// Compiles `expr` for `ctx`.
pub fn compile(expr: &Expr, ctx: &CompileCtx<'_>) -> Result<Compiled, QueryError> {
    let mut c = Compiler {
        ctx,
        joins: 0,
        groups: Vec::new(),
    };
    let root = c.expr(expr)?;
    Ok(Compiled {
        shares: shares(&root),
        root,
        groups: c.groups,
        source: expr.to_string(),
    })
}

/// The join groups the `?` comparisons of `n` read, appended to `out` (unsorted, repeated).
pub(super) fn used_groups(n: &Node, out: &mut Vec<usize>) {
    match n {
        Node::Cmp(c) => out.extend_from_slice(&c.binds),
        Node::And(items) | Node::Or(items) => items.iter().for_each(|i| used_groups(i, out)),
    }
}

/// Whether some `&&` of `n` has two operands reading the same join group with `?`.
pub(super) fn shares(n: &Node) -> bool {
    match n {
        Node::Cmp(c) => !c.self_join.is_empty(),
        Node::Or(items) => items.iter().any(shares),
        Node::And(items) => {
            let mut seen: Vec<usize> = Vec::new();
            for i in items {
                let mut mine = Vec::new();
                used_groups(i, &mut mine);
                mine.sort_unstable();
                mine.dedup();
                if mine.iter().any(|g| seen.contains(g)) {
                    return true;
                }
                seen.extend(mine);
            }
            items.iter().any(shares)
        }
    }
}

/// The join groups `s` reads (with their parents: a path lists every join along it).
fn src_groups(s: &Src, out: &mut Vec<usize>) {
    let path = |p: &PathSrc, out: &mut Vec<usize>| {
        out.extend(p.nodes.iter().flatten());
        out.extend(p.each);
    };
    match s {
        Src::Path(p) => path(p, out),
        Src::Collection { group, path: p, .. } => {
            out.push(*group);
            path(p, out);
        }
        Src::Call(_, args) => args.iter().for_each(|a| src_groups(a, out)),
        _ => {}
    }
}

/// Appends the join groups of `other` to `groups`, sharing those with the same key (PocketBase
/// resolves a list rule and the client filter with one resolver, so they share joins). Returns
/// the new id of each group of `other`.
pub(super) fn merge_groups(groups: &mut Vec<JoinGroup>, other: &[JoinGroup]) -> Vec<usize> {
    let mut map: Vec<usize> = Vec::with_capacity(other.len());
    for g in other {
        if let Some(j) = groups.iter().position(|x| x.key == g.key) {
            map.push(j);
            continue;
        }
        let mut g = g.clone();
        // A parent always precedes its children, so it is already mapped.
        g.parent = g.parent.map(|p| map.get(p).copied().unwrap_or(p));
        remap_src(&mut g.rows, &map);
        groups.push(g);
        map.push(groups.len() - 1);
    }
    map
}

fn remap_src(s: &mut Src, map: &[usize]) {
    let id = |g: usize| map.get(g).copied().unwrap_or(g);
    let path = |p: &mut PathSrc| {
        p.nodes.iter_mut().flatten().for_each(|g| *g = id(*g));
        p.each = p.each.map(id);
    };
    match s {
        Src::Path(p) => path(p),
        Src::Collection { group, path: p, .. } => {
            *group = id(*group);
            path(p);
        }
        Src::Call(_, args) => args.iter_mut().for_each(|a| remap_src(a, map)),
        _ => {}
    }
}

/// Renumbers the join groups of `n` through `map` (from [`merge_groups`]).
pub(super) fn remap_groups(n: &mut Node, map: &[usize]) {
    match n {
        Node::And(v) | Node::Or(v) => v.iter_mut().for_each(|c| remap_groups(c, map)),
        Node::Cmp(c) => {
            remap_src(&mut c.left, map);
            remap_src(&mut c.right, map);
            for g in &mut c.binds {
                *g = map.get(*g).copied().unwrap_or(*g);
            }
            c.binds.sort_unstable();
            c.binds.dedup();
            for g in &mut c.self_join {
                *g = map.get(*g).copied().unwrap_or(*g);
            }
            c.self_join.sort_unstable();
            c.self_join.dedup();
        }
    }
}

pub(super) struct Compiler<'c, 'a> {
    pub(super) ctx: &'c CompileCtx<'a>,
    pub(super) joins: usize,
    /// The multi-row joins registered so far (see [`JoinGroup`]).
    pub(super) groups: Vec<JoinGroup>,
}

pub(super) fn err(pos: usize, message: String) -> QueryError {
    QueryError::Invalid(ParseError::new(pos, message))
}

impl Compiler<'_, '_> {
    fn expr(&mut self, e: &Expr) -> Result<Node, QueryError> {
        Ok(match e {
            Expr::And(items) => Node::And(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(items) => Node::Or(
                items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Cmp(c) => {
                let left = self.operand(&c.left)?;
                let right = self.operand(&c.right)?;
                let strict = super::resolve::is_json(&left) || super::resolve::is_json(&right);
                let like = match (&c.op, &right) {
                    (CmpOp::Like | CmpOp::NotLike, Src::Const(v)) => {
                        Some(LikePattern::from_literal(&v.text().unwrap_or_default()))
                    }
                    _ => None,
                };
                let eq = match c.op {
                    CmpOp::Eq => super::plan::eq_key(self.ctx.collection, &left, &right),
                    _ => None,
                };
                let mut binds = Vec::new();
                let mut self_join = Vec::new();
                if c.any {
                    src_groups(&left, &mut binds);
                    let mut right_groups = Vec::new();
                    src_groups(&right, &mut right_groups);
                    self_join = binds
                        .iter()
                        .copied()
                        .filter(|g| right_groups.contains(g))
                        .collect();
                    self_join.sort_unstable();
                    self_join.dedup();
                    binds.extend(right_groups);
                    binds.sort_unstable();
                    binds.dedup();
                }
                Node::Cmp(Box::new(CmpNode {
                    left,
                    op: c.op,
                    any: c.any,
                    right,
                    strict,
                    like,
                    eq,
                    binds,
                    self_join,
                }))
            }
        })
    }

    fn operand(&mut self, o: &Operand) -> Result<Src, QueryError> {
        Ok(match o {
            Operand::Null(_) => Src::Const(Val::Null),
            Operand::Bool(b, _) => Src::Const(Val::Num(f64::from(u8::from(*b)))),
            Operand::Number(n, _) => Src::Const(Val::Num(*n)),
            Operand::Str(s, _) => Src::Const(Val::Text(Cow::Owned(s.clone()))),
            Operand::Macro(m, _) => Src::Macro(*m),
            Operand::Call(call) => Src::Call(
                call.func,
                call.args
                    .iter()
                    .map(|a| self.operand(a))
                    .collect::<Result<_, _>>()?,
            ),
            Operand::Ident(id) => self.ident(id)?,
        })
    }

    /// Resolves one identifier (used by `sort` keys).
    pub(super) fn ident_src(&mut self, id: &Ident) -> Result<Src, QueryError> {
        self.ident(id)
    }

    fn ident(&mut self, id: &Ident) -> Result<Src, QueryError> {
        let pos = id.pos.0;
        let request = !matches!(id.root, Root::Record | Root::Collection { .. });
        if request && self.ctx.restricted() {
            return Err(QueryError::Forbidden(Forbidden::Request));
        }
        if request
            && matches!(id.modifier, Some(Modifier::Isset | Modifier::Changed))
            && id.root != Root::Body
        {
            return Err(err(
                pos,
                format!("\"{id}\": :isset and :changed apply to @request.body.* only (at {pos})"),
            ));
        }
        let first = id.path.first().cloned().unwrap_or_default();
        Ok(match &id.root {
            Root::Record => {
                let col = self.ctx.collection.clone();
                // A client filter's hops obey listRules: its joins never merge with a rule's.
                let key = if self.ctx.restricted() { "~" } else { "" };
                let base = super::resolve::Base::record(key);
                self.path_in(&col, &id.path, id.modifier, pos, &base)?
            }
            Root::Collection { name, alias } => {
                if self.ctx.restricted() {
                    return Err(QueryError::Forbidden(Forbidden::Collection));
                }
                let Some(col) = self.ctx.schema.get(name).cloned() else {
                    return Err(err(pos, format!("unknown collection \"{name}\" at {pos}")));
                };
                // Unaliased references share one join, aliased ones one join per alias.
                let key = match alias {
                    None => format!("@collection.{}", name.to_lowercase()),
                    Some(a) => format!("@collection.{}:{a}", name.to_lowercase()),
                };
                let known = self.groups.iter().position(|g| g.key == key);
                if alias.is_none() || known.is_none() {
                    self.join(pos)?;
                }
                let group = match known {
                    Some(g) => g,
                    None => {
                        let g = self.groups.len();
                        let rows = Src::Collection {
                            collection: col.id.clone(),
                            group: g,
                            path: PathSrc::row_marker(),
                        };
                        self.groups.push(JoinGroup {
                            key: key.clone(),
                            parent: None,
                            rows,
                        });
                        g
                    }
                };
                let base = super::resolve::Base::collection(key, &col.id, group);
                match self.path_in(&col, &id.path, id.modifier, pos, &base)? {
                    // Every row of the collection is a candidate: a multi-valued path.
                    Src::Path(mut path) => {
                        path.multi = true;
                        Src::Collection {
                            collection: col.id.clone(),
                            group,
                            path,
                        }
                    }
                    other => other,
                }
            }
            Root::Auth => Src::Auth(id.path.clone(), id.modifier),
            Root::Body => Src::Body {
                key: first,
                json: id.path[1..].to_vec(),
                modifier: id.modifier,
            },
            Root::Query | Root::Headers => {
                if id.path.len() != 1 || id.modifier.is_some() {
                    return Err(err(
                        pos,
                        format!("\"{id}\" takes exactly one name (at {pos})"),
                    ));
                }
                if id.root == Root::Query {
                    Src::Query(first)
                } else {
                    Src::Header(first.to_ascii_lowercase().replace('-', "_"))
                }
            }
            Root::Method => Src::Method,
            Root::Context => Src::Context,
        })
    }

    pub(super) fn join(&mut self, pos: usize) -> Result<(), QueryError> {
        self.joins += 1;
        if self.joins > self.ctx.limits.max_joins {
            return Err(err(
                pos,
                format!(
                    "the filter uses more than {} relation joins (at {pos})",
                    self.ctx.limits.max_joins
                ),
            ));
        }
        Ok(())
    }
}

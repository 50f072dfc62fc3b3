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
    /// Collections of the aliased `@collection.<name>:<alias>` joins, by group index.
    pub(super) groups: Vec<CollectionId>,
    /// The canonical source text.
    pub(super) source: String,
}

impl fmt::Display for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
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
}

/// Where a compared value comes from.
#[derive(Debug, Clone)]
pub(super) enum Src {
    Const(Val<'static>),
    Macro(Macro),
    /// A path from the filtered record.
    Path(PathSrc),
    /// `@collection.<name>…`; `group` is set for aliased joins (one bound row per alias).
    Collection {
        collection: CollectionId,
        group: Option<usize>,
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
    pub field: String,
    /// Segments into a json field.
    pub json: Vec<String>,
    pub modifier: Option<Modifier>,
    /// Whether the path can yield several values (multi relation, back-relation, `:each`).
    pub multi: bool,
    /// A json field: strict null semantics.
    pub is_json: bool,
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
        root,
        groups: c.groups.into_iter().map(|(_, _, id)| id).collect(),
        source: expr.to_string(),
    })
}

pub(super) struct Compiler<'c, 'a> {
    pub(super) ctx: &'c CompileCtx<'a>,
    pub(super) joins: usize,
    /// (collection name lower-cased, alias, id) of each aliased join.
    pub(super) groups: Vec<(String, String, CollectionId)>,
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
                Node::Cmp(Box::new(CmpNode {
                    left,
                    op: c.op,
                    any: c.any,
                    right,
                    strict,
                    like,
                    eq,
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
                self.path(&col, &id.path, id.modifier, pos)?
            }
            Root::Collection { name, alias } => {
                if self.ctx.restricted() {
                    return Err(QueryError::Forbidden(Forbidden::Collection));
                }
                let Some(col) = self.ctx.schema.get(name).cloned() else {
                    return Err(err(pos, format!("unknown collection \"{name}\" at {pos}")));
                };
                let group = match alias {
                    None => {
                        self.join(pos)?;
                        None
                    }
                    Some(a) => Some(self.group(name, a, &col.id, pos)?),
                };
                match self.path(&col, &id.path, id.modifier, pos)? {
                    Src::Path(mut path) => {
                        path.multi |= group.is_none();
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

    fn group(
        &mut self,
        name: &str,
        alias: &str,
        id: &CollectionId,
        pos: usize,
    ) -> Result<usize, QueryError> {
        let key = (name.to_lowercase(), alias.to_string());
        if let Some(i) = self
            .groups
            .iter()
            .position(|(n, a, _)| (n, a) == (&key.0, &key.1))
        {
            return Ok(i);
        }
        self.join(pos)?;
        self.groups.push((key.0, key.1, id.clone()));
        Ok(self.groups.len() - 1)
    }
}

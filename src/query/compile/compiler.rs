//! The compiler: resolves each comparison's operands (identifiers, literals, macros, calls)
//! into value sources, registering joins and their groups under the filter's limits.

use super::groups::src_groups;
use super::tree::{CmpNode, JoinGroup, Node, PathSrc, Src};
use super::CompileCtx;
use crate::query::ast::{CmpOp, Expr, Ident, Modifier, Operand, Root};
use crate::query::value::{LikePattern, Val};
use crate::query::{Forbidden, ParseError, QueryError};
use std::borrow::Cow;

pub(in crate::query) struct Compiler<'c, 'a> {
    pub(in crate::query) ctx: &'c CompileCtx<'a>,
    pub(in crate::query) joins: usize,
    /// The multi-row joins registered so far (see [`JoinGroup`]).
    pub(in crate::query) groups: Vec<JoinGroup>,
}

pub(in crate::query) fn err(pos: usize, message: String) -> QueryError {
    QueryError::Invalid(ParseError::new(pos, message))
}

impl Compiler<'_, '_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Result<Node, QueryError> {
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
                let strict =
                    crate::query::resolve::is_json(&left) || crate::query::resolve::is_json(&right);
                let like = match (&c.op, &right) {
                    (CmpOp::Like | CmpOp::NotLike, Src::Const(v)) => {
                        Some(LikePattern::from_literal(&v.text().unwrap_or_default()))
                    }
                    _ => None,
                };
                let eq = match c.op {
                    CmpOp::Eq => crate::query::plan::eq_key(self.ctx.collection, &left, &right),
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
    pub(in crate::query) fn ident_src(&mut self, id: &Ident) -> Result<Src, QueryError> {
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
                let base = crate::query::resolve::Base::record(key);
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
                let base = crate::query::resolve::Base::collection(key, &col.id, group);
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

    pub(in crate::query) fn join(&mut self, pos: usize) -> Result<(), QueryError> {
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

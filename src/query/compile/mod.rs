//! Name resolution: turns an [`Expr`] into a [`Compiled`] filter bound to one collection of one
//! schema snapshot. Unknown names, hidden fields and superuser-only syntax fail here, once, so
//! evaluation never has to.
//!
//! - `tree`: the compiled filter's nodes and value sources.
//! - `compiler`: the walk from an [`Expr`] to that tree (paths are resolved in `query::resolve`).
//! - `groups`: bookkeeping of multi-row join groups (which a node reads, merging two filters').

mod compiler;
mod groups;
mod tree;

pub(super) use compiler::{err, Compiler};
pub(super) use groups::{merge_groups, remap_groups, shares, used_groups};
pub(super) use tree::{CmpNode, Hop, JoinGroup, Node, PathSrc, Src, Visibility};

use super::ast::Expr;
use super::{Limits, QueryError};
use crate::schema::{Collection, Snapshot};
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

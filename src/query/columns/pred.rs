//! A compiled filter turned into column operations: every comparison reads plain top-level
//! fields of the row (one value each) and record-independent values (constants, macros,
//! `@request.*`) computed once per request. Comparisons go through the row evaluator's own
//! [`compare`], with its any/all and empty-set rules, so both evaluators agree exactly.

use super::super::compile::{CmpNode, Compiled, Node, Src};
use super::super::env::{EvalEnv, EvalError};
use super::super::eval::compare;
use super::super::value::Val;
use super::entry::Cell;

/// One side of a comparison.
#[derive(Debug)]
pub(super) enum Side {
    /// The row's value of query field `i` (an index into the query's field list).
    Col(usize),
    /// Values that do not depend on the row (never empty: an empty set is the NULL row).
    Vals(Vec<Val<'static>>),
}

#[derive(Debug)]
pub(super) enum Pred<'c> {
    Const(bool),
    Cmp {
        node: &'c CmpNode,
        left: Side,
        right: Side,
    },
    And(Vec<Pred<'c>>),
    Or(Vec<Pred<'c>>),
}

/// Index of `field` in `fields`, added when missing.
pub(super) fn slot(fields: &mut Vec<String>, field: &str) -> usize {
    match fields.iter().position(|f| f == field) {
        Some(i) => i,
        None => {
            fields.push(field.to_string());
            fields.len() - 1
        }
    }
}

/// Whether a source yields the same values whatever the filtered record is.
fn independent(s: &Src) -> bool {
    match s {
        Src::Const(_)
        | Src::Macro(_)
        | Src::Never
        | Src::Auth(..)
        | Src::Query(_)
        | Src::Header(_)
        | Src::Method
        | Src::Context => true,
        Src::Call(_, args) => args.iter().all(independent),
        Src::Path(_) | Src::Collection { .. } | Src::Body { .. } => false,
    }
}

enum Compiled1 {
    Side(Side),
    Never,
}

fn side(
    s: &Src,
    env: &EvalEnv<'_>,
    fields: &mut Vec<String>,
) -> Result<Option<Compiled1>, EvalError> {
    match s {
        Src::Path(p)
            if p.hops.is_empty()
                && p.json.is_empty()
                && p.modifier.is_none()
                && !p.multi
                && p.email_of.is_none() =>
        {
            Ok(Some(Compiled1::Side(Side::Col(slot(fields, &p.field)))))
        }
        s if independent(s) => {
            let (mut items, never) = env.constant_values(s)?;
            if never {
                return Ok(Some(Compiled1::Never));
            }
            if items.is_empty() {
                items.push(Val::Null);
            }
            Ok(Some(Compiled1::Side(Side::Vals(items))))
        }
        _ => Ok(None),
    }
}

impl<'c> Pred<'c> {
    /// Compiles `filter`, adding the fields it reads to `fields`; `None` when some part needs
    /// the row evaluator (relations, json paths, modifiers, back-relations, `@collection`).
    pub(super) fn compile(
        filter: &'c Compiled,
        env: &EvalEnv<'_>,
        fields: &mut Vec<String>,
    ) -> Result<Option<Pred<'c>>, EvalError> {
        if !filter.groups.is_empty() {
            return Ok(None);
        }
        Self::node(&filter.root, env, fields)
    }

    fn node(
        n: &'c Node,
        env: &EvalEnv<'_>,
        fields: &mut Vec<String>,
    ) -> Result<Option<Pred<'c>>, EvalError> {
        Ok(Some(match n {
            Node::And(items) | Node::Or(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    match Self::node(i, env, fields)? {
                        Some(p) => out.push(p),
                        None => return Ok(None),
                    }
                }
                if matches!(n, Node::And(_)) {
                    Pred::And(out)
                } else {
                    Pred::Or(out)
                }
            }
            Node::Cmp(c) => {
                let (Some(left), Some(right)) =
                    (side(&c.left, env, fields)?, side(&c.right, env, fields)?)
                else {
                    return Ok(None);
                };
                match (left, right) {
                    (Compiled1::Never, _) | (_, Compiled1::Never) => Pred::Const(false),
                    (Compiled1::Side(Side::Vals(l)), Compiled1::Side(Side::Vals(r))) => {
                        Pred::Const(test(c, &l, &r))
                    }
                    (Compiled1::Side(left), Compiled1::Side(right)) => Pred::Cmp {
                        node: c,
                        left,
                        right,
                    },
                }
            }
        }))
    }

    /// Whether row `row` matches; `cols[i]` is query field `i`'s column.
    pub(super) fn eval(&self, cols: &[&[Cell]], row: usize) -> bool {
        match self {
            Pred::Const(b) => *b,
            Pred::And(items) => items.iter().all(|p| p.eval(cols, row)),
            Pred::Or(items) => items.iter().any(|p| p.eval(cols, row)),
            Pred::Cmp { node, left, right } => {
                let cell = |i: usize| {
                    cols.get(i)
                        .and_then(|c| c.get(row))
                        .map_or(Val::Null, Cell::val)
                };
                let (l1, r1);
                let l: &[Val<'_>] = match left {
                    Side::Col(i) => {
                        l1 = [cell(*i)];
                        &l1
                    }
                    Side::Vals(v) => v,
                };
                let r: &[Val<'_>] = match right {
                    Side::Col(i) => {
                        r1 = [cell(*i)];
                        &r1
                    }
                    Side::Vals(v) => v,
                };
                test(node, l, r)
            }
        }
    }
}

/// The row evaluator's combination of two value sets (any/all).
fn test(c: &CmpNode, l: &[Val<'_>], r: &[Val<'_>]) -> bool {
    if c.any {
        l.iter().any(|a| r.iter().any(|b| compare(c, a, b)))
    } else {
        l.iter().all(|a| r.iter().all(|b| compare(c, a, b)))
    }
}

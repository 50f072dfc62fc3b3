//! One comparison: both operands' values combined with PocketBase's any/all semantics.

use super::Ev;
use crate::ids::RecordData;
use crate::query::ast::CmpOp;
use crate::query::compile::{CmpNode, Src};
use crate::query::env::EvalError;
use crate::query::value::{equals, sql_cmp_as, LikePattern, Val};
use std::cmp::Ordering;

impl<'e> Ev<'e, '_> {
    pub(super) fn cmp(
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
}

/// One comparison of two scalar values with `c`'s operator (also used by the column cache, so
/// both evaluators share PocketBase's semantics exactly).
pub(in crate::query) fn compare(c: &CmpNode, a: &Val<'_>, b: &Val<'_>) -> bool {
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

//! Evaluation of a [`Compiled`] filter against one record: PocketBase's any/all semantics for
//! multi-valued paths, relation hops through the store (cached per environment) and
//! `@request.*` / `@collection.*` values.
//!
//! - `join`: `&&`/`||` and the binding of `?` join rows shared across a conjunction.
//! - `cmp`: one comparison of two operands' values (shared with the column cache).
//! - `source`: an operand's values: record paths with relation hops, `@request.*`,
//!   `@collection.*`, functions.

mod cmp;
mod join;
mod source;

pub(super) use self::cmp::compare;

use super::compile::{Compiled, JoinGroup, Src};
use super::env::{EvalEnv, EvalError};
use super::value::Val;
use crate::ids::RecordData;
use std::borrow::Cow;
use std::cell::Cell;

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

fn owned(v: Vals<'_>) -> Vals<'static> {
    Vals {
        items: v.items.into_iter().map(Val::into_owned).collect(),
        never: v.never,
        hidden: v.hidden,
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

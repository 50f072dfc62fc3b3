//! `sort`: keys resolved with the same path rules as filters (relation paths such as
//! `author.name`, json paths such as `meta.score`, `:lower`), plus `@random` and `@rowid`. Each
//! record's keys are computed once (decorate–sort–undecorate), then compared in SQLite's order.

use super::ast::{Expr, Operand, Root};
use super::compile::{err, CompileCtx, Compiler, Src};
use super::env::{EvalEnv, EvalError};
use super::value::Val;
use super::{Forbidden, QueryError};
use crate::error::echo;
use crate::ids::RecordData;
use std::cmp::Ordering;

/// One key of a compiled sort.
#[derive(Debug, Clone)]
enum SortItem {
    /// A record path (or a plain top-level `field`, which an index can serve).
    Key {
        src: Src,
        desc: bool,
        field: Option<String>,
    },
    /// Insertion order.
    Rowid {
        desc: bool,
    },
    Random,
}

/// A compiled `sort` parameter.
#[derive(Debug, Clone, Default)]
pub struct SortSpec {
    items: Vec<SortItem>,
}

/// Most sort keys accepted.
const MAX_SORT_KEYS: usize = 16;

/// Compiles `raw` (`-created,title:lower,author.name`) for `ctx`.
pub fn compile_sort(raw: &str, ctx: &CompileCtx<'_>) -> Result<SortSpec, QueryError> {
    let mut items = Vec::new();
    let mut offset = 0;
    for part in raw.split(',') {
        let start = offset + (part.len() - part.trim_start().len());
        offset += part.len() + 1;
        let item = part.trim();
        if item.is_empty() {
            // PocketBase rejects `,views`, `views,,id` and `views,` alike.
            return Err(err(start, format!("empty sort key at {start}")));
        }
        if items.len() >= MAX_SORT_KEYS {
            return Err(err(
                start,
                format!("at most {MAX_SORT_KEYS} sort keys are allowed (at {start})"),
            ));
        }
        // No space may follow the sign: PocketBase rejects `- views`.
        let (desc, name) = match item.as_bytes()[0] {
            b'-' => (true, &item[1..]),
            b'+' => (false, &item[1..]),
            _ => (false, item),
        };
        match name {
            "@random" => items.push(SortItem::Random),
            "@rowid" => items.push(SortItem::Rowid { desc }),
            _ => {
                if let Some(k) = key(name, desc, start, ctx)? {
                    items.push(k);
                }
            }
        }
    }
    Ok(SortSpec { items })
}

/// One sort key; `None` for a key that cannot influence the order (see below).
fn key(
    name: &str,
    desc: bool,
    pos: usize,
    ctx: &CompileCtx<'_>,
) -> Result<Option<SortItem>, QueryError> {
    // A sort key is an operand of the filter grammar; parse it as the left side of a comparison.
    let bad = || err(pos, format!("invalid sort key \"{}\" at {pos}", echo(name)));
    if name.is_empty() || name.starts_with(char::is_whitespace) {
        return Err(bad());
    }
    let expr = super::parse(&format!("{name} = null")).map_err(|_| bad())?;
    let Expr::Cmp(cmp) = expr else {
        return Err(bad());
    };
    let Operand::Ident(ident) = &cmp.left else {
        return Err(bad());
    };
    match ident.root {
        Root::Record => {}
        // Non-superusers get the filter's 403 for superuser-only roots.
        Root::Collection { .. } if ctx.restricted() => {
            return Err(QueryError::Forbidden(Forbidden::Collection))
        }
        _ if ctx.restricted() => return Err(QueryError::Forbidden(Forbidden::Request)),
        // A superuser's `@collection.x.f` key: PocketBase cross-joins the whole collection and
        // the key does not change the order of the distinct records (observed: the result is
        // ordered by the remaining keys). Resolve it for the errors, then drop it.
        Root::Collection { .. } => {
            let mut compiler = Compiler {
                ctx,
                joins: 0,
                groups: Vec::new(),
            };
            compiler.ident_src(ident).map_err(|e| shift(e, pos))?;
            return Ok(None);
        }
        _ => {
            return Err(err(
                pos,
                format!(
                    "only record fields can be sorted on, got \"{}\" at {pos}",
                    echo(name)
                ),
            ))
        }
    }
    let mut compiler = Compiler {
        ctx,
        joins: 0,
        groups: Vec::new(),
    };
    let src = compiler.ident_src(ident).map_err(|e| shift(e, pos))?;
    let field = match &src {
        // A guarded email is read per record (hidden ones sort as NULL), never from an index
        // or the column cache, so the order cannot leak hidden emails.
        Src::Path(p)
            if p.hops.is_empty()
                && p.json.is_empty()
                && p.modifier.is_none()
                && p.email_of.is_none() =>
        {
            Some(p.field.clone())
        }
        _ => None,
    };
    // A multi-valued path (`cats.name`) sorts by its first value, NULL when it has none: the
    // first row of PocketBase's LEFT JOIN.
    Ok(Some(SortItem::Key { src, desc, field }))
}

/// Moves an error reported inside one sort key to its position in the whole parameter.
fn shift(e: QueryError, by: usize) -> QueryError {
    match e {
        QueryError::Invalid(mut p) => {
            let old = p.pos;
            p.pos += by;
            p.message = p
                .message
                .replace(&format!("at {old}"), &format!("at {}", p.pos));
            QueryError::Invalid(p)
        }
        other => other,
    }
}

/// One key of a sort the column cache can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnKey<'a> {
    /// A plain top-level field (its stored value, no modifier).
    Field(&'a str, bool),
    Rowid(bool),
}

impl SortSpec {
    /// The keys when every one is a plain top-level field or `@rowid` (`None` for `@random`
    /// or any path, json path or modifier key).
    pub(super) fn column_keys(&self) -> Option<Vec<ColumnKey<'_>>> {
        self.items
            .iter()
            .map(|i| match i {
                SortItem::Key {
                    src: Src::Path(p),
                    desc,
                    field: Some(f),
                } if p.hops.is_empty()
                    && p.json.is_empty()
                    && p.modifier.is_none()
                    && !p.multi
                    && p.field == *f =>
                {
                    Some(ColumnKey::Field(f, *desc))
                }
                SortItem::Rowid { desc } => Some(ColumnKey::Rowid(*desc)),
                _ => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn is_random(&self) -> bool {
        self.items.iter().any(|i| matches!(i, SortItem::Random))
    }

    /// `Some(desc)` when the sort is exactly `@rowid` / `-@rowid`.
    pub fn rowid_only(&self) -> Option<bool> {
        match self.items.as_slice() {
            [SortItem::Rowid { desc }] => Some(*desc),
            _ => None,
        }
    }

    pub fn uses_rowid(&self) -> bool {
        self.items
            .iter()
            .any(|i| matches!(i, SortItem::Rowid { .. }))
    }

    /// Whether the last key is descending (ties between equal keys then break by id descending).
    pub fn last_desc(&self) -> bool {
        match self.items.last() {
            Some(SortItem::Key { desc, .. } | SortItem::Rowid { desc }) => *desc,
            _ => false,
        }
    }

    /// The single plain field this sort orders by, for index-ordered scans.
    pub fn single_field(&self) -> Option<(&str, bool)> {
        match self.items.as_slice() {
            [SortItem::Key {
                field: Some(f),
                desc,
                ..
            }] => Some((f, *desc)),
            _ => None,
        }
    }

    /// The key values of `rec`, one per `Key` item (rowid/random items are handled by the caller).
    pub fn values(
        &self,
        rec: &RecordData,
        env: &EvalEnv<'_>,
    ) -> Result<Vec<Val<'static>>, EvalError> {
        let mut out = Vec::with_capacity(self.items.len());
        for item in &self.items {
            if let SortItem::Key { src, .. } = item {
                out.push(env.first_value(src, rec)?);
            }
        }
        Ok(out)
    }

    /// Compares two records' key values (`rowid`s given for `@rowid` items).
    pub fn compare(&self, a: &[Val<'_>], a_rowid: u64, b: &[Val<'_>], b_rowid: u64) -> Ordering {
        let mut vi = 0;
        for item in &self.items {
            let ord = match item {
                SortItem::Key { desc, .. } => {
                    let o = total_cmp(
                        a.get(vi).unwrap_or(&Val::Null),
                        b.get(vi).unwrap_or(&Val::Null),
                    );
                    vi += 1;
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
                SortItem::Rowid { desc } => {
                    let o = a_rowid.cmp(&b_rowid);
                    if *desc {
                        o.reverse()
                    } else {
                        o
                    }
                }
                SortItem::Random => Ordering::Equal,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// SQLite's ORDER BY: NULL first, then numbers, then text (bytewise).
pub fn total_cmp(a: &Val<'_>, b: &Val<'_>) -> Ordering {
    match (a, b) {
        (Val::Null, Val::Null) => Ordering::Equal,
        (Val::Null, _) => Ordering::Less,
        (_, Val::Null) => Ordering::Greater,
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Val::Num(_), Val::Text(_)) => Ordering::Less,
        (Val::Text(_), Val::Num(_)) => Ordering::Greater,
        (Val::Text(x), Val::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
    }
}

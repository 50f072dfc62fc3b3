//! The query engine: PocketBase's filter grammar parsed once into an [`Expr`], compiled against
//! the schema into a [`Compiled`] filter, evaluated against many records, and planned onto the
//! store's secondary indexes. Shared by list filters and (later) rules and realtime filters.
//!
//! This module owns grammar, name resolution and PocketBase's comparison semantics; it must not
//! render HTTP (beyond mapping its own errors into [`ApiError`]) nor write to the store.

mod ast;
mod columns;
mod compile;
mod env;
mod eval;
mod funcs;
mod lexer;
mod list_plan;
mod parser;
mod plan;
mod read;
mod resolve;
mod rows;
mod rule_cache;
mod rules;
mod sort;
mod value;

// The re-exports are the module's API; rules and realtime will use the rest.
pub use ast::{CmpOp, Comparison, Expr, Func, Ident, Macro, Modifier, Operand, Pos, Root};
pub use columns::{ColumnCache, ColumnLimits, ColumnPage};
pub use compile::{compile, CompileCtx, Compiled, Mode};
pub use env::{EvalEnv, EvalError, RequestInfo};
pub use list_plan::{IdStream, ListPlan, RecordStream};
pub use parser::{parse, parse_with};
pub use plan::IndexPlan;
pub use rows::{virtual_collection, RowQuery};
pub use rule_cache::RuleCache;
pub use rules::{compile_rule, invalid_rules, Rule, RuleSet};
pub use sort::{compile_sort, total_cmp, SortSpec};
pub use value::Val;

use crate::error::{ApiError, FieldError, MSG_GENERIC};
use std::fmt;

/// A positioned error in a filter: `unexpected token '&' at 14`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset into the filter source.
    pub pos: usize,
    pub message: String,
}

impl ParseError {
    /// An error at `pos`; the message already names the position.
    pub fn new(pos: usize, message: String) -> Self {
        Self { pos, message }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// Bounds that keep parsing and evaluation cheap whatever the input.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Maximum filter length in characters.
    pub max_len: usize,
    /// Maximum parenthesis / function nesting.
    pub max_depth: usize,
    /// Maximum number of comparisons.
    pub max_comparisons: usize,
    /// Maximum relation hops, back-relations and `@collection` joins in one filter.
    pub max_joins: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 32,
            max_comparisons: 200,
            max_joins: 10,
        }
    }
}

/// What a client may not use in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// `@collection.*` in a non-superuser client filter.
    Collection,
    /// `@request.*` in a non-superuser client filter.
    Request,
}

/// Why a filter could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Syntax or name-resolution error: 400.
    #[error("{0}")]
    Invalid(ParseError),
    /// Superuser-only syntax used by someone else: 403.
    #[error("only superusers can filter by @{}", match .0 { Forbidden::Collection => "collection", Forbidden::Request => "request" })]
    Forbidden(Forbidden),
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> Self {
        QueryError::Invalid(e)
    }
}

impl QueryError {
    /// The API error for a bad `param` (`filter`, `sort`): PocketBase's generic 400 with the
    /// positioned reason under `data.<param>`, or its 403 for superuser-only syntax.
    pub fn into_api_error(self, param: &str) -> ApiError {
        match self {
            QueryError::Invalid(e) => ApiError::bad_field(
                MSG_GENERIC,
                param,
                FieldError::new("validation_invalid_filter", e.message),
            ),
            QueryError::Forbidden(Forbidden::Collection) => {
                ApiError::Forbidden("Only superusers can filter by @collection.".into())
            }
            QueryError::Forbidden(Forbidden::Request) => {
                ApiError::Forbidden("Only superusers can filter by @request.".into())
            }
        }
    }
}

#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_fixture;
#[cfg(test)]
mod tests_parse;

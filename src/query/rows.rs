//! Filters and sorts over rows that are not records — collections, request logs — with the
//! same grammar as record lists. The caller describes the row's fields as a virtual
//! [`Collection`] (never stored), builds each row as a field map, and pages what
//! [`RowQuery::select`] keeps.

use super::compile::CompileCtx;
use super::env::EvalEnv;
use super::sort::SortSpec;
use super::{compile, compile_sort, parse, Compiled, QueryError};
use crate::error::{ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::{CollectionId, RecordData};
use crate::schema::{Collection, CollectionType, Field, Snapshot};
use crate::work;
use std::sync::Arc;

/// A collection that only describes the fields of non-record rows for the query compiler.
pub fn virtual_collection(name: &str, fields: Vec<Field>) -> Arc<Collection> {
    Arc::new(Collection {
        id: CollectionId(name.into()),
        name: name.into(),
        kind: CollectionType::Base,
        system: true,
        list_rule: None,
        view_rule: None,
        create_rule: None,
        update_rule: None,
        delete_rule: None,
        fields,
        indexes: Vec::new(),
        created: String::new(),
        updated: String::new(),
        auth: None,
    })
}

/// A compiled `filter` and `sort` over a virtual collection's rows.
#[derive(Debug, Clone, Default)]
pub struct RowQuery {
    filter: Option<Compiled>,
    sort: SortSpec,
}

impl RowQuery {
    /// Compiles the non-blank `filter` and `sort` (as a superuser sees the fields); errors are
    /// the 400s of a records list, on the `filter` / `sort` parameter.
    pub fn compile(
        col: &Arc<Collection>,
        schema: &Snapshot,
        filter: Option<&str>,
        sort: Option<&str>,
    ) -> ApiResult<Self> {
        let ctx = CompileCtx::filter(col, schema, true);
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(src) => Some(
                parse(src)
                    .map_err(QueryError::from)
                    .and_then(|e| compile(&e, &ctx))
                    .map_err(|e| e.into_api_error("filter"))?,
            ),
        };
        let sort = match sort.map(str::trim).filter(|s| !s.is_empty()) {
            None => SortSpec::default(),
            Some(src) => compile_sort(src, &ctx).map_err(|e| match e {
                QueryError::Invalid(p) => ApiError::bad_field(
                    MSG_GENERIC,
                    "sort",
                    FieldError::new("validation_invalid_sort", p.message),
                ),
                other => other.into_api_error("sort"),
            })?,
        };
        Ok(Self { filter, sort })
    }

    /// Whether a sort was given (else rows keep the caller's order).
    pub fn has_sort(&self) -> bool {
        !self.sort.is_empty()
    }

    /// Whether `row` passes the filter (every row does without one).
    pub fn matches(&self, row: &RecordData, env: &EvalEnv<'_>) -> ApiResult<bool> {
        work::check()?;
        match &self.filter {
            None => Ok(true),
            Some(f) => Ok(f.matches(row, env)?),
        }
    }

    /// The rows that pass the filter, in sort order (stable: ties keep the input order).
    /// `@rowid` sorts by input position.
    pub fn select(&self, rows: Vec<RecordData>, env: &EvalEnv<'_>) -> ApiResult<Vec<RecordData>> {
        let mut kept = Vec::with_capacity(rows.len());
        for row in rows {
            if self.matches(&row, env)? {
                kept.push(row);
            }
        }
        if self.sort.is_empty() {
            return Ok(kept);
        }
        let mut keyed = Vec::with_capacity(kept.len());
        for (pos, row) in kept.into_iter().enumerate() {
            work::check()?;
            keyed.push((self.sort.values(&row, env)?, pos as u64, row));
        }
        keyed.sort_by(|a, b| self.sort.compare(&a.0, a.1, &b.0, b.1));
        Ok(keyed.into_iter().map(|(_, _, row)| row).collect())
    }
}

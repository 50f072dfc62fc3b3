//! The response shape a request asks for: `expand` then `fields`, applied to rendered records.

use super::expand::{ExpandTree, Expander};
use super::fields::Projection;
use super::render;
use super::RecordService;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::ids::{Record, RecordData};
use crate::query::RequestInfo;
use crate::schema::Collection;
use serde_json::{Map, Value};

/// Parsed `expand` and `fields` query parameters.
#[derive(Debug, Default, Clone)]
pub struct Shape {
    expand: Option<ExpandTree>,
    fields: Option<Projection>,
}

impl Shape {
    pub fn parse(expand: Option<&str>, fields: Option<&str>) -> ApiResult<Self> {
        let expand = expand
            .filter(|s| !s.trim().is_empty())
            .map(ExpandTree::parse)
            .transpose()?;
        let fields = fields
            .filter(|s| !s.trim().is_empty())
            .map(Projection::parse)
            .transpose()?;
        Ok(Self { expand, fields })
    }

    /// Whether related records are expanded (the response's cost then depends on the data).
    pub fn expands(&self) -> bool {
        self.expand.is_some()
    }

    /// Renders records as `caller` may see them, expanded and projected.
    pub fn render_many(
        &self,
        app: &RecordService,
        col: &Collection,
        records: &[Record],
        caller: &Caller,
    ) -> ApiResult<Vec<Value>> {
        let mut out: Vec<Value> = records
            .iter()
            .map(|r| render::record_for(col, r, caller, shows_email(app, col, r.fields(), caller)))
            .collect();
        if let Some(tree) = &self.expand {
            let mut ex = Expander::new(app, caller);
            ex.validate(col, tree)?;
            for (rec, v) in records.iter().zip(out.iter_mut()) {
                ex.expand(col, rec, v, tree)?;
            }
        }
        if let Some(p) = &self.fields {
            out = out.into_iter().map(|v| p.apply(v)).collect();
        }
        Ok(out)
    }

    pub fn render_one(
        &self,
        app: &RecordService,
        col: &Collection,
        rec: &Record,
        caller: &Caller,
    ) -> ApiResult<Value> {
        let mut many = self.render_many(app, col, std::slice::from_ref(rec), caller)?;
        Ok(many.pop().unwrap_or(Value::Null))
    }

    /// Validates the parameters against the collection before any write happens.
    pub fn check(&self, app: &RecordService, col: &Collection, caller: &Caller) -> ApiResult<()> {
        match &self.expand {
            Some(tree) => Expander::new(app, caller).validate(col, tree),
            None => Ok(()),
        }
    }
}

/// Whether a non-superuser sees `data`'s email as a manager of its auth collection (only
/// evaluated where the email would otherwise be withheld).
pub(super) fn shows_email(
    app: &RecordService,
    col: &Collection,
    data: &RecordData,
    caller: &Caller,
) -> bool {
    if !col.is_auth()
        || caller.is_superuser()
        || data.get("emailVisibility") == Some(&Value::Bool(true))
    {
        return false;
    }
    let info = super::access::request_info(&RequestInfo::default(), caller, &Map::new());
    super::access::manages(app, &app.schema.snapshot(), col, data, caller, &info)
}

#[cfg(test)]
mod tests {
    use super::Shape;
    use proptest::prelude::*;

    proptest! {
        /// `expand` / `fields` parsing returns a shape or a 400 for any input, and bounded
        /// inputs (many segments, many paths) are refused rather than recursed into.
        #[test]
        fn shape_parse_never_panics(
            expand in "[a-z_.,:() 0-9*-]{0,120}",
            fields in "[a-z_.,:() 0-9*-]{0,120}",
            deep in 0usize..20_000,
        ) {
            let _ = Shape::parse(Some(&expand), Some(&fields));
            let long = vec!["a"; deep].join(".");
            let _ = Shape::parse(Some(&long), Some(&long));
        }
    }
}

//! The plan of a list request as a value: where candidate records come from (an index plan for
//! the filter, insertion order, a range read in sort order, an index order matching the sort, or
//! a full scan), chosen cheapest first, with the explain text superusers see as the
//! `X-Ferrobase-Plan` header. `crate::records` executes it; this module only reads the store.

use super::compile::Compiled;
use super::plan::IndexPlan;
use super::sort::SortSpec;
use crate::ids::{CollectionId, Record, RecordId};
use crate::schema::Collection;
use crate::store::{IndexSpec, Store, StoreError};
use std::fmt;

/// Record ids in the order a plan reads them.
pub type IdStream<'s> = Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 's>;
/// Candidate records in no particular order.
pub type RecordStream<'s> = Box<dyn Iterator<Item = Result<Record, StoreError>> + 's>;

/// Where candidate records come from, cheapest first.
#[derive(Debug, Clone, PartialEq)]
pub enum ListPlan {
    /// The filter's equalities hit an index: few candidates. `in_order` when there is no sort
    /// and one equal-prefix, so index order is insertion order (rowid suffix); otherwise they
    /// are sorted in memory.
    Index { plan: IndexPlan, in_order: bool },
    /// Insertion order is the requested order (no sort, or `@rowid`).
    Insertion { reverse: bool },
    /// A range plan whose field is also the sort: the range is read in order.
    RangeOrder { plan: IndexPlan, desc: bool },
    /// A single-field sort that an index's leading field serves, in order.
    IndexOrder {
        index: String,
        field: String,
        desc: bool,
    },
    /// Everything, sorted in memory (or answered from the column cache).
    Scan,
}

impl fmt::Display for ListPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListPlan::Index { plan, .. } => write!(f, "{plan}"),
            ListPlan::Insertion { reverse: false } => f.write_str("insertion order"),
            ListPlan::Insertion { reverse: true } => f.write_str("insertion order (reverse)"),
            ListPlan::IndexOrder { index, field, desc } => {
                write!(
                    f,
                    "index order {index} ({field}){}",
                    if *desc { " desc" } else { "" }
                )
            }
            ListPlan::RangeOrder { plan, desc } => {
                write!(f, "{plan} in order{}", if *desc { " desc" } else { "" })
            }
            ListPlan::Scan => f.write_str("full scan"),
        }
    }
}

impl ListPlan {
    /// The cheapest source for `filter` (everything that restricts the result, list rule
    /// included) sorted by `sort`, given the collection's declared `indexes`.
    pub fn choose(
        col: &Collection,
        indexes: &[IndexSpec],
        filter: Option<&Compiled>,
        sort: &SortSpec,
    ) -> Self {
        if let Some(plan) = filter.and_then(|f| f.index_plan_for(col, indexes)) {
            // A range on the field the page is sorted by: read the range in sort order.
            if let (Some((field, _)), Some((sorted, desc))) = (&plan.range, sort.single_field()) {
                if field == sorted && plan.prefixes.len() == 1 {
                    return ListPlan::RangeOrder { plan, desc };
                }
            }
            let in_order = sort.is_empty() && plan.prefixes.len() == 1 && plan.range.is_none();
            return ListPlan::Index { plan, in_order };
        }
        if sort.is_empty() {
            return ListPlan::Insertion { reverse: false };
        }
        if let Some(reverse) = sort.rowid_only() {
            return ListPlan::Insertion { reverse };
        }
        if let Some((field, desc)) = sort.single_field() {
            let usable = indexes.iter().find(|i| {
                i.fields.first().map(String::as_str) == Some(field) && i.skip_empty.is_empty()
            });
            if let Some(index) = usable {
                return ListPlan::IndexOrder {
                    index: index.name.clone(),
                    field: field.to_string(),
                    desc,
                };
            }
        }
        ListPlan::Scan
    }

    /// Ids already in the requested order, with a total known without reading records (a
    /// covered index plan's counters, when `count` asks for one); `None` when the candidates
    /// must be sorted in memory (see [`ListPlan::candidates`]).
    pub fn ordered_ids<'s>(
        &'s self,
        store: &'s dyn Store,
        col: &'s CollectionId,
        count: bool,
    ) -> Result<Option<(IdStream<'s>, Option<usize>)>, StoreError> {
        Ok(match self {
            ListPlan::Insertion { reverse } => {
                Some((store.scan_insertion_order(col, *reverse), None))
            }
            ListPlan::RangeOrder { plan, desc } => {
                let prefix = plan.prefixes.first().map(Vec::as_slice).unwrap_or_default();
                let ids = match &plan.range {
                    Some((_, r)) => store.scan_index_range(col, &plan.index, prefix, r, *desc),
                    None => store.scan_index(col, &plan.index, prefix, *desc),
                };
                Some((ids, None))
            }
            ListPlan::Index {
                plan,
                in_order: true,
            } => {
                let prefix = plan.prefixes.first().map(Vec::as_slice).unwrap_or_default();
                let known = if plan.covered && count {
                    Some(plan.count(store, col)?)
                } else {
                    None
                };
                Some((store.scan_index(col, &plan.index, prefix, false), known))
            }
            ListPlan::IndexOrder { index, desc, .. } => {
                Some((store.scan_index(col, index, &[], *desc), None))
            }
            ListPlan::Index {
                in_order: false, ..
            }
            | ListPlan::Scan => None,
        })
    }

    /// Every candidate record, for plans whose order is not the requested one.
    pub fn candidates<'s>(
        &'s self,
        store: &'s dyn Store,
        col: &'s CollectionId,
    ) -> RecordStream<'s> {
        match self {
            ListPlan::Index { plan, .. } => Box::new(plan.records(store, col)),
            _ => Box::new(store.scan_records(col).map(|r| r.map(|r| r.record))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests_fixture::Fixture;
    use super::super::{compile_sort, CompileCtx, Mode};
    use super::*;

    #[test]
    fn chooses_the_cheapest_source_and_explains_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fx = rt.block_on(Fixture::new());
        let col = fx.schema.get("posts").unwrap().clone();
        let indexes = fx.schema.indexes(&col.id);
        let ctx = CompileCtx::filter(&col, &fx.schema, true);
        let choose = |filter: &str, sort: &str| {
            let f = (!filter.is_empty()).then(|| {
                fx.compile_as("posts", filter, true, Mode::ClientFilter)
                    .unwrap()
            });
            let s = match sort {
                "" => SortSpec::default(),
                _ => compile_sort(sort, &ctx).unwrap(),
            };
            ListPlan::choose(&col, &indexes, f.as_ref(), &s)
        };
        let cases: [(&str, &str, &str); 9] = [
            ("", "", "insertion order"),
            ("", "-@rowid", "insertion order (reverse)"),
            ("", "-views", "index order idx_views (views) desc"),
            ("", "title", "index order idx_title_views (title)"),
            ("", "published", "full scan"),
            ("published = true", "", "insertion order"),
            ("views = 10", "", "index idx_views (views) in [[10.0]]"),
            (
                "views > 3",
                "-views",
                "index idx_views range views (3.0, +inf) in order desc",
            ),
            (
                "views = 10 || views = 3",
                "",
                "index idx_views (views) in [[10.0], [3.0]]",
            ),
        ];
        for (filter, sort, want) in cases {
            assert_eq!(choose(filter, sort).to_string(), want, "{filter} / {sort}");
        }
        // One equal-prefix and no sort: index order is the requested order.
        assert!(matches!(
            choose("views = 10", ""),
            ListPlan::Index { in_order: true, .. }
        ));
        assert!(matches!(
            choose("views = 10 || views = 3", ""),
            ListPlan::Index {
                in_order: false,
                ..
            }
        ));
        assert!(matches!(
            choose("views = 10", "title"),
            ListPlan::Index {
                in_order: false,
                ..
            }
        ));
    }

    #[test]
    fn ordered_ids_and_candidates_find_what_a_full_scan_finds() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let fx = rt.block_on(Fixture::new());
        let col = fx.schema.get("posts").unwrap().clone();
        let indexes = fx.schema.indexes(&col.id);
        let env = fx.env(Default::default());
        let store: &dyn Store = fx.store.as_ref();
        for src in ["views = 10", "views = 10 || views = 3", "views > 3"] {
            let f = fx
                .compile_as("posts", src, true, Mode::ClientFilter)
                .unwrap();
            let plan = ListPlan::choose(&col, &indexes, Some(&f), &SortSpec::default());
            let mut found: Vec<String> = match plan.ordered_ids(store, &col.id, true).unwrap() {
                Some((ids, _)) => ids
                    .filter_map(|id| store.get_record(&col.id, &id.unwrap()).unwrap())
                    .map(|r| r.record)
                    .filter(|r| f.matches(r.fields(), &env).unwrap())
                    .map(|r| r.id().0.clone())
                    .collect(),
                None => plan
                    .candidates(store, &col.id)
                    .map(|r| r.unwrap())
                    .filter(|r| f.matches(r.fields(), &env).unwrap())
                    .map(|r| r.id().0.clone())
                    .collect(),
            };
            found.sort();
            let mut want = fx.posts(src);
            want.sort();
            assert_eq!(found, want, "{src} via {plan}");
        }
        // A covered single-prefix plan knows its total from the index counters.
        let f = fx
            .compile_as("posts", "views = 10", true, Mode::ClientFilter)
            .unwrap();
        let plan = ListPlan::choose(&col, &indexes, Some(&f), &SortSpec::default());
        let (_, known) = plan.ordered_ids(store, &col.id, true).unwrap().unwrap();
        assert_eq!(known, Some(fx.posts("views = 10").len()));
        let (_, known) = plan.ordered_ids(store, &col.id, false).unwrap().unwrap();
        assert_eq!(known, None);
    }
}

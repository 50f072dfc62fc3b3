//! Listing records: choose where candidates come from (insertion order, an index order matching
//! the sort, an index plan for the filter, or a full scan), filter them through `crate::query`,
//! sort what is not already in order, paginate, count, then expand and project.

use super::access::{check, list_filter, request_info, Op};
use super::shape::Shape;
use super::RecordService;
use crate::auth::Caller;
use crate::error::{echo, ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::{CollectionId, RecordData, RecordId};
use crate::query::{self, CompileCtx, Compiled, EvalEnv, IndexPlan, RequestInfo, SortSpec, Val};
use crate::schema::{Collection, Snapshot};
use crate::store::StoreError;
use crate::work;
use serde_json::{json, Value};
use std::sync::Arc;

pub const DEFAULT_PER_PAGE: usize = 30;
pub const MAX_PER_PAGE: usize = 1000;

/// Query parameters of a list request, as received.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub sort: Option<String>,
    pub skip_total: Option<String>,
    pub filter: Option<String>,
    pub expand: Option<String>,
    pub fields: Option<String>,
}

/// PocketBase's list envelope.
pub struct ListResult {
    pub body: Value,
    /// How the records were found (`insertion order`, `full scan`, `index idx (f) in […]`),
    /// exposed to superusers as the `X-Ferrobase-Plan` header.
    pub plan: String,
}

fn bad_param(param: &str, code: &'static str, message: String) -> ApiError {
    ApiError::bad_field(MSG_GENERIC, param, FieldError::new(code, message))
}

/// A positive integer query parameter (`page`, `perPage`); blank or ≤ 0 means `default`.
pub fn parse_number(param: &str, raw: &Option<String>, default: usize) -> ApiResult<usize> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n <= 0 => Ok(default),
            Ok(n) => Ok(n as usize),
            Err(_) => Err(bad_param(
                param,
                "validation_invalid_number",
                format!("{param} must be an integer, got {:?}.", echo(s)),
            )),
        },
    }
}

fn parse_bool(raw: &Option<String>) -> bool {
    matches!(
        raw.as_deref().map(str::trim),
        Some("1" | "true" | "TRUE" | "True")
    )
}

fn id_of(d: &RecordData) -> &str {
    d.get("id").and_then(Value::as_str).unwrap_or("")
}

/// Parses and compiles a non-empty `filter` for `caller` (400 / 403 on failure).
fn compile_filter(
    col: &Arc<Collection>,
    schema: &Snapshot,
    raw: Option<&str>,
    caller: &Caller,
) -> ApiResult<Option<Compiled>> {
    let Some(src) = raw.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let ctx = CompileCtx::filter(col, schema, caller.is_superuser());
    query::parse(src)
        .map_err(query::QueryError::from)
        .and_then(|e| query::compile(&e, &ctx))
        .map(Some)
        .map_err(|e| e.into_api_error("filter"))
}

/// Compiles `sort` with the same name rules as filters (hidden fields are off-limits to guests).
fn compile_sort(
    col: &Arc<Collection>,
    schema: &Snapshot,
    raw: Option<&str>,
    caller: &Caller,
) -> ApiResult<SortSpec> {
    let Some(src) = raw.filter(|s| !s.trim().is_empty()) else {
        return Ok(SortSpec::default());
    };
    let ctx = CompileCtx::filter(col, schema, caller.is_superuser());
    query::compile_sort(src, &ctx).map_err(|e| match e {
        query::QueryError::Invalid(p) => bad_param("sort", "validation_invalid_sort", p.message),
        other => other.into_api_error("sort"),
    })
}

/// Where candidate records come from, cheapest first.
enum Choice {
    /// The filter's equalities hit an index: few candidates, sorted in memory.
    Plan(IndexPlan),
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
    /// Everything, sorted in memory.
    Scan,
}

impl std::fmt::Display for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Choice::Plan(p) => write!(f, "{p}"),
            Choice::Insertion { reverse: false } => f.write_str("insertion order"),
            Choice::Insertion { reverse: true } => f.write_str("insertion order (reverse)"),
            Choice::IndexOrder { index, field, desc } => {
                write!(
                    f,
                    "index order {index} ({field}){}",
                    if *desc { " desc" } else { "" }
                )
            }
            Choice::RangeOrder { plan, desc } => {
                write!(f, "{plan} in order{}", if *desc { " desc" } else { "" })
            }
            Choice::Scan => f.write_str("full scan"),
        }
    }
}

fn choose(
    schema: &Snapshot,
    col: &Collection,
    filter: Option<&Compiled>,
    sort: &SortSpec,
) -> Choice {
    let indexes = schema.indexes(&col.id);
    if let Some(plan) = filter.and_then(|f| f.index_plan_for(col, &indexes)) {
        // A range on the field the page is sorted by: read the range in sort order.
        let sorted_by_range = match (&plan.range, sort.single_field()) {
            (Some((field, _)), Some((sorted, desc)))
                if field == sorted && plan.prefixes.len() == 1 =>
            {
                Some(desc)
            }
            _ => None,
        };
        if let Some(desc) = sorted_by_range {
            return Choice::RangeOrder { plan, desc };
        }
        return Choice::Plan(plan);
    }
    if sort.is_empty() {
        return Choice::Insertion { reverse: false };
    }
    if let Some(reverse) = sort.rowid_only() {
        return Choice::Insertion { reverse };
    }
    if let Some((field, desc)) = sort.single_field() {
        let usable = indexes.iter().find(|i| {
            i.fields.first().map(String::as_str) == Some(field) && i.skip_empty.is_empty()
        });
        if let Some(index) = usable {
            return Choice::IndexOrder {
                index: index.name.clone(),
                field: field.to_string(),
                desc,
            };
        }
    }
    Choice::Scan
}

/// Reads one page from ids that are already in order: only the page's records are decoded when
/// there is no filter; with a filter, the scan stops once the page is full unless a total is
/// needed.
#[allow(clippy::too_many_arguments)]
fn page_in_order(
    app: &RecordService,
    col: &CollectionId,
    ids: impl Iterator<Item = Result<RecordId, StoreError>>,
    filter: Option<&RecordFilter<'_>>,
    offset: usize,
    per_page: usize,
    need_total: bool,
    known_total: Option<usize>,
) -> ApiResult<(Vec<RecordData>, Option<usize>)> {
    let need_total = need_total && known_total.is_none();
    let load = |id: &RecordId| app.store.get_record(col, id).map(|r| r.map(|r| r.data));
    let Some(filter) = filter else {
        let mut items = Vec::with_capacity(per_page);
        for id in ids.skip(offset).take(per_page) {
            work::check()?;
            if let Some(rec) = load(&id?)? {
                items.push(rec);
            }
        }
        let total = match known_total {
            Some(t) => Some(t),
            None if need_total => Some(app.store.count_records(col)?),
            None => None,
        };
        return Ok((items, total));
    };
    let (mut items, mut seen) = (Vec::with_capacity(per_page), 0usize);
    for id in ids {
        work::check()?;
        let Some(rec) = load(&id?)? else { continue };
        if !filter(&rec)? {
            continue;
        }
        seen += 1;
        if seen > offset && items.len() < per_page {
            items.push(rec);
        } else if items.len() >= per_page && !need_total {
            break;
        }
    }
    Ok((items, known_total.or(need_total.then_some(seen))))
}

/// Loads a column-cache page's records (a record deleted since is skipped, as in
/// `page_in_order`).
fn column_items(
    app: &RecordService,
    col: &CollectionId,
    page: Option<query::ColumnPage>,
) -> ApiResult<(Vec<RecordData>, Option<usize>)> {
    let Some(page) = page else {
        return Ok((Vec::new(), None));
    };
    let mut items = Vec::with_capacity(page.ids.len());
    for id in &page.ids {
        if let Some(rec) = app.store.get_record(col, id)? {
            items.push(rec.data);
        }
    }
    Ok((items, Some(page.total)))
}

/// A per-record predicate (the compiled filter bound to its environment).
type RecordFilter<'a> = dyn Fn(&RecordData) -> ApiResult<bool> + 'a;

/// A record with its sort keys and rowid.
type Keyed = (Vec<Val<'static>>, u64, RecordData);

/// Sorts matches in memory: `sort`'s keys computed once per record, insertion order when the
/// sort is empty or uses `@rowid`, ties broken by id in the direction of the last key.
fn sort_records(
    app: &RecordService,
    col: &CollectionId,
    env: &EvalEnv<'_>,
    sort: &SortSpec,
    records: &mut Vec<RecordData>,
    keep: usize,
) -> ApiResult<()> {
    if sort.is_random() {
        use rand::seq::SliceRandom;
        records.shuffle(&mut rand::thread_rng());
        return Ok(());
    }
    let by_rowid = sort.is_empty() || sort.uses_rowid();
    let mut keyed: Vec<Keyed> = Vec::with_capacity(records.len());
    for rec in records.drain(..) {
        work::check()?;
        let keys = sort.values(&rec, env)?;
        let rowid = if by_rowid {
            app.store
                .rowid(col, &RecordId::from(id_of(&rec)))?
                .unwrap_or(u64::MAX)
        } else {
            0
        };
        keyed.push((keys, rowid, rec));
    }
    let desc = sort.last_desc();
    let cmp = |(ka, ra, a): &Keyed, (kb, rb, b): &Keyed| {
        let ord = if sort.is_empty() {
            ra.cmp(rb)
        } else {
            sort.compare(ka, *ra, kb, *rb)
        };
        ord.then_with(|| {
            let tie = id_of(a).cmp(id_of(b));
            if desc {
                tie.reverse()
            } else {
                tie
            }
        })
    };
    // Only the first `keep` records are returned: select them, then sort just those.
    if keep > 0 && keyed.len() > keep {
        keyed.select_nth_unstable_by(keep - 1, cmp);
        keyed.truncate(keep);
    }
    keyed.sort_by(cmp);
    records.extend(keyed.into_iter().map(|(_, _, r)| r));
    Ok(())
}

/// `GET /api/collections/{c}/records`.
pub fn list(
    app: &RecordService,
    collection: &str,
    params: &ListParams,
    caller: &Caller,
    meta: &RequestInfo,
) -> ApiResult<ListResult> {
    let col = app.schema.require(collection)?;
    check(&col, Op::List, caller)?;
    let shape = Shape::parse(params.expand.as_deref(), params.fields.as_deref())?;
    shape.check(app, &col, caller)?;
    let schema = app.schema.snapshot();
    let filter = compile_filter(&col, &schema, params.filter.as_deref(), caller)?;
    let sort = compile_sort(&col, &schema, params.sort.as_deref(), caller)?;
    // Rows the listRule hides are filtered out silently (and not counted).
    let filter = match (list_filter(&app.rules, &schema, &col, caller)?, filter) {
        (Some(rule), Some(f)) => Some(rule.and(&f)),
        (Some(rule), None) => Some((*rule).clone()),
        (None, f) => f,
    };
    let request = request_info(meta, caller, &serde_json::Map::new());
    let page = parse_number("page", &params.page, 1)?;
    let per_page = parse_number("perPage", &params.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let skip_total = parse_bool(&params.skip_total);
    let offset = (page - 1).saturating_mul(per_page);
    let env = EvalEnv::new(
        app.store.as_ref(),
        &schema,
        &app.rules,
        request,
        chrono::Utc::now(),
    );
    let matches = |rec: &RecordData| -> ApiResult<bool> {
        match &filter {
            Some(f) => Ok(f.matches(rec, &env)?),
            None => Ok(true),
        }
    };
    let choice = choose(&schema, &col, filter.as_ref(), &sort);
    // Unindexed scans are answered from the column cache when the filter and sort allow it.
    // `filter` must be everything that restricts the result (a list rule included).
    let columnar = match choice {
        Choice::Scan => app.columns.try_page(
            app.store.as_ref(),
            &col.id,
            filter.as_ref(),
            &sort,
            &env,
            offset,
            per_page,
        )?,
        _ => None,
    };
    let plan = columnar
        .as_ref()
        .map_or_else(|| choice.to_string(), |p| p.plan.clone());
    tracing::debug!(collection = %col.name, plan = %plan, "list plan");
    let filter_fn: Option<&RecordFilter<'_>> = filter.as_ref().map(|_| &matches as _);
    let store = app.store.as_ref();
    type Ids<'s> = Box<dyn Iterator<Item = Result<RecordId, StoreError>> + 's>;
    // Sources already in the requested order: (ids, a total known without reading records).
    let ordered: Option<(Ids<'_>, Option<usize>)> = match &choice {
        _ if columnar.is_some() => None,
        Choice::Insertion { reverse } => {
            Some((store.scan_insertion_order(&col.id, *reverse), None))
        }
        Choice::RangeOrder { plan, desc } => {
            let prefix = plan.prefixes.first().map(Vec::as_slice).unwrap_or_default();
            let ids = match &plan.range {
                Some((_, r)) => store.scan_index_range(&col.id, &plan.index, prefix, r, *desc),
                None => store.scan_index(&col.id, &plan.index, prefix, *desc),
            };
            Some((ids, None))
        }
        Choice::Plan(p) if sort.is_empty() && p.prefixes.len() == 1 && p.range.is_none() => {
            // One equal-prefix: index order is insertion order within it (rowid suffix).
            let prefix = p.prefixes.first().map(Vec::as_slice).unwrap_or_default();
            let known = if p.covered && !skip_total {
                Some(p.count(store, &col.id)?)
            } else {
                None
            };
            Some((store.scan_index(&col.id, &p.index, prefix, false), known))
        }
        Choice::IndexOrder { index, desc, .. } => {
            Some((store.scan_index(&col.id, index, &[], *desc), None))
        }
        Choice::Plan(_) | Choice::Scan => None,
    };
    let (items, total) = if columnar.is_some() {
        column_items(app, &col.id, columnar)?
    } else if let Some((ids, known)) = ordered {
        page_in_order(
            app,
            &col.id,
            ids,
            filter_fn,
            offset,
            per_page,
            !skip_total,
            known,
        )?
    } else {
        let rows: Box<dyn Iterator<Item = Result<RecordData, StoreError>>> = match &choice {
            Choice::Plan(p) => Box::new(p.records(store, &col.id)),
            _ => Box::new(store.scan_records(&col.id).map(|r| r.map(|r| r.data))),
        };
        let mut all = Vec::new();
        for rec in rows {
            work::check()?;
            let rec = rec?;
            if matches(&rec)? {
                all.push(rec);
            }
        }
        let total = all.len();
        sort_records(
            app,
            &col.id,
            &env,
            &sort,
            &mut all,
            offset.saturating_add(per_page),
        )?;
        (
            all.into_iter().skip(offset).take(per_page).collect(),
            Some(total),
        )
    };
    let total = if skip_total { None } else { total };
    let rendered = shape.render_many(app, &col, &items, caller)?;
    let (total_items, total_pages) = match total {
        Some(t) => (t as i64, t.div_ceil(per_page) as i64),
        None => (-1, -1),
    };
    let body = json!({
        "items": rendered,
        "page": page,
        "perPage": per_page,
        "totalItems": total_items,
        "totalPages": total_pages,
    });
    Ok(ListResult { body, plan })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_with_defaults_and_errors() {
        assert_eq!(parse_number("page", &None, 1).expect("default"), 1);
        assert_eq!(
            parse_number("page", &Some("-3".into()), 1).expect("non-positive"),
            1
        );
        assert_eq!(
            parse_number("page", &Some(" 7 ".into()), 1).expect("trimmed"),
            7
        );
        assert!(parse_number("perPage", &Some("abc".into()), 30).is_err());
        assert!(parse_bool(&Some("1".into())) && parse_bool(&Some("true".into())));
        assert!(!parse_bool(&Some("0".into())) && !parse_bool(&None));
    }
}

//! Listing records: choose where candidates come from (insertion order, an index order matching
//! the sort, an index plan for the filter, or a full scan), filter them through `crate::query`,
//! sort what is not already in order, paginate, count, then expand and project.

use super::access::{check, list_filter, request_info, Op};
use super::shape::Shape;
use super::RecordService;
use crate::auth::Caller;
use crate::error::{echo, ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::{CollectionId, Record, RecordId};
use crate::query::{
    self, CompileCtx, Compiled, EvalEnv, IdStream, ListPlan, RecordStream, RequestInfo, SortSpec,
    Val,
};
use crate::schema::{Collection, Snapshot};
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

/// One page of a list (records, collections, webhooks and their deliveries, request logs):
/// `total`/`pages` are -1 with `skipTotal`, as PocketBase.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: usize,
    pub per_page: usize,
    pub total: i64,
    pub pages: i64,
}

impl<T> Page<T> {
    /// A page of `items` out of `matched` in all (`None` with `skipTotal`).
    pub fn new(items: Vec<T>, page: usize, per_page: usize, matched: Option<usize>) -> Self {
        let (total, pages) = match matched {
            Some(n) => (n as i64, n.div_ceil(per_page.max(1)) as i64),
            None => (-1, -1),
        };
        Self {
            items,
            page,
            per_page,
            total,
            pages,
        }
    }

    /// The same page with every item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
            pages: self.pages,
        }
    }
}

impl Page<Value> {
    /// PocketBase's list envelope `{"items", "page", "perPage", "totalItems", "totalPages"}`.
    pub fn into_json(self) -> Value {
        json!({
            "items": self.items,
            "page": self.page,
            "perPage": self.per_page,
            "totalItems": self.total,
            "totalPages": self.pages,
        })
    }
}

/// Raw paging parameters of a list that is not a records list (collections, deliveries), as
/// the client sent them.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PageParams {
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub skip_total: Option<String>,
    pub filter: Option<String>,
    /// Read by the lists that can sort (collections, request logs).
    pub sort: Option<String>,
}

impl PageParams {
    /// `(page, perPage, skipTotal)` checked as a records list checks them.
    pub fn resolve(&self) -> ApiResult<(usize, usize, bool)> {
        let page = parse_number("page", &self.page, 1)?;
        let per_page = parse_number("perPage", &self.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
        Ok((page, per_page, parse_bool(&self.skip_total)))
    }

    /// The filter, if any non-blank one was given.
    pub fn filter(&self) -> Option<&str> {
        self.filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
    }
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

/// One list request after parsing and access checks: what the executor needs.
struct PageQuery<'q> {
    col: &'q CollectionId,
    /// Everything that restricts the result (the list rule included).
    filter: Option<&'q Compiled>,
    sort: &'q SortSpec,
    env: &'q EvalEnv<'q>,
    offset: usize,
    per_page: usize,
    /// `skipTotal` was not given.
    need_total: bool,
}

impl PageQuery<'_> {
    fn matches(&self, rec: &Record) -> ApiResult<bool> {
        match self.filter {
            Some(f) => Ok(f.matches(rec.fields(), self.env)?),
            None => Ok(true),
        }
    }
}

/// A page of records, the total when it was asked for, and how they were found.
struct Found {
    items: Vec<Record>,
    total: Option<usize>,
    plan: String,
}

/// Runs `plan`: the column cache for unindexed scans when the filter and sort allow it, ids
/// read in order when the plan's order is the requested one, else every candidate filtered
/// and sorted in memory.
fn execute(app: &RecordService, plan: &ListPlan, q: &PageQuery<'_>) -> ApiResult<Found> {
    let store = app.store.as_ref();
    if matches!(plan, ListPlan::Scan) {
        // Its cost grows with the collection: straight to the pool, not an inline try.
        crate::work::expect_heavy()?;
    }
    let columnar = match plan {
        ListPlan::Scan => app
            .columns
            .try_page(store, q.col, q.filter, q.sort, q.env, q.offset, q.per_page)?,
        _ => None,
    };
    if let Some(page) = columnar {
        let items = column_items(app, q.col, &page)?;
        return Ok(Found {
            items,
            total: Some(page.total),
            plan: page.plan,
        });
    }
    let explain = plan.to_string();
    let (items, total) = match plan.ordered_ids(store, q.col, q.need_total)? {
        Some((ids, known)) => page_in_order(app, q, ids, known)?,
        None => page_sorted(app, q, plan.candidates(store, q.col))?,
    };
    Ok(Found {
        items,
        total,
        plan: explain,
    })
}

/// Reads one page from ids that are already in order: only the page's records are decoded when
/// there is no filter; with a filter, the scan stops once the page is full unless a total is
/// needed.
fn page_in_order(
    app: &RecordService,
    q: &PageQuery<'_>,
    ids: IdStream<'_>,
    known_total: Option<usize>,
) -> ApiResult<(Vec<Record>, Option<usize>)> {
    let need_total = q.need_total && known_total.is_none();
    let load = |id: &RecordId| app.store.get_record(q.col, id).map(|r| r.map(|r| r.record));
    if q.filter.is_none() {
        let mut items = Vec::with_capacity(q.per_page);
        for id in ids.skip(q.offset).take(q.per_page) {
            work::check()?;
            if let Some(rec) = load(&id?)? {
                items.push(rec);
            }
        }
        let total = match known_total {
            Some(t) => Some(t),
            None if need_total => Some(app.store.count_records(q.col)?),
            None => None,
        };
        return Ok((items, total));
    }
    let (mut items, mut seen) = (Vec::with_capacity(q.per_page), 0usize);
    for id in ids {
        work::check()?;
        let Some(rec) = load(&id?)? else { continue };
        if !q.matches(&rec)? {
            continue;
        }
        seen += 1;
        if seen > q.offset && items.len() < q.per_page {
            items.push(rec);
        } else if items.len() >= q.per_page && !need_total {
            break;
        }
    }
    Ok((items, known_total.or(need_total.then_some(seen))))
}

/// Filters every candidate, sorts the matches in memory and cuts the page out of them.
fn page_sorted(
    app: &RecordService,
    q: &PageQuery<'_>,
    rows: RecordStream<'_>,
) -> ApiResult<(Vec<Record>, Option<usize>)> {
    let mut all = Vec::new();
    for rec in rows {
        work::check()?;
        let rec = rec?;
        if q.matches(&rec)? {
            all.push(rec);
        }
    }
    let total = all.len();
    let keep = q.offset.saturating_add(q.per_page);
    sort_records(app, q.col, q.env, q.sort, &mut all, keep)?;
    let items = all.into_iter().skip(q.offset).take(q.per_page).collect();
    Ok((items, Some(total)))
}

/// Loads a column-cache page's records (a record deleted since is skipped, as in
/// `page_in_order`).
fn column_items(
    app: &RecordService,
    col: &CollectionId,
    page: &query::ColumnPage,
) -> ApiResult<Vec<Record>> {
    let mut items = Vec::with_capacity(page.ids.len());
    for id in &page.ids {
        if let Some(rec) = app.store.get_record(col, id)? {
            items.push(rec.record);
        }
    }
    Ok(items)
}

/// A record with its sort keys and rowid.
type Keyed = (Vec<Val<'static>>, u64, Record);

/// Sorts matches in memory: `sort`'s keys computed once per record, insertion order when the
/// sort is empty or uses `@rowid`, ties broken by id in the direction of the last key.
fn sort_records(
    app: &RecordService,
    col: &CollectionId,
    env: &EvalEnv<'_>,
    sort: &SortSpec,
    records: &mut Vec<Record>,
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
        let keys = sort.values(rec.fields(), env)?;
        let rowid = if by_rowid {
            app.store.rowid(col, rec.id())?.unwrap_or(u64::MAX)
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
            let tie = a.id().cmp(b.id());
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
    let env = EvalEnv::new(
        app.store.as_ref(),
        &schema,
        &app.rules,
        request,
        chrono::Utc::now(),
    );
    let plan = ListPlan::choose(&col, &schema.indexes(&col.id), filter.as_ref(), &sort);
    let query = PageQuery {
        col: &col.id,
        filter: filter.as_ref(),
        sort: &sort,
        env: &env,
        offset: (page - 1).saturating_mul(per_page),
        per_page,
        need_total: !skip_total,
    };
    let found = execute(app, &plan, &query)?;
    tracing::debug!(collection = %col.name, plan = %found.plan, "list plan");
    let total = if skip_total { None } else { found.total };
    let rendered = shape.render_many(app, &col, &found.items, caller)?;
    Ok(ListResult {
        body: Page::new(rendered, page, per_page, total).into_json(),
        plan: found.plan,
    })
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

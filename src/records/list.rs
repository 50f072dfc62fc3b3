//! Listing records: filter (through `crate::query`, using an index when one fits), pagination,
//! sort, totals, expand and projections.

use super::access::{check, Op};
use super::shape::Shape;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::{CollectionId, RecordData, RecordId};
use crate::query::{self, CompileCtx, Compiled, EvalEnv, RequestInfo};
use crate::schema::{Collection, FieldKind, Snapshot};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
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

#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Field {
        name: String,
        desc: bool,
    },
    /// Insertion order (`@rowid`), PocketBase's default.
    Rowid {
        desc: bool,
    },
    Random,
}

fn bad_param(param: &str, code: &'static str, message: String) -> ApiError {
    ApiError::bad_field(MSG_GENERIC, param, FieldError::new(code, message))
}

fn parse_number(param: &str, raw: &Option<String>, default: usize) -> ApiResult<usize> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n <= 0 => Ok(default),
            Ok(n) => Ok(n as usize),
            Err(_) => Err(bad_param(
                param,
                "validation_invalid_number",
                format!("{param} must be an integer, got {s:?}."),
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

/// Parses `sort` against the collection; non-superusers may not sort by what they cannot read.
fn parse_sort(col: &Collection, raw: &str, caller: &Caller) -> ApiResult<Vec<SortKey>> {
    let mut keys = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (desc, name) = match part.as_bytes()[0] {
            b'-' => (true, &part[1..]),
            b'+' => (false, &part[1..]),
            _ => (false, part),
        };
        if name == "@random" {
            keys.push(SortKey::Random);
            continue;
        }
        if name == "@rowid" {
            keys.push(SortKey::Rowid { desc });
            continue;
        }
        let Some(field) = col.field(name) else {
            return Err(bad_param(
                "sort",
                "validation_invalid_sort",
                format!("Unknown sort field {name:?}."),
            ));
        };
        let secret = matches!(field.kind, FieldKind::Password { .. })
            || (col.auth.is_some() && (name == "tokenKey" || name == "email"));
        if !caller.is_superuser() && (field.hidden || secret) {
            return Err(bad_param(
                "sort",
                "validation_invalid_sort",
                format!("Sorting by {name:?} is not allowed."),
            ));
        }
        keys.push(SortKey::Field {
            name: name.to_string(),
            desc,
        });
    }
    Ok(keys)
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        _ => 4,
    }
}

/// Total order over JSON values used for sorting (null < bool < number < text < other).
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(_) | Value::Object(_), Value::Array(_) | Value::Object(_)) => {
            a.to_string().cmp(&b.to_string())
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn id_of(d: &RecordData) -> &str {
    d.get("id").and_then(Value::as_str).unwrap_or("")
}

/// Insertion ranks of `records`, needed when the order involves `@rowid`.
fn rowids(app: &App, col: &Collection, records: &[RecordData]) -> ApiResult<HashMap<String, u64>> {
    let mut map = HashMap::with_capacity(records.len());
    for r in records {
        let id = id_of(r);
        let rank = app
            .store
            .rowid(&col.id, &RecordId::from(id))?
            .unwrap_or(u64::MAX);
        map.insert(id.to_string(), rank);
    }
    Ok(map)
}

/// Sorts by `keys` (insertion order when empty), ties broken by id.
fn sort_records(records: &mut [RecordData], keys: &[SortKey], ranks: &HashMap<String, u64>) {
    if keys.contains(&SortKey::Random) {
        use rand::seq::SliceRandom;
        records.shuffle(&mut rand::thread_rng());
        return;
    }
    let null = Value::Null;
    let rank = |r: &RecordData| ranks.get(id_of(r)).copied().unwrap_or(u64::MAX);
    let default = [SortKey::Rowid { desc: false }];
    let keys = if keys.is_empty() { &default[..] } else { keys };
    records.sort_by(|a, b| {
        for k in keys {
            let ord = match k {
                SortKey::Field { name, desc } => {
                    let ord =
                        compare_values(a.get(name).unwrap_or(&null), b.get(name).unwrap_or(&null));
                    if *desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                }
                SortKey::Rowid { desc } => {
                    let ord = rank(a).cmp(&rank(b));
                    if *desc {
                        ord.reverse()
                    } else {
                        ord
                    }
                }
                SortKey::Random => Ordering::Equal,
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        id_of(a).cmp(id_of(b))
    });
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

/// Matching records: through the best index when one fits, else a full scan. With `stop_after`
/// the scan ends once that many matches are found (only valid in id order).
fn filtered(
    app: &App,
    col: &Collection,
    schema: &Snapshot,
    filter: &Compiled,
    caller: &Caller,
    stop_after: Option<usize>,
    insertion_order: bool,
) -> ApiResult<(Vec<RecordData>, String)> {
    let plan = filter.index_plan(&schema.indexes(&col.id));
    let plan_text = plan
        .as_ref()
        .map_or("full scan".to_string(), ToString::to_string);
    tracing::debug!(collection = %col.name, filter = %filter, plan = %plan_text, "list plan");
    let request = RequestInfo {
        auth: caller.auth().map(|a| a.data.clone()),
        auth_collection: caller.auth().map(|a| a.collection.clone()),
        method: "GET".into(),
        context: "default".into(),
        ..RequestInfo::default()
    };
    let env = EvalEnv::new(app.store.as_ref(), schema, request, chrono::Utc::now());
    let candidates: Box<dyn Iterator<Item = Result<RecordData, _>>> = match &plan {
        Some(p) => Box::new(p.records(app.store.as_ref(), &col.id)),
        None if insertion_order => Box::new(in_insertion_order(app, &col.id)),
        None => Box::new(app.store.scan_records(&col.id).map(|r| r.map(|r| r.data))),
    };
    let stop_after = stop_after.filter(|_| plan.is_none());
    let mut out = Vec::new();
    for rec in candidates {
        let rec = rec?;
        if filter.matches(&rec, &env)? {
            out.push(rec);
            if stop_after.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
    }
    Ok((out, plan_text))
}

/// Records in insertion order (one point read per record).
fn in_insertion_order<'a>(
    app: &'a App,
    col: &CollectionId,
) -> impl Iterator<Item = Result<RecordData, crate::store::StoreError>> + 'a {
    let col = col.clone();
    app.store
        .scan_insertion_order(&col, false)
        .filter_map(move |id| match id {
            Ok(id) => app
                .store
                .get_record(&col, &id)
                .transpose()
                .map(|r| r.map(|r| r.data)),
            Err(e) => Some(Err(e)),
        })
}

/// `GET /api/collections/{c}/records`.
pub fn list(
    app: &App,
    collection: &str,
    params: &ListParams,
    caller: &Caller,
) -> ApiResult<ListResult> {
    let col = app.schema.require(collection)?;
    check(&col, Op::List, caller)?;
    let shape = Shape::parse(params.expand.as_deref(), params.fields.as_deref())?;
    shape.check(app, &col, caller)?;
    let schema = app.schema.snapshot();
    let filter = compile_filter(&col, &schema, params.filter.as_deref(), caller)?;
    let page = parse_number("page", &params.page, 1)?;
    let per_page = parse_number("perPage", &params.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let skip_total = parse_bool(&params.skip_total);
    let keys = match params.sort.as_deref() {
        Some(s) => parse_sort(&col, s, caller)?,
        None => Vec::new(),
    };
    let offset = (page - 1).saturating_mul(per_page);
    let mut plan = "insertion order".to_string();
    let (items, total): (Vec<RecordData>, Option<usize>) = if filter.is_none() && keys.is_empty() {
        // Default order straight from the insertion-order keys: only the page is read.
        let items = in_insertion_order(app, &col.id)
            .skip(offset)
            .take(per_page)
            .collect::<Result<Vec<_>, _>>()?;
        let total = if skip_total {
            None
        } else {
            Some(app.store.count_records(&col.id)?)
        };
        (items, total)
    } else {
        let mut all = match &filter {
            Some(f) => {
                let stop =
                    (keys.is_empty() && skip_total).then_some(offset.saturating_add(per_page));
                let (found, how) = filtered(app, &col, &schema, f, caller, stop, keys.is_empty())?;
                plan = how;
                found
            }
            None => {
                plan = "full scan".into();
                app.store
                    .scan_records(&col.id)
                    .map(|r| r.map(|r| r.data))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        let needs_ranks =
            keys.is_empty() || keys.iter().any(|k| matches!(k, SortKey::Rowid { .. }));
        let ranks = if needs_ranks {
            rowids(app, &col, &all)?
        } else {
            HashMap::new()
        };
        sort_records(&mut all, &keys, &ranks);
        let total = all.len();
        let items = all.into_iter().skip(offset).take(per_page).collect();
        (items, (!skip_total).then_some(total))
    };
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
    fn value_order_is_total_and_typed() {
        assert_eq!(compare_values(&json!(2), &json!(10)), Ordering::Less);
        assert_eq!(compare_values(&json!("10"), &json!("2")), Ordering::Less);
        assert_eq!(compare_values(&json!(null), &json!(false)), Ordering::Less);
        assert_eq!(compare_values(&json!(true), &json!(0)), Ordering::Less);
    }

    #[test]
    fn sort_is_stable_by_id() {
        let mut recs: Vec<RecordData> = [("b", 1), ("a", 1), ("c", 0)]
            .iter()
            .map(|(id, n)| {
                json!({"id": id, "n": n})
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        sort_records(
            &mut recs,
            &[SortKey::Field {
                name: "n".into(),
                desc: true,
            }],
            &HashMap::new(),
        );
        let ids: Vec<&str> = recs.iter().map(id_of).collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
    }
}

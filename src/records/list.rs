//! Listing records: pagination, sort, totals, expand and projections. Filters arrive with the
//! query engine; until then a filter is refused with a clear error, never ignored.

use super::access::{check, Op};
use super::shape::Shape;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, FieldError, MSG_GENERIC};
use crate::ids::RecordData;
use crate::schema::{Collection, FieldKind};
use serde_json::{json, Value};
use std::cmp::Ordering;

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
pub struct ListResult(pub Value);

#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Field { name: String, desc: bool },
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
        let name = if name == "@rowid" { "id" } else { name };
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

fn sort_records(records: &mut [RecordData], keys: &[SortKey]) {
    if keys.contains(&SortKey::Random) {
        use rand::seq::SliceRandom;
        records.shuffle(&mut rand::thread_rng());
        return;
    }
    let null = Value::Null;
    records.sort_by(|a, b| {
        for k in keys {
            if let SortKey::Field { name, desc } = k {
                let ord =
                    compare_values(a.get(name).unwrap_or(&null), b.get(name).unwrap_or(&null));
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
        id_of(a).cmp(id_of(b))
    });
}

fn unsupported(param: &str) -> ApiError {
    bad_param(
        param,
        "validation_unsupported_param",
        format!("The {param} parameter is not supported by this server version yet."),
    )
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
    for (name, v) in [("filter", &params.filter)] {
        if v.as_deref().is_some_and(|s| !s.trim().is_empty()) {
            return Err(unsupported(name));
        }
    }
    let page = parse_number("page", &params.page, 1)?;
    let per_page = parse_number("perPage", &params.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let skip_total = parse_bool(&params.skip_total);
    let keys = match params.sort.as_deref() {
        Some(s) => parse_sort(&col, s, caller)?,
        None => Vec::new(),
    };
    let offset = (page - 1).saturating_mul(per_page);
    let (items, total): (Vec<RecordData>, Option<usize>) = if keys.is_empty() {
        // Id order is storage order: stream the page, count keys only if asked.
        let items = app
            .store
            .scan_records(&col.id)
            .skip(offset)
            .take(per_page)
            .map(|r| r.map(|r| r.data))
            .collect::<Result<Vec<_>, _>>()?;
        let total = if skip_total {
            None
        } else {
            Some(app.store.count_records(&col.id)?)
        };
        (items, total)
    } else {
        let mut all = app
            .store
            .scan_records(&col.id)
            .map(|r| r.map(|r| r.data))
            .collect::<Result<Vec<_>, _>>()?;
        sort_records(&mut all, &keys);
        let total = all.len();
        let items = all.into_iter().skip(offset).take(per_page).collect();
        (items, (!skip_total).then_some(total))
    };
    let rendered = shape.render_many(app, &col, &items, caller)?;
    let (total_items, total_pages) = match total {
        Some(t) => (t as i64, t.div_ceil(per_page) as i64),
        None => (-1, -1),
    };
    Ok(ListResult(json!({
        "items": rendered,
        "page": page,
        "perPage": per_page,
        "totalItems": total_items,
        "totalPages": total_pages,
    })))
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
        );
        let ids: Vec<&str> = recs.iter().map(id_of).collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
    }
}

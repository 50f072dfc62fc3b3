//! The PocketBase list envelope for lists that are not records lists (collections, webhooks,
//! deliveries, plugins).

use serde_json::{json, Value};

/// `{"items", "page", "perPage", "totalItems", "totalPages"}`.
pub fn envelope(items: Vec<Value>, page: usize, per_page: usize, total: i64, pages: i64) -> Value {
    json!({
        "items": items,
        "page": page,
        "perPage": per_page,
        "totalItems": total,
        "totalPages": pages,
    })
}

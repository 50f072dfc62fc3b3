//! `GET|HEAD /api/health`.

use crate::auth::Caller;
use poem::handler;
use poem::web::Json;
use serde_json::{json, Value};

#[handler]
pub async fn health(caller: Caller) -> Json<Value> {
    let data = if caller.is_superuser() {
        json!({"canBackup": false})
    } else {
        json!({})
    };
    Json(json!({"message": "API is healthy.", "code": 200, "data": data}))
}

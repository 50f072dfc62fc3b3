//! `GET|HEAD /api/health`; superusers also get `canBackup`, `realIP` and `possibleProxyHeader`
//! like PocketBase.

use super::meta;
use crate::app::App;
use crate::auth::Caller;
use poem::web::{Data, Json};
use poem::{handler, Request};
use serde_json::{json, Value};
use std::sync::Arc;

#[handler]
pub async fn health(app: Data<&Arc<App>>, req: &Request, caller: Caller) -> Json<Value> {
    let data = if caller.is_superuser() {
        let proxy = &app.settings.current().trusted_proxy;
        json!({
            // False while a backup or restore runs.
            "canBackup": app.backups.can_backup(),
            "realIP": meta::real_ip(req, proxy),
            "possibleProxyHeader": meta::possible_proxy_header(req, proxy),
        })
    } else {
        json!({})
    };
    Json(json!({"message": "API is healthy.", "code": 200, "data": data}))
}

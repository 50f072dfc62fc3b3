//! `GET /api/plugins` (superusers): the loaded plugins with their sidecar status, hooks and
//! declared webhooks. The superuser check lives in `plugins::Plugins::list`.

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::records::PageParams;
use poem::handler;
use poem::web::{Data, Json, Query};
use serde_json::Value;
use std::sync::Arc;

#[handler]
pub async fn list(
    app: Data<&Arc<App>>,
    Query(q): Query<PageParams>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.plugins.list(&caller, &q.page, &q.per_page)?))
}

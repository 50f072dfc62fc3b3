//! Realtime endpoints: the WebSocket protocol at `/api/realtime/ws` and PocketBase's SSE at
//! `/api/realtime` (stream on GET, subscriptions on POST). The protocol lives in `realtime`.

use super::body;
use super::meta::client_ip;
use crate::app::App;
use crate::auth::{token, Caller};
use crate::error::ApiError;
use crate::realtime::{self, sse};
use poem::http::StatusCode;
use poem::web::websocket::WebSocket;
use poem::web::{Data, Query};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Deserialize, Default)]
pub struct WsQuery {
    token: Option<String>,
}

/// `GET /api/realtime/ws`: token from `Authorization` or `?token=` (or later an `auth` message).
#[handler]
pub async fn ws(
    app: Data<&Arc<App>>,
    req: &Request,
    Query(q): Query<WsQuery>,
    socket: WebSocket,
) -> Result<Response, ApiError> {
    let raw = req
        .header("authorization")
        .and_then(token::from_header)
        .map(str::to_string)
        .or(q.token)
        .filter(|t| !t.trim().is_empty());
    let caller = match &raw {
        Some(t) => app.caller(t),
        None => Caller::Guest,
    };
    let auth = realtime::hub_auth(caller, raw);
    let (conn, rx, guard) = app
        .realtime
        .hub
        .connect(auth, None, client_ip(req))
        .map_err(sse::refused_connection)?;
    let rt = app.realtime.clone();
    Ok(socket
        .config(realtime::ws::socket_config())
        .on_upgrade(move |s| realtime::ws::run(rt, s, conn, rx, guard))
        .into_response())
}

/// `GET /api/realtime`: the SSE stream (`PB_CONNECT` first).
#[handler]
pub async fn sse_connect(app: Data<&Arc<App>>, req: &Request) -> Result<Response, ApiError> {
    sse::connect(&app.realtime, client_ip(req))
}

/// `POST /api/realtime {clientId, subscriptions}` → 204.
#[handler]
pub async fn sse_subscribe(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let input = body::read(req, body, super::body_limit(&app)).await?;
    let raw = req
        .header("authorization")
        .and_then(token::from_header)
        .map(str::to_string)
        .filter(|_| caller.auth().is_some());
    sse::set_subscriptions(&app.realtime, &Value::Object(input.data), caller, raw)?;
    Ok(StatusCode::NO_CONTENT)
}

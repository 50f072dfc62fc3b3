//! The HTTP surface: one file per endpoint family. Handlers parse, call one service function and
//! render; the middleware here adds PocketBase's headers, CORS, and the error envelope for
//! everything (including poem's own 404/405s), all inside one tracing span per request
//! (`request_span`, which also sets `X-Request-Id`).

mod access_log;
mod admin;
mod auth;
mod backups;
mod batch;
pub mod body;
mod collections;
mod files;
mod health;
mod logs;
pub mod meta;
mod metrics;
mod openapi;
mod plugins;
mod public;
mod rate_limit;
mod realtime;
mod records;
mod request_span;
mod settings;
mod typegen;
mod webhooks;

use crate::app::App;
use crate::error::ApiError;
use poem::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use poem::{get, post, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use std::sync::Arc;

/// Builds the whole HTTP application.
pub fn routes(app: Arc<App>) -> impl Endpoint {
    let limited = app.clone();
    let logged = app.clone();
    let public_dir = !app.config.server.public_dir.as_os_str().is_empty();
    let docs = Arc::new(crate::openapi::OpenApi::new(
        app.schema.clone(),
        env!("CARGO_PKG_VERSION"),
    ));
    let route = Route::new()
        .at("/api/health", get(health::health).head(health::health))
        .at(
            "/api/collections",
            get(collections::list).post(collections::create),
        )
        .at("/api/collections/import", poem::put(collections::import))
        .at(
            "/api/collections/meta/validate",
            post(collections::validate),
        )
        .at(
            "/api/collections/:c",
            get(collections::view)
                .patch(collections::update)
                .delete(collections::delete),
        )
        .at(
            "/api/collections/:c/truncate",
            poem::delete(collections::truncate),
        )
        .at(
            "/api/collections/:c/records",
            get(records::list).head(records::list).post(records::create),
        )
        .at(
            "/api/collections/:c/records/:id",
            get(records::view)
                .patch(records::update)
                .delete(records::delete),
        )
        .at(
            "/api/collections/:c/auth-with-password",
            post(auth::auth_with_password),
        )
        .at("/api/collections/:c/auth-refresh", post(auth::auth_refresh))
        .at("/api/collections/:c/auth-methods", get(auth::auth_methods))
        .at(
            "/api/collections/:c/request-verification",
            post(auth::request_verification),
        )
        .at(
            "/api/collections/:c/confirm-verification",
            post(auth::confirm_verification),
        )
        .at(
            "/api/collections/:c/request-password-reset",
            post(auth::request_password_reset),
        )
        .at(
            "/api/collections/:c/confirm-password-reset",
            post(auth::confirm_password_reset),
        )
        .at(
            "/api/collections/:c/request-email-change",
            post(auth::request_email_change),
        )
        .at(
            "/api/collections/:c/confirm-email-change",
            post(auth::confirm_email_change),
        )
        .at(
            "/api/collections/:c/impersonate/:id",
            post(auth::impersonate),
        )
        .at("/api/mails", get(auth::mails))
        .at("/api/plugins", get(plugins::list))
        .at("/metrics", get(metrics::scrape))
        .at("/api/logs", get(logs::list))
        .at("/api/logs/stats", get(logs::stats))
        .at("/api/logs/:id", get(logs::view))
        .at("/api/settings", get(settings::get).patch(settings::update))
        .at("/api/settings/test/email", post(settings::test_email))
        .at("/api/batch", post(batch::batch))
        .at("/api/typegen.ts", get(typegen::typegen))
        .at("/api/files/token", post(files::token))
        .at(
            "/api/files/:c/:id/:name",
            get(files::download).head(files::download),
        )
        .at(
            "/api/realtime",
            get(realtime::sse_connect).post(realtime::sse_subscribe),
        )
        .at("/api/realtime/ws", get(realtime::ws))
        .at("/api/setup", get(auth::setup_status).post(auth::setup))
        .at("/_", get(admin::redirect))
        .at("/_/", get(admin::serve).head(admin::serve))
        .at("/_/*path", get(admin::serve).head(admin::serve))
        .at("/api/webhooks", get(webhooks::list).post(webhooks::create))
        .at(
            "/api/webhooks/:id",
            get(webhooks::view)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .at("/api/webhooks/:id/deliveries", get(webhooks::deliveries))
        .at(
            "/api/webhooks/:id/deliveries/:delivery/redeliver",
            post(webhooks::redeliver),
        )
        .at("/api/webhooks/:id/test", post(webhooks::test))
        .at("/api/backups", get(backups::list).post(backups::create))
        .at("/api/backups/upload", post(backups::upload))
        .at(
            "/api/backups/:key",
            get(backups::download)
                .head(backups::download)
                .delete(backups::delete),
        )
        .at("/api/backups/:key/restore", post(backups::restore))
        .at("/api/openapi.json", get(openapi::json).data(docs.clone()))
        .at("/api/openapi.yaml", get(openapi::yaml).data(docs))
        .at("/api/docs", get(openapi::docs_page))
        .at("/api/docs/rapidoc-min.js", get(openapi::rapidoc));
    // Static files at `/` (`[server] public_dir`); the API and dashboard routes above win.
    let route = if public_dir {
        route
            .at("/", get(public::serve).head(public::serve))
            .at("/*path", get(public::serve).head(public::serve))
    } else {
        route
    };
    route
        .data(app)
        .around(|ep, req| async move { Ok(envelope(ep.call(req).await)) })
        .around(move |ep, req| rate_limit::around(limited.clone(), ep, req))
        .around(cors_and_headers)
        .around(move |ep, req| access_log::around(logged.clone(), ep, req))
        .around(request_span::around)
}

/// Renders any error as the PocketBase envelope.
fn envelope(result: poem::Result<Response>) -> Response {
    match result {
        Ok(resp) => resp,
        Err(err) => {
            if let Some(api) = err.downcast_ref::<ApiError>() {
                return poem::error::ResponseError::as_response(api);
            }
            let api = match err.status() {
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => ApiError::not_found(),
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
                s if s.is_client_error() => ApiError::bad_request(err.to_string()),
                _ => ApiError::internal(err.to_string()),
            };
            poem::error::ResponseError::as_response(&api)
        }
    }
}

/// PocketBase's security headers and permissive CORS (preflight answered with 204).
async fn cors_and_headers<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let origin = req.header("origin").is_some();
    let preflight =
        req.method() == Method::OPTIONS && req.header("access-control-request-method").is_some();
    let mut resp = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            "access-control-allow-methods",
            HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
        );
        if let Some(v) = req.headers().get("access-control-request-headers") {
            h.insert("access-control-allow-headers", v.clone());
        }
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        r
    } else {
        let mut r = ep
            .call(req)
            .await
            .map(IntoResponse::into_response)
            .unwrap_or_else(|e| e.into_response());
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Origin"));
        r
    };
    let h = resp.headers_mut();
    if origin || preflight {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    // Header names as constants: inserting by `&str` parses the name on every response.
    const X_XSS_PROTECTION: HeaderName = HeaderName::from_static("x-xss-protection");
    const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(X_XSS_PROTECTION, HeaderValue::from_static("1; mode=block"));
    h.insert(COOP, HeaderValue::from_static("same-origin"));
    Ok(resp)
}

/// The configured body limit.
pub fn body_limit(app: &App) -> usize {
    app.config.server.body_limit
}

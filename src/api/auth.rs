//! Auth endpoints of auth collections: `/api/collections/{c}/auth-*`, the account flows, and
//! `GET /api/mails` (messages kept when SMTP is not configured).

use super::body;
use super::meta::client_ip;
use crate::accounts::{
    self, EmailChangeConfirm, EmailChangeRequest, EmailRequest, Impersonation, PasswordLogin,
    PasswordResetConfirm, TokenConfirm,
};
use crate::app::App;
use crate::auth::{token, Caller};
use crate::error::ApiError;
use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{handler, Body, IntoResponse, Request, Response};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::Arc;

/// The request body (JSON, form or multipart) as the flow's typed body `T`.
async fn input<T: DeserializeOwned>(app: &App, req: &Request, body: Body) -> Result<T, ApiError> {
    accounts::parse_body(body::read(req, body, super::body_limit(app)).await?.data)
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[handler]
pub async fn auth_with_password(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let data: PasswordLogin = input(&app, req, body).await?;
    let r = accounts::auth_with_password(&app.accounts, &c, &data, &client_ip(req)).await?;
    Ok(Json(r.0))
}

#[handler]
pub async fn auth_refresh(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let raw = req.header("authorization").and_then(token::from_header);
    Ok(Json(
        accounts::refresh(&app.accounts, &c, &caller, raw).await?.0,
    ))
}

#[handler]
pub async fn auth_methods(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(accounts::auth_methods(&app.accounts, &c)?))
}

#[handler]
pub async fn request_verification(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Response, ApiError> {
    let data: EmailRequest = input(&app, req, body).await?;
    accounts::request_verification(&app.accounts, &c, &data).await?;
    Ok(no_content())
}

#[handler]
pub async fn confirm_verification(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Response, ApiError> {
    let data: TokenConfirm = input(&app, req, body).await?;
    accounts::confirm_verification(&app.accounts, &c, &data).await?;
    Ok(no_content())
}

#[handler]
pub async fn request_password_reset(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Response, ApiError> {
    let data: EmailRequest = input(&app, req, body).await?;
    accounts::request_password_reset(&app.accounts, &c, &data).await?;
    Ok(no_content())
}

#[handler]
pub async fn confirm_password_reset(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Response, ApiError> {
    let data: PasswordResetConfirm = input(&app, req, body).await?;
    accounts::confirm_password_reset(&app.accounts, &c, &data, &client_ip(req)).await?;
    Ok(no_content())
}

#[handler]
pub async fn request_email_change(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Response, ApiError> {
    let data: EmailChangeRequest = input(&app, req, body).await?;
    accounts::request_email_change(&app.accounts, &c, &data, &caller).await?;
    Ok(no_content())
}

#[handler]
pub async fn confirm_email_change(
    app: Data<&Arc<App>>,
    Path(c): Path<String>,
    req: &Request,
    body: Body,
) -> Result<Response, ApiError> {
    let data: EmailChangeConfirm = input(&app, req, body).await?;
    accounts::confirm_email_change(&app.accounts, &c, &data, &client_ip(req)).await?;
    Ok(no_content())
}

#[handler]
pub async fn impersonate(
    app: Data<&Arc<App>>,
    Path((c, id)): Path<(String, String)>,
    req: &Request,
    body: Body,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let data: Impersonation = input(&app, req, body).await?;
    Ok(Json(
        accounts::impersonate(&app.accounts, &c, &id, &data, &caller)
            .await?
            .0,
    ))
}

/// `GET /api/mails`: the kept messages, newest first (superusers only: they hold tokens).
#[handler]
pub async fn mails(app: Data<&Arc<App>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let items = app.accounts.kept_mails(&caller)?;
    Ok(Json(json!({"items": items, "totalItems": items.len()})))
}

/// `GET /api/setup`: whether the first-run setup is waiting (no superuser yet, token armed).
#[handler]
pub async fn setup_status(app: Data<&Arc<App>>) -> Json<Value> {
    Json(json!({"needed": app.accounts.setup.needed()}))
}

/// `POST /api/setup {token, email, password, passwordConfirm}`: the first superuser, signed in.
#[handler]
pub async fn setup(
    app: Data<&Arc<App>>,
    req: &Request,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let data: accounts::SetupBody = input(&app, req, body).await?;
    Ok(Json(app.accounts.first_superuser(&data).await?.0))
}

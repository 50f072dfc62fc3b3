//! Account flows of auth collections, wire-compatible with PocketBase: `auth-methods`, email
//! verification, password reset, email change and superuser impersonation. Their tokens are JWTs
//! with PocketBase's claims signed with `tokenKey` + the token kind's secret, so they are
//! single-use where it matters: a reset changes the password and an email change the email,
//! and both rotate `tokenKey`.

use super::bodies::{
    missing, EmailChangeConfirm, EmailChangeRequest, EmailRequest, Impersonation,
    PasswordResetConfirm, TokenConfirm,
};
use super::login::{issue_auth, opts, require_auth_collection, AuthResponse};
use super::AccountService;
use crate::auth::{password, token, Caller};
use crate::error::{ApiError, ApiResult, FieldError, FieldErrors, MSG_AUTH_REQUIRED};
use crate::ids::{Record, RecordData, RecordId};
use crate::mail::Mail;
use crate::query::RequestInfo;
use crate::records::{self, render, Shape};
use crate::schema::{names, Collection, TokenConfig};
use serde_json::{json, Value};
use std::sync::Arc;

const MSG_INVALID: &str = "An error occurred while validating the submitted data.";

fn field_error(key: &str, err: FieldError) -> ApiError {
    ApiError::validation(MSG_INVALID, FieldErrors::single(key, err))
}

fn invalid_token(code: &'static str) -> ApiError {
    field_error("token", FieldError::new(code, "Invalid or expired token."))
}

/// `GET /api/collections/{c}/auth-methods`.
pub fn auth_methods(app: &AccountService, collection: &str) -> ApiResult<Value> {
    let col = require_auth_collection(app, collection)?;
    let o = opts(&col)?;
    let pw = &o.password_auth;
    let has = |f: &str| pw.enabled && pw.identity_fields.iter().any(|x| x == f);
    Ok(json!({
        "password": {"identityFields": pw.identity_fields, "enabled": pw.enabled},
        "oauth2": {"providers": [], "enabled": false},
        "mfa": {"enabled": false, "duration": 0},
        "otp": {"enabled": false, "duration": 0},
        "authProviders": [],
        "usernamePassword": has("username"),
        "emailPassword": has(names::EMAIL),
    }))
}

fn record_str<'a>(data: &'a RecordData, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A flow token of `kind` for `rec`, signed with its tokenKey + `cfg.secret`.
fn issue(
    col: &Collection,
    rec: &Record,
    kind: &str,
    cfg: &TokenConfig,
    new_email: Option<String>,
) -> ApiResult<String> {
    let data = rec.fields();
    let mut claims = token::Claims::new(col.id.as_str(), rec.id().as_str(), kind, cfg.duration);
    claims.email = Some(record_str(data, names::EMAIL).to_string());
    claims.new_email = new_email;
    token::sign_for_record(&claims, data, &cfg.secret).map_err(ApiError::internal)
}

/// The claims and current record of a valid flow token of `kind` for `col`: signature (with
/// the record's current tokenKey), expiry, type, collection, and the email it was issued for.
fn verify(
    app: &AccountService,
    col: &Collection,
    raw: &str,
    kind: &str,
    cfg: &TokenConfig,
) -> Option<(token::Claims, Record)> {
    let claims = token::peek(raw)?;
    if claims.kind != kind || claims.collection_id != col.id.as_str() {
        return None;
    }
    let stored = app
        .store
        .get_record(&col.id, &RecordId::from(claims.id.as_str()))
        .ok()??
        .record;
    let claims = token::verify(
        raw,
        record_str(stored.fields(), names::TOKEN_KEY),
        &cfg.secret,
    )?;
    if claims.email.as_deref() != Some(record_str(stored.fields(), names::EMAIL)) {
        return None;
    }
    Some((claims, stored))
}

/// Renders a `{subject, body}` template for `to`.
fn render_mail(app: &AccountService, to: &str, template: &Value, token: &str) -> Mail {
    let fill = |s: &str| {
        s.replace("{APP_NAME}", &app.app_name)
            .replace("{APP_URL}", &app.app_url)
            .replace("{TOKEN}", token)
    };
    let field = |k: &str| template.get(k).and_then(Value::as_str).unwrap_or("");
    Mail {
        to: to.to_string(),
        subject: fill(field("subject")),
        html: fill(field("body")),
    }
}

/// Queues the mail `build` makes for the account with `email` in `col`, if there is one. The
/// lookup happens in the mail queue, so the request does the same work either way and cannot
/// tell whether the account exists.
fn queue_account_mail(
    app: &Arc<AccountService>,
    col: Arc<Collection>,
    email: String,
    build: fn(&AccountService, &Collection, &Record, &str) -> ApiResult<Option<Mail>>,
) {
    let app_ref = Arc::downgrade(app);
    app.mailer.queue(Box::new(move || {
        let app = app_ref.upgrade()?;
        let rec = super::find_by_unique(&app, &col, names::EMAIL, &email)?;
        build(&app, &col, &rec, &email).unwrap_or_else(|e| {
            tracing::error!(collection = %col.id, error = %e, "cannot build an account mail");
            None
        })
    }));
}

/// An email of a request body (sent as `key`), validated like the collection's email field.
fn email_input(col: &Collection, value: &str, key: &str) -> ApiResult<String> {
    let email = value.trim().to_lowercase();
    if email.is_empty() {
        return Err(field_error(key, FieldError::required()));
    }
    if let Some(f) = col.field(names::EMAIL) {
        f.validate(&Value::String(email.clone()))
            .map_err(|e| field_error(key, e))?;
    }
    Ok(email)
}

/// Updates a record as the server itself (flows have checked the token instead of rules).
async fn system_update(
    app: &AccountService,
    col: &Collection,
    id: &RecordId,
    patch: Value,
) -> ApiResult<Record> {
    let req = records::Request {
        data: patch.as_object().cloned().unwrap_or_default(),
        from_form: false,
        ..Default::default()
    };
    let caller = Caller::System;
    app.records
        .update(
            col.id.as_str(),
            id.as_str(),
            &req,
            &Shape::default(),
            &caller,
            &RequestInfo::default(),
        )
        .await
        .map_err(|e| match e {
            ApiError::Validation { errors, .. } => ApiError::validation(MSG_INVALID, errors),
            other => other,
        })?;
    let stored = app
        .store
        .get_record(&col.id, id)?
        .ok_or_else(ApiError::not_found)?;
    Ok(stored.record)
}

/// `POST …/request-verification {email}`: 204 whether or not the account exists.
pub async fn request_verification(
    app: &Arc<AccountService>,
    collection: &str,
    body: &EmailRequest,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let email = email_input(&col, &body.email, "email")?;
    queue_account_mail(app, col, email, verification_mail);
    Ok(())
}

/// The verification mail for an unverified account.
fn verification_mail(
    app: &AccountService,
    col: &Collection,
    rec: &Record,
    email: &str,
) -> ApiResult<Option<Mail>> {
    if rec.fields().get(names::VERIFIED) == Some(&Value::Bool(true)) {
        return Ok(None);
    }
    let o = opts(col)?;
    let t = issue(
        col,
        rec,
        token::TYPE_VERIFICATION,
        &o.verification_token,
        None,
    )?;
    Ok(Some(render_mail(app, email, &o.verification_template, &t)))
}

/// `POST …/confirm-verification {token}`.
pub async fn confirm_verification(
    app: &AccountService,
    collection: &str,
    body: &TokenConfirm,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let raw = body.token.as_str();
    if raw.is_empty() {
        return Err(field_error("token", FieldError::required()));
    }
    let o = opts(&col)?;
    let (_, rec) = verify(
        app,
        &col,
        raw,
        token::TYPE_VERIFICATION,
        &o.verification_token,
    )
    .ok_or_else(|| invalid_token("validation_invalid_token_claims"))?;
    if rec.fields().get(names::VERIFIED) == Some(&Value::Bool(true)) {
        return Ok(());
    }
    system_update(app, &col, rec.id(), json!({ (names::VERIFIED): true })).await?;
    Ok(())
}

/// `POST …/request-password-reset {email}`: 204 whether or not the account exists.
pub async fn request_password_reset(
    app: &Arc<AccountService>,
    collection: &str,
    body: &EmailRequest,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let email = email_input(&col, &body.email, "email")?;
    queue_account_mail(app, col, email, reset_mail);
    Ok(())
}

/// The password-reset mail for an account.
fn reset_mail(
    app: &AccountService,
    col: &Collection,
    rec: &Record,
    email: &str,
) -> ApiResult<Option<Mail>> {
    let o = opts(col)?;
    let t = issue(
        col,
        rec,
        token::TYPE_PASSWORD_RESET,
        &o.password_reset_token,
        None,
    )?;
    Ok(Some(render_mail(
        app,
        email,
        &o.reset_password_template,
        &t,
    )))
}

/// The failed-attempt limiter key of a flow token: the record it names (or one shared key for
/// tokens that are not even JWTs), so guessing is limited per account and per IP.
fn limiter_identity(raw: &str) -> String {
    token::peek(raw).map_or_else(|| "malformed-token".to_string(), |c| c.id)
}

/// `POST …/confirm-password-reset {token, password, passwordConfirm}`. Changes the password
/// (rotating tokenKey, so the token and every session die) and marks the email verified.
pub async fn confirm_password_reset(
    app: &AccountService,
    collection: &str,
    body: &PasswordResetConfirm,
    ip: &str,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let raw = body.token.as_str();
    let errors = missing(&[
        ("token", raw),
        (names::PASSWORD, &body.password),
        (names::PASSWORD_CONFIRM, &body.password_confirm),
    ]);
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_INVALID, errors));
    }
    let who = limiter_identity(raw);
    app.logins.check(col.id.as_str(), &who, ip)?;
    let o = opts(&col)?;
    let Some((_, rec)) = verify(
        app,
        &col,
        raw,
        token::TYPE_PASSWORD_RESET,
        &o.password_reset_token,
    ) else {
        app.logins.failed(col.id.as_str(), &who, ip);
        return Err(invalid_token("validation_invalid_token"));
    };
    let patch = json!({
        (names::PASSWORD): body.password,
        (names::PASSWORD_CONFIRM): body.password_confirm,
        (names::VERIFIED): true,
    });
    system_update(app, &col, rec.id(), patch).await?;
    app.logins.succeeded(col.id.as_str(), &who);
    Ok(())
}

/// `POST …/request-email-change {newEmail}` by the authenticated record itself.
pub async fn request_email_change(
    app: &AccountService,
    collection: &str,
    body: &EmailChangeRequest,
    caller: &Caller,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let rec = caller
        .auth()
        .ok_or_else(|| ApiError::Unauthorized(MSG_AUTH_REQUIRED.into()))?;
    if rec.collection.id != col.id {
        return Err(ApiError::Forbidden(crate::error::MSG_NOT_ALLOWED.into()));
    }
    let new_email = email_input(&col, &body.new_email, "newEmail")?;
    let taken = super::find_by_unique(app, &col, names::EMAIL, &new_email).is_some();
    if taken || new_email == record_str(rec.fields(), names::EMAIL) {
        return Err(field_error(
            "newEmail",
            FieldError::new("validation_invalid_new_email", "Invalid new email address."),
        ));
    }
    let o = opts(&col)?;
    let t = issue(
        &col,
        &rec.record,
        token::TYPE_EMAIL_CHANGE,
        &o.email_change_token,
        Some(new_email.clone()),
    )?;
    app.mailer
        .send(render_mail(
            app,
            &new_email,
            &o.confirm_email_change_template,
            &t,
        ))
        .await
        .map_err(|_| ApiError::bad_request("Failed to request email change."))
}

/// `POST …/confirm-email-change {token, password}`: sets the new email (verified) and rotates
/// tokenKey, so the token is single-use and older sessions end.
pub async fn confirm_email_change(
    app: &AccountService,
    collection: &str,
    body: &EmailChangeConfirm,
    ip: &str,
) -> ApiResult<()> {
    let col = require_auth_collection(app, collection)?;
    let raw = body.token.as_str();
    let errors = missing(&[("token", raw), (names::PASSWORD, &body.password)]);
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_INVALID, errors));
    }
    let who = limiter_identity(raw);
    app.logins.check(col.id.as_str(), &who, ip)?;
    let o = opts(&col)?;
    let verified = verify(
        app,
        &col,
        raw,
        token::TYPE_EMAIL_CHANGE,
        &o.email_change_token,
    );
    let Some((claims, rec)) = verified.filter(|(c, _)| c.new_email.is_some()) else {
        app.logins.failed(col.id.as_str(), &who, ip);
        return Err(invalid_token("validation_invalid_token_payload"));
    };
    let stored = record_str(rec.fields(), names::PASSWORD).to_string();
    if !password::verify(body.password.clone(), stored).await {
        app.logins.failed(col.id.as_str(), &who, ip);
        return Err(field_error(
            names::PASSWORD,
            FieldError::new("validation_invalid_password", "Invalid password."),
        ));
    }
    let new_email = claims.new_email.unwrap_or_default();
    system_update(
        app,
        &col,
        rec.id(),
        json!({ (names::EMAIL): new_email, (names::VERIFIED): true }),
    )
    .await?;
    app.logins.succeeded(col.id.as_str(), &who);
    Ok(())
}

/// `POST …/impersonate/{id} {duration?}`: superusers only; a non-refreshable auth token.
pub async fn impersonate(
    app: &AccountService,
    collection: &str,
    id: &str,
    body: &Impersonation,
    caller: &Caller,
) -> ApiResult<AuthResponse> {
    match caller {
        Caller::Superuser(_) | Caller::System => {}
        Caller::Record(_) => return Err(ApiError::Forbidden(crate::error::MSG_NOT_ALLOWED.into())),
        Caller::Guest => return Err(ApiError::Unauthorized(MSG_AUTH_REQUIRED.into())),
    }
    let col = require_auth_collection(app, collection)?;
    let rec = app
        .store
        .get_record(&col.id, &RecordId::from(id))?
        .ok_or_else(ApiError::not_found)?
        .record;
    let duration = match &body.duration {
        None | Some(Value::Null) => opts(&col)?.auth_token.duration,
        Some(v) => match v.as_f64() {
            Some(d) if (0.0..=10.0 * 365.0 * 86_400.0).contains(&d) && d.fract() == 0.0 => {
                if d == 0.0 {
                    opts(&col)?.auth_token.duration
                } else {
                    d as u64
                }
            }
            _ => {
                return Err(field_error(
                    "duration",
                    FieldError::new(
                        "validation_invalid_value",
                        "Must be a whole number of seconds (at most ten years).",
                    ),
                ))
            }
        },
    };
    let token = issue_auth(&col, &rec, duration, false)?;
    let record = render::record(&col, &rec, caller);
    Ok(AuthResponse(json!({"token": token, "record": record})))
}

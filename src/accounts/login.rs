//! Password login and token refresh for auth collections (superusers included).

use super::bodies::{missing, PasswordLogin};
use super::AccountService;
use crate::auth::{password, token, AuthRecord, Caller};
use crate::error::{ApiError, ApiResult, FieldError, MSG_AUTH_REQUIRED};
use crate::ids::{Record, RecordData, RecordId};
use crate::records::{self, render};
use crate::schema::{names, AuthOptions, Collection};
use serde_json::{json, Map, Value};
use std::sync::Arc;

const MSG_FAILED: &str = "Failed to authenticate.";
const MSG_INVALID: &str = "An error occurred while validating the submitted data.";

/// `{token, record}` as PocketBase returns it.
pub struct AuthResponse(pub Value);

pub(super) fn require_auth_collection(
    app: &AccountService,
    name: &str,
) -> ApiResult<Arc<Collection>> {
    let col = app.schema.require(name)?;
    if col.auth.is_none() {
        return Err(ApiError::NotFound(
            "Missing or invalid auth collection context.".into(),
        ));
    }
    Ok(col)
}

/// The auth options of an auth collection (callers have already checked it is one).
pub(super) fn opts(col: &Collection) -> ApiResult<&AuthOptions> {
    col.auth
        .as_ref()
        .ok_or_else(|| ApiError::internal("not an auth collection"))
}

fn issue(col: &Collection, rec: &Record) -> ApiResult<String> {
    let opts = opts(col)?;
    issue_auth(col, rec, opts.auth_token.duration, true)
}

/// An auth token for `rec` valid for `duration` seconds.
pub(super) fn issue_auth(
    col: &Collection,
    rec: &Record,
    duration: u64,
    refreshable: bool,
) -> ApiResult<String> {
    let opts = opts(col)?;
    let mut claims = token::Claims::new(
        col.id.as_str(),
        rec.id().as_str(),
        token::TYPE_AUTH,
        duration,
    );
    claims.refreshable = Some(refreshable);
    token::sign_for_record(&claims, rec.fields(), &opts.auth_token.secret)
        .map_err(ApiError::internal)
}

/// A short-lived file token for the caller's own record (`POST /api/files/token`): what
/// protected file downloads take in `?token=`. Guests get PocketBase's 401.
pub fn file_token(caller: &Caller) -> ApiResult<String> {
    let auth = caller
        .auth()
        .ok_or_else(|| ApiError::Unauthorized(MSG_AUTH_REQUIRED.into()))?;
    let col = &auth.collection;
    let cfg = &opts(col)?.file_token;
    let claims = token::Claims::new(
        col.id.as_str(),
        auth.id().as_str(),
        token::TYPE_FILE,
        cfg.duration,
    );
    token::sign_for_record(&claims, auth.fields(), &cfg.secret).map_err(ApiError::internal)
}

pub(super) fn response(
    col: &Arc<Collection>,
    rec: &Record,
    caller: &Caller,
) -> ApiResult<AuthResponse> {
    let token = issue(col, rec)?;
    let record = render::record(col, rec, caller);
    Ok(AuthResponse(json!({"token": token, "record": record})))
}

/// `POST /api/collections/{c}/auth-with-password`.
pub async fn auth_with_password(
    app: &AccountService,
    collection: &str,
    body: &PasswordLogin,
    ip: &str,
) -> ApiResult<AuthResponse> {
    let col = require_auth_collection(app, collection)?;
    let opts = opts(&col)?;
    if !opts.password_auth.enabled {
        return Err(ApiError::Forbidden(
            "The collection is not configured to allow password authentication.".into(),
        ));
    }
    let (identity, pass) = (body.identity.as_str(), body.password.as_str());
    let mut errors = missing(&[("identity", identity), (names::PASSWORD, pass)]);
    let fields = &opts.password_auth.identity_fields;
    let identity_field = match Some(body.identity_field.as_str()).filter(|s| !s.is_empty()) {
        Some(f) if fields.iter().any(|x| x == f) => Some(f.to_string()),
        Some(_) => {
            errors.add(
                "identityField",
                FieldError::new("validation_in_invalid", "Must be a valid value."),
            );
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(MSG_INVALID, errors));
    }
    let candidates: Vec<String> = match identity_field {
        Some(f) => vec![f],
        None => fields.clone(),
    };
    let found = candidates
        .iter()
        .find_map(|f| find_by_unique(app, &col, f, identity));
    // Verify against a decoy hash when the identity is unknown: same cost, no account probing.
    let (stored_hash, record) = match found {
        Some(rec) => (
            rec.fields()
                .get(names::PASSWORD)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            Some(rec),
        ),
        None => (password::decoy_hash().await, None),
    };
    app.logins.check(col.id.as_str(), identity, ip)?;
    let ok = password::verify(pass.to_string(), stored_hash).await;
    match record {
        Some(rec) if ok => {
            app.logins.succeeded(col.id.as_str(), identity);
            let caller = caller_for(&col, &rec);
            check_auth_rule(app, &col, rec.fields(), &caller)?;
            response(&col, &rec, &caller)
        }
        _ => {
            app.logins.failed(col.id.as_str(), identity, ip);
            Err(ApiError::bad_request(MSG_FAILED))
        }
    }
}

/// `POST /api/collections/{c}/auth-refresh`. A non-refreshable token (impersonation) comes
/// back unchanged.
pub async fn refresh(
    app: &AccountService,
    collection: &str,
    caller: &Caller,
    raw_token: Option<&str>,
) -> ApiResult<AuthResponse> {
    let col = require_auth_collection(app, collection)?;
    let rec = caller
        .auth()
        .ok_or_else(|| ApiError::Unauthorized(MSG_AUTH_REQUIRED.into()))?;
    if rec.collection.id != col.id {
        return Err(ApiError::Forbidden(crate::error::MSG_NOT_ALLOWED.into()));
    }
    check_auth_rule(app, &col, rec.fields(), caller)?;
    let fixed = raw_token.filter(|t| token::peek(t).is_some_and(|c| c.refreshable == Some(false)));
    if let Some(t) = fixed {
        let record = render::record(&col, &rec.record, caller);
        return Ok(AuthResponse(json!({"token": t, "record": record})));
    }
    response(&col, &rec.record, caller)
}

/// The collection's authRule for the authenticating record: 403 when it fails.
fn check_auth_rule(
    app: &AccountService,
    col: &Collection,
    data: &RecordData,
    caller: &Caller,
) -> ApiResult<()> {
    let schema = app.schema.snapshot();
    let rules = app.records.rules.get(&schema, &col.id);
    let info = records::request_info(&Default::default(), caller, &Map::new());
    if app
        .records
        .eval_rule(&schema, &rules.auth, data, caller, &info)
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "The request doesn't satisfy the collection requirements to authenticate.".into(),
        ))
    }
}

pub(super) fn caller_for(col: &Arc<Collection>, rec: &Record) -> Caller {
    let rec = Arc::new(AuthRecord {
        collection: col.clone(),
        record: rec.clone(),
    });
    if col.id.as_str() == crate::schema::SUPERUSERS_ID {
        Caller::Superuser(rec)
    } else {
        Caller::Record(rec)
    }
}

/// Finds a record by a field that has a single-column unique index.
pub fn find_by_unique(
    app: &AccountService,
    col: &Collection,
    field: &str,
    value: &str,
) -> Option<Record> {
    let value = if field == names::EMAIL {
        value.to_lowercase()
    } else {
        value.to_string()
    };
    let spec = col
        .index_specs()
        .into_iter()
        .find(|s| s.unique && s.fields.len() == 1 && s.fields[0] == field)?;
    let id: RecordId = app
        .store
        .scan_index(&col.id, &spec.name, &[Value::String(value)], false)
        .next()?
        .ok()?;
    app.store.get_record(&col.id, &id).ok()?.map(|r| r.record)
}

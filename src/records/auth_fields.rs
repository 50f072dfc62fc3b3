//! What auth collections add to a record write: hashed passwords with confirmation and
//! `oldPassword`, lower-cased emails, `verified`/`email` reserved to managers, and `tokenKey`
//! rotation whenever the password or email changes or the record stops passing the authRule.

use super::tx::Tx;
use super::write::Request;
use crate::auth::{password, AuthRecord, Caller};
use crate::error::{FieldError, FieldErrors};
use crate::ids::{Record, RecordData};
use crate::query::{RequestInfo, Rule};
use crate::schema::{names, random_alphanumeric, Collection, Field, FieldKind};
use serde_json::{Map, Value};
use std::sync::Arc;

pub(super) fn is_secret_auth_field(col: &Collection, f: &Field) -> bool {
    col.auth.is_some()
        && (f.name == names::TOKEN_KEY || matches!(f.kind, FieldKind::Password { .. }))
}

/// Hashes a plain `password`-type field value (non-auth collections).
pub(super) async fn password_input(
    f: &Field,
    req: &Request,
    errors: &mut FieldErrors,
) -> Option<String> {
    let plain = req
        .data
        .get(&f.name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())?;
    if let Err(e) = f.validate(&Value::String(plain.to_string())) {
        errors.add(f.name.clone(), e);
        return None;
    }
    password::hash(plain.to_string()).await.ok()
}

/// Whether `caller` passes the auth collection's manageRule for `record` (superusers always).
pub(super) fn manages(
    tx: &Tx<'_>,
    col: &Collection,
    record: &RecordData,
    caller: &Caller,
    info: &RequestInfo,
) -> bool {
    super::access::manages(tx.app, &tx.schema, col, record, caller, info)
}

pub(super) async fn stage_auth_create(
    col: &Collection,
    req: &Request,
    manager: bool,
    data: &mut RecordData,
    errors: &mut FieldErrors,
) {
    data.insert(
        names::TOKEN_KEY.into(),
        Value::String(random_alphanumeric(50)),
    );
    lowercase_email(data);
    if !manager && data.get(names::VERIFIED) == Some(&Value::Bool(true)) {
        errors.add(
            names::VERIFIED,
            FieldError::new(
                "validation_values_mismatch",
                "Only superusers and managers can set this field.",
            ),
        );
    }
    if let Some(hash) = new_password(col, req, errors, true).await {
        data.insert(names::PASSWORD.into(), Value::String(hash));
    }
}

pub(super) fn lowercase_email(data: &mut RecordData) {
    // Emails are compared case-insensitively: ALICE@x.io and alice@x.io are one account.
    if let Some(Value::String(e)) = data.get_mut(names::EMAIL) {
        *e = e.to_lowercase();
    }
}

/// Validates `password` + `passwordConfirm` of an auth record and returns the new hash.
pub(super) async fn new_password(
    col: &Collection,
    req: &Request,
    errors: &mut FieldErrors,
    required: bool,
) -> Option<String> {
    let plain = req
        .data
        .get(names::PASSWORD)
        .and_then(Value::as_str)
        .unwrap_or("");
    if plain.is_empty() {
        if required {
            errors.add(names::PASSWORD, FieldError::required());
            if req
                .data
                .get(names::PASSWORD_CONFIRM)
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                errors.add(names::PASSWORD_CONFIRM, FieldError::required());
            }
        }
        return None;
    }
    let confirm = req
        .data
        .get(names::PASSWORD_CONFIRM)
        .and_then(Value::as_str)
        .unwrap_or("");
    if confirm.is_empty() {
        errors.add(names::PASSWORD_CONFIRM, FieldError::required());
    } else if confirm != plain {
        errors.add(
            names::PASSWORD_CONFIRM,
            FieldError::new("validation_values_mismatch", "Values don't match."),
        );
    }
    if let Some(f) = col.field(names::PASSWORD) {
        if let Err(e) = f.validate(&Value::String(plain.to_string())) {
            errors.add(names::PASSWORD, e);
        }
    }
    if !errors.is_empty() {
        return None;
    }
    match password::hash(plain.to_string()).await {
        Ok(h) => Some(h),
        Err(_) => {
            errors.add(
                names::PASSWORD,
                FieldError::new(
                    "validation_invalid_password",
                    "Failed to hash the password.",
                ),
            );
            None
        }
    }
}

pub(super) async fn stage_auth_update(
    col: &Collection,
    req: &Request,
    manager: bool,
    before: &RecordData,
    data: &mut RecordData,
    errors: &mut FieldErrors,
) {
    lowercase_email(data);
    if !manager {
        for key in [names::EMAIL, names::VERIFIED] {
            if data.get(key) != before.get(key) {
                errors.add(
                    key,
                    FieldError::new(
                        "validation_values_mismatch",
                        "Only superusers and managers can change this field.",
                    ),
                );
            }
        }
    }
    let changing = req
        .data
        .get(names::PASSWORD)
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty());
    if changing && !manager {
        let old = req
            .data
            .get(names::OLD_PASSWORD)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let stored = before
            .get(names::PASSWORD)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if old.is_empty() {
            errors.add(names::OLD_PASSWORD, FieldError::required());
        } else if !password::verify(old, stored).await {
            errors.add(
                names::OLD_PASSWORD,
                FieldError::new(
                    "validation_invalid_old_password",
                    "Missing or invalid old password.",
                ),
            );
        }
    }
    if let Some(hash) = new_password(col, req, errors, false).await {
        data.insert(names::PASSWORD.into(), Value::String(hash));
        // A new password revokes every token issued before it.
        data.insert(
            names::TOKEN_KEY.into(),
            Value::String(random_alphanumeric(50)),
        );
    }
    if data.get(names::EMAIL) != before.get(names::EMAIL) {
        // So does a new email (and it makes email-change tokens single-use).
        data.insert(
            names::TOKEN_KEY.into(),
            Value::String(random_alphanumeric(50)),
        );
    }
}

/// An update after which the record no longer passes its collection's authRule (say a manager
/// unverifies it under `verified = true`) revokes its tokens: the rule is checked at login only,
/// so tokens issued while it passed would keep working. Records that did not pass before keep
/// their `tokenKey`, so their pending verification and reset links stay valid.
pub(super) fn revoke_if_auth_rule_fails(
    tx: &Tx<'_>,
    col: &Arc<Collection>,
    before: &Record,
    data: &mut RecordData,
) {
    let rules = tx.app.rules.get(&tx.schema, &col.id);
    if !matches!(rules.auth, Rule::Expr(_)) {
        return;
    }
    let passes = |d: &RecordData| {
        let caller = Caller::Record(Arc::new(AuthRecord {
            collection: col.clone(),
            record: Record::new(before.id().clone(), d.clone()),
        }));
        let info = super::access::request_info(&RequestInfo::default(), &caller, &Map::new());
        super::access::eval(tx.app, &tx.schema, &rules.auth, d, &caller, &info)
    };
    let old = before.fields();
    if data.get(names::TOKEN_KEY) == old.get(names::TOKEN_KEY) && passes(old) && !passes(data) {
        data.insert(
            names::TOKEN_KEY.into(),
            Value::String(random_alphanumeric(50)),
        );
    }
}

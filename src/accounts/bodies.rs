//! Request bodies of the auth endpoints as typed structs. Text fields read leniently, as the
//! flows always have: a missing or null key, or a value that is not a string (a number, or the
//! array a repeated form key becomes), is the empty string, which the flows report as
//! `validation_required` on that key, as PocketBase does. Unknown keys are ignored.

use crate::error::{ApiError, ApiResult, FieldError, FieldErrors};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A string value as itself, anything else as `""`.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        _ => String::new(),
    })
}

/// Reads a body object (JSON, form or multipart, already merged into one map) as `T`.
pub fn parse<T: DeserializeOwned>(data: Map<String, Value>) -> ApiResult<T> {
    serde_json::from_value(Value::Object(data)).map_err(|e| {
        ApiError::bad_field(
            "Failed to load the submitted data due to invalid formatting.",
            "body",
            FieldError::new("invalid_body", e.to_string()),
        )
    })
}

/// `validation_required` for every `(key, value)` whose value is empty.
pub(super) fn missing(fields: &[(&str, &str)]) -> FieldErrors {
    let mut errors = FieldErrors::new();
    for (key, value) in fields {
        if value.is_empty() {
            errors.add(*key, FieldError::required());
        }
    }
    errors
}

/// `auth-with-password {identity, password, identityField?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordLogin {
    #[serde(default, deserialize_with = "text")]
    pub identity: String,
    #[serde(default, deserialize_with = "text")]
    pub password: String,
    /// Empty: try every identity field of the collection.
    #[serde(default, deserialize_with = "text")]
    pub identity_field: String,
}

/// `request-verification` and `request-password-reset {email}`.
#[derive(Debug, Default, Deserialize)]
pub struct EmailRequest {
    #[serde(default, deserialize_with = "text")]
    pub email: String,
}

/// `confirm-verification {token}`.
#[derive(Debug, Default, Deserialize)]
pub struct TokenConfirm {
    #[serde(default, deserialize_with = "text")]
    pub token: String,
}

/// `confirm-password-reset {token, password, passwordConfirm}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordResetConfirm {
    #[serde(default, deserialize_with = "text")]
    pub token: String,
    #[serde(default, deserialize_with = "text")]
    pub password: String,
    #[serde(default, deserialize_with = "text")]
    pub password_confirm: String,
}

/// `request-email-change {newEmail}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailChangeRequest {
    #[serde(default, deserialize_with = "text")]
    pub new_email: String,
}

/// `confirm-email-change {token, password}`.
#[derive(Debug, Default, Deserialize)]
pub struct EmailChangeConfirm {
    #[serde(default, deserialize_with = "text")]
    pub token: String,
    #[serde(default, deserialize_with = "text")]
    pub password: String,
}

/// `impersonate/{id} {duration?}`: seconds; kept as sent (null and absent are the same) so the
/// flow can say what is wrong with it.
#[derive(Debug, Default, Deserialize)]
pub struct Impersonation {
    #[serde(default)]
    pub duration: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn non_strings_read_as_empty_and_unknown_keys_are_ignored() {
        let b: PasswordLogin = parse(map(json!({
            "identity": 5, "password": ["a", "b"], "identityField": null, "extra": {}
        })))
        .unwrap();
        assert_eq!((b.identity.as_str(), b.password.as_str()), ("", ""));
        assert_eq!(b.identity_field, "");
        let b: PasswordResetConfirm =
            parse(map(json!({"token": "t", "passwordConfirm": "p"}))).unwrap();
        assert_eq!(
            (
                b.token.as_str(),
                b.password.as_str(),
                b.password_confirm.as_str()
            ),
            ("t", "", "p")
        );
        let b: EmailChangeRequest = parse(map(json!({"newEmail": "a@b.io"}))).unwrap();
        assert_eq!(b.new_email, "a@b.io");
    }

    #[test]
    fn impersonation_duration_keeps_its_value_and_null_is_absent() {
        let b: Impersonation = parse(map(json!({"duration": null}))).unwrap();
        assert!(b.duration.is_none());
        let b: Impersonation = parse(map(json!({"duration": "10"}))).unwrap();
        assert_eq!(b.duration, Some(json!("10")));
    }

    #[test]
    fn missing_lists_only_empty_values() {
        let e = missing(&[("token", ""), ("password", "x"), ("passwordConfirm", "")]);
        let keys: Vec<&String> = e.keys().collect();
        assert_eq!(keys, ["passwordConfirm", "token"]);
        assert_eq!(e.get("token").unwrap()["code"], "validation_required");
    }
}

//! JWTs with PocketBase's claims (`{collectionId, exp, id, refreshable, type}`), HS256 only,
//! signed with `record.tokenKey + collection secret` so rotating `tokenKey` revokes a record's
//! tokens and rotating the collection secret revokes all of them.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    pub collection_id: String,
    pub exp: i64,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    #[serde(rename = "type")]
    pub kind: String,
    /// The record's email when the token was issued (verification, password reset, email change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The requested address of an email-change token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_email: Option<String>,
}

pub const TYPE_AUTH: &str = "auth";
pub const TYPE_VERIFICATION: &str = "verification";
pub const TYPE_PASSWORD_RESET: &str = "passwordReset";
pub const TYPE_EMAIL_CHANGE: &str = "emailChange";
pub const TYPE_FILE: &str = "file";

impl Claims {
    /// The claims of a `kind` token for record `id` of `collection_id`, valid for `duration`
    /// seconds from now (optional claims unset).
    pub fn new(collection_id: &str, id: &str, kind: &str, duration: u64) -> Self {
        Self {
            collection_id: collection_id.to_string(),
            exp: chrono::Utc::now().timestamp() + duration as i64,
            id: id.to_string(),
            refreshable: None,
            kind: kind.to_string(),
            email: None,
            new_email: None,
        }
    }
}

/// Signs `claims` for the record whose fields are `record`: its `tokenKey` plus `secret`.
pub fn sign_for_record(
    claims: &Claims,
    record: &crate::ids::RecordData,
    secret: &str,
) -> Result<String, jsonwebtoken::errors::Error> {
    let key = record
        .get(crate::schema::names::TOKEN_KEY)
        .and_then(|v| v.as_str())
        .unwrap_or("");
    sign(claims, key, secret)
}

/// Signs `claims` with the concatenated key.
pub fn sign(
    claims: &Claims,
    token_key: &str,
    secret: &str,
) -> Result<String, jsonwebtoken::errors::Error> {
    let key = EncodingKey::from_secret(format!("{token_key}{secret}").as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key)
}

/// Reads the claims WITHOUT checking the signature, to find which record's key verifies it.
pub fn peek(token: &str) -> Option<Claims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::HS256 {
        return None;
    }
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .ok()
        .map(|d| d.claims)
}

/// Verifies signature (HS256 only) and expiry.
pub fn verify(token: &str, token_key: &str, secret: &str) -> Option<Claims> {
    let key = DecodingKey::from_secret(format!("{token_key}{secret}").as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.required_spec_claims = ["exp".to_string()].into_iter().collect();
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .ok()
        .map(|d| d.claims)
}

/// Extracts the token from an `Authorization` header: raw, or `Bearer <token>` in any case.
pub fn from_header(value: &str) -> Option<&str> {
    let v = value.trim();
    let token = match v.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => v,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            collection_id: "c".into(),
            exp,
            id: "r".into(),
            refreshable: Some(true),
            kind: TYPE_AUTH.into(),
            email: None,
            new_email: None,
        }
    }

    #[test]
    fn sign_verify_and_reject_tampering() {
        let exp = chrono::Utc::now().timestamp() + 60;
        let t = sign(&claims(exp), "tk", "sec").expect("sign");
        assert_eq!(verify(&t, "tk", "sec"), Some(claims(exp)));
        assert_eq!(peek(&t).map(|c| c.id), Some("r".into()));
        assert!(
            verify(&t, "other", "sec").is_none(),
            "rotated tokenKey must revoke"
        );
        // Swap the payload for one with another id: signature no longer matches.
        let parts: Vec<&str> = t.split('.').collect();
        let forged_claims = Claims {
            id: "admin".into(),
            ..claims(exp)
        };
        let forged_payload = sign(&forged_claims, "x", "y").expect("sign");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            forged_payload.split('.').nth(1).unwrap_or(""),
            parts[2]
        );
        assert!(verify(&forged, "tk", "sec").is_none());
    }

    #[test]
    fn expired_and_alg_none_are_rejected() {
        let t = sign(&claims(chrono::Utc::now().timestamp() - 1), "tk", "sec").expect("sign");
        assert!(verify(&t, "tk", "sec").is_none());
        // {"alg":"none","typ":"JWT"} . claims . (empty signature)
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJjb2xsZWN0aW9uSWQiOiJjIiwiZXhwIjo5OTk5OTk5OTk5LCJpZCI6InIiLCJ0eXBlIjoiYXV0aCJ9.";
        assert!(peek(none).is_none());
        assert!(verify(none, "tk", "sec").is_none());
    }

    #[test]
    fn header_forms() {
        assert_eq!(from_header("abc"), Some("abc"));
        assert_eq!(from_header("Bearer abc"), Some("abc"));
        assert_eq!(from_header("bEaReR  abc "), Some("abc"));
        assert_eq!(from_header("Token abc"), None);
        assert_eq!(from_header(""), None);
    }
}

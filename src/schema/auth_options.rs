//! Options of auth collections. Rules, password auth and the token settings are modelled; the
//! rest (MFA, OTP, OAuth2, alerts, mail templates) is kept as opaque JSON with PocketBase's defaults.
//! Token secrets are generated here, stored, and never rendered by `to_json(false)`.

use super::collection_input::parse_rule;
use super::idgen::random_alphanumeric;
use crate::error::{FieldError, FieldErrors};
use serde_json::{json, Map, Value};

/// Length of generated token secrets.
const SECRET_LEN: usize = 50;

/// Lifetime and signing secret of one kind of token.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenConfig {
    /// Seconds.
    pub duration: u64,
    pub secret: String,
}

impl TokenConfig {
    /// A config with a freshly generated secret.
    pub fn new(duration: u64) -> Self {
        Self {
            duration,
            secret: random_alphanumeric(SECRET_LEN),
        }
    }
}

/// Whether password login is on and which fields identify a record.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordAuth {
    pub enabled: bool,
    pub identity_fields: Vec<String>,
}

/// Every auth-collection option PocketBase exposes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOptions {
    pub auth_rule: Option<String>,
    pub manage_rule: Option<String>,
    pub password_auth: PasswordAuth,
    pub auth_token: TokenConfig,
    pub password_reset_token: TokenConfig,
    pub email_change_token: TokenConfig,
    pub verification_token: TokenConfig,
    pub file_token: TokenConfig,
    pub mfa: Value,
    pub otp: Value,
    pub oauth2: Value,
    pub auth_alert: Value,
    pub verification_template: Value,
    pub reset_password_template: Value,
    pub confirm_email_change_template: Value,
}

/// JSON keys of the token settings, in `AuthOptions` field order.
pub const TOKEN_KEYS: [&str; 5] = [
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
];
const OPAQUE_KEYS: [&str; 7] = [
    "mfa",
    "otp",
    "oauth2",
    "authAlert",
    "verificationTemplate",
    "resetPasswordTemplate",
    "confirmEmailChangeTemplate",
];

fn template(subject: &str, body: &str) -> Value {
    json!({ "subject": subject, "body": body })
}

impl Default for AuthOptions {
    fn default() -> Self {
        Self {
            auth_rule: Some(String::new()),
            manage_rule: None,
            password_auth: PasswordAuth { enabled: true, identity_fields: vec!["email".into()] },
            auth_token: TokenConfig::new(432_000),
            password_reset_token: TokenConfig::new(1800),
            email_change_token: TokenConfig::new(1800),
            verification_token: TokenConfig::new(86_400),
            file_token: TokenConfig::new(180),
            mfa: json!({"enabled": false, "duration": 600, "rule": ""}),
            otp: json!({"enabled": false, "duration": 180, "length": 8, "emailTemplate": template(
                "OTP for {APP_NAME}",
                "<p>Hello,</p>\n<p>Your one-time password is: <strong>{OTP}</strong></p>\n<p>Ignore this email if you did not ask for it.</p>\n<p>The {APP_NAME} team</p>",
            )}),
            oauth2: json!({
                "enabled": false,
                "providers": [],
                "mappedFields": {"id": "", "name": "", "username": "", "avatarURL": ""},
            }),
            auth_alert: json!({"enabled": true, "emailTemplate": template(
                "Login from a new location",
                "<p>Hello,</p>\n<p>Your {APP_NAME} account was just used from a new location.</p>\n<p>If this was not you, change your {APP_NAME} password now to sign out every other session.</p>\n<p>The {APP_NAME} team</p>",
            )}),
            verification_template: template(
                "Verify your {APP_NAME} email",
                "<p>Hello,</p>\n<p>Thank you for joining {APP_NAME}. Confirm your email address:</p>\n<p><a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-verification/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Verify</a></p>\n<p>The {APP_NAME} team</p>",
            ),
            reset_password_template: template(
                "Reset your {APP_NAME} password",
                "<p>Hello,</p>\n<p>Follow the link below to choose a new password:</p>\n<p><a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-password-reset/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Reset password</a></p>\n<p>Ignore this email if you did not ask for it.</p>\n<p>The {APP_NAME} team</p>",
            ),
            confirm_email_change_template: template(
                "Confirm your {APP_NAME} new email address",
                "<p>Hello,</p>\n<p>Follow the link below to confirm your new email address:</p>\n<p><a class=\"btn\" href=\"{APP_URL}/_/#/auth/confirm-email-change/{TOKEN}\" target=\"_blank\" rel=\"noopener\">Confirm new email</a></p>\n<p>Ignore this email if you did not ask for it.</p>\n<p>The {APP_NAME} team</p>",
            ),
        }
    }
}

impl AuthOptions {
    /// The token settings stored under a `TOKEN_KEYS` entry.
    pub fn token(&self, key: &str) -> Option<&TokenConfig> {
        match key {
            "authToken" => Some(&self.auth_token),
            "passwordResetToken" => Some(&self.password_reset_token),
            "emailChangeToken" => Some(&self.email_change_token),
            "verificationToken" => Some(&self.verification_token),
            "fileToken" => Some(&self.file_token),
            _ => None,
        }
    }

    fn token_mut(&mut self, key: &str) -> Option<&mut TokenConfig> {
        match key {
            "authToken" => Some(&mut self.auth_token),
            "passwordResetToken" => Some(&mut self.password_reset_token),
            "emailChangeToken" => Some(&mut self.email_change_token),
            "verificationToken" => Some(&mut self.verification_token),
            "fileToken" => Some(&mut self.file_token),
            _ => None,
        }
    }

    fn opaque_mut(&mut self, key: &str) -> Option<&mut Value> {
        match key {
            "mfa" => Some(&mut self.mfa),
            "otp" => Some(&mut self.otp),
            "oauth2" => Some(&mut self.oauth2),
            "authAlert" => Some(&mut self.auth_alert),
            "verificationTemplate" => Some(&mut self.verification_template),
            "resetPasswordTemplate" => Some(&mut self.reset_password_template),
            "confirmEmailChangeTemplate" => Some(&mut self.confirm_email_change_template),
            _ => None,
        }
    }

    /// The option keys of the collection JSON; secrets only when `with_secrets` (storage).
    pub fn to_json(&self, with_secrets: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("authRule".into(), json!(self.auth_rule));
        m.insert("manageRule".into(), json!(self.manage_rule));
        m.insert(
            "passwordAuth".into(),
            json!({"enabled": self.password_auth.enabled, "identityFields": self.password_auth.identity_fields}),
        );
        for key in TOKEN_KEYS {
            if let Some(t) = self.token(key) {
                let mut v = json!({"duration": t.duration});
                if with_secrets {
                    v["secret"] = json!(t.secret);
                }
                m.insert(key.into(), v);
            }
        }
        let opaque = [
            &self.mfa,
            &self.otp,
            &self.oauth2,
            &self.auth_alert,
            &self.verification_template,
            &self.reset_password_template,
            &self.confirm_email_change_template,
        ];
        for (key, v) in OPAQUE_KEYS.iter().zip(opaque) {
            m.insert((*key).into(), v.clone());
        }
        if !with_secrets {
            if let Some(providers) = m.get_mut("oauth2").and_then(|o| o.get_mut("providers")) {
                for p in providers.as_array_mut().into_iter().flatten() {
                    if let Some(p) = p.as_object_mut() {
                        p.remove(OAUTH2_SECRET);
                    }
                }
            }
        }
        m
    }

    /// Revokes every auth token of the collection (a new `authToken` secret) when this update
    /// changes who may authenticate: PocketBase rotates the secret when `authRule` changes, so a
    /// tightened rule cannot be sidestepped with a token issued under the old one. Unlike
    /// PocketBase, `null` ↔ `""` counts as a change (`null` locks everyone out).
    pub fn revoke_tokens_if_auth_changed(&mut self, before: &AuthOptions) {
        if self.auth_rule != before.auth_rule {
            self.auth_token.secret = TokenConfig::new(self.auth_token.duration).secret;
        }
    }

    /// Applies the auth keys present in `input` (create body, PATCH body or storage); nested
    /// objects are merged key by key. Problems are recorded in `errs` under the option's path.
    pub fn apply_patch(&mut self, input: &Map<String, Value>, errs: &mut FieldErrors) {
        for key in ["authRule", "manageRule"] {
            let Some(v) = input.get(key) else { continue };
            match parse_rule(v) {
                Ok(rule) if key == "authRule" => self.auth_rule = rule,
                Ok(rule) => self.manage_rule = rule,
                Err(e) => errs.add(key, e),
            }
        }
        if let Some(v) = input.get("passwordAuth") {
            self.apply_password_auth(v, errs);
        }
        for key in TOKEN_KEYS {
            let (Some(v), Some(token)) = (input.get(key), self.token_mut(key)) else {
                continue;
            };
            apply_token(token, key, v, errs);
        }
        for key in OPAQUE_KEYS {
            let (Some(v), Some(slot)) = (input.get(key), self.opaque_mut(key)) else {
                continue;
            };
            match (v, slot) {
                (Value::Object(patch), Value::Object(cur)) => {
                    let mut patch = patch.clone();
                    if key == "oauth2" {
                        keep_provider_secrets(cur, &mut patch);
                    }
                    cur.extend(patch);
                }
                (Value::Null, _) => {}
                _ => errs.add(
                    key,
                    FieldError::new("validation_invalid_value", "Must be an object."),
                ),
            }
        }
    }

    fn apply_password_auth(&mut self, v: &Value, errs: &mut FieldErrors) {
        let Some(o) = v.as_object() else {
            errs.add(
                "passwordAuth",
                FieldError::new("validation_invalid_value", "Must be an object."),
            );
            return;
        };
        match o.get("enabled") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => self.password_auth.enabled = *b,
            Some(_) => errs.add_nested(
                &["passwordAuth", "enabled"],
                FieldError::new("validation_invalid_value", "Must be a boolean."),
            ),
        }
        match o.get("identityFields") {
            None | Some(Value::Null) => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                self.password_auth.identity_fields = a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect();
            }
            Some(_) => errs.add_nested(
                &["passwordAuth", "identityFields"],
                FieldError::new("validation_invalid_value", "Must be a list of field names."),
            ),
        }
    }
}

/// OAuth2 provider key that, like token secrets, is stored but never shown.
const OAUTH2_SECRET: &str = "clientSecret";

/// The API hides provider secrets, so a client re-sending a provider without one keeps the
/// stored secret (matched by provider `name`).
fn keep_provider_secrets(cur: &Map<String, Value>, patch: &mut Map<String, Value>) {
    let old: Vec<&Value> = cur
        .get("providers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let Some(new) = patch.get_mut("providers").and_then(Value::as_array_mut) else {
        return;
    };
    for p in new.iter_mut().filter_map(Value::as_object_mut) {
        if p.get(OAUTH2_SECRET)
            .is_some_and(|s| !s.is_null() && s != "")
        {
            continue;
        }
        let secret = old
            .iter()
            .find(|o| o.get("name").is_some() && o.get("name") == p.get("name"))
            .and_then(|o| o.get(OAUTH2_SECRET));
        if let Some(secret) = secret {
            p.insert(OAUTH2_SECRET.into(), secret.clone());
        }
    }
}

fn apply_token(token: &mut TokenConfig, key: &str, v: &Value, errs: &mut FieldErrors) {
    let Some(o) = v.as_object() else {
        errs.add(
            key,
            FieldError::new("validation_invalid_value", "Must be an object."),
        );
        return;
    };
    if let Some(d) = o.get("duration").filter(|d| !d.is_null()) {
        match d.as_u64() {
            Some(n) if (10..=10 * 365 * 86_400).contains(&n) => token.duration = n,
            _ => errs.add_nested(
                &[key, "duration"],
                FieldError::new(
                    "validation_invalid_value",
                    "Must be a whole number of seconds between 10 and 315360000.",
                )
                .with_params(json!({"min": 10, "max": 315_360_000})),
            ),
        }
    }
    if let Some(s) = o.get("secret").filter(|s| !s.is_null()) {
        match s.as_str() {
            Some(s) if (30..=255).contains(&s.chars().count()) => token.secret = s.to_string(),
            _ => errs.add_nested(
                &[key, "secret"],
                FieldError::new(
                    "validation_length_out_of_range",
                    "The length must be between 30 and 255.",
                )
                .with_params(json!({"min": 30, "max": 255})),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(opts: &mut AuthOptions, v: Value) -> FieldErrors {
        let mut errs = FieldErrors::new();
        opts.apply_patch(v.as_object().unwrap(), &mut errs);
        errs
    }

    #[test]
    fn an_auth_rule_change_rotates_only_the_auth_token_secret() {
        let before = AuthOptions::default();
        let mut same = before.clone();
        assert!(patch(&mut same, json!({"manageRule": "id != ''", "authRule": ""})).is_empty());
        same.revoke_tokens_if_auth_changed(&before);
        assert_eq!(same.auth_token.secret, before.auth_token.secret);
        for rule in [json!("verified = true"), Value::Null] {
            let mut after = before.clone();
            assert!(patch(&mut after, json!({ "authRule": rule })).is_empty());
            after.revoke_tokens_if_auth_changed(&before);
            assert_ne!(after.auth_token.secret, before.auth_token.secret, "{rule}");
            assert_eq!(after.auth_token.secret.len(), 50);
            assert_eq!(after.auth_token.duration, before.auth_token.duration);
            assert_eq!(after.file_token, before.file_token);
        }
    }

    #[test]
    fn defaults_have_secrets_that_are_never_rendered() {
        let o = AuthOptions::default();
        assert_eq!(o.auth_token.secret.len(), 50);
        assert_ne!(o.auth_token.secret, o.file_token.secret);
        let api = Value::Object(o.to_json(false));
        assert!(!api.to_string().contains(&o.auth_token.secret));
        assert!(!api.to_string().contains("secret"));
        assert_eq!(api["authToken"], json!({"duration": 432000}));
        assert_eq!(
            api["passwordAuth"],
            json!({"enabled": true, "identityFields": ["email"]})
        );
        assert_eq!(api["authRule"], json!(""));
        assert_eq!(api["manageRule"], Value::Null);
        assert_eq!(api["mfa"]["duration"], json!(600));
        assert_eq!(api["otp"]["length"], json!(8));
        assert_eq!(api.as_object().unwrap().len(), 15);
        let stored = Value::Object(o.to_json(true));
        assert_eq!(stored["fileToken"]["secret"], json!(o.file_token.secret));
    }

    #[test]
    fn patch_merges_and_round_trips() {
        let mut o = AuthOptions::default();
        let errs = patch(
            &mut o,
            json!({"authRule": null, "manageRule": "id != ''", "authToken": {"duration": 100},
                   "mfa": {"enabled": true}, "passwordAuth": {"identityFields": ["email", "username"]}}),
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(o.auth_rule, None);
        assert_eq!(o.manage_rule.as_deref(), Some("id != ''"));
        assert_eq!(o.auth_token.duration, 100);
        assert_eq!(o.auth_token.secret.len(), 50);
        assert_eq!(o.mfa, json!({"enabled": true, "duration": 600, "rule": ""}));
        assert!(o.password_auth.enabled);
        assert_eq!(o.password_auth.identity_fields, ["email", "username"]);

        let mut copy = AuthOptions::default();
        assert!(patch(&mut copy, Value::Object(o.to_json(true))).is_empty());
        assert_eq!(copy, o);
    }

    #[test]
    fn oauth2_client_secrets_are_stored_but_hidden() {
        let mut o = AuthOptions::default();
        let provider = json!({"name": "github", "clientId": "id1", "clientSecret": "s3cret"});
        let errs = patch(
            &mut o,
            json!({"oauth2": {"enabled": true, "providers": [provider]}}),
        );
        assert!(errs.is_empty());
        let api = Value::Object(o.to_json(false));
        assert_eq!(
            api["oauth2"]["providers"],
            json!([{"name": "github", "clientId": "id1"}])
        );
        assert_eq!(api["oauth2"]["enabled"], json!(true));
        // Re-sending what the API showed keeps the secret.
        assert!(patch(&mut o, json!({"oauth2": api["oauth2"].clone()})).is_empty());
        let stored = Value::Object(o.to_json(true));
        assert_eq!(
            stored["oauth2"]["providers"][0]["clientSecret"],
            json!("s3cret")
        );
    }

    #[test]
    fn patch_reports_bad_values() {
        let mut o = AuthOptions::default();
        let errs = patch(
            &mut o,
            json!({"authRule": 5, "authToken": {"duration": 1, "secret": "short"}, "otp": [],
                   "passwordAuth": {"enabled": "yes", "identityFields": "email"}, "fileToken": 3}),
        );
        let v = errs.into_value();
        assert_eq!(v["authRule"]["code"], "validation_invalid_rule");
        assert_eq!(
            v["authToken"]["duration"]["code"],
            "validation_invalid_value"
        );
        assert_eq!(
            v["authToken"]["secret"]["code"],
            "validation_length_out_of_range"
        );
        assert_eq!(v["otp"]["code"], "validation_invalid_value");
        assert_eq!(v["fileToken"]["code"], "validation_invalid_value");
        assert_eq!(
            v["passwordAuth"]["enabled"]["code"],
            "validation_invalid_value"
        );
        assert_eq!(
            v["passwordAuth"]["identityFields"]["code"],
            "validation_invalid_value"
        );
    }
}

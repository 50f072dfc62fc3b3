//! First run: while no superuser exists, `serve` arms a one-time setup token and prints a link to
//! the dashboard's setup page (`/_/#/setup?token=…`); `POST /api/setup` with that token creates
//! the first superuser and signs them in. The token lives in memory only: it is valid until it is
//! used or the server restarts, and a failed attempt (bad email, weak password) keeps it.

use super::login::{caller_for, response, AuthResponse};
use super::AccountService;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::RequestInfo;
use crate::records::{Request, Shape};
use crate::schema::{names, SUPERUSERS_ID};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Mutex;

pub const MSG_BAD_TOKEN: &str = "The setup token is invalid or was already used.";

/// `POST /api/setup {token, email, password, passwordConfirm}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetupBody {
    pub token: String,
    pub email: String,
    pub password: String,
    pub password_confirm: String,
}

/// The armed token, if any.
#[derive(Default)]
pub struct Setup {
    token: Mutex<Option<String>>,
}

impl Setup {
    /// Arms a new one-time token and returns it (for the link `serve` prints).
    pub fn arm(&self) -> String {
        let token = crate::schema::random_alphanumeric(40);
        *self.lock() = Some(token.clone());
        token
    }

    /// Whether a setup token is waiting to be used.
    pub fn needed(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the token if `offered` is it (compared as digests, so timing says nothing about
    /// the prefix); only one request can hold it at a time.
    fn take(&self, offered: &str) -> Option<String> {
        let mut armed = self.lock();
        let matches = armed
            .as_deref()
            .is_some_and(|t| Sha256::digest(t.as_bytes()) == Sha256::digest(offered.as_bytes()));
        if matches {
            armed.take()
        } else {
            None
        }
    }

    fn put_back(&self, token: String) {
        let mut armed = self.lock();
        if armed.is_none() {
            *armed = Some(token);
        }
    }
}

impl AccountService {
    /// Creates the first superuser with the setup token and signs them in.
    pub async fn first_superuser(&self, body: &SetupBody) -> ApiResult<AuthResponse> {
        let Some(token) = self.setup.take(&body.token) else {
            return Err(ApiError::Forbidden(MSG_BAD_TOKEN.into()));
        };
        let mut data = Map::new();
        data.insert(names::EMAIL.into(), json!(body.email));
        data.insert(names::PASSWORD.into(), json!(body.password));
        data.insert("passwordConfirm".into(), json!(body.password_confirm));
        data.insert(names::VERIFIED.into(), Value::Bool(true));
        let req = Request {
            data,
            from_form: false,
            ..Default::default()
        };
        let created = self
            .records
            .create(
                SUPERUSERS_ID,
                &req,
                &Shape::default(),
                &Caller::System,
                &RequestInfo::default(),
            )
            .await;
        let created = match created {
            Ok(v) => v,
            Err(e) => {
                self.setup.put_back(token);
                return Err(e);
            }
        };
        let col = self.schema.require(SUPERUSERS_ID)?;
        let id = created.get(names::ID).and_then(Value::as_str).unwrap_or("");
        let rec = self
            .store
            .get_record(&col.id, &id.into())?
            .ok_or_else(|| ApiError::internal("the new superuser vanished"))?
            .record;
        response(&col, &rec, &caller_for(&col, &rec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_one_time_and_must_match() {
        let s = Setup::default();
        assert!(!s.needed());
        assert!(s.take("").is_none(), "nothing armed");
        let t = s.arm();
        assert!(s.needed());
        assert!(s.take("wrong").is_none());
        assert!(s.needed(), "a wrong token keeps it armed");
        let taken = s.take(&t).expect("the right token");
        assert!(!s.needed());
        assert!(s.take(&t).is_none(), "one time");
        s.put_back(taken);
        assert!(s.take(&t).is_some(), "a failed setup returns it");
    }
}
